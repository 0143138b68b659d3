//! Checks of images, registries and the API endpoint, before any SSH: every image a host
//! pulls resolves (a tag pinned for its Kubernetes minor, a well-formed digest), the load
//! balancer settings are usable, and settings kubeforge reads differently from Kubespray
//! (the deprecated mirror map, kubelet DNS) are named.

use crate::cluster::Cluster;
use crate::diagnostic::Diagnostic;
use serde_json::Value;

/// Appends the image and endpoint diagnostics of `cluster` to `d`.
pub(super) fn check(cluster: &Cluster, d: &mut Vec<Diagnostic>) {
    let mut reported: Vec<String> = Vec::new();
    let mut once = |key: String, diag: Diagnostic, d: &mut Vec<Diagnostic>| {
        if !reported.contains(&key) {
            reported.push(key);
            d.push(diag);
        }
    };
    for h in &cluster.hosts {
        let get = |n: &str| h.vars.get(n).map(|(v, _)| v.clone());
        let loc = |n: &str| h.vars.get(n).map(|(_, l)| l.clone());
        if let Err(e) = crate::artifacts::images::for_host(&h.components, &get) {
            once(
                format!("image:{}:{}", e.image, e.var),
                Diagnostic::error("unpinned-image", e.to_string())
                    // An unset tag variable: where the Kubernetes version was chosen.
                    .at(loc(&e.var).or_else(|| loc("kube_version")))
                    .help("use a Kubernetes version the image table pins (kubeforge offline list --images-only shows them) or set the tag variable"),
                d,
            );
        }
        if !h.is_etcd_only() && !h.roles.is_empty() {
            if let Some(t) = h.vars.get("loadbalancer_apiserver_type").map(|(v, _)| v) {
                if !matches!(t.as_str(), Some("nginx" | "haproxy")) {
                    once(
                        "lb-type".into(),
                        Diagnostic::error(
                            "loadbalancer-type",
                            format!(
                                "loadbalancer_apiserver_type must be nginx or haproxy, got {t}"
                            ),
                        )
                        .at(loc("loadbalancer_apiserver_type")),
                        d,
                    );
                }
            }
            if let Some((lb, l)) = h.vars.get("loadbalancer_apiserver") {
                let address = lb.get("address").and_then(Value::as_str).unwrap_or("");
                if !lb.is_null() && address.trim().is_empty() {
                    once(
                        "lb-address".into(),
                        Diagnostic::error(
                            "loadbalancer-address",
                            "loadbalancer_apiserver has no address",
                        )
                        .at(Some(l.clone()))
                        .help("loadbalancer_apiserver: {address: <IP or name>, port: <port>}"),
                        d,
                    );
                }
            }
        }
        if !h.has(crate::topology::Component::Kubelet) {
            continue;
        }
        let rendered = |n: &str| cluster.resolver.get(&h.name, n).ok().flatten();
        if let Some(Value::Object(m)) = rendered("containerd_registry_mirrors") {
            if !m.is_empty() {
                once(
                    "legacy-mirrors".into(),
                    Diagnostic::warning(
                        "deprecated-mirrors",
                        "containerd_registry_mirrors (a map) is deprecated: it is still rendered, but write Kubespray's containerd_registries_mirrors list",
                    )
                    .at(cluster.resolver.origin(&h.name, "containerd_registry_mirrors"))
                    .help("containerd_registries_mirrors: [{prefix: docker.io, mirrors: [{host: https://mirror.example, capabilities: [pull, resolve], skip_verify: false}]}]"),
                    d,
                );
            }
        }
        if h.vars
            .get("enable_nodelocaldns")
            .is_some_and(|(v, _)| v == &Value::Bool(true))
        {
            once(
                "nodelocaldns".into(),
                Diagnostic::warning(
                    "nodelocaldns",
                    "enable_nodelocaldns: kubeforge does not deploy nodelocaldns, yet kubelets are told to use nodelocaldns_ip; deploy it yourself or set enable_nodelocaldns: false",
                )
                .at(loc("enable_nodelocaldns")),
                d,
            );
        } else if let (Some(Value::String(s)), Some(want)) =
            (rendered("skydns_server"), cluster.network.dns_service_ip())
        {
            if s != want.to_string() {
                once(
                    "skydns".into(),
                    Diagnostic::warning(
                        "skydns-server",
                        format!("skydns_server is {s}, but kubeadm's CoreDNS addon serves DNS at {want}; kubelets would ask {s}"),
                    )
                    .at(cluster.resolver.origin(&h.name, "skydns_server"))
                    .help(format!("remove skydns_server (kubeforge derives {want}) or deploy DNS at {s} yourself")),
                    d,
                );
            }
        }
    }
}
