//! The inventory as written: hosts, groups and their variables, with the place each
//! came from. Format-independent; the INI and YAML loaders both produce this.

use crate::diagnostic::{Diagnostic, Location};
use indexmap::IndexMap;
use serde_json::Value;

pub use crate::vars::{Var, VarMap};

/// A host as declared in the inventory file.
#[derive(Debug, Clone, PartialEq)]
pub struct HostEntry {
    /// Inventory hostname.
    pub name: String,
    /// Where it was first declared.
    pub location: Location,
    /// Variables given on the host's line or under its entry.
    pub vars: VarMap,
}

/// A group as declared in the inventory file.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupEntry {
    /// Group name.
    pub name: String,
    /// Where it was first declared (None for implicit groups such as `all`).
    pub location: Option<Location>,
    /// Hosts listed directly in the group.
    pub hosts: Vec<String>,
    /// Child groups.
    pub children: Vec<String>,
    /// The group's variables from the inventory file.
    pub vars: VarMap,
    /// `ansible_group_priority` (default 1): orders groups of equal depth, higher last.
    pub priority: i64,
}

impl Default for GroupEntry {
    fn default() -> Self {
        GroupEntry {
            name: String::new(),
            location: None,
            hosts: Vec::new(),
            children: Vec::new(),
            vars: VarMap::new(),
            priority: 1,
        }
    }
}

/// What an inventory file declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// Hosts in declaration order.
    pub hosts: IndexMap<String, HostEntry>,
    /// Groups in declaration order.
    pub groups: IndexMap<String, GroupEntry>,
    /// Warnings found while parsing (odd variable names, skipped keys).
    pub warnings: Vec<Diagnostic>,
}

impl Parsed {
    /// The group, created at `loc` if new.
    pub fn group_mut(&mut self, name: &str, loc: Option<Location>) -> &mut GroupEntry {
        self.groups
            .entry(name.to_string())
            .or_insert_with(|| GroupEntry {
                name: name.to_string(),
                location: loc,
                ..GroupEntry::default()
            })
    }

    /// Adds a host to a group, merging its vars into the host (later wins, as in
    /// Ansible). A `host:port` port becomes `ansible_port` only when the host is new.
    pub fn add_host(
        &mut self,
        group: &str,
        name: &str,
        loc: Location,
        port: Option<u64>,
        vars: VarMap,
    ) {
        let host = self.hosts.entry(name.to_string()).or_insert_with(|| {
            let mut first = VarMap::new();
            if let Some(p) = port {
                first.insert(
                    "ansible_port".into(),
                    Var {
                        value: Value::from(p),
                        origin: loc.clone(),
                    },
                );
            }
            HostEntry {
                name: name.to_string(),
                location: loc.clone(),
                vars: first,
            }
        });
        host.vars.extend(vars);
        let g = self.group_mut(group, Some(loc));
        if !g.hosts.iter().any(|h| h == name) {
            g.hosts.push(name.to_string());
        }
    }

    /// Records `child` as a child group of `parent`.
    pub fn add_child(&mut self, parent: &str, child: &str, loc: Location) {
        self.group_mut(child, Some(loc.clone()));
        let p = self.group_mut(parent, Some(loc));
        if !p.children.iter().any(|c| c == child) {
            p.children.push(child.to_string());
        }
    }
}
