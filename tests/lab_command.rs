//! `kubeforge lab` end to end on this machine (root): two labs side by side, SSH to every
//! host, a second `up` that changes nothing, stop/start/wipe of a host, and `down`
//! leaving no process, network namespace, bridge, veth, rule, mount or cgroup of the lab.
//! No cluster is installed here (cluster.yml on a lab is a heavier test).
//!
//! Lab tests on a shared machine take the lab lock file while they boot hosts:
//! `KUBEFORGE_LAB_TEST_LOCK` (default /tmp/kf-lab.lock; `none`: no lock). Do not run this
//! test under `flock` on that same file (it would wait for itself; it gives up after
//! 20 minutes). The labs live in a temporary labs home of their own
//! (`KUBEFORGE_LAB_HOME`); `KUBEFORGE_LAB_KEEP=1` keeps them up for a look.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeforge"))
}

struct Labs {
    home: tempfile::TempDir,
    names: Vec<&'static str>,
}

impl Labs {
    fn kf(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(args)
            .env("KUBEFORGE_LAB_HOME", self.home.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let o = self.kf(args);
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        assert!(
            o.status.success(),
            "kubeforge {args:?} failed ({}):\n{out}\n{err}",
            o.status
        );
        (out, err)
    }

    fn record(&self, name: &str) -> Value {
        let text = std::fs::read_to_string(self.home.path().join(format!("{name}.json"))).unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Labs {
    fn drop(&mut self) {
        if std::env::var("KUBEFORGE_LAB_KEEP").as_deref() == Ok("1") {
            eprintln!(
                "KUBEFORGE_LAB_KEEP=1: labs kept, home {}",
                self.home.path().display()
            );
            std::mem::forget(std::mem::replace(
                &mut self.home,
                tempfile::tempdir().unwrap(),
            ));
            return;
        }
        for n in &self.names {
            if self.home.path().join(format!("{n}.json")).exists() {
                let _ = self.kf(&["lab", "down", n]);
            }
        }
    }
}

/// Holds the shared lab lock file for the test's length.
struct LabLock(#[allow(dead_code)] Option<std::fs::File>);

fn lab_lock() -> LabLock {
    let path =
        std::env::var("KUBEFORGE_LAB_TEST_LOCK").unwrap_or_else(|_| "/tmp/kf-lab.lock".into());
    if path == "none" {
        return LabLock(None);
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap();
    let start = Instant::now();
    loop {
        // SAFETY: flock on a descriptor this test owns.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return LabLock(Some(f));
        }
        assert!(
            start.elapsed() < Duration::from_secs(1200),
            "{path} held for 20 minutes by someone else"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Everything a lab's record names, to check after `down`.
struct Made {
    pids: Vec<u64>,
    netns: Vec<String>,
    links: Vec<String>,
    cgroups: Vec<String>,
    rule: Option<u64>,
    dir: String,
}

fn made(rec: &Value) -> Made {
    let hosts = rec["hosts"].as_array().unwrap();
    let strs = |key: &str| -> Vec<String> {
        hosts
            .iter()
            .filter_map(|h| h[key].as_str().map(str::to_string))
            .collect()
    };
    let mut links = strs("veth");
    links.push(rec["bridge"].as_str().unwrap().to_string());
    Made {
        pids: hosts.iter().filter_map(|h| h["pid"].as_u64()).collect(),
        netns: strs("netns"),
        links,
        cgroups: hosts
            .iter()
            .flat_map(|h| {
                h["cgroups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
            })
            .collect(),
        rule: rec["rule"].as_u64(),
        dir: rec["dir"].as_str().unwrap().to_string(),
    }
}

fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
}

fn assert_gone(m: &Made, what: &str) {
    assert!(
        !m.pids.is_empty() && !m.netns.is_empty(),
        "{what}: nothing recorded"
    );
    for p in &m.pids {
        assert!(!alive(*p), "{what}: nspawn pid {p} still runs");
    }
    let netns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let netns = String::from_utf8_lossy(&netns.stdout);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for ns in &m.netns {
        assert!(
            !Path::new("/run/netns").join(ns).exists(),
            "{what}: netns {ns} left"
        );
        assert!(
            !netns
                .lines()
                .any(|l| l.split_whitespace().next() == Some(ns)),
            "{what}: netns {ns} listed"
        );
        assert!(
            !mounts.contains(ns.as_str()),
            "{what}: a mount of {ns} left"
        );
    }
    for l in &m.links {
        assert!(
            !Path::new("/sys/class/net").join(l).exists(),
            "{what}: interface {l} left"
        );
    }
    assert!(
        !mounts.contains(&m.dir),
        "{what}: a mount under {} left",
        m.dir
    );
    assert!(!Path::new(&m.dir).exists(), "{what}: {} left", m.dir);
    for c in &m.cgroups {
        assert!(!Path::new(c).exists(), "{what}: cgroup {c} left");
    }
    if let Some(r) = m.rule {
        let rules = Command::new("ip")
            .args(["-4", "rule", "show", "priority", &r.to_string()])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&rules.stdout).trim().is_empty(),
            "{what}: ip rule {r} left"
        );
    }
}

fn status_pids(labs: &Labs, name: &str) -> Vec<u64> {
    labs.record(name)["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["pid"].as_u64())
        .collect()
}

#[test]
fn lab_up_ssh_idempotent_two_labs_and_down_leaves_nothing() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "kubeforge lab tests run as root (as CI does)"
    );
    let _lock = lab_lock();
    let labs = Labs {
        home: tempfile::Builder::new()
            .prefix("kf-lab-test")
            .tempdir_in("/var/tmp")
            .unwrap(),
        names: vec!["t1", "t2"],
    };

    // three hosts, separate layout
    let t = Instant::now();
    let (out, err) = labs.ok(&[
        "lab", "up", "-n", "3", "--layout", "separate", "--name", "t1",
    ]);
    eprintln!("lab up -n 3 ({:.1} s):\n{err}", t.elapsed().as_secs_f64());
    let inv = PathBuf::from(out.trim());
    let hosts_yaml = std::fs::read_to_string(inv.join("hosts.yaml")).unwrap();
    // kubeforge reads it without a warning
    let check = Command::new(bin())
        .args(["inventory", "check", "-i"])
        .arg(&inv)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    assert!(
        check.status.success() && said.contains("0 warning(s)"),
        "{said}"
    );
    for want in [
        "t1-node1:",
        "kube_control_plane:",
        "kube_node:",
        "etcd:",
        "ansible_user: root",
        "StrictHostKeyChecking=yes",
    ] {
        assert!(
            hosts_yaml.contains(want),
            "{want} not in hosts.yaml:\n{hosts_yaml}"
        );
    }
    let lab_dir = PathBuf::from(labs.record("t1")["dir"].as_str().unwrap());
    let known = std::fs::read_to_string(lab_dir.join("known_hosts")).unwrap();
    assert_eq!(known.lines().count(), 6, "{known}");
    let rec = labs.record("t1");
    let key = rec["dir"]
        .as_str()
        .map(|d| Path::new(d).join("id_ed25519"))
        .unwrap();
    for k in 1..=3 {
        let (out, _) = labs.ok(&[
            "lab",
            "ssh",
            "--name",
            "t1",
            &format!("node{k}"),
            "--",
            "hostname",
        ]);
        assert_eq!(out.trim(), format!("t1-node{k}"));
        // OpenSSH agrees with the known_hosts: nothing accepted blindly
        if Path::new("/usr/bin/ssh").exists() {
            let o = Command::new("ssh")
                .args(["-F", "/dev/null", "-i"])
                .arg(&key)
                .arg("-o")
                .arg(format!(
                    "UserKnownHostsFile={}",
                    lab_dir.join("known_hosts").display()
                ))
                .args([
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "ConnectTimeout=5",
                ])
                .arg(format!("root@10.214.{}.{}", rec["subnet"], 10 + k))
                .arg("true")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "openssh to t1-node{k}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    // the exit status comes back
    let o = labs.kf(&["lab", "ssh", "--name", "t1", "1", "--", "exit", "7"]);
    assert_eq!(o.status.code(), Some(7));
    // isolated: a host reaches its peers' sshd, not the outside (minbase has no ping)
    let tcp = |host: &str, to: &str| {
        labs.kf(&[
            "lab",
            "ssh",
            "--name",
            "t1",
            host,
            "--",
            "timeout",
            "3",
            "bash",
            "-c",
            &format!("'</dev/tcp/{to}'"),
        ])
    };
    let peer = format!("10.214.{}.11/22", rec["subnet"]);
    assert!(
        tcp("3", &peer).status.success(),
        "t1-node3 cannot reach {peer}"
    );
    assert!(
        !tcp("3", "1.1.1.1/80").status.success(),
        "a lab host reached 1.1.1.1 without --nat"
    );

    // a second up changes nothing
    let pids = status_pids(&labs, "t1");
    let mtime = std::fs::metadata(inv.join("hosts.yaml"))
        .unwrap()
        .modified()
        .unwrap();
    let t = Instant::now();
    let (out2, err) = labs.ok(&[
        "lab", "up", "-n", "3", "--layout", "separate", "--name", "t1",
    ]);
    eprintln!("second lab up ({:.1} s):\n{err}", t.elapsed().as_secs_f64());
    assert_eq!(out2, out);
    assert!(err.contains("nothing to do"), "{err}");
    assert_eq!(status_pids(&labs, "t1"), pids);
    assert_eq!(
        std::fs::metadata(inv.join("hosts.yaml"))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );

    // a second lab beside it
    let (_, err) = labs.ok(&[
        "lab",
        "up",
        "-n",
        "1",
        "--layout",
        "all-in-one",
        "--name",
        "t2",
    ]);
    eprintln!("lab up t2:\n{err}");
    let rec2 = labs.record("t2");
    assert_ne!(rec2["subnet"], rec["subnet"]);
    assert_eq!(status_pids(&labs, "t1"), pids, "t2 touched t1's hosts");
    let (out, _) = labs.ok(&["lab", "ssh", "--name", "t2", "node1", "--", "hostname"]);
    assert_eq!(out.trim(), "t2-node1");
    let (st, _) = labs.ok(&["lab", "status"]);
    assert!(st.contains("lab t1") && st.contains("lab t2"), "{st}");

    // day 2: stop, start, wipe (a new host key, known_hosts follows)
    labs.ok(&["lab", "stop", "--name", "t2", "node1"]);
    assert!(status_pids(&labs, "t2").is_empty());
    labs.ok(&["lab", "start", "--name", "t2", "node1"]);
    labs.ok(&["lab", "ssh", "--name", "t2", "node1", "--", "true"]);
    let kh2 = PathBuf::from(rec2["dir"].as_str().unwrap()).join("known_hosts");
    let before = std::fs::read_to_string(&kh2).unwrap();
    labs.ok(&["lab", "wipe", "--name", "t2", "node1"]);
    labs.ok(&["lab", "start", "--name", "t2", "node1"]);
    assert_ne!(
        std::fs::read_to_string(&kh2).unwrap(),
        before,
        "wipe kept the host key"
    );
    labs.ok(&["lab", "ssh", "--name", "t2", "node1", "--", "true"]);

    // down t1: nothing of t1 is left, t2 goes on
    let m1 = made(&labs.record("t1"));
    let t = Instant::now();
    let (_, err) = labs.ok(&["lab", "down", "t1"]);
    eprintln!("lab down t1 ({:.1} s):\n{err}", t.elapsed().as_secs_f64());
    assert_gone(&m1, "t1");
    labs.ok(&["lab", "ssh", "--name", "t2", "node1", "--", "true"]);

    let m2 = made(&labs.record("t2"));
    labs.ok(&["lab", "down", "t2"]);
    assert_gone(&m2, "t2");
    let o = labs.kf(&["lab", "down", "t2"]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "down of a lab that is gone names it"
    );
}
