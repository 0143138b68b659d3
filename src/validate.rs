//! Checks run before any SSH: every problem at once, each with its location and fix.

use crate::cluster::{Cluster, BOOLEAN_VARS};
use crate::diagnostic::{Diagnostic, Location};
use crate::inventory::{display_path, KNOWN_GROUPS};
use crate::topology::{self, Role};
use serde_json::Value;
use std::collections::BTreeMap;

mod images;

/// Validates the cluster; returns every error and warning (deterministic order).
pub fn validate(cluster: &Cluster) -> Vec<Diagnostic> {
    let mut d = cluster.diagnostics.clone();
    let inv = &cluster.inventory;
    let inv_file = Location::new(display_path(&inv.file), 0);
    let group_loc = |g: &str| {
        inv.groups
            .get(g)
            .and_then(|e| e.location.clone())
            .unwrap_or_else(|| inv_file.clone())
    };

    // Membership.
    let cps = cluster.with_role(Role::ControlPlane);
    let etcd = cluster.with_role(Role::Etcd);
    if cps.is_empty() {
        d.push(
            Diagnostic::error("no-control-plane", "no host in kube_control_plane")
                .at(Some(group_loc("kube_control_plane")))
                .help("add at least one host to the kube_control_plane group"),
        );
    }
    let etcd_type = cps
        .first()
        .map(|h| h.settings.etcd_deployment_type.clone())
        .unwrap_or_else(|| "host".into());
    let etcd_type_loc = cps
        .first()
        .and_then(|h| h.vars.get("etcd_deployment_type").map(|(_, l)| l.clone()));
    if etcd.is_empty() && etcd_type == "host" {
        d.push(
            Diagnostic::error("no-etcd", "the etcd group is empty but etcd_deployment_type is host")
                .at(Some(group_loc("etcd")))
                .help("add hosts to the etcd group (often `[etcd:children]` kube_control_plane), or set etcd_deployment_type: kubeadm"),
        );
    } else if !etcd.is_empty() && etcd.len().is_multiple_of(2) {
        d.push(
            Diagnostic::error("even-etcd-members", format!("the etcd group has {} members; etcd needs an odd number", etcd.len()))
                .at(Some(group_loc("etcd")))
                .help(format!("use {} or {} etcd members: an even count tolerates no more failures than one fewer", etcd.len() - 1, etcd.len() + 1)),
        );
    } else if etcd.len() == 1
        && etcd[0]
            .vars
            .get("kubeforge_single_etcd_intended")
            .is_none_or(|(v, _)| v.as_bool() != Some(true))
    {
        // One member on purpose (a lab, a demo): `kubeforge_single_etcd_intended: true`
        // for the etcd host says so, and only this warning goes.
        d.push(
            Diagnostic::warning(
                "single-etcd",
                "the etcd group has one member: no fault tolerance",
            )
            .at(Some(group_loc("etcd")))
            .help("use 3 etcd members for production; for a cluster meant to have one (a lab, a demo), set kubeforge_single_etcd_intended: true"),
        );
    }
    if etcd_type == "kubeadm" {
        let cp_names: Vec<&str> = cps.iter().map(|h| h.name.as_str()).collect();
        let etcd_names: Vec<&str> = etcd.iter().map(|h| h.name.as_str()).collect();
        if !etcd.is_empty() && cp_names != etcd_names {
            d.push(
                Diagnostic::error("kubeadm-etcd-layout", "etcd_deployment_type: kubeadm runs etcd on the control plane, but the etcd group differs from kube_control_plane")
                    .at(etcd_type_loc.clone())
                    .help("make etcd `[etcd:children] kube_control_plane`, or use etcd_deployment_type: host"),
            );
        }
    }
    for h in &inv.hosts {
        let roles_groups = [
            "kube_control_plane",
            "kube_node",
            "etcd",
            "calico_rr",
            "bastion",
        ];
        let groups = inv.groups_of(&h.name);
        if !roles_groups.iter().any(|g| groups.contains(*g)) {
            d.push(
                Diagnostic::error(
                    "host-without-group",
                    format!("host {} is in no kubeforge group", h.name),
                )
                .at(Some(h.location.clone()))
                .help("add it to kube_control_plane, kube_node or etcd (or bastion), or remove it"),
            );
        }
    }
    for g in inv.groups.values() {
        // kubeforge_* groups are made by an operation for its run, never written.
        if !KNOWN_GROUPS.contains(&g.name.as_str()) && !g.name.starts_with("kubeforge_") {
            d.push(
                Diagnostic::warning("unknown-group", format!("group '{}' is not one kubeforge uses", g.name))
                    .at(g.location.clone())
                    .help("kubeforge's groups: kube_control_plane, kube_node, etcd, calico_rr, bastion, k8s_cluster; a typo here leaves hosts without roles"),
            );
        }
    }

    // Addresses.
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    // One error per pair of hosts, even when their ip and their SSH target both collide.
    let mut clashing: Vec<(&str, &str)> = Vec::new();
    for h in &cluster.hosts {
        let mut addrs: Vec<String> = h.ips.iter().map(|i| i.to_string()).collect();
        let target = format!("{}:{}", h.ssh.address, h.ssh.port);
        addrs.push(target);
        addrs.sort();
        addrs.dedup();
        for a in addrs {
            if let Some(other) = seen.get(&a) {
                if clashing.contains(&(*other, h.name.as_str())) {
                    continue;
                }
                clashing.push((*other, h.name.as_str()));
                let loc = inv.host(&h.name).map(|e| e.location.clone());
                d.push(
                    Diagnostic::error(
                        "duplicate-address",
                        format!("hosts {other} and {} have the same address {a}", h.name),
                    )
                    .at(loc)
                    .help(
                        "give each host its own ansible_host / ip, or remove the duplicate entry",
                    ),
                );
            } else {
                seen.insert(a, &h.name);
            }
        }
        if cluster.hosts.iter().any(|_| true)
            && (h.has_role(Role::ControlPlane)
                || h.has_role(Role::Worker)
                || h.has_role(Role::Etcd))
        {
            for fam in &h.missing_families {
                let (vars, stack) = if fam == "IPv6" {
                    ("ip6", "ipv6_stack")
                } else {
                    ("ip", "ipv4_stack")
                };
                d.push(
                    Diagnostic::error(
                        "missing-address",
                        format!("{stack} is on but host {} has no {fam} address", h.name),
                    )
                    .at(inv.host(&h.name).map(|e| e.location.clone()))
                    .help(format!(
                        "set {vars} (or an {fam} ansible_host) for {}",
                        h.name
                    )),
                );
            }
        }
    }

    // Settings with supported values.
    let checks: [(&str, &[&str]); 4] = [
        ("container_manager", &topology::SUPPORTED_CONTAINER_MANAGERS),
        ("cilium_install_method", &["cli", "helm"]),
        ("kube_network_plugin", &topology::SUPPORTED_NETWORK_PLUGINS),
        (
            "etcd_deployment_type",
            &topology::SUPPORTED_ETCD_DEPLOYMENT_TYPES,
        ),
    ];
    for (name, supported) in checks {
        let mut reported = Vec::new();
        for h in &cluster.hosts {
            if let Some((v, loc)) = h.vars.get(name) {
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                if !supported.contains(&text.as_str()) && !reported.contains(loc) {
                    reported.push(loc.clone());
                    d.push(
                        Diagnostic::error(
                            "unsupported-value",
                            format!("{name}: '{text}' is not supported by kubeforge yet"),
                        )
                        .at(Some(loc.clone()))
                        .help(format!("supported values: {}", supported.join(", "))),
                    );
                }
            }
        }
    }

    // Booleans must be booleans.
    let mut reported = Vec::new();
    for h in &cluster.hosts {
        for name in BOOLEAN_VARS {
            if let Some((v, loc)) = h.vars.get(name) {
                if !v.is_boolean() && !reported.contains(loc) {
                    reported.push(loc.clone());
                    d.push(
                        Diagnostic::error("not-a-boolean", format!("{name} must be a boolean, got {}", describe(v)))
                            .at(Some(loc.clone()))
                            .help(format!("write {name}: true or {name}: false (unquoted; in INI files True/False)")),
                    );
                }
            }
        }
    }

    // Network ranges (pod range capacity counts k8s_cluster nodes).
    let nodes = cluster
        .hosts
        .iter()
        .filter(|h| h.has_role(Role::ControlPlane) || h.has_role(Role::Worker))
        .count();
    if let Some(reference) = cps.first() {
        let vars = &reference.vars;
        let get = |n: &str| vars.get(n).cloned();
        cluster.network.check_ranges(nodes, &get, &mut d);
    }

    // Every artifact a host will download must resolve to a pinned checksum.
    let mut reported = Vec::new();
    for h in &cluster.hosts {
        let get = |n: &str| h.vars.get(n).map(|(v, _)| v.clone());
        for a in crate::artifacts::for_host(&h.components, &get) {
            if let Err(e) = crate::artifacts::resolve(&a.name, &get) {
                // A version that only follows another (kubectl_version: "{{ kube_version }}")
                // is reported where that one is set, once.
                let follows = cluster
                    .resolver
                    .raw(&h.name, &a.version_var)
                    .and_then(|v| v.as_str())
                    .and_then(|s| {
                        let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
                        Some(inner.trim().to_string())
                    })
                    .filter(|x| h.vars.contains_key(x));
                let var = follows.unwrap_or_else(|| a.version_var.clone());
                let loc = h.vars.get(&var).map(|(_, l)| l.clone());
                let key = (var.clone(), loc.clone());
                if !reported.contains(&key) {
                    reported.push(key);
                    d.push(
                        Diagnostic::error("unpinned-version", format!("{var}: {e}"))
                            .at(loc)
                            .help("use a version from the artifact table (kubeforge offline list shows them) or pin its sha256 in artifact_checksums"),
                    );
                }
            }
        }
    }

    // Own builds replace upstream's pins: said once, so nobody mistakes them for releases.
    if let Some((v, loc)) = cluster
        .hosts
        .iter()
        .find_map(|h| h.vars.get("artifacts_built_locally").cloned())
        .filter(|(v, _)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
    {
        d.push(
            Diagnostic::warning(
                "own-builds",
                format!("artifacts_built_locally: {}: their artifact_checksums replace kubeforge's pins for upstream's files", describe(&v)),
            )
            .at(Some(loc))
            .help("only for binaries you build yourself (e.g. a patched kubelet); remove it to verify upstream's releases again"),
        );
    }

    images::check(cluster, &mut d);

    let mut out: Vec<Diagnostic> = Vec::new();
    for x in d {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out.sort_by_key(|d| d.severity);
    out
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string '{s}'"),
        Value::Number(n) => format!("the number {n}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}
