//! The last-applied record, beside the inventory (`.kubeforge/last-applied.json`):
//! per host its roles, components and installed versions, and which operation wrote it
//! when. Before a run, a host that has left the inventory or lost a role is reported:
//! kubeforge never contacts a host that is not in the inventory, and never undoes a role
//! by itself. A record that cannot be read is an error, never an empty record (that
//! would silently turn those warnings off). Writers hold the lock (`lock`).

mod compare;
pub mod lock;

pub use compare::compare;
pub use lock::{Lock, LockHeld};

use crate::cluster::{Cluster, ClusterHost};
use crate::topology::Component;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The record's format version (written; older records without it read as 1).
pub const FORMAT: u32 = 2;

/// One host as last applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    /// Roles then.
    pub roles: Vec<String>,
    /// Components then.
    pub components: Vec<String>,
    /// Installed versions by component (etcd, containerd, runc, kube, cilium).
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
    /// The operation that last wrote this entry (install, run, scale...).
    #[serde(default)]
    pub operation: String,
    /// The playbook it ran.
    pub playbook: String,
    /// When (seconds since the epoch).
    pub applied_at: u64,
    /// Its etcd member name, for etcd members (kept for removing a dead member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_member_name: Option<String>,
    /// Its etcd peer URL, for etcd members (the member is removed by this URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_peer_url: Option<String>,
    /// Its etcd client URL, for etcd members (the API servers' endpoint list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_client_url: Option<String>,
    /// The address kubeforge reached it at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A mark kubeforge put on a node (and only it removes): today `cordoned-by`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeMark {
    /// The mark (`cordoned-by`).
    pub mark: String,
    /// The operation that set it.
    pub operation: String,
    /// When (seconds since the epoch).
    pub at: u64,
}

/// The whole record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Format version.
    #[serde(default = "one")]
    pub format: u32,
    /// Hosts by name.
    pub hosts: BTreeMap<String, HostRecord>,
    /// The control plane that bootstrapped the cluster (kept while it is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_control_plane: Option<String>,
    /// The etcd member that acts for the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_etcd: Option<String>,
    /// Marks kubeforge set on nodes, by node name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub marks: BTreeMap<String, NodeMark>,
    /// Hosts remove-node took out of the cluster, with when (seconds since the epoch):
    /// asking again is "nothing to do", not an unknown host.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub removed: BTreeMap<String, u64>,
}

impl Record {
    /// The anchors this record asks for.
    pub fn anchors(&self) -> crate::cluster::Anchors {
        // Without a recorded choice, an already provisioned host (never a new one).
        crate::cluster::Anchors {
            first_control_plane: self
                .first_control_plane
                .clone()
                .or_else(|| self.with_role("control_plane").into_iter().next()),
            first_etcd: self
                .first_etcd
                .clone()
                .or_else(|| self.with_role("etcd").into_iter().next()),
        }
    }

    /// Hosts recorded with `role`, in natural order.
    pub fn with_role(&self, role: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .hosts
            .iter()
            .filter(|(_, h)| h.roles.iter().any(|r| r == role))
            .map(|(n, _)| n.clone())
            .collect();
        v.sort_by(|a, b| crate::diagnostic::natural_cmp(a, b));
        v
    }
}

fn one() -> u32 {
    1
}

/// The record cannot be read or written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateError {
    /// Unreadable or not a record.
    #[error("cannot read the last-applied record {path}: {reason}")]
    #[diagnostic(
        code(record_unreadable),
        help("kubeforge will not guess what was applied. Restore the file (or its .bak), or move it aside to start a new record: then hosts that left the inventory are no longer reported")
    )]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Cannot be written.
    #[error("cannot write the last-applied record {path}: {source}")]
    #[diagnostic(
        code(record_unwritable),
        help("check the directory's permissions and free space")
    )]
    Write {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The lock is held by another run (or cannot be taken).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Locked(#[from] LockHeld),
}

/// What an operation writes to the record after its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordPolicy {
    /// Hosts the run completed on are (re)written with their roles and versions.
    Upsert,
    /// Hosts the run completed on are removed (reset, remove-node).
    Remove,
    /// Nothing (health, kubeconfig, check mode).
    Nothing,
}

/// The `.kubeforge` directory of an inventory directory.
pub fn dir_for(inventory_dir: &Path) -> PathBuf {
    inventory_dir.join(".kubeforge")
}

/// Where the record of an inventory lives.
pub fn path_for(inventory_dir: &Path) -> PathBuf {
    dir_for(inventory_dir).join("last-applied.json")
}

/// Reads the record: absent is empty; unreadable or corrupt is an error with the path.
pub fn load(inventory_dir: &Path) -> Result<Record, StateError> {
    let path = path_for(inventory_dir);
    let shown = crate::diagnostic::display_path(&path);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Record::default()),
        Err(e) => {
            return Err(StateError::Unreadable {
                path: shown,
                reason: e.to_string(),
            })
        }
    };
    serde_json::from_str(&text).map_err(|e| StateError::Unreadable {
        path: shown,
        reason: format!("not a kubeforge record ({e})"),
    })
}

/// Versions a host has installed, by component, from its rendered variables.
pub fn versions_of(h: &ClusterHost) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let pairs = [
        (Component::Etcd, "etcd", "etcd_version"),
        (Component::Containerd, "containerd", "containerd_version"),
        (Component::Runc, "runc", "runc_version"),
        (Component::Kubelet, "kube", "kube_version"),
        (Component::Cilium, "cilium", "cilium_version"),
    ];
    for (c, key, var) in pairs {
        if !h.has(c) {
            continue;
        }
        if let Some(v) = h.var(var) {
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            out.insert(key.to_string(), v);
        }
    }
    out
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Applies a record policy to `rec` for the hosts a run completed on.
pub fn update(
    rec: &mut Record,
    cluster: &Cluster,
    policy: RecordPolicy,
    completed: &[String],
    operation: &str,
    playbook: &str,
) {
    let when = now();
    for h in cluster.hosts.iter().filter(|h| completed.contains(&h.name)) {
        match policy {
            RecordPolicy::Upsert => {
                rec.removed.remove(&h.name);
                rec.hosts.insert(
                    h.name.clone(),
                    HostRecord {
                        roles: h.roles.iter().map(|r| r.as_str().to_string()).collect(),
                        components: h
                            .components
                            .iter()
                            .map(|c| c.as_str().to_string())
                            .collect(),
                        versions: versions_of(h),
                        operation: operation.to_string(),
                        playbook: playbook.to_string(),
                        applied_at: when,
                        etcd_member_name: h.etcd_member_name.clone(),
                        etcd_peer_url: h.etcd_member_name.as_ref().and(h.etcd_peer_url()),
                        etcd_client_url: h.etcd_member_name.as_ref().and(h.etcd_client_url()),
                        address: Some(h.ssh.address.clone()),
                    },
                );
            }
            RecordPolicy::Remove => {
                rec.hosts.remove(&h.name);
            }
            RecordPolicy::Nothing => {}
        }
    }
    if policy == RecordPolicy::Upsert {
        // The first control plane and etcd member are chosen once, then kept.
        let keep = |cur: &Option<String>, role: &str| {
            cur.clone().filter(|c| {
                rec.hosts
                    .get(c)
                    .is_some_and(|h| h.roles.iter().any(|r| r == role))
            })
        };
        let cp = keep(&rec.first_control_plane, "control_plane").or_else(|| {
            cluster
                .anchors
                .first_control_plane
                .clone()
                .filter(|c| rec.hosts.contains_key(c))
        });
        let etcd = keep(&rec.first_etcd, "etcd").or_else(|| {
            cluster
                .anchors
                .first_etcd
                .clone()
                .filter(|c| rec.hosts.contains_key(c))
        });
        rec.first_control_plane = cp;
        rec.first_etcd = etcd;
    }
    forget_gone_anchors(rec);
}

/// Anchors that left the record are forgotten (the next run picks another).
pub fn forget_gone_anchors(rec: &mut Record) {
    if rec
        .first_control_plane
        .as_ref()
        .is_some_and(|c| !rec.hosts.contains_key(c))
    {
        rec.first_control_plane = None;
    }
    if rec
        .first_etcd
        .as_ref()
        .is_some_and(|c| !rec.hosts.contains_key(c))
    {
        rec.first_etcd = None;
    }
}

/// Applies node marks a run set or cleared.
pub fn update_marks(rec: &mut Record, marks: &[(String, String, bool)], operation: &str) {
    let when = now();
    for (node, mark, set) in marks {
        if *set {
            rec.marks.insert(
                node.clone(),
                NodeMark {
                    mark: mark.clone(),
                    operation: operation.to_string(),
                    at: when,
                },
            );
        } else {
            rec.marks.remove(node);
        }
    }
}

/// Writes the record atomically (temp file in the same directory, fsync, rename); the
/// previous version is kept as `last-applied.json.bak`.
pub fn save(inventory_dir: &Path, rec: &Record) -> Result<(), StateError> {
    let path = path_for(inventory_dir);
    let err = |source| StateError::Write {
        path: crate::diagnostic::display_path(&path),
        source,
    };
    let parent = dir_for(inventory_dir);
    std::fs::create_dir_all(&parent).map_err(err)?;
    let mut rec = rec.clone();
    rec.format = FORMAT;
    let text = serde_json::to_string_pretty(&rec)
        .map_err(|e| err(std::io::Error::other(e.to_string())))?;
    if path.exists() {
        std::fs::copy(&path, parent.join("last-applied.json.bak")).map_err(err)?;
    }
    let mut tmp = tempfile::NamedTempFile::new_in(&parent).map_err(err)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(&path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_is_empty_corrupt_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), Record::default());
        std::fs::create_dir_all(dir_for(dir.path())).unwrap();
        std::fs::write(path_for(dir.path()), "{ not json").unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("last-applied.json"), "{e}");
        assert!(e.to_string().contains("not a kubeforge record"), "{e}");
    }

    #[test]
    fn old_records_without_versions_still_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir_for(dir.path())).unwrap();
        std::fs::write(
            path_for(dir.path()),
            r#"{"hosts": {"a": {"roles": ["etcd"], "components": ["etcd"], "playbook": "p.yml", "applied_at": 1}}}"#,
        )
        .unwrap();
        let r = load(dir.path()).unwrap();
        assert_eq!(r.format, 1);
        assert_eq!(r.hosts["a"].roles, ["etcd"]);
        assert!(r.hosts["a"].versions.is_empty());
    }
}
