//! `kubeforge remove-node -i INV NODE... --yes`: takes nodes out of the cluster
//! (playbooks/remove-node.yml): cordon and drain (kubeforge's own cordon mark, undone if
//! the drain fails), etcd member removal by peer URL from a healthy member, reset of the
//! node, Node object deleted, API servers' etcd endpoints updated, record updated. A
//! dead node (`--dead`, or found unreachable) gets nothing run on it; the rest is done
//! from the other hosts, using the record (never facts of the dead host). A node already
//! deleted from the inventory is accepted when the record knows it.

use super::session::{code_of, execute, prepare, Ran, RunSettings};
use super::{exit, OpError, Operation};
use crate::cli::RemoveNodeArgs;
use crate::cluster::{Anchors, Cluster};
use crate::diagnostic::Diagnostic;
use crate::inventory::{Inventory, Var};
use crate::state::{Record, RecordPolicy};
use serde_json::json;
use std::collections::BTreeSet;

/// Removing nodes.
pub struct RemoveNode {
    nodes: Vec<String>,
    dead: BTreeSet<String>,
    ungraceful: bool,
    no_reset: bool,
}

/// Why a removal is refused before anything runs (errors), or what to know (warnings).
pub fn check_removal(record: &Record, nodes: &[String], force: bool) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    for n in nodes {
        if !record.hosts.contains_key(n) {
            d.push(
                Diagnostic::error(
                    "not-provisioned",
                    format!("{n} is not in the last-applied record: kubeforge never provisioned it"),
                )
                .help("check the name; a host kubeforge did not install has nothing to remove (reset.yml --limit cleans a host)"),
            );
        }
    }
    let cps = record.with_role("control_plane");
    if !cps.is_empty() && cps.iter().all(|c| nodes.contains(c)) {
        d.push(
            Diagnostic::error(
                "last-control-plane",
                format!(
                    "removing {} would leave the cluster without a control plane",
                    cps.join(", ")
                ),
            )
            .help("add another control plane first (kubeforge scale), then remove this one"),
        );
    }
    let members = record.with_role("etcd");
    let removing: Vec<&String> = members.iter().filter(|m| nodes.contains(m)).collect();
    let left = members.len() - removing.len();
    if !removing.is_empty() {
        if left == 0 {
            d.push(
                Diagnostic::error(
                    "etcd-empty",
                    "removing every etcd member would destroy the cluster's data",
                )
                .help("keep at least one member; to take the whole cluster down use reset --yes"),
            );
        } else if !force {
            let tolerance = members.len().saturating_sub(1) / 2;
            if removing.len() > tolerance {
                d.push(
                    Diagnostic::error(
                        "etcd-quorum",
                        format!(
                            "removing {} of {} etcd members at once exceeds what the cluster tolerates ({tolerance}): if one more member fails meanwhile, etcd loses quorum",
                            removing.len(),
                            members.len()
                        ),
                    )
                    .help("remove them one at a time, adding replacements between, or say --force"),
                );
            } else if left.is_multiple_of(2) {
                d.push(
                    Diagnostic::error(
                        "etcd-even",
                        format!("etcd would be left with {left} members: an even count tolerates no more failures than {}", left - 1),
                    )
                    .help("add a member first (kubeforge scale), or say --force"),
                );
            }
        }
    }
    d
}

impl RemoveNode {
    fn anchors_from(&self, record: &Record) -> Anchors {
        let keep = |cur: Option<String>, role: &str| {
            cur.filter(|c| !self.nodes.contains(c) && !self.dead.contains(c))
                .or_else(|| {
                    record
                        .with_role(role)
                        .into_iter()
                        .find(|h| !self.nodes.contains(h) && !self.dead.contains(h))
                })
        };
        let a = record.anchors();
        Anchors {
            first_control_plane: keep(a.first_control_plane, "control_plane"),
            first_etcd: keep(a.first_etcd, "etcd"),
        }
    }
}

impl Operation for RemoveNode {
    fn name(&self) -> &'static str {
        "remove-node"
    }

    fn record_policy(&self) -> RecordPolicy {
        RecordPolicy::Remove
    }

    fn shape(&self, inv: &mut Inventory, record: &Record) -> Result<(), OpError> {
        let anchors = self.anchors_from(record);
        let mut list = Vec::new();
        let mut removing = Vec::new();
        for n in &self.nodes {
            let Some(h) = record.hosts.get(n) else {
                continue;
            };
            let has = |r: &str| h.roles.iter().any(|x| x == r);
            let dead = self.dead.contains(n);
            if !dead && !self.no_reset && inv.host(n).is_some() {
                removing.push(n.clone());
            }
            list.push(json!({
                "name": n,
                "k8s": has("control_plane") || has("worker"),
                "etcd": has("etcd"),
                "etcd_member_name": h.etcd_member_name,
                "etcd_peer_url": h.etcd_peer_url,
                "dead": dead,
            }));
        }
        // The API servers' etcd endpoints once the removed members are gone.
        let endpoints: Vec<String> = record
            .with_role("etcd")
            .into_iter()
            .filter(|m| !self.nodes.contains(m))
            .filter_map(|m| record.hosts.get(&m)?.etcd_client_url.clone())
            .collect();
        let origin = crate::diagnostic::Location::new("kubeforge remove-node", 0);
        let mut set = |k: &str, v: serde_json::Value| {
            inv.extra.insert(
                k.to_string(),
                Var {
                    value: v,
                    origin: origin.clone(),
                },
            );
        };
        set("kubeforge_remove", json!(list));
        set("allow_ungraceful_removal", json!(self.ungraceful));
        set("kubeforge_etcd_endpoints_after", json!(endpoints.join(",")));
        let one = |x: &Option<String>| x.iter().cloned().collect::<Vec<_>>();
        inv.add_group("kubeforge_anchor", &one(&anchors.first_control_plane));
        inv.add_group("kubeforge_etcd_anchor", &one(&anchors.first_etcd));
        inv.add_group("kubeforge_removing", &removing);
        Ok(())
    }

    fn anchors(&self, record: &Record) -> Anchors {
        self.anchors_from(record)
    }

    fn finish_record(&self, cluster: &Cluster, ran: &Ran, _playbook: &str, rec: &mut Record) {
        if ran.exit_code() != exit::OK {
            return;
        }
        let when = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        for n in &self.nodes {
            if rec.hosts.remove(n).is_some() {
                rec.removed.insert(n.clone(), when);
            }
            rec.marks.remove(n);
        }
        crate::state::forget_gone_anchors(rec);
        rec.first_control_plane = rec
            .first_control_plane
            .clone()
            .or(cluster.anchors.first_control_plane.clone());
        rec.first_etcd = rec
            .first_etcd
            .clone()
            .or(cluster.anchors.first_etcd.clone());
    }
}

/// `kubeforge remove-node`.
pub fn run(a: &RemoveNodeArgs) -> Result<u8, OpError> {
    if !a.yes {
        return Err(OpError::Refused {
            diagnostics: Vec::new(),
            summary: format!(
                "refusing to remove {} without --yes (kubeforge never asks; say --yes to proceed)",
                a.nodes.join(", ")
            ),
            exit: exit::INVALID,
        });
    }
    // Before any connection: what the record says about the nodes and the cluster.
    let inventory = super::inventory::load_inventory(&a.inv)?;
    let record = crate::state::load(&inventory.dir)?;
    let (done, nodes): (Vec<String>, Vec<String>) = a
        .nodes
        .iter()
        .cloned()
        .partition(|n| record.removed.contains_key(n) && !record.hosts.contains_key(n));
    for n in &done {
        eprintln!("{n} was already removed by kubeforge: nothing to do for it");
    }
    if nodes.is_empty() {
        return Ok(exit::OK);
    }
    let problems = check_removal(&record, &nodes, a.force);
    if problems.iter().any(|d| d.is_error()) {
        return Err(OpError::Refused {
            diagnostics: problems,
            summary: "remove-node refused; nothing was contacted".into(),
            exit: exit::INVALID,
        });
    }
    // Dead: said so, not in the inventory any more, or not answering now.
    let mut dead: BTreeSet<String> = nodes
        .iter()
        .filter(|n| a.dead || inventory.host(n).is_none())
        .cloned()
        .collect();
    let alive_candidates: Vec<String> = nodes
        .iter()
        .filter(|n| !dead.contains(*n))
        .cloned()
        .collect();
    if !alive_candidates.is_empty() {
        let probe_cluster = Cluster::build_with(
            inventory,
            &crate::defaults::builtin()?,
            crate::cluster::Render::Lazy,
        );
        for (h, why) in super::reach::probe(&probe_cluster, &alive_candidates, &a.ssh)? {
            if let Some(why) = why {
                eprintln!("{h} does not answer ({why}): removing it as a dead node (nothing will run on it)");
                dead.insert(h);
            }
        }
    }
    let op = RemoveNode {
        nodes: nodes.clone(),
        dead,
        ungraceful: a.ungraceful,
        no_reset: a.no_reset,
    };
    let prepared = prepare(&op, &a.inv, &a.playbook, &Default::default(), false)?;
    let still_listed: Vec<String> = nodes
        .iter()
        .filter(|n| prepared.cluster.host(n).is_some())
        .cloned()
        .collect();
    let ran = execute(
        &op,
        prepared,
        &RunSettings {
            check: false,
            diff: false,
            forks: None,
            timeout: a.timeout,
            outputs: &a.output,
            ssh: &a.ssh,
            playbook: &a.playbook,
            collect: false,
            verbose: false,
        },
    )?;
    let code = code_of(&ran);
    if code == exit::OK {
        if still_listed.is_empty() {
            eprintln!(
                "removed {}; they are no longer in the inventory either",
                nodes.join(", ")
            );
        } else {
            eprintln!(
                "removed {}: now delete {} from the inventory ({}); kubeforge will not contact them again",
                nodes.join(", "),
                still_listed.join(", "),
                a.inv.shown()
            );
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::HostRecord;

    fn rec(hosts: &[(&str, &[&str])]) -> Record {
        let mut r = Record::default();
        for (h, roles) in hosts {
            r.hosts.insert(
                h.to_string(),
                HostRecord {
                    roles: roles.iter().map(|s| s.to_string()).collect(),
                    components: Vec::new(),
                    versions: Default::default(),
                    operation: "install".into(),
                    playbook: "cluster.yml".into(),
                    applied_at: 0,
                    etcd_member_name: None,
                    etcd_peer_url: None,
                    etcd_client_url: None,
                    address: None,
                },
            );
        }
        r
    }

    fn codes(d: &[Diagnostic]) -> Vec<&str> {
        d.iter().filter(|x| x.is_error()).map(|x| x.code).collect()
    }

    #[test]
    fn refusals_before_anything_runs() {
        let r = rec(&[
            ("cp1", &["control_plane"]),
            ("w1", &["worker"]),
            ("e1", &["etcd"]),
            ("e2", &["etcd"]),
            ("e3", &["etcd"]),
        ]);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(codes(&check_removal(&r, &s(&["w1"]), false)).is_empty());
        assert_eq!(
            codes(&check_removal(&r, &s(&["cp1"]), false)),
            ["last-control-plane"]
        );
        assert_eq!(
            codes(&check_removal(&r, &s(&["nope"]), false)),
            ["not-provisioned"]
        );
        // 3 -> 2 members: even; --force accepts it.
        assert_eq!(codes(&check_removal(&r, &s(&["e1"]), false)), ["etcd-even"]);
        assert!(codes(&check_removal(&r, &s(&["e1"]), true)).is_empty());
        // 3 -> 1 at once: more than the one failure 3 members tolerate.
        assert_eq!(
            codes(&check_removal(&r, &s(&["e1", "e2"]), false)),
            ["etcd-quorum"]
        );
        assert_eq!(
            codes(&check_removal(&r, &s(&["e1", "e2", "e3"]), true)),
            ["etcd-empty"]
        );
    }
}
