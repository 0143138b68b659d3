//! Day 2 on the lab's real hosts: scale (etcd 1 -> 3 members, then a worker) and
//! remove-node (a reachable worker, with a failing drain rolled back first; the first
//! etcd member while its host is stopped). Real: etcd membership changes, containerd,
//! runc, CNI, systemd, files, and kubectl itself (Debian sid's 1.36). DOUBLES (named so,
//! tests/doubles): the API server (on the lab bridge; it records every request) and
//! kubeadm (installed as the kubeadm artifact under the version name 1.36.4-double).
//! Assertions are about kubeforge's decisions: which requests, on which node, in which
//! order; which hosts changed; what the record says. Cilium and crictl phases are
//! skipped (their binaries are stand-ins here).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab_support;

use lab_support::doubles::{cordoned, kubectl, marked, ApiDouble};
use lab_support::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const SKIP: &str = "cilium_install,crictl,apiserver,nodes,cilium";
const LAB_VARS: &str = "install_os_packages: false\ncontainerd_snapshotter: native\nlocal_release_dir: /var/cache/kubeforge/releases\netcd_member_name: \"{{ inventory_hostname }}\"";

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// lab-vars.yml plus: the real kubectl (kubectl_version 1.36.4+ds from the upgrade set)
/// and the kubeadm DOUBLE with the kubelet stand-in under kube_version 1.36.4-double.
fn day2_vars(dir: &Path) -> PathBuf {
    let base = files_repo();
    let root = base.parent().unwrap().to_path_buf();
    let read = |p: &Path| -> Value {
        serde_saphyr::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let mut vars = read(&base);
    let upgrade = read(&root.join("lab-vars-upgrade.yml"));
    let release = root.join("dl.k8s.io/release");
    let dbl = release.join("v1.36.4-double/bin/linux/amd64");
    std::fs::create_dir_all(&dbl).unwrap();
    std::fs::copy(repo().join("tests/doubles/kubeadm"), dbl.join("kubeadm")).unwrap();
    std::fs::copy(
        release.join("v1.36.4-standin/bin/linux/amd64/kubelet"),
        dbl.join("kubelet"),
    )
    .unwrap();
    vars["kube_version"] = json!("1.36.4-double");
    vars["kubectl_version"] = json!("1.36.4+ds");
    let sums = vars["artifact_checksums"].as_object_mut().unwrap();
    sums.insert(
        "kubeadm".into(),
        json!({"1.36.4-double": {"amd64": sha256(&dbl.join("kubeadm"))}}),
    );
    sums.insert(
        "kubelet".into(),
        json!({"1.36.4-double": {"amd64": sha256(&dbl.join("kubelet"))}}),
    );
    sums.insert(
        "kubectl".into(),
        upgrade["artifact_checksums"]["kubectl"].clone(),
    );
    let p = dir.join("day2-vars.yml");
    std::fs::write(&p, vars.to_string()).unwrap();
    p
}

fn layout(dir: &Path, etcd: &[usize], workers: &[usize]) -> PathBuf {
    let mut hosts = vec![1];
    hosts.extend(workers.iter().chain(etcd.iter()).copied());
    hosts.sort();
    hosts.dedup();
    inventory(
        dir,
        &hosts,
        &[
            ("kube_control_plane", &[1]),
            ("kube_node", workers),
            ("etcd", etcd),
        ],
        LAB_VARS,
    )
}

fn op(dir: &Path, inv: &Path, vars: &Path, args: &[&str]) -> Run {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend([
        "-i".to_string(),
        inv.display().to_string(),
        "-e".to_string(),
        format!("@{}", vars.display()),
    ]);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    kubeforge(dir, &refs)
}

fn changed_on(run: &Run, host: &str) -> Vec<String> {
    run.changed_tasks()
        .into_iter()
        .filter(|(h, _)| h == host)
        .map(|(_, t)| t)
        .collect()
}

fn members(k: usize) -> Vec<String> {
    let (ok, out) = ssh(
        k,
        "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/ssl/etcd/ssl/ca.pem --cert=/etc/ssl/etcd/ssl/admin.pem --key=/etc/ssl/etcd/ssl/admin-key.pem member list",
    );
    assert!(ok, "member list on instance-{k}: {out}");
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| l.contains(", started, "))
        .map(|l| l.split(", ").nth(2).unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

fn record(dir: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(dir.join(".kubeforge/last-applied.json")).unwrap(),
    )
    .unwrap()
}

#[test]
fn scale_and_remove_node_on_real_hosts() {
    let _g = LAB.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("DOUBLES in this test: the API server (tests/doubles/apiserver.py) and kubeadm (tests/doubles/kubeadm); real: etcd, containerd, runc, CNI, kubectl 1.36");
    up(6, true);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let vars = day2_vars(dir);
    let kubectl = kubectl();
    let pod = |name: &str, node: &str, owner: &str| {
        json!({"metadata": {"name": name, "namespace": if owner == "DaemonSet" {"kube-system"} else {"default"},
               "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner, "name": "x", "uid": "u", "controller": true}]},
               "spec": {"nodeName": node}})
    };
    let api = ApiDouble::start(
        "10.213.0.1",
        &json!({
            "nodes": (1..=6).map(|k| json!({"metadata": {"name": format!("instance-{k}")}})).collect::<Vec<_>>(),
            "pods": [pod("web-1", "instance-2", "ReplicaSet"), pod("web-2", "instance-6", "ReplicaSet"), pod("agent-6", "instance-6", "DaemonSet")],
            "daemonsets": [{"metadata": {"name": "x", "namespace": "kube-system"}}],
        }),
    );

    // Day 1: control plane instance-1, worker instance-2, one etcd member instance-3.
    let inv = layout(dir, &[3], &[2]);
    let install = op(
        dir,
        &inv,
        &vars,
        &[
            "run",
            repo().join("playbooks/cluster.yml").to_str().unwrap(),
            "--skip-tags",
            SKIP,
        ],
    );
    assert_eq!(
        install.code, 0,
        "cluster.yml:\n{}\n{}",
        install.stdout, install.stderr
    );
    assert_eq!(members(3), ["instance-3"]);
    // kubectl on the control plane talks to the API-server double.
    let conf = api.kubeconfig().replace('\n', "\\n");
    assert!(ssh(1, &format!("printf '{conf}' > /etc/kubernetes/admin.conf")).0);

    // scale: etcd grows to 3 members, one at a time.
    let inv = layout(dir, &[3, 4, 5], &[2]);
    let scale = op(
        dir,
        &inv,
        &vars,
        &[
            "scale",
            "--limit",
            "instance-4,instance-5",
            "--skip-tags",
            SKIP,
        ],
    );
    let scale_etcd_secs = scale.secs;
    assert_eq!(
        scale.code, 0,
        "scale etcd:\n{}\n{}",
        scale.stdout, scale.stderr
    );
    assert_eq!(members(3), ["instance-3", "instance-4", "instance-5"]);
    assert!(ssh(4, "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/ssl/etcd/ssl/ca.pem --cert=/etc/ssl/etcd/ssl/admin.pem --key=/etc/ssl/etcd/ssl/admin-key.pem endpoint health --cluster").0);
    for h in ["instance-2", "instance-3"] {
        assert!(
            changed_on(&scale, h).is_empty(),
            "{h} changed during scale: {:?}",
            changed_on(&scale, h)
        );
    }
    assert_eq!(
        changed_on(&scale, "instance-1"),
        ["API server's etcd endpoints"],
        "the control plane only learns the new members"
    );
    let manifest = ssh(1, "cat /etc/kubernetes/manifests/kube-apiserver.yaml").1;
    for ip in ["10.213.0.13", "10.213.0.14", "10.213.0.15"] {
        assert!(
            manifest.contains(&format!("https://{ip}:2379")),
            "{manifest}"
        );
    }

    // scale: a worker joins; nobody else changes.
    let inv = layout(dir, &[3, 4, 5], &[2, 6]);
    let scale = op(
        dir,
        &inv,
        &vars,
        &["scale", "--limit", "instance-6", "--skip-tags", SKIP],
    );
    let scale_worker_secs = scale.secs;
    assert_eq!(
        scale.code, 0,
        "scale worker:\n{}\n{}",
        scale.stdout, scale.stderr
    );
    for k in 1..=5 {
        let h = format!("instance-{k}");
        assert!(
            changed_on(&scale, &h).is_empty(),
            "{h} changed: {:?}",
            changed_on(&scale, &h)
        );
    }
    assert_eq!(ssh(6, "systemctl is-active containerd").1.trim(), "active");
    let joins = ssh(6, "cat /var/lib/kubeadm-double/invocations.jsonl").1;
    assert!(
        joins.contains("\"join\"") || joins.contains("join --config"),
        "the kubeadm double saw no join: {joins}"
    );
    // Nothing to do the second time.
    let again = op(
        dir,
        &inv,
        &vars,
        &["scale", "--limit", "instance-6", "--skip-tags", SKIP],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.changed_tasks().is_empty(),
        "{:?}",
        again.changed_tasks()
    );

    // The operator cordons instance-2 by hand (real kubectl, through the double).
    let kc = dir.join("double.conf");
    std::fs::write(&kc, api.kubeconfig()).unwrap();
    let cordon = std::process::Command::new(&kubectl)
        .arg(format!("--kubeconfig={}", kc.display()))
        .args(["cordon", "instance-2"])
        .output()
        .unwrap();
    assert!(
        cordon.status.success(),
        "{}",
        String::from_utf8_lossy(&cordon.stderr)
    );

    // remove-node with a drain that fails: kubeforge's cordon is undone, nothing removed.
    api.configure(&json!({"fail_evictions": {"instance-6": 500}}));
    let failed = op(dir, &inv, &vars, &["remove-node", "instance-6", "--yes"]);
    assert_eq!(failed.code, 2, "{}\n{}", failed.stdout, failed.stderr);
    assert!(
        failed.stdout.contains("instance-6") && failed.stdout.contains("drain"),
        "{}",
        failed.stdout
    );
    let n6 = api.node("instance-6").unwrap();
    assert!(
        !cordoned(&n6) && !marked(&n6),
        "instance-6 left as it was: {n6}"
    );
    assert!(
        cordoned(&api.node("instance-2").unwrap()),
        "the operator's cordon stays"
    );
    assert!(record(dir)["hosts"].get("instance-6").is_some());
    assert_eq!(ssh(6, "systemctl is-active containerd").1.trim(), "active");
    assert!(members(3).len() == 3);

    // remove-node of a reachable worker.
    api.configure(&json!({"fail_evictions": {}}));
    let removed = op(dir, &inv, &vars, &["remove-node", "instance-6", "--yes"]);
    assert_eq!(removed.code, 0, "{}\n{}", removed.stdout, removed.stderr);
    assert!(
        api.node("instance-6").is_none(),
        "the Node object was deleted"
    );
    let calls = api.calls();
    let evicted = calls
        .iter()
        .position(|(m, p)| m == "POST" && p.ends_with("/pods/web-2/eviction"));
    let deleted = calls
        .iter()
        .position(|(m, p)| m == "DELETE" && p == "/api/v1/nodes/instance-6");
    assert!(
        evicted.is_some() && deleted.is_some() && evicted < deleted,
        "drain before delete: {calls:?}"
    );
    assert!(
        !ssh(6, "test -e /usr/local/bin/containerd").0,
        "instance-6 was reset"
    );
    assert!(record(dir)["hosts"].get("instance-6").is_none());
    assert!(
        cordoned(&api.node("instance-2").unwrap()),
        "the operator's cordon still stays"
    );
    let again = op(
        dir,
        &layout(dir, &[3, 4, 5], &[2]),
        &vars,
        &["remove-node", "instance-6", "--yes"],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("already removed"), "{}", again.stderr);

    // The first etcd member dies; it is removed from a healthy member (3 -> 2 is even: --force).
    host_action("stop", "instance-3");
    let inv = layout(dir, &[3, 4, 5], &[2]);
    let dead = op(
        dir,
        &inv,
        &vars,
        &["remove-node", "instance-3", "--yes", "--force"],
    );
    assert_eq!(dead.code, 0, "{}\n{}", dead.stdout, dead.stderr);
    assert!(dead.stderr.contains("does not answer"), "{}", dead.stderr);
    assert!(
        !dead
            .events
            .iter()
            .any(|e| e["event"] == "step_result" && e["host"] == "instance-3"),
        "nothing ran on the dead host"
    );
    assert_eq!(members(4), ["instance-4", "instance-5"]);
    let manifest = ssh(1, "cat /etc/kubernetes/manifests/kube-apiserver.yaml").1;
    assert!(
        !manifest.contains("10.213.0.13:2379") && manifest.contains("10.213.0.14:2379"),
        "{manifest}"
    );
    let rec = record(dir);
    assert!(rec["hosts"].get("instance-3").is_none());
    assert_eq!(rec["first_etcd"], "instance-4", "{rec:#}");
    eprintln!(
        "wall times: install {:.1}s, scale etcd 1->3 {scale_etcd_secs:.1}s, scale worker {scale_worker_secs:.1}s, remove-node failed drain {:.1}s, remove-node reachable worker {:.1}s, remove-node dead etcd member {:.1}s",
        install.secs, failed.secs, removed.secs, dead.secs
    );
}
