//! Ansible host patterns: `a:b` (union), `a:&b` (intersection), `a:!b` (exclusion),
//! commas as `:`, `all`/`*`, and `*` wildcards in names.

use crate::inventory::Inventory;

/// A pattern that names nothing in the inventory.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("host pattern '{pattern}': '{term}' matches no group or host")]
pub struct PatternError {
    /// The whole pattern.
    pub pattern: String,
    /// The term that matched nothing.
    pub term: String,
}

fn wildcard(pat: &str, name: &str) -> bool {
    if !pat.contains('*') {
        return pat == name;
    }
    let parts: Vec<&str> = pat.split('*').collect();
    let mut rest = name;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(pos) => rest = &rest[pos + p.len()..],
                None => return false,
            }
        }
    }
    true
}

fn term_hosts(inv: &Inventory, term: &str) -> Option<Vec<String>> {
    if term == "all" || term == "*" {
        return Some(inv.members("all"));
    }
    if inv.groups.contains_key(term) {
        return Some(inv.members(term));
    }
    let hosts: Vec<String> = inv
        .hosts
        .iter()
        .filter(|h| wildcard(term, &h.name))
        .map(|h| h.name.clone())
        .collect();
    let mut groups: Vec<String> = Vec::new();
    if term.contains('*') {
        for g in inv.groups.keys().filter(|g| wildcard(term, g)) {
            groups.extend(inv.members(g));
        }
    }
    let mut all: Vec<String> = hosts.into_iter().chain(groups).collect();
    all.dedup();
    if all.is_empty() {
        None
    } else {
        Some(all)
    }
}

/// The hosts a pattern selects, in inventory (natural) order. A term that names no
/// group or host is an error unless `lenient` (a group that exists but is empty is fine).
pub fn select(inv: &Inventory, pattern: &str, lenient: bool) -> Result<Vec<String>, PatternError> {
    let mut union: Vec<String> = Vec::new();
    let mut inter: Vec<Vec<String>> = Vec::new();
    let mut excl: Vec<String> = Vec::new();
    for raw in pattern.split([':', ',']) {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let (kind, term) = if let Some(t) = raw.strip_prefix('&') {
            ('&', t)
        } else if let Some(t) = raw.strip_prefix('!') {
            ('!', t)
        } else {
            ('+', raw)
        };
        let hosts = match term_hosts(inv, term) {
            Some(h) => h,
            None if lenient || inv.groups.contains_key(term) => Vec::new(),
            None => {
                return Err(PatternError {
                    pattern: pattern.to_string(),
                    term: term.to_string(),
                })
            }
        };
        match kind {
            '&' => inter.push(hosts),
            '!' => excl.extend(hosts),
            _ => union.extend(hosts),
        }
    }
    let order: Vec<String> = inv.members("all");
    Ok(order
        .into_iter()
        .filter(|h| union.contains(h))
        .filter(|h| inter.iter().all(|set| set.contains(h)))
        .filter(|h| !excl.contains(h))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Inventory {
        Inventory::from_text(
            "[kube_control_plane]\ncp1\ncp2\n[kube_node]\nw1\ncp2\n[etcd]\ne1\ncp1\n",
            "i.ini",
        )
        .unwrap()
    }

    #[test]
    fn union_intersection_exclusion() {
        let i = inv();
        let cases = [
            ("all", vec!["cp1", "cp2", "e1", "w1"]),
            ("kube_control_plane:kube_node", vec!["cp1", "cp2", "w1"]),
            ("kube_control_plane:&kube_node", vec!["cp2"]),
            ("k8s_cluster:!kube_node", vec!["cp1"]),
            ("etcd:!k8s_cluster", vec!["e1"]),
            ("cp*", vec!["cp1", "cp2"]),
            ("w1,e1", vec!["e1", "w1"]),
        ];
        for (p, want) in cases {
            assert_eq!(select(&i, p, false).unwrap(), want, "{p}");
        }
    }

    #[test]
    fn unknown_term_is_an_error_unless_lenient() {
        let i = inv();
        assert_eq!(
            select(&i, "kube_nodes", false).unwrap_err().term,
            "kube_nodes"
        );
        assert!(select(&i, "kube_nodes", true).unwrap().is_empty());
    }
}
