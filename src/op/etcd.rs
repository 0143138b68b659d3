//! etcd day 2: `kubeforge etcd backup` (a verified snapshot on the controller, named by
//! cluster, member and time, with its sha256, rotated with `--keep`), `kubeforge etcd
//! restore --snapshot FILE --yes` (the snapshot restored on one member as a new
//! single-member cluster, the others re-added one at a time) and `kubeforge recover
//! --yes` (quorum present: broken members removed and re-added; quorum lost: a restore
//! from `--snapshot`). Never a prompt.

use super::session::{code_of, execute, prepare, RunSettings};
use super::{exit, OpError, Operation};
use crate::cli::{EtcdBackupArgs, EtcdRestoreArgs, RecoverArgs, SshArgs};
use crate::cluster::{Anchors, Cluster, Render};
use crate::inventory::{Inventory, Var};
use crate::state::{Record, RecordPolicy};
use serde_json::json;
use std::path::{Path, PathBuf};

/// One of the etcd operations, with the groups and variables its playbook reads.
struct EtcdOp {
    name: &'static str,
    groups: Vec<(&'static str, Vec<String>)>,
    vars: Vec<(&'static str, serde_json::Value)>,
    anchor: Option<String>,
    policy: RecordPolicy,
}

impl Operation for EtcdOp {
    fn name(&self) -> &'static str {
        self.name
    }
    fn record_policy(&self) -> RecordPolicy {
        self.policy
    }
    fn shape(&self, inv: &mut Inventory, _record: &Record) -> Result<(), OpError> {
        for (g, hosts) in &self.groups {
            inv.add_group(g, hosts);
        }
        let origin = crate::diagnostic::Location::new(format!("kubeforge {}", self.name), 0);
        for (k, v) in &self.vars {
            inv.extra.insert(
                k.to_string(),
                Var {
                    value: v.clone(),
                    origin: origin.clone(),
                },
            );
        }
        Ok(())
    }
    fn anchors(&self, record: &Record) -> Anchors {
        let mut a = record.anchors();
        if self.anchor.is_some() {
            a.first_etcd = self.anchor.clone();
        }
        a
    }
    fn finish_record(&self, _: &Cluster, _: &super::Ran, _: &str, _: &mut Record) {}
}

/// etcd members and their health, asked on each member (`endpoint health` on itself).
fn health(
    inv: &super::super::cli::InventoryArgs,
    ssh: &SshArgs,
) -> Result<(Cluster, Vec<(String, bool)>), OpError> {
    let inventory = Inventory::load_sources(
        &inv.inventory,
        &inv.extra_vars,
        &crate::inventory::LoadOptions::default(),
    )?;
    let record = crate::state::load(&inventory.dir)?;
    let defaults = crate::defaults::builtin()?;
    let cluster = Cluster::build_anchored(inventory, &defaults, Render::Lazy, &record.anchors());
    let members: Vec<String> = cluster
        .with_role(crate::topology::Role::Etcd)
        .iter()
        .map(|h| h.name.clone())
        .collect();
    // The members' own etcdctl command (etcdctl_local: their certificates, their bin_dir).
    let mut answers = std::collections::BTreeMap::new();
    for m in &members {
        let cmd = cluster
            .resolver
            .get(m, "etcdctl_local")
            .ok()
            .flatten()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "ETCDCTL_API=3 etcdctl".into());
        let script = format!("{cmd} --command-timeout=5s endpoint health");
        answers.extend(super::reach::run(
            &cluster,
            std::slice::from_ref(m),
            ssh,
            &script,
            true,
        )?);
    }
    let out = members
        .iter()
        .map(|m| (m.clone(), answers.get(m).is_some_and(|r| r.is_ok())))
        .collect();
    Ok((cluster, out))
}

fn stamp() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn sha256_of(path: &Path) -> Result<String, OpError> {
    use sha2::Digest;
    let io = |source| OpError::Io {
        what: format!("cannot read {}", path.display()),
        source,
    };
    // Streamed: a snapshot can be larger than the memory worth spending on it.
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(io)?;
    Ok(hex::encode(h.finalize()))
}

/// Writes FILE.sha256 (`sha256sum` format) beside a snapshot; returns the sum.
pub(super) fn write_checksum(file: &Path) -> Result<String, OpError> {
    let sum = sha256_of(file)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::write(file.with_extension("db.sha256"), format!("{sum}  {name}\n")).map_err(
        |source| OpError::Io {
            what: "cannot write the checksum file".into(),
            source,
        },
    )?;
    Ok(sum)
}

fn run_playbook(
    op: &EtcdOp,
    inv: &super::super::cli::InventoryArgs,
    playbook: &Path,
    ssh: &SshArgs,
    outputs: &[String],
) -> Result<u8, OpError> {
    let prepared = prepare(op, inv, playbook, &Default::default(), false)?;
    let ran = execute(
        op,
        prepared,
        &RunSettings {
            check: false,
            diff: false,
            forks: None,
            timeout: 1800,
            outputs,
            ssh,
            playbook,
            collect: false,
            verbose: false,
        },
    )?;
    Ok(code_of(&ran))
}

/// `kubeforge etcd backup`.
pub fn backup(a: &EtcdBackupArgs) -> Result<u8, OpError> {
    let (cluster, members) = health(&a.inv, &a.ssh)?;
    let Some((member, _)) = members.iter().find(|(_, ok)| *ok) else {
        return Err(OpError::Refused {
            diagnostics: Vec::new(),
            summary: "no etcd member answers healthy: nothing to back up from (kubeforge recover)"
                .into(),
            exit: exit::FAILED,
        });
    };
    let cluster_name = cluster
        .host(member)
        .and_then(|h| {
            h.var("cluster_name")
                .and_then(|v| v.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| "cluster".into());
    let out_dir = match &a.dir {
        Some(d) => d.clone(),
        None => crate::state::dir_for(&cluster.inventory.dir).join("backups"),
    };
    let out_dir = std::fs::canonicalize(&out_dir).unwrap_or(out_dir);
    let file = out_dir.join(format!("{cluster_name}-{member}-{}.db", stamp()));
    let op = EtcdOp {
        name: "etcd-backup",
        groups: vec![("kubeforge_etcd_anchor", vec![member.clone()])],
        vars: vec![(
            "kubeforge_snapshot_local",
            json!(file.display().to_string()),
        )],
        anchor: Some(member.clone()),
        policy: RecordPolicy::Nothing,
    };
    let code = run_playbook(&op, &a.inv, &a.playbook, &a.ssh, &a.output)?;
    if code != exit::OK || !file.is_file() {
        return Ok(if code == exit::OK { exit::FAILED } else { code });
    }
    let sum = write_checksum(&file)?;
    println!("{}", file.display());
    eprintln!(
        "etcd snapshot from {member}: {} (sha256 {sum})",
        file.display()
    );
    if let Some(keep) = a.keep {
        rotate(&out_dir, &format!("{cluster_name}-"), keep)?;
    }
    Ok(exit::OK)
}

/// Keeps the newest `keep` snapshots named PREFIX*.db (names sort by time).
fn rotate(dir: &Path, prefix: &str, keep: usize) -> Result<(), OpError> {
    let mut snaps: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| OpError::Io {
            what: format!("cannot list {}", dir.display()),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".db"))
        })
        .collect();
    snaps.sort_by_key(|p| {
        p.file_name().map(|n| {
            n.to_string_lossy()
                .rsplit('-')
                .next()
                .unwrap_or("")
                .to_string()
        })
    });
    let drop = snaps.len().saturating_sub(keep.max(1));
    for old in &snaps[..drop] {
        let _ = std::fs::remove_file(old.with_extension("db.sha256"));
        std::fs::remove_file(old).map_err(|source| OpError::Io {
            what: format!("cannot remove {}", old.display()),
            source,
        })?;
        eprintln!(
            "removed the older snapshot {} (--keep {keep})",
            old.display()
        );
    }
    Ok(())
}

fn checked_snapshot(file: &Path) -> Result<PathBuf, OpError> {
    let file = std::fs::canonicalize(file).map_err(|source| OpError::Io {
        what: format!("cannot read the snapshot {}", file.display()),
        source,
    })?;
    let sum_file = file.with_extension("db.sha256");
    if let Ok(text) = std::fs::read_to_string(&sum_file) {
        let want = text.split_whitespace().next().unwrap_or("").to_string();
        let got = sha256_of(&file)?;
        if want != got {
            return Err(OpError::Usage(format!(
                "{}: sha256 {got} differs from {} ({want}); the snapshot is damaged",
                file.display(),
                sum_file.display()
            )));
        }
    }
    Ok(file)
}

fn restore_with(
    inv: &super::super::cli::InventoryArgs,
    ssh: &SshArgs,
    playbook: &Path,
    snapshot: &Path,
    members: &[String],
    name: &'static str,
    outputs: &[String],
) -> Result<u8, OpError> {
    let Some(first) = members.first().cloned() else {
        return Err(OpError::Usage("the inventory has no etcd member".into()));
    };
    let rest: Vec<String> = members[1..].to_vec();
    let op = EtcdOp {
        name,
        groups: vec![
            ("kubeforge_etcd_restore", vec![first.clone()]),
            ("kubeforge_etcd_rejoin", rest.clone()),
            ("kubeforge_etcd_joining", rest),
        ],
        vars: vec![(
            "kubeforge_snapshot_source",
            json!(snapshot.display().to_string()),
        )],
        anchor: Some(first),
        policy: RecordPolicy::Nothing,
    };
    run_playbook(&op, inv, playbook, ssh, outputs)
}

/// `kubeforge etcd restore`.
pub fn restore(a: &EtcdRestoreArgs) -> Result<u8, OpError> {
    if !a.yes {
        return Err(OpError::Refused {
            diagnostics: Vec::new(),
            summary: "refusing to restore etcd without --yes: every member's data is replaced by the snapshot (kubeforge never asks)".into(),
            exit: exit::INVALID,
        });
    }
    let snapshot = checked_snapshot(&a.snapshot)?;
    let (_, members) = health(&a.inv, &a.ssh)?;
    let names: Vec<String> = members.iter().map(|(m, _)| m.clone()).collect();
    restore_with(
        &a.inv,
        &a.ssh,
        &a.playbook,
        &snapshot,
        &names,
        "etcd-restore",
        &a.output,
    )
}

/// `kubeforge recover`.
pub fn recover(a: &RecoverArgs) -> Result<u8, OpError> {
    if !a.yes {
        return Err(OpError::Refused {
            diagnostics: Vec::new(),
            summary: "refusing to recover etcd without --yes: broken members' data is moved aside and rebuilt (kubeforge never asks)".into(),
            exit: exit::INVALID,
        });
    }
    let (_, members) = health(&a.inv, &a.ssh)?;
    let healthy: Vec<String> = members
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(m, _)| m.clone())
        .collect();
    let broken: Vec<String> = members
        .iter()
        .filter(|(_, ok)| !*ok)
        .map(|(m, _)| m.clone())
        .collect();
    let quorum = members.len() / 2 + 1;
    eprintln!(
        "etcd: {} of {} members healthy (quorum {quorum}); broken: {}",
        healthy.len(),
        members.len(),
        if broken.is_empty() {
            "none".to_string()
        } else {
            broken.join(", ")
        }
    );
    if broken.is_empty() {
        return Ok(exit::OK);
    }
    if healthy.len() >= quorum {
        // Quorum holds: the broken members are removed and added back, one at a time.
        let op = EtcdOp {
            name: "recover",
            groups: vec![
                ("kubeforge_etcd_restore", Vec::new()),
                ("kubeforge_etcd_rejoin", broken.clone()),
                ("kubeforge_etcd_joining", broken),
            ],
            vars: vec![("kubeforge_snapshot_source", json!(""))],
            anchor: healthy.first().cloned(),
            policy: RecordPolicy::Nothing,
        };
        return run_playbook(&op, &a.inv, &a.playbook, &a.ssh, &a.output);
    }
    let Some(snapshot) = &a.snapshot else {
        return Err(OpError::Refused {
            diagnostics: Vec::new(),
            summary: format!(
                "etcd has lost quorum ({} of {} members healthy): recovering needs a snapshot; give --snapshot FILE (made by kubeforge etcd backup or before an upgrade)",
                healthy.len(),
                members.len()
            ),
            exit: exit::INVALID,
        });
    };
    let snapshot = checked_snapshot(snapshot)?;
    // Restore on a member that still answers if there is one.
    let mut order: Vec<String> = healthy;
    let rest: Vec<String> = members
        .iter()
        .map(|(m, _)| m.clone())
        .filter(|m| !order.contains(m))
        .collect();
    order.extend(rest);
    restore_with(
        &a.inv,
        &a.ssh,
        &a.playbook,
        &snapshot,
        &order,
        "recover",
        &a.output,
    )
}
