//! How values written in an inventory become typed variables, through the library
//! (`Inventory::from_text` + `Cluster::build`): INI values are read as Python
//! literals (as Ansible does), YAML values as YAML 1.1, and templates are rendered
//! in each host's context whichever format they came from.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kubeforge::cluster::Cluster;
use kubeforge::inventory::Inventory;
use serde_json::{json, Value};

fn cluster(text: &str, name: &str) -> Cluster {
    let inv = Inventory::from_text(text, name).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    Cluster::build(inv)
}

fn var(c: &Cluster, host: &str, name: &str) -> Value {
    let h = c.host(host).unwrap_or_else(|| panic!("no host {host}"));
    h.var(name)
        .cloned()
        .unwrap_or_else(|| panic!("{host} has no {name}: {:?}", c.diagnostics))
}

#[test]
fn ini_values_are_python_literals() {
    let c = cluster(
        "[kube_node]\nn1 a=True b=true c=42 d=0644 e=1.5 f=\"'42'\" g=None h=[1,2] i=10.0.0.1 j=-3\n[all:vars]\nk={'x': 1}\nl='quoted text'\nm=yes\n",
        "v.ini",
    );
    let cases = [
        ("a", json!(true)),
        ("b", json!("true")),
        ("c", json!(42)),
        ("d", json!("0644")),
        ("e", json!(1.5)),
        // Ansible: shlex takes the outer quotes, literal_eval the inner ones (issue 9);
        // a plain f="42" is the int 42.
        ("f", json!("42")),
        ("g", Value::Null),
        ("h", json!([1, 2])),
        ("i", json!("10.0.0.1")),
        ("j", json!(-3)),
        ("k", json!({"x": 1})),
        ("l", json!("quoted text")),
        ("m", json!("yes")),
    ];
    for (name, want) in cases {
        assert_eq!(var(&c, "n1", name), want, "{name}");
    }
}

#[test]
fn yaml_values_keep_their_types() {
    let c = cluster(
        "all:\n  hosts:\n    n1:\n      a: true\n      b: yes\n      c: 42\n      d: 0644\n      e: \"1.5\"\n      f: ~\n      g: [1, 2]\n      h: fd00::1\n      i: \"{# a Jinja comment #}x\"\n",
        "v.yaml",
    );
    let cases = [
        ("a", json!(true)),
        ("b", json!(true)),
        ("c", json!(42)),
        ("d", json!("0644")),
        ("e", json!("1.5")),
        ("f", Value::Null),
        ("g", json!([1, 2])),
        ("h", json!("fd00::1")),
        // Any Jinja marker makes a template, comments included (as in Ansible).
        ("i", json!("x")),
    ];
    for (name, want) in cases {
        assert_eq!(var(&c, "n1", name), want, "{name}");
    }
}

/// `x={{ y }}` in an INI vars section is a template, not a Python/YAML dict literal
/// (it used to come out as the mapping `{"{\"y\":null}": null}`).
#[test]
fn ini_templates_are_rendered_not_read_as_dicts() {
    let c = cluster(
        "[kube_control_plane]\nn1 ip=10.0.0.1 z=\"{{ base }}/z\"\nn2 ip=10.0.0.2\n\
         [all:vars]\nbase=/etc/k8s\nplain={{ base }}\nhost={{ inventory_hostname }}\n\
         list=[{{ 1 + 1 }}, 3]\nnumber={{ 40 + 2 }}\n",
        "t.ini",
    );
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
    assert_eq!(var(&c, "n1", "plain"), json!("/etc/k8s"));
    assert_eq!(var(&c, "n2", "host"), json!("n2"));
    assert_eq!(var(&c, "n1", "z"), json!("/etc/k8s/z"));
    assert_eq!(var(&c, "n1", "list"), json!([2, 3]));
    assert_eq!(var(&c, "n1", "number"), json!(42));
}

#[test]
fn ini_and_yaml_templates_agree() {
    let ini = cluster(
        "[kube_control_plane]\ncp1 ip=10.0.0.1\n[kube_node]\nw1 ip=10.0.0.2\n[all:vars]\npeers={{ groups['kube_node'] | join(',') }}\nme={{ inventory_hostname }}@{{ ip }}\n",
        "a.ini",
    );
    let yaml = cluster(
        "all:\n  vars:\n    peers: \"{{ groups['kube_node'] | join(',') }}\"\n    me: \"{{ inventory_hostname }}@{{ ip }}\"\n  children:\n    kube_control_plane:\n      hosts:\n        cp1: {ip: 10.0.0.1}\n    kube_node:\n      hosts:\n        w1: {ip: 10.0.0.2}\n",
        "a.yaml",
    );
    for c in [&ini, &yaml] {
        assert_eq!(var(c, "cp1", "peers"), json!("w1"));
        assert_eq!(var(c, "cp1", "me"), json!("cp1@10.0.0.1"));
        assert_eq!(var(c, "w1", "me"), json!("w1@10.0.0.2"));
    }
}

/// One broken variable does not hide a host's other variables: its address, port and
/// settings still count, so validation reports the real problem and nothing made up.
#[test]
fn a_broken_variable_leaves_the_others_resolved() {
    let c = cluster(
        "[kube_control_plane]\nn1 ip=10.0.0.1 ansible_port=2200 broken=\"{{ nope }}\"\n[kube_node]\nn1\n[etcd]\nn1\n[all:vars]\nkube_network_plugin=cni\n",
        "b.ini",
    );
    let h = c.host("n1").expect("n1");
    assert_eq!(
        h.ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["10.0.0.1"]
    );
    assert_eq!(h.ssh.port, 2200);
    assert_eq!(h.settings.kube_network_plugin, "cni");
    assert!(h.var("broken").is_none());
    // An undefined name may be defined at run time, as in Ansible (issue 9): a warning.
    let diags = kubeforge::validate::validate(&c);
    assert!(!diags.iter().any(|d| d.is_error()), "{diags:?}");
    let errors: Vec<_> = diags
        .into_iter()
        .filter(|d| d.code == "template-deferred")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        errors[0].message,
        "variable 'broken' for host n1 is left for run time: 'nope' is undefined"
    );
    assert_eq!(
        errors[0]
            .location
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("b.ini:2")
    );
}

/// The same failing definition on many hosts is one error naming them.
#[test]
fn one_error_per_broken_definition() {
    let mut text = String::from("[kube_node]\n");
    for i in 1..=6 {
        text.push_str(&format!("w{i} ip=10.0.0.{i}\n"));
    }
    text.push_str("[all:vars]\nx={{ missing }}\n");
    let c = cluster(&text, "m.ini");
    let templates: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.code == "template-deferred")
        .collect();
    assert_eq!(templates.len(), 1, "{templates:?}");
    assert_eq!(
        templates[0].message,
        "variable 'x' for hosts w1, w2, w3 and 3 more is left for run time: 'missing' is undefined"
    );
    // A definition whose failure differs per host is reported per host.
    let c = cluster(
        "[kube_node]\nw1\nw2\n[all:vars]\nx={{ lookup('file', '/nonexistent/kubeforge-test/' + inventory_hostname) }}\n",
        "p.ini",
    );
    let templates: Vec<_> = c
        .diagnostics
        .iter()
        .filter(|d| d.code == "template")
        .collect();
    assert_eq!(templates.len(), 2, "{templates:?}");
}

#[test]
fn host_patterns_and_ports() {
    let c = cluster(
        "[kube_node]\nnode[01:03] ip=10.0.0.9\nweb[a:b]:2222\n",
        "r.ini",
    );
    let names: Vec<&str> = c.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["node01", "node02", "node03", "weba", "webb"]);
    assert_eq!(c.host("webb").expect("webb").ssh.port, 2222);
    assert_eq!(c.host("node02").expect("node02").ssh.port, 22);
}

/// k8s_cluster always holds the control plane and the nodes (Kubespray's dynamic
/// groups), even when the inventory declares the group only for its vars. (In INI the
/// group must be declared, [k8s_cluster] even empty: Ansible refuses a [g:vars] section
/// for a group that is never declared, issue 9.)
#[test]
fn k8s_cluster_vars_apply_without_children() {
    let e = Inventory::from_text(
        "[kube_control_plane]\ncp1\n[k8s_cluster:vars]\nmarker=k8s\n",
        "k.ini",
    )
    .map(|_| ())
    .expect_err("undeclared group");
    assert!(e.to_string().contains("[k8s_cluster:vars]"), "{e}");
    for (text, name) in [
        ("[kube_control_plane]\ncp1\n[kube_node]\nw1\n[etcd]\ne1\n[k8s_cluster]\n[k8s_cluster:vars]\nmarker=k8s\n", "k.ini"),
        (
            "all:\n  children:\n    kube_control_plane: {hosts: {cp1: }}\n    kube_node: {hosts: {w1: }}\n    etcd: {hosts: {e1: }}\n    k8s_cluster:\n      vars: {marker: k8s}\n",
            "k.yaml",
        ),
    ] {
        let c = cluster(text, name);
        assert_eq!(var(&c, "cp1", "marker"), json!("k8s"), "{name}");
        assert_eq!(var(&c, "w1", "marker"), json!("k8s"), "{name}");
        assert!(c.host("e1").expect("e1").var("marker").is_none(), "{name}: etcd-only host is not in k8s_cluster");
        assert_eq!(c.layout.as_str(), "separate", "{name}");
    }
}
