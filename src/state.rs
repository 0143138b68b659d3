//! The last-applied record: which hosts a run completed on, with their roles and
//! components, kept beside the inventory (`.kubeforge/last-applied.json`). Before the
//! next run, a host that has left the inventory, or whose roles changed, is reported:
//! kubeforge never contacts a host that is not in the inventory, and never undoes a
//! role by itself, so the operator is told what is left for them to do.

use crate::cluster::Cluster;
use crate::diagnostic::{Diagnostic, Location};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One host as last applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    /// Roles then.
    pub roles: Vec<String>,
    /// Components then.
    pub components: Vec<String>,
    /// The playbook that last completed on it.
    pub playbook: String,
    /// When (seconds since the epoch).
    pub applied_at: u64,
}

/// The whole record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastApplied {
    /// Hosts by name.
    pub hosts: BTreeMap<String, HostRecord>,
}

/// Where the record of an inventory lives.
pub fn path_for(inventory_dir: &Path) -> PathBuf {
    inventory_dir.join(".kubeforge").join("last-applied.json")
}

/// Reads the record (an absent or unreadable record is empty: nothing to compare).
pub fn load(inventory_dir: &Path) -> LastApplied {
    std::fs::read_to_string(path_for(inventory_dir))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Records the hosts a run completed on (others keep their previous entry).
pub fn record(cluster: &Cluster, completed: &[String], playbook: &str) -> std::io::Result<()> {
    let dir = &cluster.inventory.dir;
    let mut rec = load(dir);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for h in cluster.hosts.iter().filter(|h| completed.contains(&h.name)) {
        rec.hosts.insert(
            h.name.clone(),
            HostRecord {
                roles: h.roles.iter().map(|r| r.as_str().to_string()).collect(),
                components: h
                    .components
                    .iter()
                    .map(|c| c.as_str().to_string())
                    .collect(),
                playbook: playbook.to_string(),
                applied_at: now,
            },
        );
    }
    let path = path_for(dir);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp = tempfile::NamedTempFile::new_in(path.parent().unwrap_or(dir))?;
    std::io::Write::write_all(
        &mut tmp,
        serde_json::to_string_pretty(&rec)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(())
}

/// Warnings for hosts that left the inventory or changed roles since the last run.
pub fn compare(cluster: &Cluster) -> Vec<Diagnostic> {
    let dir = &cluster.inventory.dir;
    let rec = load(dir);
    let shown = Location::new(crate::inventory::display_path(&path_for(dir)), 0);
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
