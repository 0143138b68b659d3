//! What changed between the record and the inventory: hosts that left it, roles a host
//! lost. Reported as warnings; kubeforge never acts on them by itself.

use super::{path_for, Record};
use crate::cluster::Cluster;
use crate::diagnostic::{display_path, Diagnostic, Location};

/// Warnings for hosts that left the inventory or changed roles since the last run.
pub fn compare(cluster: &Cluster, rec: &Record) -> Vec<Diagnostic> {
    let shown = Location::new(display_path(&path_for(&cluster.inventory.dir)), 0);
    let mut out = Vec::new();
    for (name, was) in &rec.hosts {
        match cluster.host(name) {
            None => out.push(
                Diagnostic::warning(
                    "host-left-inventory",
                    format!("host {name} (roles: {}) was provisioned by {} but is no longer in the inventory; kubeforge will not contact it", was.roles.join(","), was.playbook),
                )
                .at(Some(shown.clone()))
                .help(if was.roles.iter().any(|r| r == "etcd") {
                    "it may still be an etcd member: remove it with `etcdctl member remove` (or put it back in the inventory and run reset.yml with --limit)"
                } else {
                    "if it is gone for good, run reset.yml on it first (put it back with --limit), or delete its entry from the record"
                }),
            ),
            Some(h) => {
                let now: Vec<String> = h.roles.iter().map(|r| r.as_str().to_string()).collect();
                let dropped: Vec<&String> = was.roles.iter().filter(|r| !now.contains(r)).collect();
                if !dropped.is_empty() {
                    out.push(
                        Diagnostic::warning(
                            "roles-removed",
                            format!(
                                "host {name} no longer has role(s) {}; kubeforge does not remove what it installed for them",
                                dropped.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                            ),
                        )
                        .at(Some(shown.clone()))
                        .help("run reset.yml with --limit on that host, then cluster.yml, to rebuild it with its new roles"),
                    );
                }
            }
        }
    }
    out
}
