//! Group structure: Kubespray's deprecated group names read as the new ones, and each
//! group's depth below `all` (Ansible's precedence order; a cycle of children is an
//! error).

use super::{GroupEntry, HostEntry, InventoryError, Parsed, SourceVars, DEPRECATED_GROUPS};
use crate::diagnostic::{Diagnostic, Location};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// `ansible_group_priority` set in the inventory file is the group's priority, not a
/// variable (Ansible's Group.set_variable); group_vars files do not set it.
pub(super) fn take_priorities(parsed: &mut Parsed) -> Result<(), InventoryError> {
    for g in parsed.groups.values_mut() {
        let Some(var) = g.vars.remove("ansible_group_priority") else {
            continue;
        };
        // Python's int(): ints, floats (truncated), booleans, and digit strings.
        let p = match &var.value {
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
            Value::String(s) => s.trim().replace('_', "").parse::<i64>().ok(),
            _ => None,
        };
        g.priority = p.ok_or_else(|| InventoryError::Syntax {
            code: "group-priority",
            location: var.origin.clone(),
            message: format!(
                "ansible_group_priority of group '{}' is {}, not an integer",
                g.name, var.value
            ),
            help: "write a whole number (groups with a higher priority are applied later and win)"
                .into(),
        })?;
    }
    Ok(())
}

/// Every host of `group` through its children.
fn members_of(groups: &BTreeMap<String, GroupEntry>, group: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut out = BTreeSet::new();
    let mut todo = vec![group.to_string()];
    while let Some(g) = todo.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        if let Some(e) = groups.get(&g) {
            out.extend(e.hosts.iter().cloned());
            todo.extend(e.children.iter().cloned());
        }
    }
    out
}

/// k8s_cluster as Kubespray's dynamic_groups builds it: the hosts of
/// kube_control_plane, kube_node and calico_rr added to it directly (group_by).
pub(super) fn derive_k8s_cluster(groups: &mut BTreeMap<String, GroupEntry>) {
    let mut add: BTreeSet<String> = BTreeSet::new();
    for g in ["kube_control_plane", "kube_node", "calico_rr"] {
        add.extend(members_of(groups, g));
    }
    let k8s = groups
        .entry("k8s_cluster".into())
        .or_insert_with(|| GroupEntry {
            name: "k8s_cluster".into(),
            ..GroupEntry::default()
        });
    for h in add {
        if !k8s.hosts.contains(&h) {
            k8s.hosts.push(h);
        }
    }
}

/// `ungrouped` holds the hosts that are in no group but `all` (Ansible's
/// reconcile_inventory); its variables (`[ungrouped:vars]`) are kept.
pub(super) fn fill_ungrouped(groups: &mut BTreeMap<String, GroupEntry>, hosts: &[HostEntry]) {
    let grouped: BTreeSet<&String> = groups
        .values()
        .filter(|g| g.name != "all" && g.name != "ungrouped")
        .flat_map(|g| g.hosts.iter())
        .collect();
    let ungrouped: Vec<String> = hosts
        .iter()
        .filter(|h| !grouped.contains(&h.name))
        .map(|h| h.name.clone())
        .collect();
    let entry = groups
        .entry("ungrouped".into())
        .or_insert_with(|| GroupEntry {
            name: "ungrouped".into(),
            ..GroupEntry::default()
        });
    entry.hosts = ungrouped;
}

pub(super) fn rename_deprecated(
    parsed: &mut Parsed,
    vars_dirs: &mut [SourceVars],
    warnings: &mut Vec<Diagnostic>,
) {
    for (old, new) in DEPRECATED_GROUPS {
        if let Some(entry) = parsed.groups.shift_remove(old) {
            warnings.push(
                Diagnostic::warning(
                    "deprecated-group",
                    format!("group '{old}' is deprecated; read as '{new}'"),
                )
                .at(entry.location.clone())
                .help(format!("rename the group to '{new}'")),
            );
            let target = parsed.group_mut(new, entry.location.clone());
            for h in entry.hosts {
                if !target.hosts.contains(&h) {
                    target.hosts.push(h);
                }
            }
            for c in entry.children {
                if !target.children.contains(&c) {
                    target.children.push(c);
                }
            }
            for (k, v) in entry.vars {
                target.vars.entry(k).or_insert(v);
            }
        }
        for g in parsed.groups.values_mut() {
            for c in g.children.iter_mut() {
                if c == old {
                    *c = new.to_string();
                }
            }
        }
        for group_vars in vars_dirs.iter_mut().map(|sv| &mut sv.group_vars) {
            let Some(vars) = group_vars.remove(old) else {
                continue;
            };
            let loc = vars
                .values()
                .next()
                .map(|v| Location::new(v.origin.file.clone(), 0));
            warnings.push(
                Diagnostic::warning(
                    "deprecated-group",
                    format!("group_vars for '{old}' are read as '{new}'"),
                )
                .at(loc)
                .help(format!("rename group_vars/{old} to group_vars/{new}")),
            );
            let target = group_vars.entry(new.to_string()).or_default();
            for (k, v) in vars {
                target.entry(k).or_insert(v);
            }
        }
    }
}

/// Depth of each group below `all` (for precedence); a cycle of children is an error.
pub(super) fn group_depths(
    groups: &BTreeMap<String, GroupEntry>,
) -> Result<BTreeMap<String, usize>, InventoryError> {
    fn visit(
        name: &str,
        groups: &BTreeMap<String, GroupEntry>,
        path: &mut Vec<String>,
        depth: usize,
        out: &mut BTreeMap<String, usize>,
    ) -> Result<(), InventoryError> {
        if path.iter().any(|p| p == name) {
            let loc = groups
                .get(name)
                .and_then(|g| g.location.clone())
                .unwrap_or_else(|| Location::new("inventory", 0));
            return Err(InventoryError::Syntax {
                code: "group-cycle",
                location: loc,
                message: format!(
                    "group '{name}' is its own ancestor: {} -> {name}",
                    path.join(" -> ")
                ),
                help: "remove one of the children entries to break the cycle".into(),
            });
        }
        let d = out.entry(name.to_string()).or_insert(depth);
        *d = (*d).max(depth);
        path.push(name.to_string());
        if let Some(g) = groups.get(name) {
            for c in &g.children {
                visit(c, groups, path, depth + 1, out)?;
            }
        }
        path.pop();
        Ok(())
    }
    let mut out = BTreeMap::new();
    out.insert("all".to_string(), 0);
    let all_children: BTreeSet<&String> = groups.values().flat_map(|g| g.children.iter()).collect();
    for name in groups.keys() {
        if name == "all" {
            continue;
        }
        if !all_children.contains(name) {
            visit(name, groups, &mut vec!["all".to_string()], 1, &mut out)?;
        }
    }
    // Groups only reachable through a cycle were never visited: find the cycle.
    for name in groups.keys() {
        if !out.contains_key(name) {
            visit(name, groups, &mut Vec::new(), 1, &mut out)?;
        }
    }
    Ok(out)
}
