//! Upgrade, etcd backup/restore and recover on the lab's real hosts. Real: etcd 3.4.23 ->
//! 3.5.30 and containerd 1.6.20 -> 2.1.9 (Debian bookworm and sid builds), runc, CNI,
//! systemd, files, kubectl 1.36. DOUBLES (named so, tests/doubles): the API server on the
//! lab bridge (recording every request) and kubeadm (1.36.4-double -> 1.36.5-double).
//! An etcd client on this machine writes and reads a key every 100 ms throughout the etcd
//! upgrade while another samples each member's health: the assertions are about
//! kubeforge's order and decisions (one member down at most, writes never failing longer
//! than one restart, cordons undone only when kubeforge made them), not Kubernetes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab_support;

use lab_support::doubles::{cordoned, kubectl, marked, ApiDouble};
use lab_support::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SKIP: &str = "cilium_install,crictl,apiserver,nodes,cilium";
const LAB_VARS: &str = "install_os_packages: false\ncontainerd_snapshotter: native\nlocal_release_dir: /var/cache/kubeforge/releases\netcd_member_name: \"{{ inventory_hostname }}\"";

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// The kubeadm DOUBLE claiming `version`, and the kubelet stand-in, at dl.k8s.io paths
/// under the version name `NAME-double`; returns their checksums.
fn double_release(root: &Path, version: &str) -> (String, String) {
    let release = root.join("dl.k8s.io/release");
    let dir = release.join(format!("v{version}-double/bin/linux/amd64"));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(repo().join("tests/doubles/kubeadm"))
        .unwrap()
        .replace(
            "VERSION = \"v1.36.4\"",
            &format!("VERSION = \"v{version}\""),
        );
    std::fs::write(dir.join("kubeadm"), text).unwrap();
    std::fs::copy(
        release.join("v1.36.4-standin/bin/linux/amd64/kubelet"),
        dir.join("kubelet"),
    )
    .unwrap();
    (sha256(&dir.join("kubeadm")), sha256(&dir.join("kubelet")))
}

/// (install vars, upgrade vars): bookworm's etcd/containerd and kube 1.36.4-double, then
/// sid's etcd/containerd and kube 1.36.5-double; the real kubectl in both.
fn vars(dir: &Path) -> (PathBuf, PathBuf) {
    let base = files_repo();
    let root = base.parent().unwrap().to_path_buf();
    let read = |p: &Path| -> Value {
        serde_saphyr::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let upgrade = read(&root.join("lab-vars-upgrade.yml"));
    let mut out = Vec::new();
    for (name, src, kube) in [
        ("install", read(&base), "1.36.4"),
        ("upgrade", upgrade.clone(), "1.36.5"),
    ] {
        let mut v = src;
        let (adm, let_) = double_release(&root, kube);
        v["kube_version"] = json!(format!("{kube}-double"));
        v["kubectl_version"] = json!("1.36.4+ds");
        let sums = v["artifact_checksums"].as_object_mut().unwrap();
        sums.insert(
            "kubeadm".into(),
            json!({format!("{kube}-double"): {"amd64": adm}}),
        );
        sums.insert(
            "kubelet".into(),
            json!({format!("{kube}-double"): {"amd64": let_}}),
        );
        sums.insert(
            "kubectl".into(),
            upgrade["artifact_checksums"]["kubectl"].clone(),
        );
        let p = dir.join(format!("{name}-vars.yml"));
        std::fs::write(&p, v.to_string()).unwrap();
        out.push(p);
    }
    (out[0].clone(), out[1].clone())
}

fn op(dir: &Path, inv: &Path, vars: &Path, args: &[&str]) -> Run {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend([
        "-i".into(),
        inv.display().to_string(),
        "-e".into(),
        format!("@{}", vars.display()),
    ]);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    kubeforge(dir, &refs)
}

/// etcdctl 3.4 on this machine, with the controller's admin certificate.
struct Client {
    bin: PathBuf,
    creds: PathBuf,
}

impl Client {
    fn new(dir: &Path) -> Client {
        let tgz = PathBuf::from("/var/cache/kubeforge-lab/files/github.com/etcd-io/etcd/releases/download/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz");
        let ok = Command::new("tar")
            .arg("-xzf")
            .arg(&tgz)
            .arg("-C")
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot unpack etcdctl from {}", tgz.display());
        Client {
            bin: dir.join("etcd-v3.4.23-linux-amd64/etcdctl"),
            creds: dir.join("credentials/etcd"),
        }
    }
    fn cmd(&self, endpoints: &str, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={endpoints}"))
            .arg(format!("--cacert={}", self.creds.join("ca.pem").display()))
            .arg(format!("--cert={}", self.creds.join("admin.pem").display()))
            .arg(format!(
                "--key={}",
                self.creds.join("admin-key.pem").display()
            ))
            .arg("--command-timeout=2s")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        c
    }
    fn ok(&self, endpoints: &str, args: &[&str]) -> Option<String> {
        let out = self.cmd(endpoints, args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

const ENDPOINTS: &str =
    "https://10.213.0.14:2379,https://10.213.0.15:2379,https://10.213.0.16:2379";

fn version_of(k: usize, cmd: &str) -> String {
    ssh(k, cmd).1
}

#[test]
fn upgrade_backup_restore_recover_on_real_hosts() {
    let _g = LAB.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!("DOUBLES in this test: the API server (tests/doubles/apiserver.py) and kubeadm (tests/doubles/kubeadm); real: etcd, containerd, runc, CNI, kubectl 1.36");
    up(6, true);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (install_vars, upgrade_vars) = vars(dir);
    let kubectl = kubectl();
    let pod = |name: &str, node: &str| {
        json!({"metadata": {"name": name, "namespace": "default",
               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "u", "controller": true}]},
               "spec": {"nodeName": node}})
    };
    let api = ApiDouble::start(
        "10.213.0.1",
        &json!({"nodes": (1..=3).map(|k| json!({"metadata": {"name": format!("instance-{k}")}})).collect::<Vec<_>>(),
                "pods": [pod("web-2", "instance-2"), pod("web-3", "instance-3")]}),
    );
    // Control plane 1, workers 2 and 3, etcd-only 4, 5, 6.
    let inv = inventory(
        dir,
        &[1, 2, 3, 4, 5, 6],
        &[
            ("kube_control_plane", &[1]),
            ("kube_node", &[2, 3]),
            ("etcd", &[4, 5, 6]),
        ],
        LAB_VARS,
    );
    let install = op(
        dir,
        &inv,
        &install_vars,
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
    let conf = api.kubeconfig().replace('\n', "\\n");
    assert!(ssh(1, &format!("printf '{conf}' > /etc/kubernetes/admin.conf")).0);
    let kc = dir.join("double.conf");
    std::fs::write(&kc, api.kubeconfig()).unwrap();
    let by_hand = |args: &[&str]| {
        let o = Command::new(&kubectl)
            .arg(format!("--kubeconfig={}", kc.display()))
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    // The operator cordons instance-3 for reasons of their own.
    by_hand(&["cordon", "instance-3"]);

    // Refusals before anything runs: a Kubernetes downgrade and a skipped minor.
    for (v, says) in [
        ("1.35.9", "does not downgrade"),
        ("1.38.0", "upgrade to 1.37.x first"),
    ] {
        let mut wrong: Value =
            serde_json::from_str(&std::fs::read_to_string(&upgrade_vars).unwrap()).unwrap();
        wrong["kube_version"] = json!(v);
        let wrong_vars = dir.join(format!("wrong-{v}.yml"));
        std::fs::write(&wrong_vars, wrong.to_string()).unwrap();
        let r = op(dir, &inv, &wrong_vars, &["upgrade", "--skip-tags", SKIP]);
        assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(says), "{}", r.stderr);
    }

    // A drain that fails: the node kubeforge cordoned is uncordoned, exit 2 names it.
    api.configure(&json!({"fail_evictions": {"instance-2": 500}}));
    let failed = op(
        dir,
        &inv,
        &upgrade_vars,
        &["upgrade", "--limit", "kube_node", "--skip-tags", SKIP],
    );
    assert_eq!(failed.code, 2, "{}\n{}", failed.stdout, failed.stderr);
    assert!(
        failed
            .stdout
            .contains("upgrade of instance-2 failed at 'Drain'"),
        "{}",
        failed.stdout
    );
    let n2 = api.node("instance-2").unwrap();
    assert!(
        !cordoned(&n2) && !marked(&n2),
        "no node left cordoned by kubeforge: {n2}"
    );
    assert!(cordoned(&api.node("instance-3").unwrap()));
    api.configure(&json!({"fail_evictions": {}, "pod_deletion_delay": 8}));

    // The etcd client and the health sampler, through the whole upgrade.
    let client = Arc::new(Client::new(dir));
    for i in 0..20 {
        assert!(client
            .ok(ENDPOINTS, &["put", &format!("before-{i}"), "v"])
            .is_some());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writes: Arc<Mutex<Vec<(Instant, bool)>>> = Arc::default();
    let samples: Arc<Mutex<Vec<usize>>> = Arc::default();
    let writer = {
        let (c, stop, writes) = (client.clone(), stop.clone(), writes.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let ok = c
                    .ok(ENDPOINTS, &["put", &format!("during-{i}"), "v"])
                    .is_some()
                    && c.ok(ENDPOINTS, &["get", &format!("during-{i}")]).is_some();
                writes.lock().unwrap().push((Instant::now(), ok));
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let sampler = {
        let (c, stop, samples) = (client.clone(), stop.clone(), samples.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let down = ENDPOINTS
                    .split(',')
                    .filter(|e| c.ok(e, &["endpoint", "health"]).is_none())
                    .count();
                samples.lock().unwrap().push(down);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    // The upgrade, interrupted (Ctrl-C) once a worker is cordoned, then run again.
    let events = dir.join("interrupted.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["upgrade", "-i"])
        .arg(&inv)
        .arg("-e")
        .arg(format!("@{}", upgrade_vars.display()))
        .args(["--skip-tags", SKIP, "--known-hosts"])
        .arg(lab_dir().join("known_hosts"))
        .arg("--output")
        .arg(format!("json={}", events.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        if text.lines().any(|l| {
            l.contains("\"Cordon (unless already cordoned)\"") && l.contains("\"changed\"")
        }) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "no worker was cordoned"
        );
        if child.try_wait().unwrap().is_some() {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            panic!(
                "the upgrade ended before cordoning a worker; its last events:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted upgrade");
    let rec: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(".kubeforge/last-applied.json")).unwrap(),
    )
    .unwrap();
    assert!(
        rec["marks"].get("instance-2").is_some(),
        "the cordon is remembered: {rec:#}"
    );
    assert!(marked(&api.node("instance-2").unwrap()));

    let upgrade = op(dir, &inv, &upgrade_vars, &["upgrade", "--skip-tags", SKIP]);
    assert_eq!(
        upgrade.code, 0,
        "upgrade:\n{}\n{}",
        upgrade.stdout, upgrade.stderr
    );
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    sampler.join().unwrap();

    // etcd: every member on 3.5.30, never two down at once, writes never failing long.
    for k in [4, 5, 6] {
        assert!(
            version_of(k, "etcd --version").contains("3.5.30"),
            "instance-{k}"
        );
    }
    let most_down = samples.lock().unwrap().iter().copied().max().unwrap_or(0);
    assert!(
        most_down <= 1,
        "{most_down} etcd members were down at the same moment"
    );
    let writes = writes.lock().unwrap();
    let mut longest = Duration::ZERO;
    let mut since: Option<Instant> = None;
    for (at, ok) in writes.iter() {
        match (ok, since) {
            (false, None) => since = Some(*at),
            (true, Some(s)) => {
                longest = longest.max(*at - s);
                since = None;
            }
            _ => {}
        }
    }
    assert!(
        writes.iter().filter(|(_, ok)| *ok).count() > 20,
        "the client wrote during the upgrade"
    );
    assert!(
        longest < Duration::from_secs(10),
        "writes failed for {longest:?} in a row"
    );
    for i in 0..20 {
        assert!(client
            .ok(ENDPOINTS, &["get", &format!("before-{i}")])
            .unwrap()
            .contains(&format!("before-{i}")));
    }
    // The snapshot taken before the first restart, checksummed, accepted by etcdctl.
    let backups = dir.join(".kubeforge/backups");
    let snap = std::fs::read_dir(&backups)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .expect("a pre-upgrade snapshot on the controller");
    assert!(snap.with_extension("db.sha256").is_file());
    let status = Command::new(&client.bin)
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status"])
        .arg(&snap)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "snapshot status: {}",
        String::from_utf8_lossy(&status.stderr)
    );

    // containerd 2.x with the new config format on every k8s host; nothing on etcd-only hosts.
    for k in [1, 2, 3] {
        assert!(
            version_of(k, "ctr version").contains("2.1.9"),
            "instance-{k}"
        );
        assert!(
            ssh(k, "grep -qx 'version = 3' /etc/containerd/config.toml").0,
            "instance-{k}"
        );
    }
    for k in [4, 5, 6] {
        assert!(
            !ssh(
                k,
                "test -e /usr/local/bin/containerd || test -e /etc/containerd"
            )
            .0,
            "instance-{k} has a runtime"
        );
    }
    // Cordons: instance-2 (kubeforge's, from the interrupted run) undone; the operator's stays.
    let n2 = api.node("instance-2").unwrap();
    assert!(!cordoned(&n2) && !marked(&n2), "{n2}");
    assert!(
        cordoned(&api.node("instance-3").unwrap()),
        "the operator's cordon stays"
    );
    let adm = ssh(1, "cat /var/lib/kubeadm-double/invocations.jsonl").1;
    assert!(
        adm.contains("upgrade apply") || adm.contains("\"apply\""),
        "kubeadm upgrade apply on the first control plane: {adm}"
    );

    // A second upgrade changes nothing.
    let again = op(dir, &inv, &upgrade_vars, &["upgrade", "--skip-tags", SKIP]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.changed_tasks().is_empty(),
        "{:?}",
        again.changed_tasks()
    );

    // Backup, lose every member's data, restore.
    for i in 0..10 {
        assert!(client
            .ok(ENDPOINTS, &["put", &format!("kept-{i}"), "v"])
            .is_some());
    }
    let backup = op(dir, &inv, &upgrade_vars, &["etcd", "backup", "--keep", "2"]);
    assert_eq!(backup.code, 0, "{}\n{}", backup.stdout, backup.stderr);
    let file = PathBuf::from(backup.stdout.lines().last().unwrap().trim());
    assert!(
        file.is_file() && file.with_extension("db.sha256").is_file(),
        "{}",
        file.display()
    );
    for k in [4, 5, 6] {
        assert!(ssh(k, "systemctl stop etcd && rm -rf /var/lib/etcd").0);
    }
    let restore = op(
        dir,
        &inv,
        &upgrade_vars,
        &[
            "etcd",
            "restore",
            "--snapshot",
            file.to_str().unwrap(),
            "--yes",
        ],
    );
    assert_eq!(restore.code, 0, "{}\n{}", restore.stdout, restore.stderr);
    let members = client.ok(ENDPOINTS, &["member", "list"]).unwrap();
    assert_eq!(members.matches(", started, ").count(), 3, "{members}");
    for i in 0..10 {
        assert!(client
            .ok(ENDPOINTS, &["get", &format!("kept-{i}")])
            .unwrap()
            .contains("kept"));
    }

    // One member wiped, quorum kept: recover removes it and adds it back.
    assert!(ssh(6, "systemctl stop etcd && rm -rf /var/lib/etcd").0);
    let recover = op(dir, &inv, &upgrade_vars, &["recover", "--yes"]);
    assert_eq!(recover.code, 0, "{}\n{}", recover.stdout, recover.stderr);
    assert!(
        client
            .ok("https://10.213.0.16:2379", &["endpoint", "health"])
            .is_some(),
        "instance-6 is back"
    );
    let members = client.ok(ENDPOINTS, &["member", "list"]).unwrap();
    assert_eq!(members.matches(", started, ").count(), 3, "{members}");
    eprintln!(
        "wall times: install {:.1}s, upgrade (after the interrupted run) {:.1}s, second upgrade {:.1}s, backup {:.1}s, restore {:.1}s, recover {:.1}s; longest write outage {:?}",
        install.secs, upgrade.secs, again.secs, backup.secs, restore.secs, recover.secs, longest
    );
}
