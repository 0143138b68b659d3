//! Property: the order in which an inventory lists hosts, groups, sections and
//! variables never changes the resolved cluster. A random inventory (1..8 hosts in
//! random groups, random variables at every level) is written canonically and in a
//! shuffled order, as YAML and as INI; `Inventory::load` + `Cluster::build` +
//! `show_json` must give byte-identical JSON once source line numbers (which
//! legitimately move) are stripped. The INI and YAML forms must agree too, apart from
//! the sources.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kubeforge::cluster::Cluster;
use kubeforge::inventory::Inventory;
use kubeforge::report::inventory::show_json;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};
use serde_json::Value;
use std::path::Path;

const GROUPS: [&str; 5] = [
    "kube_control_plane",
    "kube_node",
    "etcd",
    "calico_rr",
    "monitoring",
];
/// Names chosen so that natural order differs from byte order (node2 < node10).
const HOST_NAMES: [&str; 10] = [
    "node1", "node2", "node10", "node02", "node9", "cp-a", "etcd.b", "w_3", "node11", "x",
];
/// Shared by all levels, so that precedence decides between definitions.
const VAR_NAMES: [&str; 5] = ["alpha", "beta", "gamma", "delta", "ansible_user"];
/// Templates that look at the inventory's structure (order-sensitive if anything is).
const TEMPLATES: [&str; 5] = [
    "{{ inventory_hostname }}-{{ alpha | default('none') }}",
    "{{ groups['kube_node'] | default([]) | join(',') }}",
    "{{ group_names | join(',') }}",
    "{{ groups['all'] | join(' ') }}",
    "{{ beta | default(1) }}",
];

#[derive(Clone, Debug)]
enum Val {
    Int(u32),
    Word(String),
    Bool(bool),
    Template(usize),
}

impl Val {
    fn yaml(&self) -> String {
        match self {
            Val::Int(n) => n.to_string(),
            Val::Word(w) => w.clone(),
            Val::Bool(b) => b.to_string(),
            Val::Template(i) => format!("\"{}\"", TEMPLATES[*i].replace('"', "\\\"")),
        }
    }
    /// As written in a `[group:vars]` section (rest of the line is the value).
    fn ini_section(&self) -> String {
        match self {
            Val::Int(n) => n.to_string(),
            Val::Word(w) => w.clone(),
            Val::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            Val::Template(i) => TEMPLATES[*i].to_string(),
        }
    }
    /// As written on a host line (space-separated: templates are quoted).
    fn ini_host(&self) -> String {
        match self {
            Val::Template(i) => format!("\"{}\"", TEMPLATES[*i]),
            other => other.ini_section(),
        }
    }
}

#[derive(Clone, Debug)]
struct HostModel {
    name: &'static str,
    /// Indexes into GROUPS (empty: the host is only listed under `all`).
    groups: Vec<usize>,
    vars: Vec<(String, Val)>,
}

#[derive(Clone, Debug)]
struct Model {
    hosts: Vec<HostModel>,
    /// Variables per group index.
    group_vars: Vec<(usize, Vec<(String, Val)>)>,
    all_vars: Vec<(String, Val)>,
    /// `[etcd:children] kube_control_plane`.
    etcd_children: bool,
    /// An explicit `[k8s_cluster:children]` (else derived).
    k8s_children: bool,
}

fn val() -> impl Strategy<Value = Val> {
    prop_oneof![
        (0u32..100_000).prop_map(Val::Int),
        "w_[a-z0-9]{0,6}".prop_map(Val::Word),
        any::<bool>().prop_map(Val::Bool),
        (0..TEMPLATES.len()).prop_map(Val::Template),
    ]
}

fn vars() -> impl Strategy<Value = Vec<(String, Val)>> {
    proptest::sample::subsequence(VAR_NAMES.to_vec(), 0..=VAR_NAMES.len())
        .prop_flat_map(|names| {
            let n = names.len();
            (Just(names), proptest::collection::vec(val(), n))
        })
        .prop_map(|(names, vals)| names.into_iter().map(str::to_string).zip(vals).collect())
}

fn model() -> impl Strategy<Value = Model> {
    let hosts = proptest::sample::subsequence(HOST_NAMES.to_vec(), 1..=8).prop_flat_map(|names| {
        let n = names.len();
        (
            Just(names),
            proptest::collection::vec(
                proptest::sample::subsequence((0..GROUPS.len()).collect::<Vec<_>>(), 0..=3),
                n,
            ),
            proptest::collection::vec(vars(), n),
            proptest::collection::vec(any::<bool>(), n),
        )
    });
    (
        hosts,
        proptest::collection::vec(vars(), GROUPS.len()),
        vars(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                (names, groups, host_vars, with_ip),
                gvars,
                all_vars,
                etcd_children,
                k8s_children,
            )| {
                let hosts = names
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        let mut vars = host_vars[i].clone();
                        if with_ip[i] {
                            vars.push(("ip".into(), Val::Word(format!("10.0.{i}.{}", i + 1))));
                        }
                        HostModel {
                            name,
                            groups: groups[i].clone(),
                            vars,
                        }
                    })
                    .collect();
                Model {
                    hosts,
                    group_vars: gvars
                        .into_iter()
                        .enumerate()
                        .filter(|(_, v)| !v.is_empty())
                        .collect(),
                    all_vars,
                    etcd_children,
                    k8s_children,
                }
            },
        )
}

/// A small deterministic shuffler driven by a proptest-chosen seed.
struct Shuffler(u64);

impl Shuffler {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = usize::try_from(self.next() % (i as u64 + 1)).unwrap_or(0);
            v.swap(i, j);
        }
    }
    fn pick(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

/// The order of everything: identity when `shuffle` is None.
struct Order<'a>(Option<&'a mut Shuffler>);

impl Order<'_> {
    fn arrange<T>(&mut self, mut v: Vec<T>) -> Vec<T> {
        if let Some(s) = self.0.as_deref_mut() {
            s.shuffle(&mut v);
        }
        v
    }
    fn pick(&mut self, n: usize) -> usize {
        self.0.as_deref_mut().map(|s| s.pick(n)).unwrap_or(0)
    }
}

/// Members of each group, and which listing of each host carries its variables.
fn memberships(m: &Model, order: &mut Order) -> (Vec<Vec<usize>>, Vec<Option<usize>>) {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); GROUPS.len()];
    let mut vars_in: Vec<Option<usize>> = Vec::new();
    for (hi, h) in m.hosts.iter().enumerate() {
        for g in &h.groups {
            members[*g].push(hi);
        }
        // Host vars go on exactly one listing (None: under `all`).
        let choice = if h.groups.is_empty() {
            None
        } else {
            let k = order.pick(h.groups.len() + 1);
            (k < h.groups.len()).then(|| h.groups[k])
        };
        vars_in.push(choice);
    }
    (members, vars_in)
}

fn yaml_vars(vars: &[(String, Val)], order: &mut Order, indent: usize) -> String {
    let pad = " ".repeat(indent);
    order
        .arrange(vars.to_vec())
        .iter()
        .map(|(k, v)| format!("{pad}{k}: {}\n", v.yaml()))
        .collect()
}

fn write_yaml(m: &Model, mut order: Order) -> String {
    let (members, vars_in) = memberships(m, &mut order);
    let host_entry = |hi: usize, order: &mut Order, indent: usize| -> String {
        let h = &m.hosts[hi];
        if h.vars.is_empty() {
            format!("{}{}:\n", " ".repeat(indent), h.name)
        } else {
            format!(
                "{}{}:\n{}",
                " ".repeat(indent),
                h.name,
                yaml_vars(&h.vars, order, indent + 2)
            )
        }
    };
    let mut sections: Vec<String> = Vec::new();
    // all.hosts: hosts in no group, and hosts whose vars live here.
    let at_all: Vec<usize> = (0..m.hosts.len())
        .filter(|hi| vars_in[*hi].is_none())
        .collect();
    if !at_all.is_empty() {
        let mut s = String::from("  hosts:\n");
        for hi in order.arrange(at_all) {
            s.push_str(&host_entry(hi, &mut order, 4));
        }
        sections.push(s);
    }
    if !m.all_vars.is_empty() {
        sections.push(format!(
            "  vars:\n{}",
            yaml_vars(&m.all_vars, &mut order, 4)
        ));
    }
    let mut groups: Vec<String> = Vec::new();
    for (gi, gname) in GROUPS.iter().enumerate() {
        let mut parts: Vec<String> = Vec::new();
        if !members[gi].is_empty() {
            let mut s = String::from("      hosts:\n");
            for hi in order.arrange(members[gi].clone()) {
                if vars_in[hi] == Some(gi) {
                    s.push_str(&host_entry(hi, &mut order, 8));
                } else {
                    s.push_str(&format!("        {}:\n", m.hosts[hi].name));
                }
            }
            parts.push(s);
        }
        if let Some((_, v)) = m.group_vars.iter().find(|(g, _)| *g == gi) {
            parts.push(format!("      vars:\n{}", yaml_vars(v, &mut order, 8)));
        }
        if *gname == "etcd" && m.etcd_children {
            parts.push("      children:\n        kube_control_plane:\n".into());
        }
        if !parts.is_empty() || *gname == "kube_control_plane" {
            groups.push(format!("    {gname}:\n{}", order.arrange(parts).concat()));
        }
    }
    if m.k8s_children {
        groups.push(
            "    k8s_cluster:\n      children:\n        kube_control_plane:\n        kube_node:\n"
                .into(),
        );
    }
    sections.push(format!("  children:\n{}", order.arrange(groups).concat()));
    format!("all:\n{}", order.arrange(sections).concat())
}

fn ini_line(vars: &[(String, Val)], order: &mut Order) -> String {
    order
        .arrange(vars.to_vec())
        .iter()
        .map(|(k, v)| format!(" {k}={}", v.ini_host()))
        .collect()
}

fn write_ini(m: &Model, mut order: Order) -> String {
    let (members, vars_in) = memberships(m, &mut order);
    let mut sections: Vec<String> = Vec::new();
    let at_all: Vec<usize> = (0..m.hosts.len())
        .filter(|hi| vars_in[*hi].is_none())
        .collect();
    if !at_all.is_empty() {
        let mut s = String::from("[all]\n");
        for hi in order.arrange(at_all) {
            s.push_str(&format!(
                "{}{}\n",
                m.hosts[hi].name,
                ini_line(&m.hosts[hi].vars, &mut order)
            ));
        }
        sections.push(s);
    }
    for (gi, gname) in GROUPS.iter().enumerate() {
        // Every group is declared, even empty: Ansible refuses [g:vars] and
        // [p:children] entries for a group that has no section of its own (issue 9).
        {
            let mut s = format!("[{gname}]\n");
            for hi in order.arrange(members[gi].clone()) {
                let vars = if vars_in[hi] == Some(gi) {
                    ini_line(&m.hosts[hi].vars, &mut order)
                } else {
                    String::new()
                };
                s.push_str(&format!("{}{vars}\n", m.hosts[hi].name));
            }
            sections.push(s);
        }
        if let Some((_, v)) = m.group_vars.iter().find(|(g, _)| *g == gi) {
            let lines: String = order
                .arrange(v.clone())
                .iter()
                .map(|(k, v)| format!("{k}={}\n", v.ini_section()))
                .collect();
            sections.push(format!("[{gname}:vars]\n{lines}"));
        }
    }
    if m.etcd_children {
        sections.push("[etcd:children]\nkube_control_plane\n".into());
    }
    if m.k8s_children {
        let children = order
            .arrange(vec!["kube_control_plane\n", "kube_node\n"])
            .concat();
        sections.push(format!("[k8s_cluster:children]\n{children}"));
    }
    if !m.all_vars.is_empty() {
        let lines: String = order
            .arrange(m.all_vars.clone())
            .iter()
            .map(|(k, v)| format!("{k}={}\n", v.ini_section()))
            .collect();
        sections.push(format!("[all:vars]\n{lines}"));
    }
    order.arrange(sections).join("\n")
}

/// Loads `text` as `dir/name` and returns the show document.
fn resolve(dir: &Path, name: &str, text: &str) -> Result<Value, TestCaseError> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let inv = Inventory::load(&path, &[])
        .map_err(|e| TestCaseError::fail(format!("{e}\n---\n{text}")))?;
    Ok(show_json(&Cluster::build(inv), None, true))
}

/// `source: "file:12"` -> `source: "file"` everywhere (drop_file: `source` removed).
fn strip_lines(v: &Value, drop_file: bool) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !(drop_file && k.as_str() == "source"))
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("source", Value::String(s)) => {
                            let trimmed = match s.rsplit_once(':') {
                                Some((file, line))
                                    if !line.is_empty()
                                        && line.chars().all(|c| c.is_ascii_digit()) =>
                                {
                                    file
                                }
                                _ => s.as_str(),
                            };
                            Value::String(trimmed.to_string())
                        }
                        _ => strip_lines(v, drop_file),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| strip_lines(x, drop_file)).collect()),
        other => other.clone(),
    }
}

fn check_model(m: &Model, seed: u64) -> Result<(), TestCaseError> {
    let tmp = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let dir = tmp.path();
    let mut results = Vec::new();
    for (name, write) in [
        ("hosts.yaml", write_yaml as fn(&Model, Order) -> String),
        ("inventory.ini", write_ini as fn(&Model, Order) -> String),
    ] {
        let canonical_text = write(m, Order(None));
        let mut shuffler = Shuffler(seed | 1);
        let shuffled_text = write(m, Order(Some(&mut shuffler)));
        let canonical = resolve(dir, name, &canonical_text)?;
        let shuffled = resolve(dir, name, &shuffled_text)?;
        let (a, b) = (
            strip_lines(&canonical, false),
            strip_lines(&shuffled, false),
        );
        prop_assert_eq!(
            serde_json::to_string(&a).unwrap_or_default(),
            serde_json::to_string(&b).unwrap_or_default(),
            "{} differs with order:\n--- canonical\n{}\n--- shuffled\n{}",
            name,
            canonical_text,
            shuffled_text
        );
        // The document is not trivially empty: every host is there with its vars.
        prop_assert_eq!(
            canonical["hosts"].as_array().map(Vec::len),
            Some(m.hosts.len())
        );
        results.push((canonical, canonical_text));
    }
    let yaml = strip_lines(&results[0].0, true);
    let ini = strip_lines(&results[1].0, true);
    prop_assert_eq!(
        serde_json::to_string(&yaml).unwrap_or_default(),
        serde_json::to_string(&ini).unwrap_or_default(),
        "YAML and INI forms differ:\n--- yaml\n{}\n--- ini\n{}",
        results[0].1,
        results[1].1
    );
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: 64, ..Config::default() })]

    #[test]
    fn order_never_changes_the_resolved_cluster(m in model(), seed in any::<u64>()) {
        check_model(&m, seed)?;
    }
}

/// The generator and the comparison can tell inventories apart: a different variable
/// value, or a host moved to another group, changes the document.
#[test]
fn the_comparison_sees_real_differences() {
    let base = Model {
        hosts: vec![
            HostModel {
                name: "node2",
                groups: vec![0, 2],
                vars: vec![("ip".into(), Val::Word("10.0.0.2".into()))],
            },
            HostModel {
                name: "node10",
                groups: vec![1],
                vars: vec![("alpha".into(), Val::Int(5))],
            },
        ],
        group_vars: vec![(
            1,
            vec![
                ("alpha".into(), Val::Int(3)),
                ("beta".into(), Val::Template(2)),
            ],
        )],
        all_vars: vec![("gamma".into(), Val::Bool(true))],
        etcd_children: false,
        k8s_children: true,
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let doc = |m: &Model| {
        let v = resolve(tmp.path(), "hosts.yaml", &write_yaml(m, Order(None))).expect("loads");
        strip_lines(&v, false)
    };
    let a = doc(&base);
    // Host vars beat group vars; templates see the host's groups.
    let node10 = a["hosts"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["name"] == "node10"))
        .expect("node10");
    assert_eq!(node10["vars"]["alpha"]["value"], 5);
    assert_eq!(node10["vars"]["beta"]["value"], "k8s_cluster,kube_node");
    // Natural order: node2 before node10.
    assert_eq!(a["hosts"][0]["name"], "node2");

    let mut changed = base.clone();
    changed.hosts[1].vars[0].1 = Val::Int(6);
    assert_ne!(doc(&changed), a);
    let mut moved = base.clone();
    moved.hosts[1].groups = vec![0];
    assert_ne!(doc(&moved), a);
    // And the shuffled writers really shuffle (different text, same document).
    let plain = (
        write_yaml(&base, Order(None)),
        write_ini(&base, Order(None)),
    );
    let reordered = (1..20u64)
        .filter(|seed| {
            let y = write_yaml(&base, Order(Some(&mut Shuffler(*seed))));
            let i = write_ini(&base, Order(Some(&mut Shuffler(*seed))));
            y != plain.0 && i != plain.1
        })
        .count();
    assert!(
        reordered > 10,
        "only {reordered} of 19 seeds reorder the text"
    );
    for seed in 1..5 {
        check_model(&base, seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}
