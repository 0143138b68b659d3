//! POSIX shell text for commands sent to hosts. The one quoting rule: every value that
//! reaches generated shell (module arguments, registered results, variables, paths,
//! messages) goes through `quote` or one of the helpers below, which call it. No module
//! splices a value into shell text by hand, not even inside quotes of its own.

use base64::Engine as _;

/// Quotes a string for a POSIX shell (single quotes; safe for any content).
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Quotes a string for a POSIX shell as `quote` does, or in double quotes (`\` before
/// `$`, `` ` ``, `"` and `\`) when that is shorter: generated shell that is itself
/// quoted (a step's snippet as one argument) is full of single quotes.
pub fn quote_short(s: &str) -> String {
    let single = quote(s);
    if !single.contains(r"'\''") {
        return single;
    }
    let mut double = String::with_capacity(s.len() + 8);
    double.push('"');
    for c in s.chars() {
        if matches!(c, '$' | '`' | '"' | '\\') {
            double.push('\\');
        }
        double.push(c);
    }
    double.push('"');
    if double.len() < single.len() {
        double
    } else {
        single
    }
}

/// Shell that prints `msg` and a newline to stdout, literally (no escapes, no expansion).
pub fn say(msg: &str) -> String {
    format!("printf '%s\\n' {}", quote(msg))
}

/// Shell that prints `msg` and a newline to stderr, literally.
pub fn say_err(msg: &str) -> String {
    format!("printf '%s\\n' {} >&2", quote(msg))
}

/// Shell that prints `msg` to stderr and exits 1 (a failed probe or apply).
pub fn fail(msg: &str) -> String {
    format!("{{ printf '%s\\n' {} >&2; exit 1; }}", quote(msg))
}

/// Shell that prints a `KFVAR name=value` line for the registered result. Values that
/// are not plain words travel base64-encoded (`name_b64=`), so no byte of them can end
/// the line or the script early.
pub fn kfvar(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:,@+%".contains(c));
    if plain {
        format!("printf '%s\\n' {}", quote(&format!("KFVAR {name}={value}")))
    } else {
        let enc = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
        format!(
            "printf '%s\\n' {}",
            quote(&format!("KFVAR {name}_b64={enc}"))
        )
    }
}

/// Quotes each word of a list, for a command line.
pub fn words<S: AsRef<str>>(ws: &[S]) -> String {
    ws.iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a line into words as a shell would (quotes group, no expansion); an empty
/// quoted word (`''`) is kept.
pub fn split_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(qc), c) if c == qc => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() || any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() || any {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{fail, kfvar, quote, quote_short, say, split_words};

    #[test]
    fn short_quoting_keeps_every_byte() {
        for v in [
            "kf_x '' ''",
            "a'b\"c$d`e\\f\ng",
            "plain",
            "",
            "''",
            "$(touch x)",
        ] {
            let (rc, out, _) = sh(&format!("printf '%s' {}", quote_short(v)));
            assert_eq!((rc, out.as_str()), (0, v), "{}", quote_short(v));
        }
        assert_eq!(quote_short("f '' ''"), "\"f '' ''\"");
    }

    fn sh(script: &str) -> (i32, String, String) {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    const NASTY: &[&str] = &[
        "it's",
        "a'b'c'",
        "$(touch /tmp/kf-pwned)",
        "`id`",
        "x; echo no",
        "a && b",
        "line1\nline2",
        "tab\there",
        "-n",
        "-e \\n",
        "*",
        "?[x]~%",
        "back\\slash\\",
        "ünïcödé ✓",
        "\"dq\" 'sq'",
        "",
    ];

    #[test]
    fn splits_like_a_shell_without_running_one() {
        assert_eq!(split_words("echo 'a b' \"c\" d"), ["echo", "a b", "c", "d"]);
        assert_eq!(split_words("x ''"), ["x", ""]);
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("abc/d.e"), "abc/d.e");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("a b"), "'a b'");
    }

    #[test]
    fn every_helper_prints_its_value_literally() {
        for v in NASTY {
            let (rc, out, _) = sh(&say(v));
            assert_eq!((rc, out), (0, format!("{v}\n")), "say {v:?}");
            let (rc, out, err) = sh(&format!("{}; echo after", fail(v)));
            assert_eq!(
                (rc, out, err),
                (1, String::new(), format!("{v}\n")),
                "fail {v:?}"
            );
            let (rc, out, _) = sh(&format!("printf '%s' {}", quote(v)));
            assert_eq!((rc, out.as_str()), (0, *v), "quote {v:?}");
            let (rc, out, _) = sh(&kfvar("x", v));
            assert_eq!(rc, 0);
            let line = out.strip_suffix('\n').unwrap();
            assert_eq!(line.lines().count(), 1, "{v:?}");
            if let Some(b) = line.strip_prefix("KFVAR x_b64=") {
                use base64::Engine as _;
                let got = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
                assert_eq!(got, v.as_bytes());
            } else {
                assert_eq!(line, format!("KFVAR x={v}"));
            }
        }
        assert!(!std::path::Path::new("/tmp/kf-pwned").exists());
    }
}
