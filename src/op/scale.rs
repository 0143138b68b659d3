//! `kubeforge scale -i INV --limit NEW...`: adds the hosts named by `--limit` to the
//! running cluster (playbooks/scale.yml): workers and control planes join with kubeadm,
//! etcd members join one at a time (member add, then start, then a health gate).
//! Preflight: the new hosts are in the inventory and not in the record; every other host
//! of the inventory is in the record (a cluster exists) and answers (unless
//! `--skip-unreachable`, which is reported). Existing hosts are only read, except the
//! API servers, which learn new etcd members.

use super::session::{code_of, execute, prepare, RunSettings};
use super::{exit, OpError, Operation};
use crate::cli::ScaleArgs;
use crate::diagnostic::Diagnostic;
use crate::inventory::Inventory;
use crate::state::{Record, RecordPolicy};
use std::cell::RefCell;

/// Adding hosts.
pub struct Scale {
    limit: String,
    new: RefCell<Vec<String>>,
}

impl Scale {
    /// The hosts being added (known after `shape`).
    pub fn new_hosts(&self) -> Vec<String> {
        self.new.borrow().clone()
    }
}

fn refused(summary: String, diagnostics: Vec<Diagnostic>) -> OpError {
    OpError::Refused {
        diagnostics,
        summary,
        exit: exit::INVALID,
    }
}

impl Operation for Scale {
    fn name(&self) -> &'static str {
        "scale"
    }

    fn record_policy(&self) -> RecordPolicy {
        RecordPolicy::Upsert
    }

    fn shape(&self, inv: &mut Inventory, record: &Record) -> Result<(), OpError> {
        let new = crate::plan::pattern::select(inv, &self.limit, false).map_err(|e| {
            refused(
                format!("--limit {}: {e}; nothing was run", self.limit),
                Vec::new(),
            )
        })?;
        if new.is_empty() {
            return Err(refused(
                format!(
                    "--limit {} names no host of the inventory; nothing was run",
                    self.limit
                ),
                Vec::new(),
            ));
        }
        if record.hosts.is_empty() {
            return Err(refused(
                "there is no cluster to scale: the last-applied record is empty (run playbooks/cluster.yml first); nothing was run".into(),
                Vec::new(),
            ));
        }
        let mut problems = Vec::new();
        let (known, new): (Vec<String>, Vec<String>) =
            new.into_iter().partition(|h| record.hosts.contains_key(h));
        for h in &known {
            eprintln!("{h} is already part of the cluster: nothing to do for it (playbooks/cluster.yml changes existing hosts)");
        }
        for h in inv.hosts.iter().map(|h| h.name.clone()) {
            let in_cluster = ["k8s_cluster", "etcd"].iter().any(|g| inv.in_group(&h, g));
            if in_cluster && !new.contains(&h) && !record.hosts.contains_key(&h) {
                problems.push(
                    Diagnostic::error(
                        "not-provisioned",
                        format!("{h} is in the inventory but neither provisioned nor named in --limit"),
                    )
                    .help(format!("add it to --limit to provision it now (--limit '{},{h}'), or run playbooks/cluster.yml", self.limit)),
                );
            }
        }
        if !problems.is_empty() {
            return Err(refused("scale refused; nothing was run".into(), problems));
        }
        inv.add_group("kubeforge_new", &new);
        *self.new.borrow_mut() = new;
        Ok(())
    }
}

/// `kubeforge scale`.
pub fn run(a: &ScaleArgs) -> Result<u8, OpError> {
    let Some(limit) = a.select.limit.clone() else {
        return Err(OpError::Usage(
            "scale needs --limit naming the new hosts (e.g. --limit node5,node6)".into(),
        ));
    };
    let op = Scale {
        limit,
        new: RefCell::new(Vec::new()),
    };
    let mut select = a.select.clone();
    select.limit = None;
    let prepared = prepare(&op, &a.inv, &a.playbook, &select, a.check)?;
    let new = op.new_hosts();
    let existing: Vec<String> = prepared
        .cluster
        .hosts
        .iter()
        .map(|h| h.name.clone())
        .filter(|h| prepared.record.hosts.contains_key(h) && !new.contains(h))
        .collect();
    let reach = super::reach::probe(&prepared.cluster, &existing, &a.ssh)?;
    let down: Vec<(String, String)> = reach
        .into_iter()
        .filter_map(|(h, why)| why.map(|w| (h, w)))
        .collect();
    if !down.is_empty() {
        let list = down
            .iter()
            .map(|(h, w)| format!("{h} ({w})"))
            .collect::<Vec<_>>()
            .join(", ");
        if !a.skip_unreachable {
            return Err(OpError::Refused {
                diagnostics: Vec::new(),
                summary: format!(
                    "existing hosts do not answer: {list}; nothing was changed (bring them back, or say --skip-unreachable)"
                ),
                exit: exit::UNREACHABLE,
            });
        }
        eprintln!(
            "warning: going on without unreachable existing hosts (--skip-unreachable): {list}\n"
        );
    }
    eprintln!("scale: adding {}", new.join(", "));
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
    Ok(code_of(&ran))
}
