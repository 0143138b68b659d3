//! Ansible's YAML inventory format: `all: {hosts, children, vars}` nested to any depth.

use super::model::{Parsed, Var, VarMap};
use super::InventoryError;
use crate::diagnostic::Location;
use crate::yaml::{Node, NodeKind};

/// Parses YAML inventory text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Parsed, InventoryError> {
    let root = crate::yaml::parse(text).map_err(|e| InventoryError::Syntax {
        code: "yaml-syntax",
        location: Location::new(file, e.line),
        message: format!("invalid YAML: {}", e.message),
        help: "fix the YAML syntax (indentation, quotes, duplicate keys)".into(),
    })?;
    let mut inv = Parsed::default();
    if root.is_null() {
        return Ok(inv);
    }
    let Some(groups) = root.as_map() else {
        return Err(shape(
            file,
            &root,
            "the top level must be a mapping of groups, usually `all:`",
        ));
    };
    for (name, body) in groups {
        let name = group_name(file, name)?;
        let loc = Location::new(file, body_line(name_line(groups, &name), body));
        inv.group_mut(&name, Some(loc));
        parse_group(&mut inv, file, &name, body)?;
    }
    Ok(inv)
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
        return Err(shape(
            file,
            body,
            &format!("group '{group}' must be a mapping with hosts, children and/or vars"),
        ));
    };
    for (key, value) in pairs {
        let k = key.key_string();
        match k.as_str() {
            "hosts" => parse_hosts(inv, file, group, value)?,
            "children" => {
                if value.is_null() {
                    continue;
                }
                let Some(children) = value.as_map() else {
                    return Err(shape(file, value, "children is a mapping of group names"));
                };
                for (ck, cbody) in children {
                    let child = group_name(file, ck)?;
                    inv.add_child(group, &child, Location::new(file, ck.line));
                    parse_group(inv, file, &child, cbody)?;
                }
            }
            "vars" => {
                let vars = vars_of(file, value)?;
                inv.group_mut(group, None).vars.extend(vars);
            }
            other => {
                return Err(InventoryError::Syntax {
                    code: "unknown-key",
                    location: Location::new(file, key.line),
                    message: format!("unknown key '{other}' in group '{group}'"),
                    help:
                        "a group holds only hosts:, children: and vars: (is the indentation right?)"
                            .into(),
                })
            }
        }
    }
    Ok(())
}

fn parse_hosts(
    inv: &mut Parsed,
    file: &str,
    group: &str,
    value: &Node,
) -> Result<(), InventoryError> {
    if value.is_null() {
        return Ok(());
    }
    let Some(hosts) = value.as_map() else {
        return Err(shape(
            file,
            value,
            "hosts is a mapping: each host name followed by ':' and its variables (or nothing)",
        ));
    };
    for (hk, hvars) in hosts {
        let name = match &hk.kind {
            NodeKind::Str(s) if !s.is_empty() => s.clone(),
            _ => return Err(shape(file, hk, "host names are strings")),
        };
        let vars = vars_of(file, hvars)?;
        inv.add_host(group, &name, Location::new(file, hk.line), vars);
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
    fn unknown_group_key_is_an_error_with_line() {
        let e = parse("all:\n  host:\n    a:\n", "h.yaml").unwrap_err();
        assert!(e.to_string().contains("unknown key 'host'"), "{e}");
    }
}
