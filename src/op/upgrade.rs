//! `kubeforge upgrade -i INV`: moves the cluster to the versions the inventory names
//! (playbooks/upgrade.yml). Refused before anything runs: a host the record does not
//! know, a Kubernetes or etcd downgrade, a jump of more than one Kubernetes minor version
//! (naming the version to go through), a host of the plan that does not answer (unless
//! `--limit` leaves it out). The workers' batch size is `--serial` (default 20%); nodes
//! kubeforge cordoned in an interrupted run are uncordoned at the end.

use super::session::{code_of, execute, prepare, Ran, RunSettings};
use super::{exit, OpError, Operation};
use crate::cli::UpgradeArgs;
use crate::cluster::Cluster;
use crate::diagnostic::Diagnostic;
use crate::inventory::{Inventory, Var};
use crate::state::{Record, RecordPolicy};
use serde_json::json;
use std::path::PathBuf;

/// Upgrading the cluster.
pub struct Upgrade {
    snapshot: PathBuf,
    pause_between: Option<u64>,
}

/// major.minor.patch of a version string (`v1.36.4`, `1.36.4-standin`, `1.36.4+ds`).
pub fn triplet(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.trim().trim_start_matches('v');
    let core = core.split(['-', '+']).next()?;
    let mut it = core.split('.').map(|x| x.parse::<u64>().ok());
    Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
}

/// Why going from `installed` to `target` is refused, if it is (`what` names it).
pub fn check_step(what: &str, installed: &str, target: &str, one_minor: bool) -> Option<String> {
    let (Some(i), Some(t)) = (triplet(installed), triplet(target)) else {
        return None;
    };
    if t < i {
        return Some(format!(
            "{what} {target} is older than the installed {installed}: kubeforge does not downgrade"
        ));
    }
    if one_minor && t.0 == i.0 && t.1 > i.1 + 1 {
        return Some(format!(
            "{what} {installed} -> {target} skips a minor version: upgrade to {}.{}.x first (one minor at a time)",
            i.0,
            i.1 + 1
        ));
    }
    if one_minor && t.0 != i.0 {
        return Some(format!(
            "{what} {installed} -> {target} changes the major version"
        ));
    }
    None
}

impl Operation for Upgrade {
    fn name(&self) -> &'static str {
        "upgrade"
    }

    fn record_policy(&self) -> RecordPolicy {
        RecordPolicy::Upsert
    }

    fn shape(&self, inv: &mut Inventory, record: &Record) -> Result<(), OpError> {
        let anchors = record.anchors();
        let one = |x: &Option<String>| x.iter().cloned().collect::<Vec<_>>();
        inv.add_group("kubeforge_anchor", &one(&anchors.first_control_plane));
        inv.add_group("kubeforge_etcd_anchor", &one(&anchors.first_etcd));
        let origin = crate::diagnostic::Location::new("kubeforge upgrade", 0);
        let marked: Vec<&String> = record.marks.keys().collect();
        if let Some(p) = self.pause_between {
            inv.extra.insert(
                "upgrade_pause_between".into(),
                Var {
                    value: json!(p),
                    origin: origin.clone(),
                },
            );
        }
        for (k, v) in [
            ("kubeforge_marked_nodes", json!(marked)),
            (
                "kubeforge_snapshot_local",
                json!(self.snapshot.display().to_string()),
            ),
        ] {
            inv.extra.insert(
                k.to_string(),
                Var {
                    value: v,
                    origin: origin.clone(),
                },
            );
        }
        Ok(())
    }

    fn preflight(&self, cluster: &Cluster, record: &Record) -> Vec<Diagnostic> {
        let mut d = Vec::new();
        for h in &cluster.hosts {
            let in_cluster = !h.components.is_empty();
            let Some(was) = record.hosts.get(&h.name) else {
                if in_cluster {
                    d.push(
                        Diagnostic::error(
                            "not-provisioned",
                            format!("{} is not part of the cluster yet (not in the last-applied record)", h.name),
                        )
                        .help("add it with kubeforge scale --limit, or leave it out with --limit"),
                    );
                }
                continue;
            };
            let target = crate::state::versions_of(h);
            for (key, what, one_minor) in [("kube", "Kubernetes", true), ("etcd", "etcd", false)] {
                if let (Some(i), Some(t)) = (was.versions.get(key), target.get(key)) {
                    if let Some(why) = check_step(what, i, t, one_minor) {
                        d.push(
                            Diagnostic::error("upgrade-step", format!("{}: {why}", h.name))
                                .help("set the version in group_vars to one kubeforge can go to from the installed one"),
                        );
                    }
                }
            }
        }
        d
    }

    fn derive(&self, cluster: &Cluster, record: &Record) -> Vec<(String, serde_json::Value)> {
        let pending = pending_changes(cluster, record);
        if pending.is_empty() {
            eprintln!("every host is at the inventory's versions (last-applied record): no etcd snapshot needed\n");
        }
        vec![(
            "kubeforge_upgrade_pending".into(),
            json!(!pending.is_empty()),
        )]
    }

    fn finish_record(&self, cluster: &Cluster, ran: &Ran, playbook: &str, rec: &mut Record) {
        // Hosts the run completed on have the new versions; others keep the old ones.
        crate::state::update(
            rec,
            cluster,
            RecordPolicy::Upsert,
            &ran.completed(),
            self.name(),
            playbook,
        );
    }
}

/// Hosts whose recorded versions differ from the inventory's (or that the record
/// does not know): the upgrade has work, so etcd is snapshotted first.
fn pending_changes(cluster: &Cluster, record: &Record) -> Vec<String> {
    cluster
        .hosts
        .iter()
        .filter(|h| !h.components.is_empty())
        .filter(|h| match record.hosts.get(&h.name) {
            None => true,
            Some(was) => crate::state::versions_of(h)
                .iter()
                .any(|(k, v)| was.versions.get(k) != Some(v)),
        })
        .map(|h| h.name.clone())
        .collect()
}

fn snapshot_path(inventory: &[PathBuf]) -> Result<PathBuf, OpError> {
    let dir = crate::inventory::source::record_dir(inventory)?;
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let stamp = time::OffsetDateTime::now_utc();
    let name = format!(
        "pre-upgrade-{:04}{:02}{:02}T{:02}{:02}{:02}Z.db",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    );
    Ok(crate::state::dir_for(&dir).join("backups").join(name))
}

/// `kubeforge upgrade`.
pub fn run(a: &UpgradeArgs) -> Result<u8, OpError> {
    let op = Upgrade {
        snapshot: snapshot_path(&a.inv.inventory)?,
        pause_between: a.pause_between,
    };
    let mut prepared = prepare(&op, &a.inv, &a.playbook, &a.select, a.check)?;
    if let Some(serial) = &a.serial {
        let parsed = crate::playbook::parse_serial(serial).ok_or_else(|| {
            OpError::Usage(format!(
                "--serial takes a number of hosts, a percentage or a list (2, 20%, 1,20%), not '{serial}'"
            ))
        })?;
        for p in prepared.plan.plays.iter_mut() {
            if p.play.name == "Workers, in batches" {
                p.play.serial = parsed.clone();
            }
        }
    }
    let hosts: Vec<String> = prepared
        .plan
        .plays
        .iter()
        .flat_map(|p| p.hosts.iter().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let down: Vec<String> = super::reach::probe(&prepared.cluster, &hosts, &a.ssh)?
        .into_iter()
        .filter_map(|(h, why)| why.map(|w| format!("{h} ({w})")))
        .collect();
    if !down.is_empty() {
        return Err(OpError::Refused {
            diagnostics: Vec::new(),
            summary: format!(
                "hosts of the upgrade do not answer: {}; nothing was changed (bring them back, or leave them out with --limit)",
                down.join(", ")
            ),
            exit: exit::UNREACHABLE,
        });
    }
    let ran = execute(
        &op,
        prepared,
        &RunSettings {
            check: a.check,
            diff: false,
            forks: a.forks,
            timeout: a.timeout,
            outputs: &a.output,
            ssh: &a.ssh,
            playbook: &a.playbook,
            collect: false,
            verbose: false,
        },
    )?;
    if op.snapshot.is_file() {
        // The upgrade's outcome stands; a checksum that cannot be written is reported.
        match super::etcd::write_checksum(&op.snapshot) {
            Ok(sum) => eprintln!(
                "etcd snapshot taken before the upgrade: {} (sha256 {sum})",
                op.snapshot.display()
            ),
            Err(e) => eprintln!(
                "warning: etcd snapshot taken before the upgrade: {}, but {e}",
                op.snapshot.display()
            ),
        }
    }
    Ok(code_of(&ran))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_steps() {
        assert_eq!(triplet("v1.36.4"), Some((1, 36, 4)));
        assert_eq!(triplet("1.36.4-standin"), Some((1, 36, 4)));
        assert_eq!(triplet("1.36.4+ds"), Some((1, 36, 4)));
        assert!(check_step("Kubernetes", "1.35.2", "1.36.4", true).is_none());
        assert!(check_step("Kubernetes", "1.36.4", "1.36.4", true).is_none());
        let skip = check_step("Kubernetes", "1.34.1", "1.36.4", true).unwrap();
        assert!(skip.contains("upgrade to 1.35.x first"), "{skip}");
        let down = check_step("Kubernetes", "1.36.4", "1.35.9", true).unwrap();
        assert!(down.contains("does not downgrade"), "{down}");
        assert!(check_step("etcd", "3.4.23", "3.5.30", false).is_none());
        assert!(check_step("etcd", "3.5.30", "3.4.23", false).is_some());
    }
}
