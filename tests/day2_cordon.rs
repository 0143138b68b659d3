//! Cordon bookkeeping with the real kubectl (Debian sid's 1.36) against the API-server
//! DOUBLE (tests/doubles/apiserver.py, not Kubernetes): kubeforge cordons only
//! schedulable nodes, marks what it cordoned (on the node and in the last-applied
//! record), and uncordons only nodes carrying its mark; an operator's cordon stays. The
//! assertions are about kubeforge's requests and decisions, read back from the double.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab_support;

use lab_support::doubles::{cordoned, kubectl, marked, write, ApiDouble};
use serde_json::json;
use std::process::{Command, Stdio};

fn play(dir: &std::path::Path, state: &str, kubectl: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join(format!("{state}.yml"));
    write(
        &p,
        &format!(
            "- hosts: all\n  tasks:\n    - name: {state} {{{{ item }}}}\n      cordon: {{node: \"{{{{ item }}}}\", state: {state}, kubectl: {k}, kubeconfig: \"{{{{ root }}}}/admin.conf\"}}\n      loop: [node-a, node-b]\n",
            k = kubectl.display()
        ),
    );
    p
}

fn run(dir: &std::path::Path, playbook: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["run", "-i"])
        .arg(dir.join("hosts.yaml"))
        .arg(playbook)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn kubeforge_uncordons_only_what_it_cordoned() {
    let kubectl = kubectl();
    let double = ApiDouble::start(
        "127.0.0.1",
        &json!({"nodes": [
            {"metadata": {"name": "node-a"}},
            {"metadata": {"name": "node-b"}, "spec": {"unschedulable": true}}
        ]}),
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("admin.conf"), &double.kubeconfig());
    write(
        &dir.join("hosts.yaml"),
        &format!(
            "all:\n  vars: {{ansible_connection: local, root: {}}}\n  children:\n    kube_control_plane:\n      hosts:\n        cp1: {{ip: 127.0.0.11}}\n    etcd:\n      hosts:\n        cp1:\n",
            dir.display()
        ),
    );
    let cordon = play(dir, "cordoned", &kubectl);
    let uncordon = play(dir, "uncordoned", &kubectl);

    let (code, out) = run(dir, &cordon);
    assert_eq!(code, 0, "{out}");
    let a = double.node("node-a").unwrap();
    let b = double.node("node-b").unwrap();
    assert!(
        cordoned(&a) && marked(&a),
        "node-a cordoned and marked: {a}"
    );
    assert!(
        cordoned(&b) && !marked(&b),
        "the operator's cordon is left alone: {b}"
    );
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(".kubeforge/last-applied.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["marks"]["node-a"]["mark"], "cordoned-by", "{rec:#}");
    assert!(rec["marks"].get("node-b").is_none(), "{rec:#}");
    // kubeforge marked node-a before cordoning it, and patched nothing on node-b.
    let patches: Vec<String> = double
        .calls()
        .into_iter()
        .filter(|(m, _)| m == "PATCH")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        patches,
        ["/api/v1/nodes/node-a", "/api/v1/nodes/node-a"],
        "{patches:?}"
    );

    // Converged: nothing to do the second time.
    let (code, out) = run(dir, &cordon);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("changed: [cp1]"), "{out}");

    let (code, out) = run(dir, &uncordon);
    assert_eq!(code, 0, "{out}");
    let a = double.node("node-a").unwrap();
    let b = double.node("node-b").unwrap();
    assert!(!cordoned(&a) && !marked(&a), "node-a back, mark gone: {a}");
    assert!(cordoned(&b), "node-b still cordoned by its operator: {b}");
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(".kubeforge/last-applied.json")).unwrap(),
    )
    .unwrap();
    assert!(
        rec.get("marks").is_none_or(|m| m.get("node-a").is_none()),
        "{rec:#}"
    );
}
