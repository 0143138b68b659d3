//! Ansible's INI inventory format: `[group]`, `[group:children]`, `[group:vars]`,
//! `host key=value ...`, host ranges (`node[1:3]`), `host:port`, `#`/`;` comments.

use super::model::{Parsed, Var, VarMap};
use super::InventoryError;
use crate::diagnostic::Location;
use serde_json::Value;

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Hosts,
    Children,
    Vars,
}

/// Parses INI inventory text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Parsed, InventoryError> {
    let mut inv = Parsed::default();
    let mut group = "ungrouped".to_string();
    let mut section = Section::Hosts;
    for (idx, raw) in text.lines().enumerate() {
        let lineno = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let loc = Location::new(file, lineno);
        let err = |message: String, help: &str| InventoryError::Syntax {
            code: "ini-syntax",
            location: Location::new(file, lineno),
            message,
            help: help.to_string(),
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                return Err(err(
                    format!("section header '{line}' has no closing ']'"),
                    "write it as [group], [group:children] or [group:vars]",
                ));
            };
            let after = rest[end + 1..].trim();
            if !after.is_empty() && !after.starts_with('#') && !after.starts_with(';') {
                return Err(err(
                    format!("unexpected text '{after}' after section header"),
                    "put nothing but a comment after ']'",
                ));
            }
            let header = rest[..end].trim();
            let (name, kind) = match header.split_once(':') {
                Some((n, k)) => (n.trim(), k.trim()),
                None => (header, "hosts"),
            };
            section = match kind {
                "hosts" => Section::Hosts,
                "children" => Section::Children,
                "vars" => Section::Vars,
                other => {
                    return Err(err(
                        format!("unknown section kind ':{other}' in [{header}]"),
                        "use [group], [group:children] or [group:vars]",
                    ))
                }
            };
            check_name(name).map_err(|m| {
                err(
                    m.to_string(),
                    "group names are letters, digits, '_' and '-'",
                )
            })?;
            group = name.to_string();
            inv.group_mut(&group, Some(loc));
            continue;
        }
        match section {
            Section::Children => {
                let tokens = tokenize(line).map_err(|m| err(m.to_string(), "close the quote"))?;
                let Some(first) = tokens.first() else {
                    continue;
                };
                if tokens.len() > 1 {
                    return Err(err(
                        format!("a [{group}:children] line names one group, found '{line}'"),
                        "put one child group per line; variables go in [group:vars]",
                    ));
                }
                check_name(&first.text).map_err(|m| {
                    err(
                        m.to_string(),
                        "group names are letters, digits, '_' and '-'",
                    )
                })?;
                inv.add_child(&group, &first.text, loc);
            }
            Section::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(err(
                        format!("expected key=value in [{group}:vars], found '{line}'"),
                        "write one variable per line as key=value",
                    ));
                };
                let key = k.trim();
                check_var_name(key).map_err(|m| {
                    err(m.to_string(), "variable names are letters, digits and '_'")
                })?;
                let value = strip_inline_comment(v.trim());
                let (text, quoted) = unquote(value);
                let var = Var {
                    value: literal(&text, quoted),
                    origin: loc.clone(),
                };
                inv.group_mut(&group, Some(loc))
                    .vars
                    .insert(key.to_string(), var);
            }
            Section::Hosts => {
                let tokens = tokenize(line).map_err(|m| err(m.to_string(), "close the quote"))?;
                let Some((first, rest)) = tokens.split_first() else {
                    continue;
                };
                let mut vars = VarMap::new();
                for t in rest {
                    let Some((k, v)) = t.text.split_once('=') else {
                        return Err(err(
                            format!(
                                "expected key=value after host '{}', found '{}'",
                                first.text, t.text
                            ),
                            "host lines are: name key=value key2=value2",
                        ));
                    };
                    check_var_name(k).map_err(|m| {
                        err(m.to_string(), "variable names are letters, digits and '_'")
                    })?;
                    vars.insert(
                        k.to_string(),
                        Var {
                            value: literal(v, t.quoted),
                            origin: loc.clone(),
                        },
                    );
                }
                let (pattern, port) = split_port(&first.text);
                if let Some(p) = port {
                    vars.insert(
                        "ansible_port".into(),
                        Var {
                            value: Value::from(p),
                            origin: loc.clone(),
                        },
                    );
                }
                let names = expand_range(pattern).map_err(|m| {
                    err(m.to_string(), "a range is written name[01:10] or name[a:f], optionally with a stride [1:9:2]")
                })?;
                for name in names {
                    check_name(&name).map_err(|m| {
                        err(
                            m.to_string(),
                            "host names are letters, digits, '.', '_' and '-'",
                        )
                    })?;
                    inv.add_host(&group, &name, loc.clone(), vars.clone());
                }
            }
        }
    }
    Ok(inv)
}

/// A problem on one INI line (the caller adds the location and the fix).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Problem(String);

fn check_name(name: &str) -> Result<(), Problem> {
    if name.is_empty() {
        return Err(Problem("empty name".into()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || "._-:".contains(*c)))
    {
        return Err(Problem(format!("'{name}' contains '{c}'")));
    }
    Ok(())
}

fn check_var_name(name: &str) -> Result<(), Problem> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Problem(format!("'{name}' is not a valid variable name")))
    }
}

struct Token {
    text: String,
    quoted: bool,
}

/// Splits a host line shell-style: quotes group words, `#` starts a comment.
fn tokenize(line: &str) -> Result<Vec<Token>, Problem> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut in_token = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' if !in_token => break,
            c if c.is_whitespace() => {
                if in_token {
                    out.push(Token {
                        text: std::mem::take(&mut cur),
                        quoted,
                    });
                    in_token = false;
                    quoted = false;
                }
            }
            '"' | '\'' => {
                in_token = true;
                quoted = true;
                let q = c;
                loop {
                    match chars.next() {
                        Some(ch) if ch == q => break,
                        Some('\\') if q == '"' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        Some(ch) => cur.push(ch),
                        None => return Err(Problem(format!("unclosed {q} quote in '{line}'"))),
                    }
                }
            }
            c => {
                in_token = true;
                cur.push(c);
            }
        }
    }
    if in_token {
        out.push(Token { text: cur, quoted });
    }
    Ok(out)
}

fn strip_inline_comment(v: &str) -> &str {
    // Only " #" starts a comment in a value; "#" inside a word is data.
    if v.starts_with('"') || v.starts_with('\'') {
        return v;
    }
    match v.find(" #").or_else(|| v.find("\t#")) {
        Some(i) => v[..i].trim_end(),
        None => v,
    }
}

fn unquote(v: &str) -> (String, bool) {
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        (v[1..v.len() - 1].to_string(), true)
    } else {
        (v.to_string(), false)
    }
}

/// Python-literal reading of an INI value, as Ansible does: `True`/`False`, numbers,
/// lists and dicts; anything else (including `true` and `yes`) stays a string.
fn literal(text: &str, quoted: bool) -> Value {
    if quoted {
        return Value::String(text.to_string());
    }
    match text {
        "True" => return Value::Bool(true),
        "False" => return Value::Bool(false),
        "None" => return Value::Null,
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        if !(text.len() > 1 && text.starts_with('0')) {
            return Value::from(i);
        }
    }
    if text.contains('.') && !text.starts_with('.') && !text.ends_with('.') {
        if let Ok(f) = text.parse::<f64>() {
            if text
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            {
                if let Some(n) = serde_json::Number::from_f64(f) {
                    return Value::Number(n);
                }
            }
        }
    }
    // A Jinja template is never a Python literal: `x={{ y }}` stays a string to render
    // (read as a flow mapping it would become the dict {{"y": null}: null}).
    let template = text.contains("{{") || text.contains("{%") || text.contains("{#");
    let list_or_dict = (text.starts_with('[') && text.ends_with(']'))
        || (text.starts_with('{') && text.ends_with('}'));
    if list_or_dict && !template {
        if let Ok(node) = crate::yaml::parse(text) {
            return node.to_value();
        }
    }
    Value::String(text.to_string())
}

fn split_port(token: &str) -> (&str, Option<u16>) {
    // Colons inside a range (`web[1:3]:2222`) are the range's: look after the last ']'.
    let after_ranges = token.rfind(']').map_or(0, |i| i + 1);
    if token[after_ranges..].matches(':').count() == 1
        && (after_ranges > 0 || token.matches(':').count() == 1)
    {
        if let Some((h, p)) = token.rsplit_once(':') {
            if let Ok(port) = p.parse::<u16>() {
                return (h, Some(port));
            }
        }
    }
    (token, None)
}

/// Expands Ansible host ranges: `node[1:3]`, `node[01:10:2]`, `db-[a:c]`.
fn expand_range(pattern: &str) -> Result<Vec<String>, Problem> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let close = pattern[open..]
        .find(']')
        .map(|i| i + open)
        .ok_or_else(|| Problem(format!("unclosed '[' in host pattern '{pattern}'")))?;
    let (head, body, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let parts: Vec<&str> = body.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err(Problem(format!("bad range '[{body}]' in '{pattern}'")));
    }
    let stride: usize = match parts.get(2) {
        Some(s) => s
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| Problem(format!("bad stride '{s}' in '{pattern}'")))?,
        None => 1,
    };
    let mut items = Vec::new();
    if let (Ok(a), Ok(b)) = (parts[0].parse::<u64>(), parts[1].parse::<u64>()) {
        if a > b || b - a > 10_000 {
            return Err(Problem(format!(
                "range '[{body}]' in '{pattern}' is empty or too large"
            )));
        }
        let width = if parts[0].starts_with('0') {
            parts[0].len()
        } else {
            0
        };
        for n in (a..=b).step_by(stride) {
            items.push(format!("{n:0width$}"));
        }
    } else if parts[0].len() == 1 && parts[1].len() == 1 {
        let (a, b) = (parts[0].as_bytes()[0], parts[1].as_bytes()[0]);
        if !a.is_ascii_alphabetic() || !b.is_ascii_alphabetic() || a > b {
            return Err(Problem(format!("bad range '[{body}]' in '{pattern}'")));
        }
        for c in (a..=b).step_by(stride) {
            items.push((c as char).to_string());
        }
    } else {
        return Err(Problem(format!("bad range '[{body}]' in '{pattern}'")));
    }
    // Several ranges in one pattern multiply: cap the product, not just each range.
    let rests = expand_range(tail)?;
    if items.len().saturating_mul(rests.len()) > MAX_RANGE_HOSTS {
        return Err(Problem(format!(
            "'{pattern}' expands to more than {MAX_RANGE_HOSTS} hosts"
        )));
    }
    let mut out = Vec::with_capacity(items.len() * rests.len());
    for it in &items {
        for rest in &rests {
            out.push(format!("{head}{it}{rest}"));
        }
    }
    Ok(out)
}

/// The most hosts one range pattern may expand to.
const MAX_RANGE_HOSTS: usize = 10_001;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubespray_style_ini() {
        let text = "\
# comment
[kube_control_plane]
node1 ansible_host=95.54.0.12 ip=10.3.0.1 etcd_member_name=etcd1  # trailing comment
[etcd:children]
kube_control_plane
[kube_node]
node[4:5] ansible_port=2222
[all:vars]
ansible_user=ubuntu
flag=True
";
        let inv = parse(text, "inv.ini").unwrap();
        assert_eq!(
            inv.hosts.keys().collect::<Vec<_>>(),
            ["node1", "node4", "node5"]
        );
        let n1 = &inv.hosts["node1"];
        assert_eq!(n1.vars["ip"].value, Value::from("10.3.0.1"));
        assert_eq!(n1.vars["ip"].origin, Location::new("inv.ini", 3));
        assert_eq!(inv.groups["etcd"].children, ["kube_control_plane"]);
        assert_eq!(
            inv.hosts["node4"].vars["ansible_port"].value,
            Value::from(2222)
        );
        assert_eq!(inv.groups["all"].vars["flag"].value, Value::Bool(true));
        assert_eq!(
            inv.groups["all"].vars["ansible_user"].value,
            Value::from("ubuntu")
        );
    }

    #[test]
    fn literals_follow_python_rules() {
        let cases = [
            ("True", Value::Bool(true)),
            ("true", Value::from("true")),
            ("yes", Value::from("yes")),
            ("42", Value::from(42)),
            ("0644", Value::from("0644")),
            ("1.5", serde_json::json!(1.5)),
            ("[1, 2]", serde_json::json!([1, 2])),
            ("10.0.0.1", Value::from("10.0.0.1")),
        ];
        for (text, want) in cases {
            assert_eq!(literal(text, false), want, "{text}");
        }
        assert_eq!(literal("42", true), Value::from("42"));
    }

    #[test]
    fn ranges_expand() {
        assert_eq!(expand_range("n[01:03]").unwrap(), ["n01", "n02", "n03"]);
        assert_eq!(expand_range("n[1:5:2]").unwrap(), ["n1", "n3", "n5"]);
        assert_eq!(expand_range("db-[a:b]").unwrap(), ["db-a", "db-b"]);
        assert!(expand_range("n[3:1]").is_err());
        assert!(expand_range("n[1:").is_err());
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("[kube_node]\nnode1 ip\n", "x.ini").unwrap_err();
        assert!(e.to_string().contains("expected key=value"), "{e}");
        match e {
            InventoryError::Syntax { location, .. } => assert_eq!(location.line, 2),
            other => panic!("{other:?}"),
        }
    }
}
