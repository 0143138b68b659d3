//! cluster.yml, health and reset.yml end to end on the lab: a separate-mode cluster
//! (instance-1 control plane, instance-2 worker, instance-3 etcd-only) and an HA layout
//! with stacked etcd, with artifacts served from an offline files repository on the lab
//! bridge. Real binaries: etcd/etcdctl, containerd/ctr, runc and the CNI plugins (Debian's
//! packages repacked into the upstream archive layouts by tests/lab/files-repo.sh).
//! Stand-ins (no registry here ships them): kubeadm, kubelet, kubectl, nerdctl, crictl,
//! cilium-cli. The phases that would run kubeadm or install Cilium run in check mode here,
//! and no assertion rests on a stand-in doing real work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab_support;

use lab_support::*;
use std::path::{Path, PathBuf};

const STAND_INS: &str = "kubeadm, kubelet, kubectl, nerdctl, crictl, cilium-cli";
// Tags whose tasks need a real kubeadm/kubelet/cilium/crictl: run in check mode only.
const NEEDS_REAL_K8S: &str = "kubeadm,cilium_install,crictl,apiserver,nodes,cilium";

fn artifacts() -> PathBuf {
    files_repo()
}

const LAB_VARS: &str = "install_os_packages: false\ncontainerd_snapshotter: native\nlocal_release_dir: /var/cache/kubeforge/releases";

fn cluster_run(dir: &Path, inv: &Path, vars: &Path, playbook: &str, extra: &[&str]) -> Run {
    let inv = inv.to_str().unwrap().to_string();
    let vars = format!("@{}", vars.display());
    let pb = repo()
        .join("playbooks")
        .join(playbook)
        .to_str()
        .unwrap()
        .to_string();
    let mut args = vec!["run", "-i", inv.as_str(), pb.as_str(), "-e", vars.as_str()];
    args.extend_from_slice(extra);
    kubeforge(dir, &args)
}

fn exists(k: usize, path: &str) -> bool {
    ssh(k, &format!("test -e {path}")).0
}

const RUNTIME_FILES: &[&str] = &[
    "/usr/local/bin/containerd",
    "/usr/local/bin/ctr",
    "/usr/local/sbin/runc",
    "/usr/local/bin/nerdctl",
    "/usr/local/bin/crictl",
    "/usr/local/bin/cilium",
    "/opt/cni",
    "/etc/containerd",
    "/etc/crictl.yaml",
    "/etc/systemd/system/containerd.service",
    "/etc/systemd/system/sys-fs-bpf.mount",
];

#[test]
fn separate_layout_end_to_end() {
    let _g = LAB.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("stand-ins used by this test (no real binary can be had here): {STAND_INS}; phases tagged {NEEDS_REAL_K8S} run in check mode");
    up(3, true);
    let vars = artifacts();
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(
        tmp.path(),
        &[1, 2, 3],
        &[
            ("kube_control_plane", &[1]),
            ("kube_node", &[2]),
            ("etcd", &[3]),
        ],
        &format!("{LAB_VARS}\netcd_member_name: \"{{{{ inventory_hostname }}}}\""),
    );
    let first = cluster_run(
        tmp.path(),
        &inv,
        &vars,
        "cluster.yml",
        &["--skip-tags", NEEDS_REAL_K8S],
    );
    assert_eq!(
        first.code, 0,
        "cluster.yml failed:\n{}\n{}",
        first.stdout, first.stderr
    );

    // instance-3: a healthy etcd member and nothing container-related.
    assert_eq!(ssh(3, "systemctl is-active etcd").1.trim(), "active");
    let (ok, members) = ssh(3, "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/ssl/etcd/ssl/ca.pem --cert=/etc/ssl/etcd/ssl/admin.pem --key=/etc/ssl/etcd/ssl/admin-key.pem member list");
    assert!(ok, "{members}");
    assert_eq!(members.lines().count(), 1, "{members}");
    assert!(
        members.contains("instance-3") && members.contains("https://10.213.0.13:2380"),
        "{members}"
    );
    for f in RUNTIME_FILES {
        assert!(!exists(3, f), "etcd-only instance-3 has {f}");
    }
    assert!(
        ssh(3, "ls /opt/kubeforge")
            .1
            .lines()
            .all(|l| l.starts_with("etcd")),
        "etcd-only host got other artifacts"
    );
    // instance-1 and instance-2: containerd active and answering.
    for k in [1, 2] {
        assert_eq!(
            ssh(k, "systemctl is-active containerd").1.trim(),
            "active",
            "instance-{k}"
        );
        assert!(ssh(k, "ctr version").0, "instance-{k}: ctr version");
        assert!(exists(k, "/opt/cni/bin/bridge") && exists(k, "/usr/local/sbin/runc"));
    }
    // The control plane's etcd client certificate, signed by the controller's CA.
    assert!(exists(1, "/etc/kubernetes/ssl/etcd/node-instance-1.pem"));
    assert!(tmp.path().join("credentials/etcd/ca-key.pem").exists());

    // Health by role: every check that can run here passes.
    let inv_s = inv.to_str().unwrap().to_string();
    let vars_s = format!("@{}", vars.display());
    let health = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .current_dir(repo())
        .args([
            "health",
            "-i",
            &inv_s,
            "-e",
            &vars_s,
            "--skip-tags",
            "crictl,apiserver,nodes,cilium",
            "--known-hosts",
        ])
        .arg(lab_dir().join("known_hosts"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&health.stdout);
    assert!(
        health.status.success(),
        "health:\n{table}\n{}",
        String::from_utf8_lossy(&health.stderr)
    );
    assert!(
        table.contains("instance-3") && table.contains("etcd membership"),
        "{table}"
    );
    assert!(
        !table
            .lines()
            .any(|l| l.starts_with("instance-3") && l.contains("containerd")),
        "an etcd-only host ran a runtime check:\n{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("instance-2")
            && l.contains("containerd answers")
            && l.contains("pass")),
        "{table}"
    );

    // Converged: a second run changes nothing.
    let second = cluster_run(
        tmp.path(),
        &inv,
        &vars,
        "cluster.yml",
        &["--skip-tags", NEEDS_REAL_K8S],
    );
    assert_eq!(second.code, 0, "{}", second.stdout);
    for h in ["instance-1", "instance-2", "instance-3"] {
        assert_eq!(
            second.changed(h),
            0,
            "{h} changed on the second run: {:?}",
            second.changed_tasks()
        );
    }
    eprintln!(
        "cluster.yml: first run {:.1} s, second run {:.1} s",
        first.secs, second.secs
    );

    // The kubeadm and Cilium phases, in check mode (stand-ins cannot bootstrap).
    let check = cluster_run(
        tmp.path(),
        &inv,
        &vars,
        "cluster.yml",
        &["--tags", "kubeadm,cilium_install", "--check"],
    );
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check
            .changed_tasks()
            .iter()
            .any(|(h, t)| h == "instance-1" && t.starts_with("kubeadm init")),
        "{:?}",
        check.changed_tasks()
    );

    // Reset leaves the hosts clean, and cluster.yml works again after it.
    let reset = kubeforge(
        tmp.path(),
        &[
            "reset",
            "-i",
            &inv_s,
            "-e",
            &vars_s,
            "--yes",
            "--playbook",
            repo().join("playbooks/reset.yml").to_str().unwrap(),
        ],
    );
    assert_eq!(reset.code, 0, "{}\n{}", reset.stdout, reset.stderr);
    for k in 1..=3 {
        for f in RUNTIME_FILES.iter().chain(
            [
                "/etc/systemd/system/etcd.service",
                "/var/lib/etcd",
                "/etc/kubernetes",
                "/opt/kubeforge",
                "/usr/local/bin/etcd",
            ]
            .iter(),
        ) {
            assert!(!exists(k, f), "instance-{k} still has {f} after reset");
        }
        assert!(
            !ssh(k, "grep -q kubeforge /etc/hosts").0,
            "instance-{k}: /etc/hosts block left"
        );
        assert_ne!(
            ssh(k, "systemctl is-active etcd containerd").1.trim(),
            "active"
        );
    }
    let again = cluster_run(
        tmp.path(),
        &inv,
        &vars,
        "cluster.yml",
        &["--skip-tags", NEEDS_REAL_K8S],
    );
    assert_eq!(again.code, 0, "cluster.yml after reset:\n{}", again.stdout);
    assert_eq!(ssh(3, "systemctl is-active etcd").1.trim(), "active");
}

#[test]
fn ha_layout_with_stacked_etcd_forms_a_three_member_cluster() {
    let _g = LAB.lock().unwrap_or_else(|e| e.into_inner());
    up(4, true);
    let vars = artifacts();
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(
        tmp.path(),
        &[1, 2, 3, 4],
        &[
            ("kube_control_plane", &[1, 2, 3]),
            ("kube_node", &[4]),
            ("etcd", &[1, 2, 3]),
        ],
        LAB_VARS,
    );
    let run = cluster_run(
        tmp.path(),
        &inv,
        &vars,
        "cluster.yml",
        &["--skip-tags", NEEDS_REAL_K8S],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let (ok, health) = ssh(2, "ETCDCTL_API=3 etcdctl --endpoints=https://10.213.0.11:2379,https://10.213.0.12:2379,https://10.213.0.13:2379 --cacert=/etc/ssl/etcd/ssl/ca.pem --cert=/etc/ssl/etcd/ssl/admin.pem --key=/etc/ssl/etcd/ssl/admin-key.pem endpoint health 2>&1");
    assert!(ok, "{health}");
    assert_eq!(health.matches("is healthy").count(), 3, "{health}");
    let (_, members) = ssh(1, "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/ssl/etcd/ssl/ca.pem --cert=/etc/ssl/etcd/ssl/admin.pem --key=/etc/ssl/etcd/ssl/admin-key.pem member list");
    assert_eq!(members.lines().count(), 3, "{members}");
    assert!(!exists(4, "/usr/local/bin/etcd"), "the worker got etcd");
    assert_eq!(ssh(4, "systemctl is-active containerd").1.trim(), "active");
    let _ = std::process::Command::new("bash")
        .arg(repo().join("tests/lab/down.sh"))
        .stdin(std::process::Stdio::null())
        .output();
}

/// (host, task) pairs a run reported with `status`, sorted; with `unknown`, only those
/// whose message says check mode could not predict them (or, negated, all others).
fn steps_with(run: &Run, status: &str, unknown: Option<bool>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = run
        .events
        .iter()
        .filter(|e| e["event"] == "step_result" && e["status"] == status)
        .filter(|e| {
            let is_unknown = e["msg"]
                .as_str()
                .is_some_and(|m| m.contains("unknown in check mode"));
            unknown.is_none_or(|u| u == is_unknown)
        })
        .map(|e| {
            (
                e["host"].as_str().unwrap_or("").to_string(),
                e["task"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn check_mode_on_wiped_hosts_predicts_the_real_run() {
    let _g = LAB.lock().unwrap_or_else(|e| e.into_inner());
    up(3, true);
    let vars = artifacts();
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(
        tmp.path(),
        &[1, 2, 3],
        &[
            ("kube_control_plane", &[1]),
            ("kube_node", &[2]),
            ("etcd", &[3]),
        ],
        &format!("{LAB_VARS}\netcd_member_name: \"{{{{ inventory_hostname }}}}\""),
    );
    let check = cluster_run(
        tmp.path(),
        &inv,
        &vars,
        "cluster.yml",
        &["--check", "--skip-tags", NEEDS_REAL_K8S],
    );
    assert_eq!(
        check.code, 0,
        "--check on wiped hosts failed:\n{}\n{}",
        check.stdout, check.stderr
    );
    for k in [1, 2, 3] {
        assert!(
            !exists(k, "/etc/kubeforge"),
            "check mode changed instance-{k}"
        );
    }
    let predicted = steps_with(&check, "changed", Some(false));
    let unknown = steps_with(&check, "changed", Some(true));
    let real = cluster_run(
        tmp.path(),
        &inv,
        &vars,
        "cluster.yml",
        &["--skip-tags", NEEDS_REAL_K8S],
    );
    assert_eq!(real.code, 0, "{}\n{}", real.stdout, real.stderr);
    let changed: Vec<(String, String)> = real
        .changed_tasks()
        .into_iter()
        .filter(|s| !unknown.contains(s))
        .collect();
    let missed: Vec<_> = changed.iter().filter(|s| !predicted.contains(s)).collect();
    let wrong: Vec<_> = predicted.iter().filter(|s| !changed.contains(s)).collect();
    assert!(
        missed.is_empty() && wrong.is_empty(),
        "check mode mispredicted the real run.\nchanged but not predicted: {missed:#?}\npredicted but not changed: {wrong:#?}\n(unknown in check mode: {unknown:#?})"
    );
    eprintln!(
        "check mode predicted {} changed steps exactly; {} unknown in check mode",
        predicted.len(),
        unknown.len()
    );
}
