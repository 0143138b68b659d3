//! Container images and mirrors without any host: `offline list` (files, Cilium's chart
//! and images, per host by the topology table), the plan's placement of the pre-pull
//! (never on an etcd-only host), the mirror configuration containerd gets (hosts.toml in
//! Kubespray's shape), Cilium's values with a mirror, and the warnings `inventory check`
//! gives for settings kubeforge reads differently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::kubeforge;
use kubeforge::cluster::{Cluster, Render};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

fn offline(args: &[&str]) -> (i32, String) {
    let mut all = vec!["offline", "list", "-i", "inventory/sample"];
    all.extend_from_slice(args);
    let r = kubeforge(&all);
    (r.code, r.stdout)
}

fn images_of(list: &Value) -> BTreeMap<String, Vec<String>> {
    list["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

/// The sample (instance-1 control plane, instance-2 worker, instance-3 etcd-only): files,
/// the chart, and each image with exactly the hosts that pull it.
#[test]
fn offline_list_names_files_chart_and_images_per_host() {
    let (code, out) = offline(&["--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert!(list["files"].as_array().unwrap().len() >= 10);
    let charts: Vec<&str> = list["charts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["upstream_url"].as_str().unwrap())
        .collect();
    assert_eq!(
        charts,
        [
            "https://helm.cilium.io/index.yaml",
            "https://helm.cilium.io/cilium-1.20.1.tgz"
        ]
    );
    let images = images_of(&list);
    let cp = vec!["instance-1".to_string()];
    let both = vec!["instance-1".to_string(), "instance-2".to_string()];
    let worker = vec!["instance-2".to_string()];
    for (name, hosts) in [
        ("pod_infra", &both),
        ("kube-apiserver", &cp),
        ("kube-controller-manager", &cp),
        ("kube-scheduler", &cp),
        ("kube-proxy", &both),
        ("coredns", &both),
        ("cilium", &both),
        ("cilium_operator", &both),
        ("cilium_envoy", &both),
        ("nginx", &worker),
    ] {
        assert_eq!(images.get(name), Some(hosts), "{name}: {images:?}");
    }
    // certgen makes Hubble's certificates only: not pulled without Hubble.
    assert!(!images.contains_key("cilium_certgen"), "{images:?}");
    assert_eq!(images.len(), 10, "{images:?}");
    let pause = &list["images"][0];
    assert_eq!(pause["reference"], json!("registry.k8s.io/pause:3.10.2"));
    assert_eq!(pause["upstream"], pause["reference"]);

    // Kubespray's images.list / files.list shapes: one upstream name per line.
    let (code, text) = offline(&["--images-only"]);
    assert_eq!(code, 0);
    let want: Vec<String> = list["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["upstream"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), want);
    let (_, files) = offline(&["--files-only"]);
    assert!(
        files
            .lines()
            .all(|l| l.starts_with("https://") && !l.contains(' ')),
        "{files}"
    );
    assert!(files.contains("https://helm.cilium.io/cilium-1.20.1.tgz"));
    let (_, json_images) = offline(&["--images-only", "--format", "json"]);
    let only: Value = serde_json::from_str(&json_images).unwrap();
    assert!(only["files"].as_array().unwrap().is_empty());
}

/// With a registry mirror the hosts pull from it, and the list still names upstream.
#[test]
fn offline_list_with_a_mirror_names_both() {
    let (code, out) = offline(&[
        "--format",
        "json",
        "-e",
        "kube_image_repo=mirror.example:5000",
        "-e",
        "quay_image_repo=mirror.example:5000",
        "-e",
        "loadbalancer_apiserver_type=haproxy",
    ]);
    assert_eq!(code, 0, "{out}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let by: BTreeMap<&str, &Value> = list["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i))
        .collect();
    assert_eq!(
        by["kube-apiserver"]["reference"],
        json!("mirror.example:5000/kube-apiserver:v1.36.4")
    );
    assert_eq!(
        by["kube-apiserver"]["upstream"],
        json!("registry.k8s.io/kube-apiserver:v1.36.4")
    );
    assert_eq!(
        by["cilium_operator"]["reference"],
        json!("mirror.example:5000/cilium/operator-generic:v1.20.1")
    );
    assert!(by.contains_key("haproxy") && !by.contains_key("nginx"));
    // A Kubernetes minor the table pins no pause tag for is refused, naming the variable.
    let zero = "0".repeat(64);
    let pins = json!({"kube_version": "1.33.1", "artifact_checksums": {
        "kubeadm": {"1.33.1": {"amd64": zero}}, "kubelet": {"1.33.1": {"amd64": zero}},
        "kubectl": {"1.33.1": {"amd64": zero}}}})
    .to_string();
    let r = kubeforge(&["inventory", "check", "-i", "inventory/sample", "-e", &pins]);
    assert_ne!(r.code, 0);
    assert!(
        r.stdout.contains("pod_infra_image_tag") || r.stderr.contains("pod_infra_image_tag"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}

/// The pre-pull goes to k8s hosts only: the etcd-only host gets no task that calls ctr.
#[test]
fn plan_pulls_images_on_k8s_hosts_only() {
    let r = kubeforge(&[
        "plan",
        "-i",
        "inventory/sample",
        "playbooks/cluster.yml",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: Value = serde_json::from_str(&r.stdout).unwrap();
    for h in plan["hosts"].as_array().unwrap() {
        let name = h["name"].as_str().unwrap();
        let pulls = h["plays"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["tasks"].as_array().unwrap())
            .any(|t| t["module"] == "image_pull");
        assert_eq!(pulls, name != "instance-3", "{name}");
    }
}

fn cluster(inv: &str, extra: &[String]) -> Cluster {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let inv = kubeforge::inventory::Inventory::load(&root.join(inv), extra).unwrap();
    let book = kubeforge::playbook::load(&root.join("playbooks/cluster.yml")).unwrap();
    let defaults = kubeforge::defaults::with_roles(
        kubeforge::defaults::builtin().unwrap(),
        kubeforge::plan::role_defaults(&book),
    );
    Cluster::build_with(inv, &defaults, Render::Lazy)
}

fn render(
    c: &Cluster,
    path: &str,
    host: &str,
    overlay: BTreeMap<String, minijinja::Value>,
) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    let scope = c.resolver.scope(host, overlay);
    kubeforge::vars::template::env()
        .render_str(&kubeforge::vars::template::normalize(&text), scope)
        .unwrap_or_else(|e| panic!("{path}: {e:#}"))
}

/// hosts.toml in Kubespray's shape: server, capabilities, skip_verify, header.
#[test]
fn registry_mirrors_render_to_hosts_toml() {
    let c = cluster("tests/fixtures/inventories/local-lb/hosts.yaml", &[]);
    let mirrors = c
        .resolver
        .get("worker1", "containerd_registries_mirrors")
        .unwrap()
        .unwrap();
    let mut overlay = BTreeMap::new();
    overlay.insert("item".to_string(), kubeforge::vars::to_jinja(&mirrors[0]));
    let toml = render(
        &c,
        "roles/container_engine/templates/hosts.toml.j2",
        "worker1",
        overlay,
    );
    for line in [
        "server = \"https://registry.example.net:5000\"",
        "[host.\"https://registry.example.net:5000\"]",
        "  capabilities = [\"pull\",\"resolve\"]",
        "  skip_verify = true",
        "  override_path = false",
        "  [host.\"https://registry.example.net:5000\".header]",
        "    Authorization = [\"Basic a3ViZTpmb3JnZQ==\"]",
    ] {
        assert!(toml.lines().any(|l| l == line), "{line:?} not in\n{toml}");
    }
    // The default: Kubespray's docker.io item.
    let d = cluster("inventory/sample", &[]);
    let m = d
        .resolver
        .get("instance-1", "containerd_registries_mirrors")
        .unwrap()
        .unwrap();
    assert_eq!(m[0]["prefix"], json!("docker.io"));
    assert_eq!(
        m[0]["mirrors"][0]["host"],
        json!("https://registry-1.docker.io")
    );
}

/// With a mirror, Cilium's values name every image on it with useDigest: false; without
/// kube-proxy, Cilium reaches the API on localhost (the local load balancer).
#[test]
fn cilium_values_with_a_mirror() {
    let c = cluster("tests/fixtures/inventories/local-lb/hosts.yaml", &[]);
    let text = render(
        &c,
        "roles/network_plugin/templates/cilium-values.yaml.j2",
        "cp1",
        BTreeMap::new(),
    );
    let v: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(
        v["image"],
        json!({"repository": "registry.example.net:5000/cilium/cilium", "tag": "v1.20.1", "useDigest": false})
    );
    assert_eq!(
        v["operator"]["image"]["repository"],
        json!("registry.example.net:5000/cilium/operator")
    );
    assert_eq!(v["envoy"]["image"]["useDigest"], json!(false));
    assert_eq!(v["kubeProxyReplacement"], json!(true));
    assert_eq!(v["k8sServiceHost"], json!("localhost"));
    assert_eq!(v["k8sServicePort"], json!(6443));
    // Upstream images: the chart's own (digest-pinned) defaults stay.
    let s = cluster("inventory/sample", &[]);
    let text = render(
        &s,
        "roles/network_plugin/templates/cilium-values.yaml.j2",
        "instance-1",
        BTreeMap::new(),
    );
    let v: Value = serde_saphyr::from_str(&text).unwrap();
    assert!(v.get("image").is_none(), "{text}");
    assert_eq!(
        s.resolver
            .get("instance-1", "cilium_chart_repository")
            .unwrap(),
        Some(json!(""))
    );
    let off = cluster(
        "inventory/sample",
        &["files_repo=http://10.0.0.1:8080/".to_string()],
    );
    assert_eq!(
        off.resolver
            .get("instance-1", "cilium_chart_repository")
            .unwrap(),
        Some(json!("http://10.0.0.1:8080/helm.cilium.io/"))
    );
}

/// cilium_enable_l7_proxy: false turns Envoy off in the values and drops its image from
/// what hosts pull (the lab cannot build Envoy, a C++ program).
#[test]
fn without_the_l7_proxy_envoy_is_neither_configured_nor_pulled() {
    let c = cluster(
        "inventory/sample",
        &["cilium_enable_l7_proxy=false".to_string()],
    );
    let text = render(
        &c,
        "roles/network_plugin/templates/cilium-values.yaml.j2",
        "instance-1",
        BTreeMap::new(),
    );
    let v: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(v["l7Proxy"], json!(false), "{text}");
    assert_eq!(v["envoy"]["enabled"], json!(false), "{text}");
    let (code, out) = offline(&["--format", "json", "-e", "cilium_enable_l7_proxy=false"]);
    assert_eq!(code, 0, "{out}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert!(!images_of(&list).contains_key("cilium_envoy"), "{out}");
    let (_, out) = offline(&["--format", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert!(images_of(&list).contains_key("cilium_envoy"));
}

/// `inventory check` names the deprecated mirror map and Kubespray's DNS address.
#[test]
fn check_warns_about_the_old_mirror_map_and_dns() {
    let r = kubeforge(&[
        "inventory", "check", "-i", "inventory/sample", "--format", "json",
        "-e", "{\"containerd_registry_mirrors\": {\"docker.io\": [\"https://mirror.example\"]}, \"skydns_server\": \"10.233.0.3\"}",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"deprecated-mirrors"), "{codes:?}");
    assert!(codes.contains(&"skydns-server"), "{codes:?}");
    let msg = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "skydns-server")
        .unwrap();
    assert!(
        msg["message"].as_str().unwrap().contains("10.233.0.10"),
        "{msg}"
    );
}

/// Without kube-proxy, Cilium's k8sServiceHost is one endpoint every node reaches
/// (Kubespray's kube_apiserver_global_endpoint), never the first control plane's own
/// localhost: without a local load balancer on the workers, the first control plane's
/// address. Capabilities the hosts cannot grant leave every list of the chart.
#[test]
fn cilium_values_name_an_api_endpoint_every_node_reaches() {
    let c = cluster(
        "inventory/sample",
        &[
            "cilium_kube_proxy_replacement=true".to_string(),
            "loadbalancer_apiserver_localhost=false".to_string(),
            r#"{"cilium_capabilities_drop": ["SYS_MODULE", "SYS_RESOURCE"]}"#.to_string(),
        ],
    );
    let text = render(
        &c,
        "roles/network_plugin/templates/cilium-values.yaml.j2",
        "instance-1",
        BTreeMap::new(),
    );
    let v: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(v["k8sServiceHost"], json!("10.213.0.11"), "{text}");
    assert_eq!(v["k8sServicePort"], json!(6443), "{text}");
    let caps = &v["securityContext"]["capabilities"];
    for list in [
        "ciliumAgent",
        "cleanCiliumState",
        "mountCgroup",
        "applySysctlOverwrites",
    ] {
        let names: Vec<&str> = caps[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list}: {text}"))
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert!(
            !names.contains(&"SYS_MODULE") && !names.contains(&"SYS_RESOURCE"),
            "{list}: {names:?}"
        );
        assert!(!names.is_empty(), "{list}");
    }
    assert!(caps["ciliumAgent"]
        .as_array()
        .unwrap()
        .contains(&json!("NET_ADMIN")));
    // Nothing dropped: the chart's own lists stay.
    let d = cluster("inventory/sample", &[]);
    let text = render(
        &d,
        "roles/network_plugin/templates/cilium-values.yaml.j2",
        "instance-1",
        BTreeMap::new(),
    );
    let v: Value = serde_saphyr::from_str(&text).unwrap();
    assert!(v.get("securityContext").is_none(), "{text}");
}

/// cilium_install_method picks the tool the first control plane downloads: cilium-cli
/// (Kubespray's way, the default) or helm; anything else is refused naming the variable.
#[test]
fn cilium_install_method_decides_between_cilium_cli_and_helm() {
    let files = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(extra);
        let (code, out) = offline(&args);
        assert_eq!(code, 0, "{out}");
        let list: Value = serde_json::from_str(&out).unwrap();
        list["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    };
    let default = files(&[]);
    assert!(default.contains(&"cilium_cli".to_string()), "{default:?}");
    assert!(!default.contains(&"helm".to_string()), "{default:?}");
    let helm = files(&["-e", "cilium_install_method=helm"]);
    assert!(helm.contains(&"helm".to_string()), "{helm:?}");
    assert!(!helm.contains(&"cilium_cli".to_string()), "{helm:?}");
    let r = kubeforge(&[
        "inventory",
        "check",
        "-i",
        "inventory/sample",
        "-e",
        "cilium_install_method=kubectl",
    ]);
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("cilium_install_method"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}
