//! The variables kubeforge derives from the inventory and gives templates
//! (`kubeforge_*`): roles, components, addresses, etcd membership, the anchors, the
//! artifacts and container images each host needs, the API server's certificate names.

use super::{Anchors, ClusterHost};
use crate::network::NetworkSettings;
use crate::topology::{Layout, Role};
use crate::vars::Derived;
use serde_json::Value;
use std::collections::BTreeMap;

/// What kubeforge decided, visible to templates: kubeforge_roles, kubeforge_components,
/// kubeforge_node_ips, kubeforge_etcd_*, kubeforge_network, kubeforge_images (what the
/// host pulls), kubeforge_all_images (what any host pulls), kubeforge_image (every image
/// by name), kubeforge_apiserver_sans.
pub(super) fn derived_vars(
    hosts: &[ClusterHost],
    layout: Layout,
    network: &NetworkSettings,
    anchors: &Anchors,
) -> Derived {
    let cluster_wide = serde_json::json!({
        "layout": layout.as_str(),
        "service_subnet": network.service_subnet(),
        "pod_subnet": network.pod_subnet(),
        "apiserver_service_ip": network.apiserver_service_ip().map(|i| i.to_string()),
        "dns_service_ip": network.dns_service_ip().map(|i| i.to_string()),
        "ipv4": network.ipv4,
        "ipv6": network.ipv6,
    });
    let members: Vec<&ClusterHost> = hosts.iter().filter(|h| h.has_role(Role::Etcd)).collect();
    let initial: Vec<String> = members
        .iter()
        .filter_map(|h| {
            Some(format!(
                "{}={}",
                h.etcd_member_name.as_ref()?,
                h.etcd_peer_url()?
            ))
        })
        .collect();
    let endpoints: Vec<String> = members.iter().filter_map(|h| h.etcd_client_url()).collect();
    // Every image some host pulls, first seen first (download_run_once saves these).
    let mut all_images: Vec<Value> = Vec::new();
    for h in hosts {
        if let Value::Array(v) = host_images(h) {
            for i in v {
                if !all_images.contains(&i) {
                    all_images.push(i);
                }
            }
        }
    }
    let all_images = Value::Array(all_images);
    let mut out = Derived::new();
    for h in hosts {
        let d: BTreeMap<String, Value> = [
            (
                "kubeforge_roles",
                serde_json::json!(h.roles.iter().map(|x| x.as_str()).collect::<Vec<_>>()),
            ),
            (
                "kubeforge_components",
                serde_json::json!(h.components.iter().map(|x| x.as_str()).collect::<Vec<_>>()),
            ),
            (
                "kubeforge_node_ips",
                serde_json::json!(h.ips.iter().map(|x| x.to_string()).collect::<Vec<_>>()),
            ),
            (
                "kubeforge_main_ip",
                serde_json::json!(h.main_ip().map(|x| x.to_string())),
            ),
            (
                "kubeforge_etcd_member_name",
                serde_json::json!(h.etcd_member_name),
            ),
            (
                "kubeforge_etcd_peer_url",
                serde_json::json!(h.etcd_peer_url()),
            ),
            (
                "kubeforge_etcd_client_url",
                serde_json::json!(h.etcd_client_url()),
            ),
            ("kubeforge_network", cluster_wide.clone()),
            (
                "kubeforge_first_control_plane",
                serde_json::json!(anchors.first_control_plane),
            ),
            (
                "kubeforge_first_etcd",
                serde_json::json!(anchors.first_etcd),
            ),
            (
                "kubeforge_artifacts",
                serde_json::json!(crate::artifacts::for_host(&h.components, &getter(h))
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()),
            ),
            ("kubeforge_images", host_images(h)),
            ("kubeforge_all_images", all_images.clone()),
            ("kubeforge_image", image_map(h)),
            (
                "kubeforge_apiserver_sans",
                serde_json::json!(apiserver_sans(hosts, h, network)),
            ),
            (
                "kubeforge_etcd_initial_cluster",
                serde_json::json!(initial.join(",")),
            ),
            (
                "kubeforge_etcd_endpoints",
                serde_json::json!(endpoints.join(",")),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        out.insert(h.name.clone(), d);
    }
    out
}

fn getter(h: &ClusterHost) -> impl Fn(&str) -> Option<Value> + '_ {
    |n: &str| h.vars.get(n).map(|(v, _)| v.clone())
}

/// The references a host pulls (empty when one cannot be resolved: validation reports it
/// and no run starts).
fn host_images(h: &ClusterHost) -> Value {
    let get = getter(h);
    match crate::artifacts::images::for_host(&h.components, &get) {
        Ok(v) => serde_json::json!(v.iter().map(|i| i.reference.clone()).collect::<Vec<_>>()),
        Err(_) => serde_json::json!([]),
    }
}

/// Every image of the table resolved for the host, by name: repo, tag, reference,
/// upstream, enabled (templates name images from here, never by hand).
fn image_map(h: &ClusterHost) -> Value {
    let get = getter(h);
    let mut m = serde_json::Map::new();
    for r in crate::artifacts::images::resolve_all(&get)
        .into_iter()
        .flatten()
    {
        m.insert(
            r.name.clone(),
            serde_json::to_value(&r).unwrap_or(Value::Null),
        );
    }
    Value::Object(m)
}

fn texts(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Array(a)) => a.iter().flat_map(|x| texts(Some(x))).collect(),
        _ => Vec::new(),
    }
}

/// The API server certificate's names, from the inventory alone (Kubespray's list, less
/// the facts it reads at run time): the service names, the API service IP, loopback, the
/// load balancer's name and address, `supplementary_addresses_in_ssl_keys`, and for every
/// control plane its inventory name, `ansible_host`, `ip`, `access_ip`, `ip6`,
/// `access_ip6` and node addresses. Deterministic order, no duplicates.
pub(crate) fn apiserver_sans(
    hosts: &[ClusterHost],
    h: &ClusterHost,
    network: &NetworkSettings,
) -> Vec<String> {
    let var = |n: &str| h.vars.get(n).map(|(v, _)| v);
    let domain = texts(var("dns_domain"))
        .into_iter()
        .next()
        .unwrap_or_else(|| "cluster.local".into());
    let mut out: Vec<String> = vec![
        "kubernetes".into(),
        "kubernetes.default".into(),
        "kubernetes.default.svc".into(),
        format!("kubernetes.default.svc.{domain}"),
    ];
    out.extend(network.apiserver_service_ip().map(|i| i.to_string()));
    out.extend(["localhost".into(), "127.0.0.1".into(), "::1".into()]);
    out.extend(texts(var("apiserver_loadbalancer_domain_name")));
    out.extend(texts(
        var("loadbalancer_apiserver").and_then(|lb| lb.get("address")),
    ));
    out.extend(texts(var("supplementary_addresses_in_ssl_keys")));
    for cp in hosts.iter().filter(|x| x.has_role(Role::ControlPlane)) {
        out.push(cp.name.clone());
        out.push(cp.ssh.address.clone());
        for n in ["ip", "access_ip", "ip6", "access_ip6"] {
            out.extend(texts(cp.vars.get(n).map(|(v, _)| v)));
        }
        out.extend(cp.ips.iter().map(|i| i.to_string()));
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|x| seen.insert(x.clone()));
    out
}
