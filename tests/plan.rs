//! `kubeforge plan` on the sample inventory: the placement report says, per host, the
//! roles, the components and every task that will run there, and an etcd-only host is
//! never sent a container-runtime or Kubernetes task.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn plan_json(playbook: &str) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .current_dir(root)
        .args([
            "plan",
            "-i",
            "inventory/sample",
            playbook,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn host<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap()
}

fn tasks(h: &Value) -> Vec<(String, Vec<String>)> {
    h["plays"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["tasks"].as_array().unwrap().iter())
        .map(|t| {
            (
                format!(
                    "{}: {}",
                    t["role"].as_str().unwrap_or("-"),
                    t["name"].as_str().unwrap()
                ),
                t["needs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn the_etcd_only_host_gets_etcd_and_nothing_container_related() {
    let doc = plan_json("playbooks/cluster.yml");
    assert_eq!(doc["layout"], "separate");
    let e = host(&doc, "instance-3");
    assert_eq!(e["components"], serde_json::json!(["etcd"]));
    let plays: Vec<&str> = e["plays"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["play"].as_str().unwrap())
        .collect();
    assert_eq!(plays, ["Prepare hosts", "etcd cluster", "etcd health"]);
    for (name, needs) in tasks(e) {
        assert!(
            needs.iter().all(|n| n == "etcd"),
            "{name} needs {needs:?} on the etcd-only host"
        );
        assert!(
            !name.contains("containerd") && !name.contains("kubelet"),
            "{name}"
        );
    }
    // The control plane runs the runtime, Kubernetes and Cilium tasks; kubeadm init once.
    let cp = tasks(host(&doc, "instance-1"));
    for want in [
        "container_engine: containerd running and enabled",
        "kubernetes: kubeadm init on the first control plane",
        "network_plugin: Cilium installed (once, from the first control plane)",
    ] {
        assert!(cp.iter().any(|(n, _)| n == want), "instance-1 lacks {want}");
    }
    let worker = tasks(host(&doc, "instance-2"));
    assert!(
        !worker
            .iter()
            .any(|(n, _)| n.starts_with("kubernetes: kubeadm init")),
        "kubeadm init on a worker"
    );
    assert!(
        !worker.iter().any(|(n, _)| n.starts_with("etcd:")),
        "etcd tasks on a worker"
    );
    assert!(worker.iter().any(|(n, _)| n == "kubernetes: Worker join"));
}

#[test]
fn reset_and_health_are_placed_by_role_too() {
    let health = plan_json("playbooks/health.yml");
    let e: Vec<String> = tasks(host(&health, "instance-3"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(e, ["-: etcd endpoint health", "-: etcd membership"]);
    let reset = plan_json("playbooks/reset.yml");
    let e: Vec<String> = tasks(host(&reset, "instance-3"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(!e.iter().any(|n| n.contains("kubeadm reset")), "{e:?}");
    assert!(
        e.iter().any(|n| n.contains("Stop and disable etcd")),
        "{e:?}"
    );
}

/// `kubeforge plan` of an inline playbook on the sample inventory: (exit code, stderr).
fn plan_of(book: &str, extra: &[&str]) -> (i32, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("play.yml");
    std::fs::write(&path, book).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .current_dir(root)
        .args(["plan", "-i", "inventory/sample"])
        .arg(&path)
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_notify_naming_no_handler_is_refused_at_its_line() {
    let (code, err) = plan_of(
        "- hosts: kube_node\n  tasks:\n    - name: conf\n      copy: {dest: /tmp/x, content: x}\n      notify: restart kubelt\n  handlers:\n    - name: restart kubelet\n      command: \"true\"\n    - name: other\n      command: \"true\"\n      listen: restart all\n",
        &[],
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("notifies 'restart kubelt'"), "{err}");
    assert!(err.contains("play.yml:3"), "{err}");
    assert!(err.contains("restart kubelet, other"), "{err}");
    // By name, by listen topic and templated (decided at run time): accepted.
    let (code, err) = plan_of(
        "- hosts: kube_node\n  tasks:\n    - name: conf\n      copy: {dest: /tmp/x, content: x}\n      notify: [restart kubelet, restart all, \"{{ which }}\"]\n  handlers:\n    - name: restart kubelet\n      command: \"true\"\n    - name: other\n      command: \"true\"\n      listen: restart all\n",
        &[],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_literal_delegate_to_naming_no_host_is_refused() {
    let (code, err) = plan_of(
        "- hosts: kube_node\n  tasks:\n    - name: ask\n      command: \"true\"\n      delegate_to: instance-9\n",
        &[],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("delegated to 'instance-9', which is not in the inventory"),
        "{err}"
    );
    assert!(err.contains("play.yml:3"), "{err}");
}

#[test]
fn tags_that_match_nothing_are_named_in_a_warning() {
    let (code, err) = plan_of(
        "- hosts: kube_node\n  tasks:\n    - name: conf\n      command: \"true\"\n      tags: [kubelet, config]\n",
        &["--tags", "kublet"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--tags kublet matches no task"), "{err}");
    assert!(err.contains("its tags: config, kubelet"), "{err}");
    let (_, err) = plan_of(
        "- hosts: kube_node\n  tasks:\n    - name: conf\n      command: \"true\"\n      tags: [kubelet]\n",
        &["--tags", "kubelet"],
    );
    assert!(!err.contains("matches no task"), "{err}");
}
