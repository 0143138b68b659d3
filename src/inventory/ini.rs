//! Ansible's INI inventory format, read as ansible-core 2.18's `ini` plugin reads it:
//! `[group]`, `[group:children]`, `[group:vars]` (only `#` may follow a header), host
//! lines split with Python's shlex and every value put through Python's literal_eval,
//! `[group:vars]` values as the raw text after `=`, host ranges and `host:port`, and
//! groups named by `:children` or `:vars` that are never declared refused.

use super::model::{Parsed, Var, VarMap};
use super::pyliteral::{literal_eval, LiteralError};
use super::{hostpattern, shlex, InventoryError};
use crate::diagnostic::{Diagnostic, Location};
use indexmap::IndexMap;
use regex::Regex;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Hosts,
    Children,
    Vars,
}

struct Pending {
    line: u32,
    vars: bool,
    parents: Vec<String>,
}

fn section_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$").ok())
        .as_ref()
}

fn groupname_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^([^:\]\s]+)\s*(?:#.*)?$").ok())
        .as_ref()
}

/// Parses INI inventory text; `file` names it in errors.
#[cfg(test)]
pub fn parse(text: &str, file: &str) -> Result<Parsed, InventoryError> {
    parse_after(text, file, &[])
}

/// Parses INI inventory text read after other sources whose groups are `earlier`: as in
/// Ansible, a `[g:children]` or `[g:vars]` naming a group an earlier source declared
/// needs no declaration in this file.
pub fn parse_after(text: &str, file: &str, earlier: &[&str]) -> Result<Parsed, InventoryError> {
    let mut inv = Parsed::default();
    let mut group = "ungrouped".to_string();
    let mut section = Section::Hosts;
    // Groups that exist (declared by any header, or by an earlier source); `all` and
    // `ungrouped` always do.
    let mut known: HashSet<String> = ["all", "ungrouped"]
        .iter()
        .chain(earlier)
        .map(|s| s.to_string())
        .collect();
    let mut pending: IndexMap<String, Pending> = IndexMap::new();
    let (Some(section_re), Some(groupname_re)) = (section_re(), groupname_re()) else {
        return Err(syntax(
            file,
            0,
            "internal: a pattern did not compile".into(),
            "",
        ));
    };
    for (idx, raw) in text.lines().enumerate() {
        let lineno = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let loc = Location::new(file, lineno);
        let err = |message: String, help: &str| syntax(file, lineno, message, help);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(c) = section_re.captures(line) {
            let name = c.get(1).map_or("", |m| m.as_str()).to_string();
            section = match c.get(2).map_or("hosts", |m| m.as_str()) {
                "hosts" => Section::Hosts,
                "children" => Section::Children,
                "vars" => Section::Vars,
                other => {
                    return Err(err(
                        format!("section [{name}:{other}] has unknown type '{other}'"),
                        "use [group], [group:children] or [group:vars]",
                    ))
                }
            };
            if !known.contains(&name) {
                // [g:vars] alone does not declare g: it must be declared somewhere.
                if section == Section::Vars && !pending.contains_key(&name) {
                    pending.insert(
                        name.clone(),
                        Pending {
                            line: lineno,
                            vars: true,
                            parents: Vec::new(),
                        },
                    );
                }
                known.insert(name.clone());
            }
            if section != Section::Vars {
                pending.shift_remove(&name);
            }
            inv.group_mut(&name, Some(loc));
            group = name;
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(err(
                format!("invalid section header '{line}'"),
                "write [group], [group:children] or [group:vars] with no spaces inside the brackets",
            ));
        }
        match section {
            Section::Hosts => host_line(&mut inv, file, &group, line, lineno)?,
            Section::Vars => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(err(
                        format!("expected key=value in [{group}:vars], found '{line}'"),
                        "write one variable per line as key=value",
                    ));
                };
                let key = k.trim();
                check_var_name(&mut inv, key, &loc);
                let value = python_value(v.trim()).map_err(|m| err(m, "fix the value"))?;
                let var = Var {
                    value,
                    origin: loc.clone(),
                };
                inv.group_mut(&group, Some(loc))
                    .vars
                    .insert(key.to_string(), var);
            }
            Section::Children => {
                let Some(child) = groupname_re.captures(line).and_then(|c| c.get(1)) else {
                    return Err(err(
                        format!("a [{group}:children] line names one group, found '{line}'"),
                        "put one child group per line; variables go in [group:vars]",
                    ));
                };
                let child = child.as_str().to_string();
                if !known.contains(&child) {
                    pending
                        .entry(child.clone())
                        .or_insert_with(|| Pending {
                            line: lineno,
                            vars: false,
                            parents: Vec::new(),
                        })
                        .parents
                        .push(group.clone());
                }
                inv.add_child(&group, &child, loc);
            }
        }
    }
    if let Some((name, p)) = pending.iter().next() {
        let (message, help) = if p.vars {
            (
                format!("section [{name}:vars] is for a group that is never declared (Ansible refuses this too)"),
                if name == "k8s_cluster" {
                    "declare it with [k8s_cluster:children] listing kube_control_plane and kube_node, or move the variables to group_vars/k8s_cluster.yml".to_string()
                } else {
                    format!("declare the group with a [{name}] or [{name}:children] section, or fix the name")
                },
            )
        } else {
            (
                format!(
                    "section [{}:children] names group '{name}', which is never declared",
                    p.parents.last().map_or("", String::as_str)
                ),
                format!(
                    "declare the group with a [{name}] section (it may be empty), or fix the name"
                ),
            )
        };
        return Err(syntax(file, p.line, message, &help));
    }
    Ok(inv)
}

fn syntax(file: &str, line: u32, message: String, help: &str) -> InventoryError {
    InventoryError::Syntax {
        code: "ini-syntax",
        location: Location::new(file, line),
        message,
        help: help.to_string(),
    }
}

/// One host line: `pattern key=value ...`.
fn host_line(
    inv: &mut Parsed,
    file: &str,
    group: &str,
    line: &str,
    lineno: u32,
) -> Result<(), InventoryError> {
    let loc = Location::new(file, lineno);
    let err = |message: String, help: &str| syntax(file, lineno, message, help);
    let tokens = shlex::split(line).map_err(|e| {
        err(
            format!("{e} in '{line}'"),
            "close the quote, or escape the character with a backslash",
        )
    })?;
    if line.starts_with('[') && !line.contains(']') {
        return Err(err(
            format!("section header '{line}' has no closing ']'"),
            "write it as [group], [group:children] or [group:vars]",
        ));
    }
    let Some((first, rest)) = tokens.split_first() else {
        return Err(err(
            format!("no host name in '{line}'"),
            "start the line with a host name",
        ));
    };
    let mut vars = VarMap::new();
    for t in rest {
        let Some((k, v)) = t.split_once('=') else {
            return Err(err(
                format!("expected key=value after host '{first}', found '{t}'"),
                "host lines are: name key=value key2=value2",
            ));
        };
        check_var_name(inv, k, &loc);
        let value = python_value(v).map_err(|m| err(m, "fix the value"))?;
        vars.insert(
            k.to_string(),
            Var {
                value,
                origin: loc.clone(),
            },
        );
    }
    let (names, port) = hostpattern::expand(first).map_err(|e| {
        err(
            e.to_string(),
            "a range is written name[01:10] or name[a:f], optionally with a step [1:9:2]",
        )
    })?;
    if first.trim_end().ends_with(':') && port.is_none() {
        return Err(err(
            format!("host pattern '{first}' ends in ':' (reserved for a port)"),
            "write host:port with a port number, or remove the ':'",
        ));
    }
    for name in names {
        if name.is_empty() {
            return Err(err(
                "empty host name".into(),
                "start the line with a host name",
            ));
        }
        if name.trim() == "---" {
            return Err(err(
                "host '---' looks like a YAML document marker".into(),
                "is this a YAML file? name it .yml or .yaml",
            ));
        }
        inv.add_host(group, &name, loc.clone(), port, vars.clone());
    }
    Ok(())
}

/// Ansible accepts any variable name in an inventory; names that templates cannot use
/// get a warning.
fn check_var_name(inv: &mut Parsed, name: &str, loc: &Location) {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        inv.warnings.push(
            Diagnostic::warning(
                "variable-name",
                format!("'{name}' is not a valid variable name: templates cannot refer to it"),
            )
            .at(Some(loc.clone()))
            .help("use letters, digits and '_' (not starting with a digit)"),
        );
    }
}

/// A value as Ansible's INI plugin reads it: Python's literal_eval, else the text.
fn python_value(text: &str) -> Result<Value, String> {
    match literal_eval(text) {
        Ok(v) => Ok(v),
        Err(LiteralError::NotLiteral) => Ok(Value::String(text.to_string())),
        Err(LiteralError::Unhashable) => Err(format!(
            "'{text}' uses a list or dict as a key or set item, which Python refuses"
        )),
    }
}

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
        // Quotes are removed by shlex first, so a quoted "42" is the int 42 (Ansible).
        let cases = [
            ("True", Value::Bool(true)),
            ("true", Value::from("true")),
            ("yes", Value::from("yes")),
            ("42", Value::from(42)),
            ("0644", Value::from("0644")),
            ("1.5", serde_json::json!(1.5)),
            ("[1, 2]", serde_json::json!([1, 2])),
            ("10.0.0.1", Value::from("10.0.0.1")),
            ("'42'", Value::from("42")),
        ];
        for (text, want) in cases {
            assert_eq!(python_value(text).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn headers_pending_groups_and_ports() {
        assert!(parse("[a] junk\n", "x.ini").is_err());
        assert!(parse("[a] ; c\nh\n", "x.ini").is_err());
        assert!(parse("[a ]\nh\n", "x.ini").is_err());
        assert!(parse("[a]   # c\nh\n", "x.ini").is_ok());
        assert!(parse("[g:vars]\nx=1\n", "x.ini").is_err());
        assert!(parse("[g:vars]\nx=1\n[g]\n", "x.ini").is_ok());
        assert!(parse("[p:children]\nc\n", "x.ini").is_err());
        assert!(parse("[p:children]\nc\n[c]\n", "x.ini").is_ok());
        // Groups of earlier sources count as declared (Ansible's inventory.groups).
        assert!(parse_after("[p:children]\nc\n", "x.ini", &["c"]).is_ok());
        assert!(parse_after("[c:vars]\nx=1\n", "x.ini", &["c"]).is_ok());
        assert!(parse_after("[p:children]\nc\n", "x.ini", &["d"]).is_err());
        let inv = parse(
            "[a]\nn1:2201\nn2:2202 ansible_port=2200\n[b]\nn1:2299\n",
            "x.ini",
        )
        .unwrap();
        assert_eq!(
            inv.hosts["n1"].vars["ansible_port"].value,
            Value::from(2201)
        );
        assert_eq!(
            inv.hosts["n2"].vars["ansible_port"].value,
            Value::from(2200)
        );
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
