//! Ansible's YAML inventory format: `all: {hosts, children, vars}` nested to any depth.

use super::model::{Parsed, Var, VarMap};
use super::{hostpattern, InventoryError};
use crate::diagnostic::{Diagnostic, Location};
use crate::yaml::{Node, NodeKind};

/// Parses YAML inventory text; `file` names it in errors. An empty document is an
/// empty inventory.
#[cfg(test)]
pub fn parse(text: &str, file: &str) -> Result<Parsed, InventoryError> {
    parse_inventory(text, file).map(Option::unwrap_or_default)
}

/// Parses text as Ansible's `yaml` inventory plugin: None for an empty document (the
/// plugin declines it and the INI plugin reads it), an error when it is not YAML or
/// not a mapping of groups.
pub fn parse_inventory(text: &str, file: &str) -> Result<Option<Parsed>, InventoryError> {
    let root = crate::yaml::parse(text).map_err(|e| InventoryError::Syntax {
        code: "yaml-syntax",
        location: Location::new(file, e.line),
        message: format!("invalid YAML: {}", e.message),
        help: "fix the YAML syntax (indentation, quotes, duplicate keys)".into(),
    })?;
    let mut inv = Parsed::default();
    if root.is_null() {
        return Ok(None);
    }
    let Some(groups) = root.as_map() else {
        return Err(shape(
            file,
            &root,
            "the top level must be a mapping of groups, usually `all:`",
        ));
    };
    if root.get("plugin").is_some() {
        return Err(shape(
            file,
            &root,
            "this is an inventory plugin configuration (plugin:), which kubeforge does not run",
        ));
    }
    for (key, body) in groups {
        let name = group_name(file, key)?;
        if !body.is_null() && body.as_map().is_none() {
            inv.warnings.push(skipped(
                file,
                key,
                format!("'{name}' is skipped: a group must be a mapping"),
            ));
            continue;
        }
        let loc = Location::new(file, body_line(name_line(groups, &name), body));
        inv.group_mut(&name, Some(loc));
        parse_group(&mut inv, file, &name, body)?;
    }
    Ok(Some(inv))
}

fn name_line(groups: &[(Node, Node)], name: &str) -> u32 {
    groups
        .iter()
        .find(|(k, _)| k.key_string() == name)
        .map(|(k, _)| k.line)
        .unwrap_or(0)
}

fn body_line(key_line: u32, _body: &Node) -> u32 {
    key_line
}

fn shape(file: &str, node: &Node, help: &str) -> InventoryError {
    InventoryError::Syntax {
        code: "yaml-shape",
        location: Location::new(file, node.line),
        message: format!("unexpected {} here", node.type_name()),
        help: help.to_string(),
    }
}

fn group_name(file: &str, key: &Node) -> Result<String, InventoryError> {
    match &key.kind {
        NodeKind::Str(s) if !s.is_empty() => Ok(s.clone()),
        _ => Err(shape(file, key, "group names are strings")),
    }
}

fn parse_group(
    inv: &mut Parsed,
    file: &str,
    group: &str,
    body: &Node,
) -> Result<(), InventoryError> {
    if body.is_null() {
        return Ok(());
    }
    let Some(pairs) = body.as_map() else {
        return Ok(());
    };
    for (key, value) in pairs {
        let k = key.key_string();
        // `hosts: NAME` (a string) is one host, as Ansible reads it.
        let single;
        let value = match (&value.kind, k.as_str()) {
            (NodeKind::Str(_), "hosts" | "children" | "vars") => {
                single = Node {
                    line: value.line,
                    col: value.col,
                    kind: NodeKind::Map(vec![(
                        value.clone(),
                        Node {
                            line: value.line,
                            col: value.col,
                            kind: NodeKind::Null,
                        },
                    )]),
                };
                &single
            }
            _ => value,
        };
        let known = matches!(k.as_str(), "hosts" | "children" | "vars");
        if known && !value.is_null() && value.as_map().is_none() {
            return Err(shape(
                file,
                value,
                &format!("'{k}' of group '{group}' must be a mapping"),
            ));
        }
        if value.is_null() {
            continue;
        }
        if value.as_map().is_none() {
            inv.warnings.push(skipped(
                file,
                key,
                format!("key '{k}' in group '{group}' is skipped: it is not a mapping"),
            ));
            continue;
        }
        match k.as_str() {
            "hosts" => parse_hosts(inv, file, group, value)?,
            "children" => {
                for (ck, cbody) in value.as_map().unwrap_or_default() {
                    let child = group_name(file, ck)?;
                    if !cbody.is_null() && cbody.as_map().is_none() {
                        // Ansible skips the definition, then cannot add an unknown child.
                        if !inv.groups.contains_key(&child) {
                            return Err(shape(
                                file,
                                cbody,
                                &format!("group '{child}' must be a mapping with hosts, children and/or vars"),
                            ));
                        }
                        inv.add_child(group, &child, Location::new(file, ck.line));
                        continue;
                    }
                    inv.group_mut(&child, Some(Location::new(file, ck.line)));
                    parse_group(inv, file, &child, cbody)?;
                    inv.add_child(group, &child, Location::new(file, ck.line));
                }
            }
            "vars" => {
                let vars = vars_of(file, value)?;
                inv.group_mut(group, None).vars.extend(vars);
            }
            other => inv.warnings.push(skipped(
                file,
                key,
                format!(
                    "unknown key '{other}' in group '{group}' is skipped: a group holds only hosts, children and vars"
                ),
            )),
        }
    }
    Ok(())
}

fn skipped(file: &str, key: &Node, message: String) -> Diagnostic {
    Diagnostic::warning("yaml-skipped-key", message)
        .at(Some(Location::new(file, key.line)))
        .help("check the indentation; a group holds hosts:, children: and vars:")
}

fn parse_hosts(
    inv: &mut Parsed,
    file: &str,
    group: &str,
    value: &Node,
) -> Result<(), InventoryError> {
    let Some(hosts) = value.as_map() else {
        return Ok(());
    };
    for (hk, hvars) in hosts {
        let pattern = match &hk.kind {
            NodeKind::Str(s) if !s.is_empty() => s.clone(),
            _ => {
                return Err(shape(
                    file,
                    hk,
                    "host names are strings: quote numbers such as '10.0'",
                ))
            }
        };
        if !hvars.is_null() && hvars.as_map().is_none() {
            return Err(shape(
                file,
                hvars,
                &format!("the variables of host '{pattern}' must be a mapping"),
            ));
        }
        let vars = vars_of(file, hvars)?;
        let (names, port) = hostpattern::expand(&pattern).map_err(|e| InventoryError::Syntax {
            code: "yaml-shape",
            location: Location::new(file, hk.line),
            message: e.to_string(),
            help: "a range is written name[01:10] or name[a:f], optionally with a step [1:9:2]"
                .into(),
        })?;
        for name in names {
            inv.add_host(
                group,
                &name,
                Location::new(file, hk.line),
                port,
                vars.clone(),
            );
        }
    }
    Ok(())
}

/// Reads a mapping of variables, each with its line; null is no variables.
pub fn vars_of(file: &str, node: &Node) -> Result<VarMap, InventoryError> {
    let mut out = VarMap::new();
    if node.is_null() {
        return Ok(out);
    }
    let Some(pairs) = node.as_map() else {
        return Err(shape(file, node, "variables are a mapping of name: value"));
    };
    for (k, v) in pairs {
        out.insert(
            k.key_string(),
            Var {
                value: v.to_value(),
                origin: Location::new(file, k.line),
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn parses_nested_groups_and_vars() {
        let text = "\
all:
  hosts:
    node1:
      ansible_host: 10.0.0.1
    node2:
  children:
    kube_control_plane:
      hosts:
        node1:
    etcd:
      children:
        kube_control_plane:
      vars:
        x: 1
  vars:
    ansible_user: root
";
        let inv = parse(text, "h.yaml").unwrap();
        assert_eq!(inv.hosts.len(), 2);
        assert_eq!(
            inv.hosts["node1"].vars["ansible_host"].value,
            Value::from("10.0.0.1")
        );
        assert_eq!(inv.hosts["node1"].vars["ansible_host"].origin.line, 4);
        assert_eq!(inv.groups["etcd"].children, ["kube_control_plane"]);
        assert_eq!(inv.groups["etcd"].vars["x"].origin.line, 14);
        assert_eq!(
            inv.groups["all"].vars["ansible_user"].value,
            Value::from("root")
        );
    }

    #[test]
    fn unknown_group_key_is_a_warning_with_line() {
        // Ansible skips it with a warning and reads the rest.
        let inv = parse("all:\n  host:\n    a:\n  hosts: b\n", "h.yaml").unwrap();
        assert!(inv.warnings[0].message.contains("unknown key 'host'"));
        assert_eq!(inv.warnings[0].location, Some(Location::new("h.yaml", 2)));
        assert_eq!(inv.hosts.keys().collect::<Vec<_>>(), ["b"]);
    }
}
