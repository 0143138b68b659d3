//! Every supported layout, written both as an INI and as a YAML inventory, through
//! `kubeforge inventory show --format json`: layout, roles, components, addresses and
//! (for the IPv6 layouts) the derived network settings. Plus the Kubespray-style
//! directory (variable precedence and where each value came from), the deprecated
//! group names, and the repository's sample inventory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    fixture, host, kubeforge, line_of, parse_diagnostics, root, show_json, strings, strip_sources,
};
use serde_json::{json, Value};

// The API server is an etcd client on every control plane when etcd runs on hosts.
const STACKED_CP: &[&str] = &[
    "etcd",
    "etcd_client_certs",
    "containerd",
    "runc",
    "nerdctl",
    "crictl",
    "cni_plugins",
    "kubelet",
    "kubeadm",
    "kubectl",
    "cilium",
    "control_plane",
    "kube_proxy",
];
const ALL_IN_ONE: &[&str] = STACKED_CP;
const WORKER: &[&str] = &[
    "containerd",
    "runc",
    "nerdctl",
    "crictl",
    "cni_plugins",
    "kubelet",
    "kubeadm",
    "cilium",
    "kube_proxy",
    "apiserver_lb",
];
const SEPARATE_CP: &[&str] = &[
    "etcd_client_certs",
    "containerd",
    "runc",
    "nerdctl",
    "crictl",
    "cni_plugins",
    "kubelet",
    "kubeadm",
    "kubectl",
    "cilium",
    "control_plane",
    "kube_proxy",
];
const ETCD_ONLY: &[&str] = &["etcd"];

struct HostWant {
    name: &'static str,
    roles: &'static [&'static str],
    components: &'static [&'static str],
    ips: &'static [&'static str],
}

struct LayoutCase {
    dir: &'static str,
    layout: &'static str,
    hosts: Vec<HostWant>,
    /// Expected `network` section (families, subnets, apiserver IP, etcd URLs).
    network: Value,
}

fn h(
    name: &'static str,
    roles: &'static [&'static str],
    components: &'static [&'static str],
    ips: &'static [&'static str],
) -> HostWant {
    HostWant {
        name,
        roles,
        components,
        ips,
    }
}

fn ipv4_network(initial_cluster: &str, endpoints: &str) -> Value {
    json!({
        "families": ["ipv4"],
        "service_subnet": "10.233.0.0/18",
        "pod_subnet": "10.233.64.0/18",
        "apiserver_service_ip": "10.233.0.1",
        "etcd_initial_cluster": initial_cluster,
        "etcd_endpoints": endpoints,
    })
}

fn cases() -> Vec<LayoutCase> {
    const CP_ETCD: &[&str] = &["control_plane", "etcd"];
    vec![
        LayoutCase {
            dir: "all-in-one",
            layout: "all-in-one",
            hosts: vec![h("node1", &["control_plane", "worker", "etcd"], ALL_IN_ONE, &["192.168.10.11"])],
            network: ipv4_network("etcd1=https://192.168.10.11:2380", "https://192.168.10.11:2379"),
        },
        LayoutCase {
            dir: "default",
            layout: "default",
            hosts: vec![
                h("cp1", CP_ETCD, STACKED_CP, &["192.168.20.10"]),
                h("worker1", &["worker"], WORKER, &["192.168.20.21"]),
                h("worker2", &["worker"], WORKER, &["192.168.20.22"]),
            ],
            network: ipv4_network("cp1=https://192.168.20.10:2380", "https://192.168.20.10:2379"),
        },
        LayoutCase {
            dir: "ha",
            layout: "ha",
            hosts: vec![
                h("cp1", CP_ETCD, STACKED_CP, &["10.30.0.11"]),
                h("cp2", CP_ETCD, STACKED_CP, &["10.30.0.12"]),
                h("cp3", CP_ETCD, STACKED_CP, &["10.30.0.13"]),
                h("worker1", &["worker"], WORKER, &["10.30.0.21"]),
                h("worker2", &["worker"], WORKER, &["10.30.0.22"]),
            ],
            network: ipv4_network(
                "etcd1=https://10.30.0.11:2380,etcd2=https://10.30.0.12:2380,etcd3=https://10.30.0.13:2380",
                "https://10.30.0.11:2379,https://10.30.0.12:2379,https://10.30.0.13:2379",
            ),
        },
        LayoutCase {
            dir: "separate",
            layout: "separate",
            hosts: vec![
                h("cp1", &["control_plane"], SEPARATE_CP, &["10.40.0.10"]),
                h("etcd1", &["etcd"], ETCD_ONLY, &["10.40.0.31"]),
                h("etcd2", &["etcd"], ETCD_ONLY, &["10.40.0.32"]),
                h("etcd3", &["etcd"], ETCD_ONLY, &["10.40.0.33"]),
                h("worker1", &["worker"], WORKER, &["10.40.0.20"]),
            ],
            network: ipv4_network(
                "etcd1=https://10.40.0.31:2380,etcd2=https://10.40.0.32:2380,etcd3=https://10.40.0.33:2380",
                "https://10.40.0.31:2379,https://10.40.0.32:2379,https://10.40.0.33:2379",
            ),
        },
        LayoutCase {
            dir: "dual-stack",
            layout: "default",
            hosts: vec![
                // ip6 is written before ip in the fixture: IPv4 still comes first.
                h("cp1", CP_ETCD, STACKED_CP, &["10.50.0.10", "fd00:50::10"]),
                h("worker1", &["worker"], WORKER, &["10.50.0.21", "fd00:50::21"]),
                // No ip6: the IPv6 address comes from ansible_host.
                h("worker2", &["worker"], WORKER, &["10.50.0.22", "fd00:50::22"]),
            ],
            network: json!({
                "families": ["ipv4", "ipv6"],
                "service_subnet": "10.96.0.0/16,fd00:96::/108",
                "pod_subnet": "10.244.0.0/16,fd00:244::/56",
                "apiserver_service_ip": "10.96.0.1",
                "etcd_initial_cluster": "cp1=https://10.50.0.10:2380",
                "etcd_endpoints": "https://10.50.0.10:2379",
            }),
        },
        LayoutCase {
            dir: "ipv6-only",
            layout: "ha",
            hosts: vec![
                h("cp1", CP_ETCD, STACKED_CP, &["fd00:60::11"]),
                h("cp2", CP_ETCD, STACKED_CP, &["fd00:60::12"]),
                // No ip6: the address comes from ansible_host.
                h("cp3", CP_ETCD, STACKED_CP, &["fd00:60::13"]),
                h("worker1", &["worker"], WORKER, &["fd00:60::21"]),
            ],
            network: json!({
                "families": ["ipv6"],
                "service_subnet": "fd00:96::/108",
                "pod_subnet": "fd00:244::/56",
                "apiserver_service_ip": "fd00:96::1",
                "etcd_initial_cluster": "cp1=https://[fd00:60::11]:2380,cp2=https://[fd00:60::12]:2380,cp3=https://[fd00:60::13]:2380",
                "etcd_endpoints": "https://[fd00:60::11]:2379,https://[fd00:60::12]:2379,https://[fd00:60::13]:2379",
            }),
        },
    ]
}

fn check_layout(case: &LayoutCase, file: &str) -> Value {
    let inv = fixture(&format!("inventories/{}/{file}", case.dir));
    let doc = show_json(&inv, &[]);
    let what = inv.as_str();
    assert_eq!(doc["layout"], case.layout, "{what}: layout");
    assert_eq!(doc["network"], case.network, "{what}: network");
    let names: Vec<String> = doc["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| h["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let want_names: Vec<&str> = case.hosts.iter().map(|h| h.name).collect();
    assert_eq!(names, want_names, "{what}: hosts (natural order)");
    for want in &case.hosts {
        let got = host(&doc, want.name);
        assert_eq!(
            strings(&got["roles"]),
            want.roles,
            "{what}: roles of {}",
            want.name
        );
        assert_eq!(
            strings(&got["components"]),
            want.components,
            "{what}: components of {}",
            want.name
        );
        assert_eq!(
            strings(&got["ips"]),
            want.ips,
            "{what}: ips of {}",
            want.name
        );
        let etcd_only = want.roles == ["etcd"];
        assert_eq!(
            got["etcd_only"], etcd_only,
            "{what}: etcd_only of {}",
            want.name
        );
        // Every etcd member's URLs use its first address, IPv6 in brackets.
        if want.roles.contains(&"etcd") {
            let ip = want.ips[0];
            let host_part = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            assert_eq!(
                got["etcd"]["peer_url"],
                format!("https://{host_part}:2380"),
                "{what}: {}",
                want.name
            );
            assert_eq!(
                got["etcd"]["client_url"],
                format!("https://{host_part}:2379"),
                "{what}: {}",
                want.name
            );
        } else {
            assert!(
                got.get("etcd").is_none(),
                "{what}: {} is no etcd member: {}",
                want.name,
                got["etcd"]
            );
        }
    }
    doc
}

#[test]
fn every_layout_in_ini_and_yaml() {
    for case in cases() {
        let ini = check_layout(&case, "inventory.ini");
        let yaml = check_layout(&case, "hosts.yaml");
        assert_eq!(
            strip_sources(&ini),
            strip_sources(&yaml),
            "{}: INI and YAML inventories must describe the same cluster",
            case.dir
        );
        // The sources do differ: each value names the file it came from.
        let src = |d: &Value| {
            host(d, case.hosts[0].name)["vars"]["ip6"]
                .get("source")
                .or_else(|| host(d, case.hosts[0].name)["vars"]["ansible_host"].get("source"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        assert!(
            src(&ini).contains(&format!("{}/inventory.ini:", case.dir)),
            "{}",
            src(&ini)
        );
        assert!(
            src(&yaml).contains(&format!("{}/hosts.yaml:", case.dir)),
            "{}",
            src(&yaml)
        );
    }
}

#[test]
fn a_directory_reads_hosts_yaml_first() {
    let from_dir = show_json(&fixture("inventories/ha"), &[]);
    let from_yaml = show_json(&fixture("inventories/ha/hosts.yaml"), &[]);
    assert_eq!(from_dir, from_yaml);
}

#[test]
fn a_directory_is_read_as_ansible_reads_it_without_warnings() {
    // ha/ holds hosts.yaml and inventory.ini: ansible-core 2.18 reads hosts.yaml and
    // skips *.ini in a directory (INVENTORY_IGNORE_EXTS), and so does kubeforge, quietly.
    let dir = kubeforge::inventory::Inventory::load(
        std::path::Path::new(&fixture("inventories/ha")),
        &[],
    )
    .unwrap();
    assert!(
        dir.warnings
            .iter()
            .all(|d| d.code != "several-inventory-files"),
        "{:?}",
        dir.warnings
    );
    assert!(dir.file.ends_with("hosts.yaml"), "{}", dir.file.display());
}

#[test]
fn ssh_targets_come_from_the_inventory() {
    for file in ["inventory.ini", "hosts.yaml"] {
        let doc = show_json(&fixture(&format!("inventories/default/{file}")), &[]);
        assert_eq!(
            host(&doc, "worker1")["ssh"],
            json!({"address": "192.168.20.21", "port": 22, "user": "ubuntu", "key_file": null}),
            "{file}"
        );
        assert_eq!(
            host(&doc, "worker2")["ssh"],
            json!({"address": "192.168.20.22", "port": 2222, "user": "root", "key_file": null}),
            "{file}"
        );
    }
    let doc = show_json(&fixture("inventories/ipv6-only/inventory.ini"), &[]);
    assert_eq!(host(&doc, "cp2")["ssh"]["address"], "fd00:60::12");
}

#[test]
fn dual_stack_derived_variables_are_in_family_order() {
    for file in ["inventory.ini", "hosts.yaml"] {
        let doc = show_json(&fixture(&format!("inventories/dual-stack/{file}")), &[]);
        let vars = &host(&doc, "worker1")["vars"];
        assert_eq!(
            vars["kube_service_subnets"]["value"], "10.96.0.0/16,fd00:96::/108",
            "{file}"
        );
        assert_eq!(
            vars["kube_pods_subnets"]["value"], "10.244.0.0/16,fd00:244::/56",
            "{file}"
        );
    }
    let doc = show_json(&fixture("inventories/ipv6-only/hosts.yaml"), &[]);
    let vars = &host(&doc, "cp1")["vars"];
    assert_eq!(vars["kube_service_subnets"]["value"], "fd00:96::/108");
    assert_eq!(vars["kube_pods_subnets"]["value"], "fd00:244::/56");
}

#[test]
fn layouts_check_clean() {
    // (layout dir, warnings expected: a single etcd member is only a warning)
    let cases = [
        ("all-in-one", vec!["single-etcd"]),
        ("default", vec!["single-etcd"]),
        ("ha", vec![]),
        ("separate", vec![]),
        ("dual-stack", vec!["single-etcd"]),
        ("ipv6-only", vec![]),
    ];
    for (dir, warnings) in cases {
        for file in ["inventory.ini", "hosts.yaml"] {
            let inv = fixture(&format!("inventories/{dir}/{file}"));
            let run = kubeforge(&["inventory", "check", "-i", &inv]);
            assert_eq!(run.code, 0, "{inv}:\n{}", run.stderr);
            let diags = parse_diagnostics(&run.stderr);
            let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
            assert_eq!(codes, warnings, "{inv}:\n{}", run.stderr);
            assert!(
                diags.iter().all(|d| d.severity == "warning"),
                "{inv}: {diags:?}"
            );
            assert!(
                run.stdout.starts_with("inventory ok: "),
                "{inv}: {}",
                run.stdout
            );
        }
    }
}

// ---- Kubespray-style directory: precedence and sources ---------------------------

const KS: &str = "tests/fixtures/inventories/kubespray-dir";

fn ks_line(rel: &str, prefix: &str) -> String {
    format!("{KS}/{rel}:{}", line_of(&root().join(KS).join(rel), prefix))
}

fn var<'a>(doc: &'a Value, host_name: &str, name: &str) -> &'a Value {
    let v = &host(doc, host_name)["vars"][name];
    assert!(v.is_object(), "{host_name} has no variable {name}");
    v
}

fn assert_var(doc: &Value, host_name: &str, name: &str, value: Value, source: &str) {
    let v = var(doc, host_name, name);
    assert_eq!(v["value"], value, "{host_name}.{name}: value");
    assert_eq!(v["source"], source, "{host_name}.{name}: source");
}

#[test]
fn kubespray_directory_precedence_and_sources() {
    let doc = show_json(KS, &[]);
    assert_eq!(doc["layout"], "default");

    // Host level: host_vars/<host> file beats the host's own inventory line...
    assert_var(
        &doc,
        "node1",
        "precedence_host",
        json!("host-vars-node1"),
        &ks_line("host_vars/node1.yml", "precedence_host:"),
    );
    // ...a host_vars/<host>/ directory is read in file-name order, later files win...
    assert_var(
        &doc,
        "node2",
        "precedence_host",
        json!("host-vars-node2-override"),
        &ks_line("host_vars/node2/20-override.yml", "precedence_host:"),
    );
    // ...and variables only set in the earlier file of that directory remain.
    assert_var(
        &doc,
        "node2",
        "etcd_member_name",
        json!("etcd-b"),
        &ks_line("host_vars/node2/10-main.yml", "etcd_member_name:"),
    );
    // Host vars on the inventory line beat every group_vars file.
    assert_var(
        &doc,
        "node3",
        "precedence_host",
        json!("inventory-host-node3"),
        &ks_line("inventory.ini", "node3 "),
    );
    // Without host vars, the deepest group wins.
    assert_var(
        &doc,
        "node4",
        "precedence_host",
        json!("group-vars-k8s-cluster"),
        &ks_line("group_vars/k8s_cluster/k8s-cluster.yml", "precedence_host:"),
    );

    // Group level: group_vars/etcd.yml for the etcd-only host; for a host in both etcd
    // and k8s_cluster (same depth) the later name, k8s_cluster, wins as in Ansible.
    assert_var(
        &doc,
        "node3",
        "precedence_group",
        json!("group-vars-etcd"),
        &ks_line("group_vars/etcd.yml", "precedence_group:"),
    );
    let k8s_group = ks_line(
        "group_vars/k8s_cluster/k8s-cluster.yml",
        "precedence_group:",
    );
    for h in ["node1", "node2", "node4"] {
        assert_var(
            &doc,
            h,
            "precedence_group",
            json!("group-vars-k8s-cluster"),
            &k8s_group,
        );
    }

    // group_vars/all/ beats [all:vars]; within the directory, the later file wins.
    let zz = ks_line("group_vars/all/zz-last.yml", "precedence_all:");
    let inv_all = ks_line("inventory.ini", "inventory_only=");
    let gv_all = ks_line("group_vars/all/all.yml", "bin_dir:");
    for h in ["node1", "node2", "node3", "node4"] {
        assert_var(
            &doc,
            h,
            "precedence_all",
            json!("group-vars-all-zz-last"),
            &zz,
        );
        // Set only in [all:vars]: it stays, with the inventory line as its source.
        assert_var(
            &doc,
            h,
            "inventory_only",
            json!("from-inventory-all"),
            &inv_all,
        );
        // A role default overridden in group_vars/all.
        assert_var(&doc, h, "bin_dir", json!("/opt/kubeforge/bin"), &gv_all);
    }

    // A default that is a template is rendered in each host's context: kube_cert_dir
    // is "{{ kube_config_dir }}/ssl", and kube_config_dir is overridden for k8s_cluster.
    let defaults = "roles/kubeforge_defaults/defaults/main.yml";
    let cert_dir_src = format!(
        "{defaults}:{}",
        line_of(&root().join(defaults), "kube_cert_dir:")
    );
    assert_var(
        &doc,
        "node4",
        "kube_cert_dir",
        json!("/etc/k8s-custom/ssl"),
        &cert_dir_src,
    );
    assert_var(
        &doc,
        "node3",
        "kube_cert_dir",
        json!("/etc/kubernetes/ssl"),
        &cert_dir_src,
    );
    assert_var(
        &doc,
        "node4",
        "etcd_data_dir",
        json!("/var/lib/etcd"),
        &format!(
            "{defaults}:{}",
            line_of(&root().join(defaults), "etcd_data_dir:")
        ),
    );
    assert_var(
        &doc,
        "node2",
        "etcd_data_dir",
        json!("/srv/etcd"),
        &ks_line("group_vars/etcd.yml", "etcd_data_dir:"),
    );

    // host_vars feed the cluster model too: etcd member names.
    assert_eq!(
        doc["network"]["etcd_initial_cluster"],
        "etcd-a=https://10.60.0.1:2380,etcd-b=https://10.60.0.2:2380,node3=https://10.60.0.3:2380"
    );
    assert_eq!(strings(&host(&doc, "node2")["roles"]), ["worker", "etcd"]);
    assert_eq!(strings(&host(&doc, "node3")["components"]), ["etcd"]);
    // The etcd-only host is not in k8s_cluster: no k8s_cluster group_vars.
    assert_eq!(strings(&host(&doc, "node3")["groups"]), ["etcd"]);
    assert_eq!(
        var(&doc, "node3", "kube_config_dir")["value"],
        "/etc/kubernetes"
    );
}

#[test]
fn extra_vars_win_over_everything() {
    let doc = show_json(
        KS,
        &["-e", "precedence_host=from-extra precedence_all=also-extra"],
    );
    for h in ["node1", "node2", "node3", "node4"] {
        assert_var(&doc, h, "precedence_host", json!("from-extra"), "-e");
        assert_var(&doc, h, "precedence_all", json!("also-extra"), "-e");
    }
    // Not named by -e: unchanged.
    assert_eq!(
        var(&doc, "node3", "precedence_group")["value"],
        "group-vars-etcd"
    );
}

#[test]
fn show_one_host_as_a_table_names_each_source() {
    let run = kubeforge(&["inventory", "show", "-i", KS, "--host", "node2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let row = run
        .stdout
        .lines()
        .find(|l| l.starts_with("precedence_host "))
        .unwrap_or_else(|| panic!("no precedence_host row:\n{}", run.stdout));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "precedence_host",
            "host-vars-node2-override",
            &ks_line("host_vars/node2/20-override.yml", "precedence_host:")
        ]
    );
    assert!(
        !run.stdout.lines().any(|l| l.starts_with("node4 ")),
        "only node2 is listed:\n{}",
        run.stdout
    );
    let missing = kubeforge(&["inventory", "show", "-i", KS, "--host", "node9"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no host named 'node9'"),
        "{}",
        missing.stderr
    );
}

#[test]
fn kubespray_directory_checks_clean() {
    let run = kubeforge(&["inventory", "check", "-i", KS]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(parse_diagnostics(&run.stderr).is_empty(), "{}", run.stderr);
    assert_eq!(
        run.stdout.trim(),
        "inventory ok: 4 host(s), layout default, 0 warning(s)"
    );
}

// ---- deprecated group names ------------------------------------------------------

#[test]
fn deprecated_group_names_load_with_warnings() {
    let dir = "tests/fixtures/inventories/deprecated";
    let doc = show_json(dir, &[]);
    assert_eq!(doc["layout"], "default");
    let cp1 = host(&doc, "cp1");
    assert_eq!(strings(&cp1["roles"]), ["control_plane", "etcd"]);
    assert_eq!(
        strings(&cp1["groups"]),
        ["etcd", "k8s_cluster", "kube_control_plane"]
    );
    // group_vars/k8s-cluster.yml applies to k8s_cluster (kube_network_plugin: cni).
    let no_cilium: Vec<&str> = STACKED_CP
        .iter()
        .copied()
        .filter(|c| *c != "cilium")
        .collect();
    assert_eq!(strings(&cp1["components"]), no_cilium);
    for w in ["worker1", "worker2"] {
        assert_eq!(strings(&host(&doc, w)["roles"]), ["worker"]);
        assert_eq!(
            strings(&host(&doc, w)["groups"]),
            ["k8s_cluster", "kube_node"]
        );
        assert_eq!(
            host(&doc, w)["vars"]["kube_network_plugin"]["source"],
            format!("{dir}/group_vars/k8s-cluster.yml:2")
        );
    }

    let run = kubeforge(&["inventory", "check", "-i", dir]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got: Vec<(String, String, Option<String>)> = parse_diagnostics(&run.stderr)
        .into_iter()
        .map(|d| (d.code, d.message, d.location))
        .collect();
    let ini = format!("{dir}/inventory.ini");
    let want = vec![
        (
            "deprecated-group",
            "group 'kube-master' is deprecated; read as 'kube_control_plane'".to_string(),
            Some(format!("{ini}:2")),
        ),
        (
            "deprecated-group",
            "group 'kube-node' is deprecated; read as 'kube_node'".to_string(),
            Some(format!("{ini}:5")),
        ),
        (
            "deprecated-group",
            "group 'k8s-cluster' is deprecated; read as 'k8s_cluster'".to_string(),
            Some(format!("{ini}:12")),
        ),
        (
            "deprecated-group",
            "group_vars for 'k8s-cluster' are read as 'k8s_cluster'".to_string(),
            Some(format!("{dir}/group_vars/k8s-cluster.yml")),
        ),
        (
            "single-etcd",
            "the etcd group has one member: no fault tolerance".to_string(),
            Some(format!("{ini}:9")),
        ),
    ];
    let want: Vec<(String, String, Option<String>)> = want
        .into_iter()
        .map(|(c, m, l)| (c.to_string(), m, l))
        .collect();
    assert_eq!(got, want, "{}", run.stderr);
    assert!(run.stdout.contains("5 warning(s)"), "{}", run.stdout);
}

// ---- the repository's sample inventory ----------------------------------------------

#[test]
fn repository_sample_is_separate_with_an_etcd_only_host() {
    let doc = show_json("inventory/sample", &[]);
    assert_eq!(doc["layout"], "separate");
    let etcd = host(&doc, "instance-3");
    assert_eq!(strings(&etcd["roles"]), ["etcd"]);
    assert_eq!(strings(&etcd["components"]), ["etcd"]);
    assert_eq!(etcd["etcd_only"], true);
    let needed = [
        "containerd",
        "runc",
        "nerdctl",
        "crictl",
        "cni_plugins",
        "kubelet",
        "cilium",
    ];
    for name in ["instance-1", "instance-2"] {
        let comps = strings(&host(&doc, name)["components"]);
        for c in needed {
            assert!(comps.iter().any(|x| x == c), "{name} lacks {c}: {comps:?}");
        }
        assert!(
            !comps.iter().any(|x| x == "etcd"),
            "{name} runs no etcd: {comps:?}"
        );
    }
    assert_eq!(
        strings(&host(&doc, "instance-1")["roles"]),
        ["control_plane"]
    );
    assert_eq!(strings(&host(&doc, "instance-2")["roles"]), ["worker"]);

    let ini = show_json("inventory/sample/inventory.ini", &[]);
    assert_eq!(
        strip_sources(&ini),
        strip_sources(&doc),
        "the sample's INI and YAML forms differ"
    );

    let run = kubeforge(&["inventory", "check", "-i", "inventory/sample"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        parse_diagnostics(&run.stderr)
            .iter()
            .all(|d| d.severity == "warning"),
        "{}",
        run.stderr
    );
}

// ---- inventory sources: scripts, several -i, directories (issue 20) ---------------

/// Writes `files` under `dir`; names ending in `.sh` are made executable.
fn write_tree(dir: &std::path::Path, files: &[(&str, &str)]) {
    use std::os::unix::fs::PermissionsExt;
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        if name.ends_with(".sh") {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

/// `inventory show --format json` with several `-i`, from `cwd`; must exit 0.
fn show_sources(cwd: &std::path::Path, sources: &[&str]) -> Value {
    let mut args = vec!["inventory", "show", "--format", "json", "--magic"];
    for s in sources {
        args.extend(["-i", s]);
    }
    let run = common::kubeforge_in(cwd, &args);
    assert_eq!(run.code, 0, "show {sources:?} failed:\n{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

/// (value, source) of a host's variable.
fn var_src(doc: &Value, h: &str, name: &str) -> (Value, String) {
    let v = &host(doc, h)["vars"][name];
    (
        v["value"].clone(),
        v["source"].as_str().unwrap_or("").to_string(),
    )
}

const LAYOUT_INI: &str = "[kube_control_plane]\ncp1 ansible_host=192.0.2.1\n[etcd]\ncp1\n\
                          [kube_node]\nw1 ansible_host=192.0.2.2\n\
                          [k8s_cluster:children]\nkube_control_plane\nkube_node\n";

#[test]
fn an_inventory_script_is_run_and_each_variable_names_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_tree(
        d,
        &[
            (
                "meta/inv.sh",
                "#!/bin/sh\n[ \"$1\" = --list ] || exit 9\n\
                 echo '{\"kube_control_plane\": [\"cp1\"], \"etcd\": [\"cp1\"], \
                 \"kube_node\": {\"hosts\": [\"w1\"], \"vars\": {\"pool\": \"a\"}}, \
                 \"k8s_cluster\": {\"children\": [\"kube_control_plane\", \"kube_node\"]}, \
                 \"_meta\": {\"hostvars\": {\"cp1\": {\"ansible_host\": \"192.0.2.1\"}, \
                 \"w1\": {\"ansible_host\": \"192.0.2.2\"}}}}'\n",
            ),
            ("meta/group_vars/kube_node.yml", "pool_gv: beside\n"),
            (
                "per-host/inv.sh",
                "#!/bin/sh\nif [ \"$1\" = --list ]; then echo '{\"kube_control_plane\": [\"cp1\"], \
                 \"etcd\": [\"cp1\"], \"kube_node\": [\"w1\"], \
                 \"k8s_cluster\": {\"children\": [\"kube_control_plane\", \"kube_node\"]}}'\n\
                 elif [ \"$2\" = cp1 ]; then echo 'ansible_host: 192.0.2.1'\n\
                 else echo '{\"ansible_host\": \"192.0.2.2\"}'; fi\n",
            ),
        ],
    );
    let doc = show_sources(d, &["meta/inv.sh"]);
    // (host, variable, value, source)
    let table = [
        (
            "w1",
            "ansible_host",
            json!("192.0.2.2"),
            "meta/inv.sh --list",
        ),
        ("w1", "pool", json!("a"), "meta/inv.sh --list"),
        (
            "w1",
            "pool_gv",
            json!("beside"),
            "meta/group_vars/kube_node.yml:1",
        ),
        (
            "cp1",
            "inventory_file",
            json!(d.join("meta/inv.sh").display().to_string()),
            "magic",
        ),
    ];
    for (h, name, value, source) in table {
        assert_eq!(
            var_src(&doc, h, name),
            (value, source.to_string()),
            "{h} {name}"
        );
    }
    let doc = show_sources(d, &["per-host/inv.sh"]);
    assert_eq!(
        var_src(&doc, "cp1", "ansible_host"),
        (json!("192.0.2.1"), "per-host/inv.sh --host cp1".to_string())
    );
    assert_eq!(
        var_src(&doc, "w1", "ansible_host"),
        (json!("192.0.2.2"), "per-host/inv.sh --host w1".to_string())
    );
}

#[test]
fn a_failing_inventory_script_is_named_with_its_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // (script, timeout in seconds, words stderr must hold)
    let table: [(&str, &str, &[&str]); 5] = [
        (
            "#!/bin/sh\necho 'cannot reach the cloud API' >&2\nexit 3\n",
            "60",
            &["inventory script inv.sh --list", "exited with status 3", "| cannot reach the cloud API", "run `./inv.sh --list` by hand"],
        ),
        ("#!/bin/sh\necho '{not json'\n", "60", &["inv.sh --list", "its output is not JSON"]),
        ("#!/bin/sh\necho '[\"a\"]'\n", "60", &["inv.sh --list", "a JSON list, not an object of groups"]),
        (
            "#!/bin/sh\n[ \"$1\" = --list ] && echo '{\"g\": [\"h1\"]}' && exit 0\necho 'no such host' >&2\nexit 1\n",
            "60",
            &["inv.sh --host h1", "exited with status 1", "| no such host"],
        ),
        ("#!/bin/sh\nsleep 20\n", "1", &["inv.sh --list", "did not finish within 1 s", "KUBEFORGE_INVENTORY_SCRIPT_TIMEOUT"]),
    ];
    for (body, timeout, words) in table {
        write_tree(d, &[("inv.sh", body)]);
        let start = std::time::Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
            .current_dir(d)
            .args(["inventory", "check", "-i", "inv.sh"])
            .env("NO_COLOR", "1")
            .env("KUBEFORGE_INVENTORY_SCRIPT_TIMEOUT", timeout)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            start.elapsed() < std::time::Duration::from_secs(15),
            "{body}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{body}: {stderr}");
        for w in words {
            assert!(stderr.contains(w), "{body}: missing {w:?} in\n{stderr}");
        }
    }
}

#[test]
fn several_sources_merge_in_order_with_their_own_group_vars() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_tree(
        d,
        &[
            ("a/hosts.ini", LAYOUT_INI),
            ("a/group_vars/all.yml", "site: a\nonly_a: 1\n"),
            ("a/group_vars/kube_node.yml", "level: a-kube_node\n"),
            (
                "b/hosts.yml",
                "all:\n  children:\n    kube_node:\n      hosts:\n        w1: {x: b}\n        w2: {ansible_host: 192.0.2.3}\n",
            ),
            ("b/group_vars/all.yml", "site: b\n"),
            ("b/group_vars/k8s_cluster.yml", "level: b-k8s_cluster\n"),
        ],
    );
    let doc = show_sources(d, &["a/hosts.ini", "b/hosts.yml"]);
    let names: Vec<&str> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cp1", "w1", "w2"]);
    // (host, variable, value, source): a later source wins; group_vars of every source
    // apply, all's first, then groups source by source (b's parent beats a's child).
    let table = [
        ("w1", "x", json!("b"), "b/hosts.yml:5".to_string()),
        (
            "w1",
            "site",
            json!("b"),
            "b/group_vars/all.yml:1".to_string(),
        ),
        (
            "w1",
            "only_a",
            json!(1),
            "a/group_vars/all.yml:2".to_string(),
        ),
        (
            "w1",
            "level",
            json!("b-k8s_cluster"),
            "b/group_vars/k8s_cluster.yml:1".to_string(),
        ),
        (
            "w2",
            "level",
            json!("b-k8s_cluster"),
            "b/group_vars/k8s_cluster.yml:1".to_string(),
        ),
        (
            "w1",
            "inventory_file",
            json!(d.join("a/hosts.ini").display().to_string()),
            "magic".to_string(),
        ),
        (
            "w2",
            "inventory_dir",
            json!(d.join("b").display().to_string()),
            "magic".to_string(),
        ),
    ];
    for (h, name, value, source) in table {
        assert_eq!(var_src(&doc, h, name), (value, source), "{h} {name}");
    }
    // A missing source is named.
    let run = common::kubeforge_in(
        d,
        &[
            "inventory",
            "check",
            "-i",
            "a/hosts.ini",
            "-i",
            "c/nope.yml",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("c/nope.yml"), "{}", run.stderr);
}

#[test]
fn a_directory_is_read_whole_in_ansibles_order() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write_tree(
        d,
        &[
            ("inv/01-layout", LAYOUT_INI),
            ("inv/02-more.yml", "all:\n  hosts:\n    w1: {order: 02-more}\n"),
            ("inv/03-cloud.sh", "#!/bin/sh\necho '{\"kube_node\": [\"w2\"], \"_meta\": {\"hostvars\": {\"w2\": {\"ansible_host\": \"192.0.2.3\", \"order\": \"03-cloud\"}}}}'\n"),
            ("inv/sub/04-deeper.json", "{\"all\": {\"hosts\": {\"w1\": {\"order\": \"sub/04-deeper\"}}}}\n"),
            ("inv/inventory.ini", "[kube_node]\nskipped-ini\n"),
            ("inv/notes.md", "skipped\n"),
            ("inv/02-more.yml~", "all:\n  hosts:\n    skipped-backup:\n"),
            ("inv/.hidden.yml", "all:\n  hosts:\n    skipped-hidden:\n"),
            ("inv/group_vars/kube_node.yml", "gv: inv\n"),
        ],
    );
    let doc = show_sources(d, &["inv"]);
    let names: Vec<&str> = doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cp1", "w1", "w2"]);
    let table = [
        (
            "w1",
            "order",
            json!("sub/04-deeper"),
            "inv/sub/04-deeper.json:1",
        ),
        ("w2", "order", json!("03-cloud"), "inv/03-cloud.sh --list"),
        ("w2", "gv", json!("inv"), "inv/group_vars/kube_node.yml:1"),
    ];
    for (h, name, value, source) in table {
        assert_eq!(
            var_src(&doc, h, name),
            (value, source.to_string()),
            "{h} {name}"
        );
    }
    let run = common::kubeforge_in(d, &["inventory", "check", "-i", "inv"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stderr.contains("inventory.ini") && !run.stderr.contains("several-inventory-files"),
        "{}",
        run.stderr
    );
}
