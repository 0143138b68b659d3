//! SSH at scale against real sshds: many hosts (addresses 127.10.a.b) served by one sshd
//! in a private network namespace, and a bastion sshd with OpenSSH's default limits
//! (tests/scale/ns.sh). Root only (namespaces, a test user); they install what they need
//! and fail loudly, never skip. What they count comes from the sshds' own logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A namespace with both sshds, torn down (by their pid files) when dropped.
struct Ns {
    dir: tempfile::TempDir,
    name: String,
    /// Per-test directory on the "hosts", owned by the login user.
    root: PathBuf,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

impl Ns {
    fn up(hosts: usize) -> Ns {
        let dir = tempfile::tempdir().unwrap();
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let name = format!("kfscale-t{}-{n}", std::process::id());
        let out = Command::new("bash")
            .arg(repo().join("tests/scale/ns.sh"))
            .args([
                "up",
                dir.path().to_str().unwrap(),
                &name,
                &hosts.to_string(),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let ns = Ns {
            root: PathBuf::from(format!("/var/lib/kfscale/t-{}-{n}", std::process::id())),
            dir,
            name,
        };
        assert!(
            out.status.success(),
            "tests/scale/ns.sh up failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ok = Command::new("install")
            .args(["-d", "-o", "kfscale"])
            .arg(&ns.root)
            .status()
            .unwrap();
        assert!(ok.success());
        ns
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `(name, address)` of the first `n` hosts.
    fn hosts(&self, n: usize) -> Vec<(String, String)> {
        std::fs::read_to_string(self.path("hosts"))
            .unwrap()
            .lines()
            .take(n)
            .map(|l| {
                let (a, b) = l.split_once(' ').unwrap();
                (a.to_string(), b.to_string())
            })
            .collect()
    }

    /// An inventory: `hosts` as workers (h1 also control plane and etcd), each
    /// `(name, address, port)`, behind the bastion when `bastion`.
    fn inventory(&self, hosts: &[(String, String, u16)], bastion: bool) -> PathBuf {
        let mut s = format!(
            "all:\n  vars:\n    ansible_user: kfscale\n    ansible_ssh_private_key_file: {}\n    root: {}\n  hosts:\n",
            self.path("id_ed25519").display(),
            self.root.display()
        );
        for (i, (name, addr, port)) in hosts.iter().enumerate() {
            // Node addresses only need to be distinct.
            let ip = format!("127.20.{}.{}", i / 250, i % 250 + 1);
            s.push_str(&format!(
                "    {name}: {{ansible_host: {addr}, ansible_port: {port}, ip: {ip}}}\n"
            ));
        }
        if bastion {
            s.push_str("    bastion: {ansible_host: 127.0.0.1, ansible_port: 2222}\n");
        }
        s.push_str(&format!(
            "  children:\n    kube_control_plane: {{hosts: {{{0}: }}}}\n    etcd: {{hosts: {{{0}: }}}}\n    kube_node:\n      hosts:\n",
            hosts[0].0
        ));
        for (name, _, _) in hosts {
            s.push_str(&format!("        {name}:\n"));
        }
        if bastion {
            s.push_str("    bastion: {hosts: {bastion: }}\n");
        }
        let path = self.path("hosts.yaml");
        std::fs::write(&path, s).unwrap();
        path
    }

    /// Runs `kubeforge run` inside the namespace (at most 3 minutes).
    fn run(&self, inventory: &Path, playbook: &str, extra: &[&str]) -> Run {
        let book = self.path("play.yml");
        std::fs::write(&book, playbook).unwrap();
        let events = self.path(&format!(
            "events-{}.jsonl",
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let (out, err) = (self.path("stdout"), self.path("stderr"));
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                env!("CARGO_BIN_EXE_kubeforge"),
                "run",
                "-i",
            ])
            .arg(inventory)
            .arg(&book)
            .arg("--known-hosts")
            .arg(self.path("known_hosts"))
            .arg("--output")
            .arg(format!("json={}", events.display()))
            .args(extra)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(180) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("kubeforge did not finish within 3 minutes");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout: std::fs::read_to_string(&out).unwrap_or_default(),
            stderr: std::fs::read_to_string(&err).unwrap_or_default(),
            events: std::fs::read_to_string(&events)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
        }
    }

    /// Lines of an sshd's log (`hosts` or `bastion`).
    fn log(&self, which: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(&format!("{which}.log")))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// Connections an sshd accepted (logins) so far.
    fn logins(&self, which: &str) -> usize {
        self.log(which)
            .iter()
            .filter(|l| l.starts_with("Accepted publickey for kfscale"))
            .count()
    }

    /// Connections the hosts' sshd accepted, by the address each was made to, and the
    /// exec sessions it started in all, from log line `from` on. sshd names a session by
    /// its client port only, and two connections to different addresses may share one,
    /// so sessions are counted in total: with every host reached (each needs a session)
    /// and one connection per host, a total equal to the host count is one session each.
    fn sessions(&self, from: usize) -> (BTreeMap<String, usize>, usize) {
        let mut per = BTreeMap::new();
        let mut total = 0;
        for l in self.log("hosts").iter().skip(from) {
            let w: Vec<&str> = l.split_whitespace().collect();
            // Connection from 127.0.0.1 port P on ADDRESS port 22 rdomain ""
            if l.starts_with("Connection from ") && w.len() > 6 {
                *per.entry(w[6].to_string()).or_insert(0) += 1;
            }
            // Starting session: command for kfscale from 127.0.0.1 port P id 0
            if l.starts_with("Starting session:") {
                total += 1;
            }
        }
        (per, total)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("tests/scale/ns.sh"))
            .args(["down", self.dir.path().to_str().unwrap_or("")])
            .stdin(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    events: Vec<Value>,
}

impl Run {
    fn recap(&self) -> Value {
        self.events
            .iter()
            .rev()
            .find(|e| e["event"] == "recap")
            .cloned()
            .unwrap_or_else(|| panic!("no recap\n{}\n{}", self.stdout, self.stderr))
    }
    /// Hosts of the recap that failed or were unreachable.
    fn not_ok(&self) -> Vec<String> {
        let recap = self.recap();
        let hosts = recap["hosts"].as_object().unwrap();
        hosts
            .iter()
            .filter(|(_, c)| c["failed"] != 0 || c["unreachable"] != 0)
            .map(|(h, _)| h.clone())
            .collect()
    }
    fn changed(&self) -> u64 {
        let recap = self.recap();
        let hosts = recap["hosts"].as_object().unwrap();
        hosts.values().map(|c| c["changed"].as_u64().unwrap()).sum()
    }
    fn error_of(&self, host: &str) -> String {
        self.events
            .iter()
            .filter(|e| e["host"] == host)
            .filter_map(|e| e["error"].as_str().or(e["reason"].as_str()))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

const THROUGH_THE_BASTION: &str = r#"
- name: through the bastion
  hosts: kube_node
  tasks:
    - {name: directory, file: {path: "{{ root }}/{{ inventory_hostname }}", state: directory}}
    - name: facts
      copy: {dest: "{{ root }}/{{ inventory_hostname }}/os", content: "{{ ansible_os_family }} {{ ansible_architecture }}\n"}
    - {name: client, shell: 'echo "$SSH_CLIENT"', register: client, changed_when: false}
    - name: uses what was registered
      copy: {dest: "{{ root }}/{{ inventory_hostname }}/client", content: "{{ client.stdout.split(' ')[0] }}\n"}
    - {name: pushed, copy: {src: "{{ blob }}", dest: "{{ root }}/{{ inventory_hostname }}/blob.bin"}}
"#;

#[test]
fn fifty_hosts_behind_a_bastion_share_one_connection_to_it_and_get_one_session_each() {
    let ns = Ns::up(50);
    let hosts: Vec<(String, String, u16)> =
        ns.hosts(50).into_iter().map(|(n, a)| (n, a, 22)).collect();
    let inv = ns.inventory(&hosts, true);
    // Not UTF-8: sent as an upload, not inlined in a step.
    let blob = ns.path("blob.bin");
    std::fs::write(&blob, [0u8, 159, 146, 150].repeat(50_000)).unwrap();
    let blob_var = format!("blob={}", blob.display());
    let from = ns.log("hosts").len();

    let cold = ns.run(&inv, THROUGH_THE_BASTION, &["-e", &blob_var]);
    assert_eq!(cold.code, 0, "{}\n{}", cold.stdout, cold.stderr);
    assert!(cold.not_ok().is_empty(), "{:?}", cold.not_ok());
    assert_eq!(
        ns.logins("bastion"),
        1,
        "one connection to the bastion for 50 hosts"
    );
    let (connections, sessions) = ns.sessions(from);
    assert_eq!(
        connections.len(),
        50,
        "every host was reached: {connections:?}"
    );
    assert!(
        connections.values().all(|n| *n == 1),
        "connections per host: {connections:?}"
    );
    // Facts, a step list cut by a registered result, and an upload: one session.
    assert_eq!(sessions, 50, "sessions for 50 hosts");
    for (name, _, _) in &hosts {
        let dir = ns.root.join(name);
        assert_eq!(
            std::fs::read(dir.join("blob.bin")).unwrap(),
            std::fs::read(&blob).unwrap()
        );
        assert!(std::fs::read_to_string(dir.join("os")).unwrap().len() > 2);
    }

    let from = ns.log("hosts").len();
    let warm = ns.run(&inv, THROUGH_THE_BASTION, &["-e", &blob_var]);
    assert_eq!(warm.code, 0, "{}\n{}", warm.stdout, warm.stderr);
    assert_eq!(warm.changed(), 0, "{}", warm.stdout);
    assert_eq!(
        ns.logins("bastion"),
        2,
        "again one bastion connection for the run"
    );
    let (connections, sessions) = ns.sessions(from);
    assert!(connections.values().all(|n| *n == 1) && connections.len() == 50);
    assert_eq!(sessions, 50, "sessions for 50 hosts, warm");
}

#[test]
fn a_lost_bastion_connection_is_named_and_opened_again_for_later_hosts() {
    let ns = Ns::up(4);
    let hosts: Vec<(String, String, u16)> =
        ns.hosts(4).into_iter().map(|(n, a)| (n, a, 22)).collect();
    let inv = ns.inventory(&hosts, true);
    let marks = ns.root.join("marks");
    let play = format!(
        r#"
- name: first
  hosts: h1:h2
  tasks:
    - {{name: hello, command: "true", changed_when: false}}
- name: the bastion goes away
  hosts: h1:h2
  tasks:
    # h2 keeps the play (and the run) going: a play left with no host ends the run.
    - name: wait while the test cuts the bastion connection
      shell: "mkdir -p {m}; touch {m}/cut-now; i=0; while [ ! -e {m}/cut-done ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done"
      timeout: 40
      when: inventory_hostname == 'h1'
- name: later hosts
  hosts: h3:h4
  tasks:
    - {{name: hello again, command: "true", changed_when: false}}
"#,
        m = marks.display()
    );
    let cutter = {
        let (marks, log) = (marks.clone(), ns.path("bastion.log"));
        std::thread::spawn(move || {
            let started = Instant::now();
            while !marks.join("cut-now").exists() {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "the play never asked"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            // The bastion's process for kubeforge's connection (it runs as the login user).
            let log = std::fs::read_to_string(&log).unwrap();
            let pid: i32 = log
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("User child is on pid "))
                .expect("the bastion logged its connection's process")
                .trim()
                .parse()
                .unwrap();
            assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
            std::fs::write(marks.join("cut-done"), "").unwrap();
        })
    };
    let r = ns.run(&inv, &play, &[]);
    cutter.join().unwrap();
    assert_eq!(r.code, 3, "h1 is unreachable\n{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.not_ok(), ["h1"]);
    let why = r.error_of("h1");
    assert!(
        why.contains("jump host 127.0.0.1:2222"),
        "the error names the bastion: {why}"
    );
    assert_eq!(
        ns.logins("bastion"),
        2,
        "a new bastion connection for h3 and h4"
    );
}

/// Enters network namespace `name` (this thread, and threads it starts, only).
fn enter_netns(name: &str) {
    let f = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
    assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
}

/// `n` TCP proxies inside the namespace, each to the hosts' sshd, that hold every chunk
/// `delay` in each direction: an SSH handshake (about five round trips) becomes slow.
/// Returns their ports on 127.0.0.1.
fn slow_proxies(ns: &Ns, n: usize, delay: Duration) -> Vec<u16> {
    let (tx, rx) = std::sync::mpsc::channel();
    let name = ns.name.clone();
    std::thread::spawn(move || {
        enter_netns(&name);
        let listeners: Vec<TcpListener> = (0..n)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        tx.send(
            listeners
                .iter()
                .map(|l| l.local_addr().unwrap().port())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        for l in listeners {
            std::thread::spawn(move || {
                for client in l.incoming().flatten() {
                    let server = TcpStream::connect("127.0.0.1:22").unwrap();
                    pump(
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        delay,
                    );
                    pump(server, client, delay);
                }
            });
        }
    });
    rx.recv().unwrap()
}

fn pump(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown(std::net::Shutdown::Write);
                    return;
                }
                Ok(k) => {
                    std::thread::sleep(delay);
                    if to.write_all(&buf[..k]).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Hosts h1.. at 127.0.0.1 on these proxy ports, with their host keys known.
fn proxied_hosts(ns: &Ns, ports: &[u16]) -> Vec<(String, String, u16)> {
    let key = std::fs::read_to_string(ns.path("host_ed25519.pub")).unwrap();
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    let mut known = std::fs::OpenOptions::new()
        .append(true)
        .open(ns.path("known_hosts"))
        .unwrap();
    for p in ports {
        writeln!(known, "[127.0.0.1]:{p} {} {}", key[0], key[1]).unwrap();
    }
    ports
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("h{}", i + 1), "127.0.0.1".to_string(), *p))
        .collect()
}

#[test]
fn hosts_queued_behind_slow_handshakes_are_not_declared_unreachable() {
    let ns = Ns::up(1);
    let play = "- name: reach\n  hosts: kube_node\n  tasks:\n    - {name: hello, command: \"true\", changed_when: false}\n";
    // Handshakes of about 1.5 s, two at a time, 12 hosts: the last waits about 8 s for
    // its turn, well past the 4 s connect timeout, which must not count the wait.
    let ports = slow_proxies(&ns, 12, Duration::from_millis(150));
    let inv = ns.inventory(&proxied_hosts(&ns, &ports), false);
    let r = ns.run(
        &inv,
        play,
        &["--max-handshakes", "2", "--connect-timeout", "4"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.not_ok().is_empty(), "{:?}", r.not_ok());

    // The timeout still holds for a host's own connection: this one greets after 1.5 s.
    let ports = slow_proxies(&ns, 1, Duration::from_millis(1500));
    let inv = ns.inventory(&proxied_hosts(&ns, &ports), false);
    let r = ns.run(&inv, play, &["--connect-timeout", "1"]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let why = r.error_of("h1");
    assert!(
        why.contains("no TCP connection and SSH greeting within 1 s"),
        "{why}"
    );
}

#[test]
fn one_long_lived_shell_per_host_keeps_what_a_command_gets() {
    use kubeforge::transport::dial::Dialer;
    use kubeforge::transport::ssh::{connect, SshOptions};
    use kubeforge::transport::{ExecRequest, Transport, TransportError};
    let ns = Ns::up(1);
    let (_, addr) = ns.hosts(1).remove(0);
    let mut opts = SshOptions::new("kfscale", 22);
    opts.key_files = vec![ns.path("id_ed25519")];
    opts.known_hosts =
        kubeforge::transport::known_hosts::KnownHosts::new(vec![ns.path("known_hosts")]);
    let big = ns.path("big.bin");
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&big, &payload).unwrap();
    let remote = ns.root.join("up/big.bin");
    let from = ns.log("hosts").len();
    let name = ns.name.clone();
    let (big2, remote2) = (big.clone(), remote.clone());
    // The runtime's thread lives in the namespace, so its sockets do too.
    std::thread::spawn(move || {
        let (big, remote) = (big2, remote2);
        enter_netns(&name);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let dialer = Dialer::new(4, 64);
            let t = connect(&addr, &opts, &dialer).await.unwrap();
            let req = |script: &str, secs: u64| ExecRequest {
                script: script.into(),
                become_: kubeforge::transport::Become::No,
                timeout: Duration::from_secs(secs),
            };
            let out = t
                .exec(req("echo out; echo err >&2; exit 7", 10))
                .await
                .unwrap();
            assert_eq!(
                (out.stdout.as_slice(), out.stderr.as_slice()),
                (&b"out\n"[..], &b"err\n"[..])
            );
            assert_eq!(out.exit_code, Some(7));
            // Output without a final newline, and a script that stops reading early.
            let out = t
                .exec(req("printf abc; exit 0\nnever run", 10))
                .await
                .unwrap();
            assert_eq!(out.stdout, b"abc");
            assert_eq!(
                t.exec(req("echo next", 10)).await.unwrap().stdout,
                b"next\n"
            );
            // Past its time the command is killed; the next one still runs.
            let e = t.exec(req("sleep 30", 1)).await.unwrap_err();
            assert_eq!(e, TransportError::Timeout(1));
            assert_eq!(
                t.exec(req("echo after", 10)).await.unwrap().stdout,
                b"after\n"
            );
            // A command while the shell is busy gets a channel of its own.
            let (slow, quick) = tokio::join!(t.exec(req("sleep 1; echo slow", 10)), async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                t.exec(req("echo quick", 10)).await
            });
            assert_eq!(slow.unwrap().stdout, b"slow\n");
            assert_eq!(quick.unwrap().stdout, b"quick\n");
            t.upload(
                &big,
                remote.to_str().unwrap(),
                0o640,
                &kubeforge::transport::Become::No,
            )
            .await
            .unwrap();
            let out = t.exec(req(
                &format!("stat -c %a {0}; cksum < {0}", remote.display()),
                10,
            ));
            let out = String::from_utf8(out.await.unwrap().stdout).unwrap();
            assert!(out.starts_with("640\n"), "{out}");
            t.close().await;
        });
    })
    .join()
    .unwrap();
    assert_eq!(std::fs::read(&remote).unwrap(), payload);
    // The shell, the one the timeout replaced, and the busy-time channel.
    let (_, sessions) = ns.sessions(from);
    assert_eq!(sessions, 3);
}
