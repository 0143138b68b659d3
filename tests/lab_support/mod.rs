//! Shared helpers for tests on the lab's real hosts (tests/lab/up.sh): boot, reach,
//! inspect, and run kubeforge against them. Lab tests run as root (CI is root) and
//! fail loudly, never skip, when the lab cannot be booted.
#![allow(dead_code)]

pub mod doubles;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

/// One lab user at a time inside a test binary.
pub static LAB: Mutex<()> = Mutex::new(());

/// The lab's state directory.
pub fn lab_dir() -> PathBuf {
    PathBuf::from(std::env::var("KF_LAB_DIR").unwrap_or_else(|_| "/run/kubeforge-lab".into()))
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.arg(repo().join("tests/lab").join(name))
        .args(args)
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output()
        .unwrap_or_else(|e| panic!("cannot run tests/lab/{name}: {e}"))
}

/// Boots `n` hosts (fresh overlays when `fresh`) and returns the lab inventory text.
pub fn up(n: usize, fresh: bool) -> String {
    let n = n.to_string();
    let out = script(
        "up.sh",
        &[&n],
        if fresh { &[("KF_LAB_FRESH", "1")] } else { &[] },
    );
    assert!(
        out.status.success(),
        "the lab did not boot (tests/lab/up.sh {n}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// As `up`, with extra environment for up.sh (e.g. KF_LAB_BIND_CONTAINERD=1).
pub fn up_with(n: usize, fresh: bool, env: &[(&str, &str)]) -> String {
    let n = n.to_string();
    let mut all: Vec<(&str, &str)> = env.to_vec();
    if fresh {
        all.push(("KF_LAB_FRESH", "1"));
    }
    let out = script("up.sh", &[&n], &all);
    assert!(
        out.status.success(),
        "the lab did not boot (tests/lab/up.sh {n}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs tests/lab/host.sh.
pub fn host_action(action: &str, name: &str) {
    let out = script("host.sh", &[action, name], &[]);
    assert!(
        out.status.success(),
        "host.sh {action} {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// IPv4 address of instance-K.
pub fn addr(k: usize) -> String {
    format!("10.213.0.{}", 10 + k)
}

/// Runs a shell command on instance-K as root; returns (success, stdout).
pub fn ssh(k: usize, cmd: &str) -> (bool, String) {
    let dir = lab_dir();
    let out = Command::new("ssh")
        .args(["-F", "/dev/null", "-i"])
        .arg(dir.join("id_ed25519"))
        .args([
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "LogLevel=ERROR",
        ])
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            dir.join("known_hosts").display()
        ))
        .arg(format!("root@{}", addr(k)))
        .arg(cmd)
        .stdin(Stdio::null())
        .output()
        .expect("ssh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Writes an inventory for the lab hosts with groups; `groups` maps group -> host indexes.
pub fn inventory(dir: &Path, hosts: &[usize], groups: &[(&str, &[usize])], vars: &str) -> PathBuf {
    let key = lab_dir().join("id_ed25519");
    let mut s = String::from("all:\n  hosts:\n");
    for k in hosts {
        s.push_str(&format!(
            "    instance-{k}:\n      ansible_host: {a}\n      ansible_user: root\n      ansible_ssh_private_key_file: {key}\n      ip: {a}\n      ip6: fd00:6b66:6f72::{x}\n",
            a = addr(*k),
            x = 10 + k,
            key = key.display()
        ));
    }
    if !vars.is_empty() {
        s.push_str("  vars:\n");
        for l in vars.lines() {
            s.push_str(&format!("    {l}\n"));
        }
    }
    s.push_str("  children:\n");
    for (g, members) in groups {
        s.push_str(&format!("    {g}:\n      hosts:\n"));
        for k in *members {
            s.push_str(&format!("        instance-{k}:\n"));
        }
    }
    let p = dir.join("hosts.yaml");
    std::fs::write(&p, s).unwrap();
    p
}

/// A kubeforge run's result.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub events: Vec<Value>,
    pub secs: f64,
}

impl Run {
    /// The recap event.
    pub fn recap(&self) -> &Value {
        self.events
            .iter()
            .find(|e| e["event"] == "recap")
            .unwrap_or_else(|| {
                panic!(
                    "no recap; stdout:\n{}\nstderr:\n{}",
                    self.stdout, self.stderr
                )
            })
    }
    /// Changed count of a host.
    pub fn changed(&self, host: &str) -> u64 {
        self.recap()["hosts"][host]["changed"]
            .as_u64()
            .unwrap_or(u64::MAX)
    }
    /// (host, task) pairs that changed, sorted.
    pub fn changed_tasks(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .events
            .iter()
            .filter(|e| e["event"] == "step_result" && e["status"] == "changed")
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
}

/// Runs `kubeforge ARGS... --known-hosts LAB --output json=FILE`.
pub fn kubeforge(dir: &Path, args: &[&str]) -> Run {
    kubeforge_env(dir, args, &[])
}

/// The same with environment variables set for kubeforge (XDG_CACHE_HOME...).
pub fn kubeforge_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let events = dir.join(format!(
        "events-{}.jsonl",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(args)
        .arg("--known-hosts")
        .arg(lab_dir().join("known_hosts"))
        .arg("--output")
        .arg(format!("json={}", events.display()))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("kubeforge runs");
    let secs = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&events).unwrap_or_default();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        events: text
            .lines()
            .map(|l| serde_json::from_str(l).expect("event lines are JSON"))
            .collect(),
        secs,
    }
}

/// Builds the lab's offline files repository (tests/lab/files-repo.sh), serves it on the
/// bridge (tests/lab/files-server.sh) and returns its vars file (lab-vars.yml).
pub fn files_repo() -> PathBuf {
    for (script, args) in [
        ("files-repo.sh", vec![]),
        ("files-server.sh", vec!["start"]),
    ] {
        let out = Command::new("bash")
            .arg(repo().join("tests/lab").join(script))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run tests/lab/{script}: {e}"));
        assert!(
            out.status.success(),
            "tests/lab/{script} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    PathBuf::from("/var/cache/kubeforge-lab/files/lab-vars.yml")
}

/// The REAL programs kubeforge installs, built from their Go modules (tests/lab/go-build.sh,
/// cached) and packed at upstream paths (tests/lab/real-repo.sh), served on the bridge;
/// returns the vars file of the `set` (default: kubeforge's default versions; old: the
/// versions upgrades start from). The first run on a machine builds everything (tens of
/// minutes, measured in tests/lab/README.md); later runs find it cached.
pub fn real_repo(set: &str) -> PathBuf {
    let out = script("real-repo.sh", &[], &[("KF_LAB_SET", set)]);
    assert!(
        out.status.success(),
        "tests/lab/real-repo.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vars = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let served = script("files-server.sh", &["start"], &[]);
    assert!(
        served.status.success(),
        "tests/lab/files-server.sh failed:\n{}",
        String::from_utf8_lossy(&served.stderr)
    );
    vars
}

/// Inventory variables for a REAL cluster on the lab, besides the real repository's own
/// (lab-vars.yml): every image from the lab registry (upstream paths below it, as a site's
/// mirror keeps them), Cilium without Envoy (a C++ program: not built here) and in place of
/// kube-proxy.
pub const REAL_LAB_VARS: &str = r#"install_os_packages: false
local_release_dir: /var/cache/kubeforge/releases
etcd_member_name: "{{ inventory_hostname }}"
cilium_enable_l7_proxy: false
cilium_kube_proxy_replacement: true
download_container: true
registry_host: "10.213.0.1:5000"
kube_image_repo: "{{ registry_host }}"
gcr_image_repo: "{{ registry_host }}"
docker_image_repo: "{{ registry_host }}"
quay_image_repo: "{{ registry_host }}"
github_image_repo: "{{ registry_host }}"
containerd_registries_mirrors:
  - prefix: "{{ registry_host }}"
    server: "http://{{ registry_host }}"
    mirrors:
      - host: "http://{{ registry_host }}"
        capabilities: ["pull", "resolve"]
        skip_verify: true"#;

/// `kubectl ARGS -o json` on instance-K (a control plane), parsed.
pub fn kubectl_json(k: usize, args: &str) -> serde_json::Value {
    let (ok, out) = ssh(
        k,
        &format!("kubectl --kubeconfig /etc/kubernetes/admin.conf {args} -o json"),
    );
    assert!(ok, "kubectl {args}: {out}");
    serde_json::from_str(&out).unwrap()
}

/// `kubectl ARGS` on instance-K (a control plane): (success, stdout and stderr).
pub fn kubectl(k: usize, args: &str) -> (bool, String) {
    ssh(
        k,
        &format!("kubectl --kubeconfig /etc/kubernetes/admin.conf {args} 2>&1"),
    )
}

/// Polls `cmd` on instance-K until it succeeds, for up to `secs` seconds.
pub fn eventually(k: usize, cmd: &str, secs: u64) -> (bool, String) {
    let start = std::time::Instant::now();
    loop {
        let (ok, out) = ssh(k, cmd);
        if ok || start.elapsed().as_secs() >= secs {
            return (ok, out);
        }
        std::thread::sleep(std::time::Duration::from_secs(3));
    }
}

/// The lab registry holding the REAL images (tests/lab/images.sh: built from the same
/// binaries, cached); stopped when dropped.
pub struct RealRegistry;

impl RealRegistry {
    /// Starts the registry (empty) and pushes every image into it.
    pub fn start() -> RealRegistry {
        let started = script("registry.sh", &["start"], &[]);
        assert!(
            started.status.success(),
            "tests/lab/registry.sh start failed:\n{}",
            String::from_utf8_lossy(&started.stderr)
        );
        let pushed = script("images.sh", &["push"], &[]);
        assert!(
            pushed.status.success(),
            "tests/lab/images.sh push failed:\n{}",
            String::from_utf8_lossy(&pushed.stderr)
        );
        eprintln!("{}", String::from_utf8_lossy(&pushed.stdout));
        RealRegistry
    }
}

impl Drop for RealRegistry {
    fn drop(&mut self) {
        let _ = script("registry.sh", &["stop"], &[]);
    }
}
