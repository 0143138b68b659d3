//! Python's `shlex.split(line, comments=True)` (POSIX mode), which Ansible's INI plugin
//! uses for host lines: quotes are removed and may join parts of one word, `\` escapes
//! the next character outside quotes and only `\` or `"` inside double quotes, and `#`
//! starts a comment even in the middle of a word.

/// Why a line cannot be split (Python's ValueError).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    /// An opening quote without its closing one.
    #[error("unclosed {0} quote")]
    NoClosingQuote(char),
    /// A backslash at the very end.
    #[error("no escaped character")]
    NoEscapedChar,
}

/// Splits one line into words as `shlex.split(line, comments=True)`.
pub fn split(line: &str) -> Result<Vec<String>, SplitError> {
    split_with(line, true)
}

/// Splits as `shlex.split(line)` (no comments): how Ansible's ssh plugin splits
/// ansible_ssh_common_args and ansible_ssh_extra_args.
pub fn split_args(line: &str) -> Result<Vec<String>, SplitError> {
    split_with(line, false)
}

fn split_with(line: &str, comments: bool) -> Result<Vec<String>, SplitError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    // A word is open once any character or quote of it was read (`""` is a word).
    let mut open = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if open {
                    out.push(std::mem::take(&mut cur));
                    open = false;
                }
            }
            '#' if comments => break,
            '\\' => {
                cur.push(chars.next().ok_or(SplitError::NoEscapedChar)?);
                open = true;
            }
            '\'' => {
                open = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err(SplitError::NoClosingQuote('\'')),
                    }
                }
            }
            '"' => {
                open = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('\\' | '"')) => cur.push(n),
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return Err(SplitError::NoClosingQuote('"')),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err(SplitError::NoClosingQuote('"')),
                    }
                }
            }
            c => {
                cur.push(c);
                open = true;
            }
        }
    }
    if open {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(line: &str) -> Vec<String> {
        split(line).unwrap()
    }

    #[test]
    fn python_shlex_rules() {
        assert_eq!(s("a=\"hello world\" b='x y'"), ["a=hello world", "b=x y"]);
        assert_eq!(
            s("c=foo\"bar\"baz d=\"\" e='it''s'"),
            ["c=foobarbaz", "d=", "e=its"]
        );
        assert_eq!(s("a=foo#bar b=after"), ["a=foo"]);
        assert_eq!(s("x # c"), ["x"]);
        assert_eq!(
            s(r#"a=hello\ world b="C:\path\to" c="say \"hi\"""#),
            ["a=hello world", r"b=C:\path\to", "c=say \"hi\""]
        );
        assert_eq!(
            s(r#"d='back\slash' e="x\\y" f=plain\q"#),
            [r"d=back\slash", r"e=x\y", "f=plainq"]
        );
        assert_eq!(s("c=\"quoted # kept\""), ["c=quoted # kept"]);
        assert_eq!(split("a='x"), Err(SplitError::NoClosingQuote('\'')));
        assert_eq!(split("a=\"x"), Err(SplitError::NoClosingQuote('"')));
        assert_eq!(split("a\\"), Err(SplitError::NoEscapedChar));
        assert_eq!(
            split_args("-o ProxyCommand=\"nc %h %p\" -o 'X=a#b'").unwrap(),
            ["-o", "ProxyCommand=nc %h %p", "-o", "X=a#b"]
        );
    }
}
