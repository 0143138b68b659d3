//! The inventory as written: hosts, groups and their variables, with the place each
//! came from. Format-independent; the INI and YAML loaders both produce this.

use crate::diagnostic::Location;
use indexmap::IndexMap;

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
#[derive(Debug, Clone, PartialEq, Default)]
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
}

/// What an inventory file declares.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// Hosts in declaration order.
    pub hosts: IndexMap<String, HostEntry>,
    /// Groups in declaration order.
    pub groups: IndexMap<String, GroupEntry>,
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

    /// Adds a host to a group, merging its vars into the host (later wins, as in Ansible).
    pub fn add_host(&mut self, group: &str, name: &str, loc: Location, vars: VarMap) {
        let host = self
            .hosts
            .entry(name.to_string())
            .or_insert_with(|| HostEntry {
                name: name.to_string(),
                location: loc.clone(),
                vars: VarMap::new(),
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
