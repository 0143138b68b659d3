//! The kubeadm, kubelet and kube-proxy configuration kubeforge renders, checked strictly
//! against kubeadm's v1beta4 and the kubelet/kube-proxy types (tests/kube_schema: unknown
//! field = failure, wrong type = failure), for every layout in tests/fixtures/inventories:
//! the real templates of roles/kubernetes, rendered with each host's variables exactly as
//! a run would (cluster.yml's role defaults under the inventory). Also what the issue
//! asks of their content: the mirror in imageRepository, every control-plane address in
//! certSANs, the API endpoint, node CIDR mask sizes per family, kubelet DNS, kube-proxy
//! skipped when Cilium replaces it, and the local load balancer's static pod.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "kube_schema/mod.rs"]
mod kube_schema;

use kube_schema::KubeDocument;
use kubeforge::cluster::{Cluster, Render};
use kubeforge::inventory::Inventory;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The cluster as `kubeforge run playbooks/cluster.yml` builds it for this inventory.
fn cluster(inv: &str) -> Cluster {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inv = Inventory::load(&root.join(inv), &[]).expect("inventory loads");
    let book = kubeforge::playbook::load(&root.join("playbooks/cluster.yml")).expect("cluster.yml");
    let defaults = kubeforge::defaults::with_roles(
        kubeforge::defaults::builtin().expect("defaults"),
        kubeforge::plan::role_defaults(&book),
    );
    let c = Cluster::build_with(inv, &defaults, Render::Lazy);
    let errors: Vec<_> = kubeforge::validate::validate(&c)
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(
        errors.is_empty(),
        "{inv:?}: {errors:?}",
        inv = c.inventory.file
    );
    c
}

/// Renders a template of roles/<role>/templates for `host`, with what earlier tasks would
/// have registered (a join token) and a fixed certificate key (no credentials written).
fn render(c: &Cluster, role: &str, template: &str, host: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(
        root.join("roles")
            .join(role)
            .join("templates")
            .join(template),
    )
    .expect("template");
    let mut overlay = BTreeMap::new();
    overlay.insert(
        "kubeadm_certificate_key".to_string(),
        minijinja::Value::from(KEY),
    );
    overlay.insert(
        "kubeadm_join".to_string(),
        kubeforge::vars::to_jinja(&json!({"stdout_lines": [
            "10.0.0.1:6443", "abcdef.0123456789abcdef",
            "sha256:0000000000000000000000000000000000000000000000000000000000000000"]})),
    );
    let scope = c.resolver.scope(host, overlay);
    let source = kubeforge::vars::template::normalize(&text);
    kubeforge::vars::template::env()
        .render_str(&source, scope)
        .unwrap_or_else(|e| panic!("{template} for {host}: {e:#}"))
}

struct Rendered {
    init: kube_schema::kubeadm::InitConfiguration,
    cluster: kube_schema::kubeadm::ClusterConfiguration,
    proxy: Option<kube_schema::kubeproxy::KubeProxyConfiguration>,
    kubelet: kube_schema::kubelet::KubeletConfiguration,
}

/// kubeadm-config.yaml for the first control plane, checked strictly.
fn init_config(c: &Cluster) -> Rendered {
    let first = c
        .anchors
        .first_control_plane
        .clone()
        .expect("a control plane");
    let text = render(c, "kubernetes", "kubeadm-config.yaml.j2", &first);
    if std::env::var_os("KF_SHOW_RENDERED").is_some() {
        eprintln!("--- {} ({first})\n{text}", c.inventory.file.display());
    }
    let docs = kube_schema::parse_multi(&text)
        .unwrap_or_else(|e| panic!("{}: {e}\n{text}", c.inventory.file.display()));
    let (mut init, mut cluster, mut proxy, mut kubelet) = (None, None, None, None);
    for d in docs {
        match d {
            KubeDocument::Init(x) => init = Some(*x),
            KubeDocument::Cluster(x) => cluster = Some(*x),
            KubeDocument::KubeProxy(x) => proxy = Some(*x),
            KubeDocument::Kubelet(x) => kubelet = Some(*x),
            other => panic!("unexpected {}", other.kind()),
        }
    }
    // Deterministic: the same inventory gives byte-identical configuration.
    assert_eq!(
        text,
        render(c, "kubernetes", "kubeadm-config.yaml.j2", &first)
    );
    Rendered {
        init: init.expect("InitConfiguration"),
        cluster: cluster.expect("ClusterConfiguration"),
        proxy,
        kubelet: kubelet.expect("KubeletConfiguration"),
    }
}

fn args(c: &Option<kube_schema::kubeadm::ControlPlaneComponent>) -> BTreeMap<String, String> {
    c.as_ref()
        .and_then(|c| c.extraArgs.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.name, a.value))
        .collect()
}

/// A variable as a task sees it (inventory, defaults and kubeforge's derived variables).
fn var(c: &Cluster, host: &str, name: &str) -> Option<Value> {
    let scope = c.resolver.scope(host, BTreeMap::new());
    let text = kubeforge::vars::template::env()
        .render_str(&format!("{{{{ {name} | to_json }}}}"), scope)
        .ok()?;
    serde_json::from_str(&text).ok()
}

/// Every layout: the first control plane's Init/Cluster/KubeProxy/Kubelet documents and
/// every other node's JoinConfiguration decode strictly, with kubeforge's choices in them.
#[test]
fn every_layout_renders_configuration_kubeadm_accepts() {
    for (inv, ipv4, ipv6) in [
        (
            "tests/fixtures/inventories/all-in-one/hosts.yaml",
            true,
            false,
        ),
        ("tests/fixtures/inventories/default/hosts.yaml", true, false),
        ("tests/fixtures/inventories/ha/hosts.yaml", true, false),
        (
            "tests/fixtures/inventories/separate/hosts.yaml",
            true,
            false,
        ),
        (
            "tests/fixtures/inventories/dual-stack/hosts.yaml",
            true,
            true,
        ),
        (
            "tests/fixtures/inventories/ipv6-only/hosts.yaml",
            false,
            true,
        ),
        (
            "tests/fixtures/inventories/external-lb/hosts.yaml",
            true,
            false,
        ),
        (
            "tests/fixtures/inventories/local-lb/hosts.yaml",
            true,
            false,
        ),
    ] {
        let c = cluster(inv);
        let r = init_config(&c);
        let cc = &r.cluster;
        // Every control plane's addresses (inventory name, ansible_host, ip, access_ip, ip6,
        // node IPs) are in the API server's certificate.
        let sans = cc
            .apiServer
            .as_ref()
            .and_then(|a| a.certSANs.clone())
            .unwrap_or_default();
        for h in c.with_role(kubeforge::topology::Role::ControlPlane) {
            let mut want = vec![h.name.clone(), h.ssh.address.clone()];
            want.extend(h.ips.iter().map(|i| i.to_string()));
            for n in ["ip", "access_ip", "ip6"] {
                if let Some(Value::String(s)) = var(&c, &h.name, n) {
                    want.push(s);
                }
            }
            for w in want {
                assert!(
                    sans.contains(&w),
                    "{inv}: {w} of {} not in certSANs {sans:?}",
                    h.name
                );
            }
        }
        for w in [
            "kubernetes.default.svc.cluster.local",
            "localhost",
            "127.0.0.1",
        ] {
            assert!(sans.contains(&w.to_string()), "{inv}: {w}");
        }
        // Node CIDR mask sizes per family, as strings.
        let cm = args(&cc.controllerManager);
        assert_eq!(
            cm.contains_key("node-cidr-mask-size-ipv4"),
            ipv4,
            "{inv}: {cm:?}"
        );
        assert_eq!(
            cm.contains_key("node-cidr-mask-size-ipv6"),
            ipv6,
            "{inv}: {cm:?}"
        );
        // kubelet DNS: kubeadm's CoreDNS Service address, the cluster domain.
        let dns_ip = c.network.dns_service_ip().unwrap().to_string();
        assert_eq!(r.kubelet.clusterDNS.clone().unwrap(), vec![dns_ip], "{inv}");
        assert_eq!(r.kubelet.clusterDomain.as_deref(), Some("cluster.local"));
        // Dual stack: both families in the subnets and the node IPs.
        let pods = cc.networking.as_ref().unwrap().podSubnet.clone().unwrap();
        assert_eq!(pods.contains(','), ipv4 && ipv6, "{inv}: {pods}");
        // Images: kubeadm pulls exactly what kubeforge pre-pulled.
        let first = c.anchors.first_control_plane.clone().unwrap();
        let images: Vec<String> =
            serde_json::from_value(var(&c, &first, "kubeforge_images").unwrap()).unwrap();
        let repo = cc.imageRepository.clone().unwrap();
        let version = cc.kubernetesVersion.clone().unwrap();
        for name in [
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            let want = format!("{repo}/{name}:{version}");
            assert!(
                images.contains(&want),
                "{inv}: {want} not pre-pulled: {images:?}"
            );
        }
        let dns = cc.dns.as_ref().unwrap();
        let coredns = format!(
            "{}/coredns:{}",
            dns.imageRepository.clone().unwrap(),
            dns.imageTag.clone().unwrap()
        );
        assert!(
            images.contains(&coredns),
            "{inv}: {coredns} not pre-pulled: {images:?}"
        );
        // Every other node joins with a JoinConfiguration that decodes strictly.
        for h in c
            .hosts
            .iter()
            .filter(|h| !h.is_etcd_only() && h.name != first)
        {
            let text = render(&c, "kubernetes", "kubeadm-join.yaml.j2", &h.name);
            let kinds = kube_schema::check_multi_kinds(&text)
                .unwrap_or_else(|e| panic!("{inv} {}: {e}\n{text}", h.name));
            assert_eq!(kinds, ["JoinConfiguration"], "{inv} {}", h.name);
        }
        // A control plane that is also a worker keeps no control-plane taint.
        let taints = r.init.nodeRegistration.as_ref().unwrap().taints.clone();
        let worker_too = c
            .host(&first)
            .unwrap()
            .has_role(kubeforge::topology::Role::Worker);
        assert_eq!(taints.is_some_and(|t| t.is_empty()), worker_too, "{inv}");
    }
}

#[test]
fn external_load_balancer_is_the_control_plane_endpoint() {
    let c = cluster("tests/fixtures/inventories/external-lb/hosts.yaml");
    let r = init_config(&c);
    assert_eq!(
        r.cluster.controlPlaneEndpoint.as_deref(),
        Some("api.cluster.example.net:8443")
    );
    let sans = r.cluster.apiServer.unwrap().certSANs.unwrap();
    for w in [
        "api.cluster.example.net",
        "192.0.2.100",
        "k8s.example.net",
        "198.51.100.7",
        "203.0.113.12",
        "10.41.0.13",
    ] {
        assert!(sans.contains(&w.to_string()), "{w}: {sans:?}");
    }
    // No local load balancer anywhere; every node uses the external one.
    for h in &c.hosts {
        assert!(
            !h.has(kubeforge::topology::Component::ApiserverLb),
            "{}",
            h.name
        );
        assert_eq!(
            var(&c, &h.name, "kube_apiserver_endpoint"),
            Some(json!("https://api.cluster.example.net:8443"))
        );
        assert_eq!(
            var(&c, &h.name, "kube_apiserver_global_endpoint"),
            Some(json!("https://api.cluster.example.net:8443"))
        );
    }
    // Kubespray's eviction_hard: the kubelet's thresholds, exactly those given.
    let eviction = r.kubelet.evictionHard.clone().unwrap();
    assert_eq!(
        eviction.into_iter().collect::<Vec<_>>(),
        [
            ("memory.available".to_string(), "100Mi".to_string()),
            ("nodefs.available".to_string(), "5%".to_string())
        ]
    );
    assert_eq!(r.proxy.unwrap().mode.as_deref(), Some("ipvs"));
    // kubeforge kubeconfig points at the load balancer.
    let cp = c.host("cp1").unwrap();
    assert_eq!(
        kubeforge::kubeconfig::api_endpoint(cp),
        ("192.0.2.100".to_string(), 8443)
    );
}

#[test]
fn local_load_balancer_mirror_kubeadm_etcd_and_no_kube_proxy() {
    let c = cluster("tests/fixtures/inventories/local-lb/hosts.yaml");
    let r = init_config(&c);
    let cc = &r.cluster;
    // The mirror names every image kubeadm pulls.
    assert_eq!(
        cc.imageRepository.as_deref(),
        Some("registry.example.net:5000")
    );
    let dns = cc.dns.as_ref().unwrap();
    assert_eq!(
        dns.imageRepository.as_deref(),
        Some("registry.example.net:5000/coredns")
    );
    let local = cc.etcd.as_ref().unwrap().local.as_ref().unwrap();
    assert_eq!(
        local.imageRepository.as_deref(),
        Some("registry.example.net:5000/coreos")
    );
    assert_eq!(local.imageTag.as_deref(), Some("v3.6.14"));
    // Cilium replaces kube-proxy: the addon is skipped, no KubeProxyConfiguration, no image.
    assert_eq!(r.init.skipPhases.clone().unwrap(), ["addon/kube-proxy"]);
    assert!(cc.proxy.as_ref().unwrap().disabled.unwrap().get());
    assert!(r.proxy.is_none());
    // Joins discover the first control plane; nodes then use localhost.
    assert_eq!(cc.controlPlaneEndpoint.as_deref(), Some("10.60.0.11:6443"));
    assert_eq!(
        var(&c, "worker1", "kube_apiserver_endpoint"),
        Some(json!("https://localhost:6443"))
    );
    assert_eq!(
        var(&c, "cp2", "kube_apiserver_endpoint"),
        Some(json!("https://localhost:6443"))
    );
    // One endpoint for every node (Cilium's k8sServiceHost): localhost is the API server
    // on control planes and the local load balancer elsewhere.
    for h in ["cp1", "worker1"] {
        assert_eq!(
            var(&c, h, "kube_apiserver_global_endpoint"),
            Some(json!("https://localhost:6443"))
        );
    }
    assert!(r.kubelet.evictionHard.is_none());
    // The local haproxy on workers only, balancing to every control plane, from the mirror.
    for h in &c.hosts {
        let worker_only = !h.has_role(kubeforge::topology::Role::ControlPlane);
        assert_eq!(
            h.has(kubeforge::topology::Component::ApiserverLb),
            worker_only,
            "{}",
            h.name
        );
    }
    let cfg = render(&c, "kubernetes", "haproxy.cfg.j2", "worker1");
    for ip in ["10.60.0.11", "10.60.0.12", "10.60.0.13"] {
        assert!(
            cfg.contains(&format!(" {ip}:6443 check check-ssl verify none")),
            "{cfg}"
        );
    }
    assert!(cfg.contains("bind 127.0.0.1:6443"), "{cfg}");
    let pod: Value =
        serde_saphyr::from_str(&render(&c, "kubernetes", "haproxy-proxy.yml.j2", "worker1"))
            .unwrap();
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        json!("registry.example.net:5000/library/haproxy:3.2.19-alpine")
    );
    let images: Vec<String> =
        serde_json::from_value(var(&c, "worker1", "kubeforge_images").unwrap()).unwrap();
    assert!(images.contains(&"registry.example.net:5000/library/haproxy:3.2.19-alpine".to_string()));
    assert!(
        !images
            .iter()
            .any(|i| i.contains("kube-proxy") || i.contains("kube-apiserver")),
        "{images:?}"
    );
}

#[test]
fn nginx_is_the_default_local_load_balancer() {
    let c = cluster("tests/fixtures/inventories/ha/hosts.yaml");
    let conf = render(&c, "kubernetes", "nginx.conf.j2", "worker1");
    for ip in ["10.30.0.11", "10.30.0.12", "10.30.0.13"] {
        assert!(conf.contains(&format!("server {ip}:6443;")), "{conf}");
    }
    assert!(conf.contains("listen 127.0.0.1:6443;"));
    let pod: Value =
        serde_saphyr::from_str(&render(&c, "kubernetes", "nginx-proxy.yml.j2", "worker1")).unwrap();
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        json!("docker.io/library/nginx:1.30.1-alpine")
    );
    assert_eq!(
        pod["metadata"]["annotations"]["kubeforge.io/upstreams"],
        json!("10.30.0.11:6443,10.30.0.12:6443,10.30.0.13:6443")
    );
}
