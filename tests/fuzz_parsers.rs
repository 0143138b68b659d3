//! Fuzzing the inventory parsers with proptest: arbitrary text, token soup made of
//! INI/YAML/Jinja pieces, and line-structured near-inventories are fed to
//! `Inventory::from_text` as INI and as YAML, then (when they load) through
//! `Cluster::build`, `validate` and `show_json`. Errors are fine; panics are not.
//! (The cargo-fuzz target in fuzz/ runs the same pipeline under libFuzzer.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kubeforge::cluster::Cluster;
use kubeforge::inventory::Inventory;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Runs the whole pipeline; returns whether the text loaded (for the statistics).
fn pipeline(text: &str, name: &str) -> bool {
    match Inventory::from_text(text, name) {
        Ok(inv) => {
            let cluster = Cluster::build(inv);
            let diags = kubeforge::validate::validate(&cluster);
            for d in &diags {
                // Rendering a diagnostic must not panic either.
                let _ = d.to_string();
            }
            let _ = kubeforge::report::inventory::show_json(&cluster, None, false);
            let _ = kubeforge::report::inventory::check_json(&diags);
            true
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = e.code();
            false
        }
    }
}

fn both(text: &str) {
    pipeline(text, "x.ini");
    pipeline(text, "x.yaml");
}

const TOKENS: &[&str] = &[
    "[",
    "]",
    ":children",
    ":vars",
    "=",
    "\"",
    "'",
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "\n",
    "\n",
    "\n",
    "  ",
    "    ",
    "\t",
    " ",
    "- ",
    ": ",
    ":",
    ",",
    "{",
    "}",
    "#",
    ";",
    "|",
    ">-",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "~",
    "---",
    "all",
    "hosts",
    "children",
    "vars",
    "kube_control_plane",
    "kube_node",
    "etcd",
    "k8s_cluster",
    "kube-master",
    "n1",
    "n2",
    "node[1:3]",
    "node[a:c]",
    "[01:10:2]",
    "ip=10.0.0.1",
    "ip6=fd00::1",
    "ansible_host=",
    "ansible_port=22",
    "ipv4_stack",
    "ipv6_stack",
    "True",
    "False",
    "yes",
    "null",
    "0644",
    "1.5",
    "-3",
    "10.233.0.0/18",
    "fd00::/108",
    "kube_pods_subnet",
    "kube_network_node_prefix",
    "etcd_deployment_type",
    "kubeadm",
    "inventory_hostname",
    "groups['all']",
    "hostvars",
    "| default(1)",
    "| ipaddr('net')",
    "| bool",
    "x",
    "y",
    "é",
    "\u{0}",
    "\r",
];

fn token_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKENS), 0..60).prop_map(|t| t.concat())
}

const INI_GROUPS: &[&str] = &[
    "all",
    "kube_control_plane",
    "kube_node",
    "etcd",
    "k8s_cluster",
    "kube-master",
    "k8s-cluster",
    "calico_rr",
    "x",
];

/// INI-shaped text: sections whose lines mostly fit their kind (host lines with vars,
/// child group names, key=value), with the odd wrong line or broken header.
fn ini_like() -> impl Strategy<Value = String> {
    let host = "[a-z_][a-z0-9_.:-]{0,8}";
    let key = "[a-z_][a-z0-9_]{0,8}";
    let value = prop_oneof![
        6 => "[a-zA-Z0-9_./:-]{0,12}",
        2 => Just("True".to_string()),
        2 => Just("\"{{ x }}\"".to_string()),
        1 => Just("[1, 2]".to_string()),
        1 => Just("{'a': 1}".to_string()),
        1 => Just("{{ y }}".to_string()),
        2 => "\"[^\"\n]{0,10}\"",
        1 => Just("\"unclosed".to_string()),
    ];
    let host_line =
        (host, proptest::collection::vec((key, value.clone()), 0..4)).prop_map(|(h, vars)| {
            let vars: String = vars.iter().map(|(k, v)| format!(" {k}={v}")).collect();
            format!("{h}{vars}")
        });
    let child_line = proptest::sample::select(INI_GROUPS).prop_map(str::to_string);
    let var_line = (key, value).prop_map(|(k, v)| format!("{k}={v}"));
    let odd_line = prop_oneof![
        Just("# comment".to_string()),
        Just(String::new()),
        proptest::sample::select(TOKENS).prop_map(str::to_string),
    ];
    let group = prop_oneof![
        12 => proptest::sample::select(INI_GROUPS),
        1 => proptest::sample::select(TOKENS),
    ];
    let section = prop_oneof![
        6 => (group.clone(), proptest::collection::vec(prop_oneof![12 => host_line, 1 => odd_line.clone()], 0..5))
            .prop_map(|(g, lines)| (format!("[{}]", g.trim()), lines)),
        3 => (group.clone(), proptest::collection::vec(prop_oneof![12 => child_line, 1 => odd_line.clone()], 0..4))
            .prop_map(|(g, lines)| (format!("[{}:children]", g.trim()), lines)),
        3 => (group.clone(), proptest::collection::vec(prop_oneof![12 => var_line, 1 => odd_line.clone()], 0..5))
            .prop_map(|(g, lines)| (format!("[{}:vars]", g.trim()), lines)),
        1 => (group, proptest::collection::vec(odd_line, 0..3)).prop_map(|(g, lines)| (format!("[{}:bogus", g.trim()), lines)),
    ];
    proptest::collection::vec(section, 0..6).prop_map(|sections| {
        sections
            .into_iter()
            .map(|(header, lines)| format!("{header}\n{}", lines.join("\n")))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// YAML-shaped lines: `key: value` at random depths (mostly invalid YAML).
fn yaml_lines() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        proptest::sample::select(YAML_KEYS).prop_map(str::to_string),
        "[a-z_]{1,6}",
    ];
    let value = prop_oneof![
        proptest::sample::select(YAML_SCALARS).prop_map(str::to_string),
        "[a-z0-9 ]{0,8}"
    ];
    proptest::collection::vec((0usize..5, key, value), 0..24).prop_map(|lines| {
        lines
            .iter()
            .map(|(d, k, v)| format!("{}{k}: {v}", "  ".repeat(*d)))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

const YAML_KEYS: &[&str] = &[
    "all",
    "hosts",
    "children",
    "vars",
    "hosts",
    "children",
    "vars",
    "kube_control_plane",
    "kube_node",
    "etcd",
    "k8s_cluster",
    "calico_rr",
    "n1",
    "n2",
    "n3",
    "node10",
    "ip",
    "ip6",
    "ansible_host",
    "ipv4_stack",
    "ipv6_stack",
    "kube_pods_subnet",
    "kube_service_addresses_ipv6",
    "etcd_member_name",
    "etcd_deployment_type",
    "kube_network_plugin",
    "x",
];
const YAML_SCALARS: &[&str] = &[
    "",
    "10.0.0.1",
    "10.0.0.2",
    "\"fd00::1\"",
    "true",
    "false",
    "yes",
    "1",
    "24",
    "cilium",
    "calico",
    "kubeadm",
    "\"10.233.0.0/18\"",
    "\"fd00:1::/64\"",
    "\"{{ inventory_hostname }}\"",
    "\"{{ undefined_x }}\"",
    "\"{{ x | default(2) }}\"",
    "\"{{ groups['etcd'] | length }}\"",
    "\"{{ hostvars['n1']['ip'] }}\"",
    "[a, b]",
    "{x: 1}",
    "~",
    "&anchor 1",
    "*anchor",
    "0644",
];

#[derive(Debug, Clone)]
enum Tree {
    Scalar(&'static str),
    Map(Vec<(&'static str, Tree)>),
}

fn render_tree(t: &Tree, depth: usize, out: &mut String) {
    if let Tree::Map(entries) = t {
        for (k, v) in entries {
            out.push_str(&"  ".repeat(depth));
            out.push_str(k);
            out.push(':');
            match v {
                Tree::Scalar(s) => {
                    if !s.is_empty() {
                        out.push(' ');
                        out.push_str(s);
                    }
                    out.push('\n');
                }
                Tree::Map(_) => {
                    out.push('\n');
                    render_tree(v, depth + 1, out);
                }
            }
        }
    }
}

const YAML_GROUPS: &[&str] = &[
    "kube_control_plane",
    "kube_node",
    "etcd",
    "k8s_cluster",
    "calico_rr",
    "kube-master",
    "x",
];
const YAML_HOSTS: &[&str] = &["n1", "n2", "n3", "node10", "etcd.b"];
const YAML_VARS: &[&str] = &[
    "ip",
    "ip6",
    "ansible_host",
    "ansible_port",
    "ipv4_stack",
    "ipv6_stack",
    "kube_pods_subnet",
    "kube_service_addresses_ipv6",
    "kube_network_node_prefix",
    "etcd_member_name",
    "etcd_deployment_type",
    "kube_network_plugin",
    "x",
];

/// A mapping without repeated keys (duplicates are a separately tested YAML error).
fn map_of(mut entries: Vec<(&'static str, Tree)>) -> Tree {
    let mut seen = Vec::new();
    entries.retain(|(k, _)| {
        let fresh = !seen.contains(k);
        seen.push(*k);
        fresh
    });
    Tree::Map(entries)
}

fn vars_tree() -> impl Strategy<Value = Tree> {
    proptest::collection::vec(
        (
            proptest::sample::select(YAML_VARS),
            proptest::sample::select(YAML_SCALARS).prop_map(Tree::Scalar),
        ),
        0..4,
    )
    .prop_map(map_of)
}

fn hosts_tree() -> impl Strategy<Value = Tree> {
    proptest::collection::vec(
        (
            proptest::sample::select(YAML_HOSTS),
            prop_oneof![Just(Tree::Scalar("")), vars_tree()],
        ),
        0..4,
    )
    .prop_map(map_of)
}

/// Inventory-shaped YAML (groups with hosts, vars and nested children, now and then a
/// stray key or scalar): most of it loads, so the cluster model, rendering and
/// validation see odd-but-valid inventories.
fn yaml_like() -> impl Strategy<Value = String> {
    let odd = prop_oneof![
        8 => Just(None),
        1 => (proptest::sample::select(YAML_KEYS), proptest::sample::select(YAML_SCALARS))
            .prop_map(|(k, v)| Some((k, Tree::Scalar(v)))),
    ];
    let leaf = (
        proptest::option::of(hosts_tree()),
        proptest::option::of(vars_tree()),
        odd.clone(),
    )
        .prop_map(|(hosts, vars, odd)| {
            let mut e = Vec::new();
            e.extend(hosts.map(|h| ("hosts", h)));
            e.extend(vars.map(|v| ("vars", v)));
            e.extend(odd);
            map_of(e)
        });
    let body = leaf.prop_recursive(3, 24, 4, move |inner| {
        (
            proptest::option::of(hosts_tree()),
            proptest::option::of(vars_tree()),
            proptest::collection::vec(
                (
                    proptest::sample::select(YAML_GROUPS),
                    prop_oneof![1 => Just(Tree::Scalar("")), 3 => inner],
                ),
                0..4,
            ),
            odd.clone(),
        )
            .prop_map(|(hosts, vars, children, odd)| {
                let mut e = Vec::new();
                e.extend(hosts.map(|h| ("hosts", h)));
                e.extend(vars.map(|v| ("vars", v)));
                if !children.is_empty() {
                    e.push(("children", map_of(children)));
                }
                e.extend(odd);
                map_of(e)
            })
    });
    body.prop_map(|t| {
        let mut out = String::new();
        render_tree(&Tree::Map(vec![("all", t)]), 0, &mut out);
        out
    })
}

proptest! {
    #![proptest_config(Config { cases: 3000, failure_persistence: None, ..Config::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        both(&text);
    }

    #[test]
    fn token_soup_never_panics(text in token_soup()) {
        both(&text);
    }
}

proptest! {
    #![proptest_config(Config { cases: 2000, failure_persistence: None, ..Config::default() })]

    #[test]
    fn ini_like_text_never_panics(text in ini_like()) {
        both(&text);
    }

    #[test]
    fn yaml_like_text_never_panics(text in yaml_like()) {
        both(&text);
    }

    #[test]
    fn yaml_lines_never_panic(text in yaml_lines()) {
        both(&text);
    }
}

/// The structured generators really reach the later stages (a fuzzer that only ever
/// produced syntax errors would test nothing past the parsers).
#[test]
fn structured_generators_reach_the_cluster_model() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut ini_ok, mut yaml_ok) = (0, 0);
    for _ in 0..300 {
        let t = ini_like().new_tree(&mut runner).expect("tree").current();
        ini_ok += usize::from(pipeline(&t, "x.ini"));
        let t = yaml_like().new_tree(&mut runner).expect("tree").current();
        yaml_ok += usize::from(pipeline(&t, "x.yaml"));
    }
    assert!(ini_ok > 60, "only {ini_ok}/300 INI-like inputs loaded");
    assert!(yaml_ok > 60, "only {yaml_ok}/300 YAML-like inputs loaded");
}

/// Inputs that once crashed or hung: deep nesting, long variable chains, huge ranges.
#[test]
fn pathological_inputs_fail_cleanly() {
    let deep_yaml = format!(
        "all:\n  vars:\n    x: {}{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    both(&deep_yaml);
    let deep_ini = format!(
        "[kube_node]\nn1 x={}{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    both(&deep_ini);
    let deep_template = format!(
        "all:\n  vars:\n    x: \"{{{{ {}1{} }}}}\"\n  hosts:\n    h:\n",
        "(".repeat(3000),
        ")".repeat(3000)
    );
    both(&deep_template);

    // A chain of 500 variables: rendered inside this test's thread (2 MiB stack by
    // default) it must end in an error, not a stack overflow.
    let mut chain = String::from("all:\n  hosts:\n    h:\n  vars:\n");
    for i in 0..500 {
        chain.push_str(&format!("    v{i}: \"{{{{ v{} }}}}\"\n", i + 1));
    }
    chain.push_str("    v500: end\n");
    let inv = Inventory::from_text(&chain, "chain.yaml").expect("loads");
    let cluster = Cluster::build(inv);
    let errors: Vec<_> = cluster
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(!errors.is_empty(), "a 500-deep chain must be refused");
    assert!(
        errors
            .iter()
            .all(|d| d.code == "template" && d.message.contains("levels deep")),
        "{errors:?}"
    );
    // A chain within the limit renders.
    let mut short = String::from("all:\n  hosts:\n    h:\n  vars:\n");
    for i in 0..20 {
        short.push_str(&format!("    v{i}: \"{{{{ v{} }}}}\"\n", i + 1));
    }
    short.push_str("    v20: end\n");
    let cluster = Cluster::build(Inventory::from_text(&short, "short.yaml").expect("loads"));
    assert!(cluster.diagnostics.is_empty(), "{:?}", cluster.diagnostics);
    assert_eq!(cluster.hosts[0].var("v0"), Some(&serde_json::json!("end")));

    // Ranges multiply: 200 x 200 names are refused (the cap is on the product, so
    // n[0:9999]x[0:9999] no longer builds 10^8 names).
    let start = std::time::Instant::now();
    let err = Inventory::from_text("[kube_node]\nn[0:199]x[0:199]\n", "r.ini")
        .map(|_| ())
        .expect_err("too many hosts");
    assert!(err.to_string().contains("expands to more than"), "{err}");
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
    // The largest single range is still accepted.
    let inv = Inventory::from_text("[kube_node]\nn[0:9999]\n", "r.ini").expect("10000 hosts");
    assert_eq!(inv.hosts.len(), 10_000);
}

/// Pieces of `inventory init` address items: addresses of both families, range dashes,
/// pair pluses, short range ends, junk.
fn address_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("10.0.0.1".to_string()),
        Just("10.0.0.255".to_string()),
        Just("255.255.255.255".to_string()),
        Just("0.0.0.0".to_string()),
        Just("fd00::1".to_string()),
        Just("fd00::ffff".to_string()),
        Just("::".to_string()),
        Just("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".to_string()),
        Just("-".to_string()),
        Just("+".to_string()),
        Just(" ".to_string()),
        (0u32..100_000).prop_map(|n| n.to_string()),
        "[0-9a-f:.]{0,12}",
    ];
    prop::collection::vec(piece, 0..7).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(Config { cases: 3000, failure_persistence: None, ..Config::default() })]

    /// Never a panic, never more than one range's worth of hosts from one item.
    #[test]
    fn init_addresses_never_panic(item in prop_oneof![any::<String>(), address_soup()]) {
        if let Ok(v) = kubeforge::op::init::parse_item("worker", &item) {
            prop_assert!(!v.is_empty() && v.len() <= 1024, "{item}: {} addresses", v.len());
        }
    }

    /// A range gives exactly its addresses, in order.
    #[test]
    fn init_ranges_give_every_address_in_order(start in any::<u32>(), len in 0u32..1024) {
        let end = start.saturating_add(len);
        let (a, b) = (std::net::Ipv4Addr::from(start), std::net::Ipv4Addr::from(end));
        let v = kubeforge::op::init::parse_item("worker", &format!("{a}-{b}")).unwrap();
        prop_assert_eq!(v.len() as u32, end - start + 1);
        for (k, addr) in v.iter().enumerate() {
            prop_assert_eq!(addr.to_string(), std::net::Ipv4Addr::from(start + k as u32).to_string());
        }
    }
}
