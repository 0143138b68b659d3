//! SSH as sites set it up, against real sshds in a private network namespace started by
//! each test (tests/ssh_auth/lab.sh, the approach of tests/ssh_scale.rs): hosts named only
//! by an ssh config alias and reached through a ProxyCommand bastion (also as Kubespray's
//! bastion role writes it: `-F ssh-bastion.conf`), a host certificate checked against
//! `@cert-authority`, a user certificate accepted by sshd, a sudo password from a vault
//! that shows up in no output, event or JUnit file, and password login. Root only; they
//! install what they need and fail loudly, never skip. kubeforge runs with HOME set to a
//! directory of the test's, so ~/.ssh/config is the test's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// The namespace, its sshds and its login user; torn down when dropped.
struct Lab {
    dir: tempfile::TempDir,
    ns: String,
    user: String,
    password: String,
}

impl Lab {
    fn up() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let ns = format!("kfauth-t{}-{n}", std::process::id());
        let user = format!("kfa-{}-{n}", std::process::id());
        let out = Command::new("bash")
            .arg(repo().join("tests/ssh_auth/lab.sh"))
            .args(["up", dir.path().to_str().unwrap(), &ns, &user])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let mut lab = Lab {
            dir,
            ns,
            user,
            password: String::new(),
        };
        assert!(
            out.status.success(),
            "tests/ssh_auth/lab.sh up failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lab.password = std::fs::read_to_string(lab.path("password")).unwrap();
        assert!(lab.password.len() >= 12);
        std::fs::create_dir_all(lab.path("home/.ssh")).unwrap();
        lab
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn p(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    /// Writes the test HOME's ~/.ssh/config.
    fn ssh_config(&self, text: &str) {
        std::fs::write(self.path("home/.ssh/config"), text).unwrap();
    }

    /// A ProxyCommand through the bastion with the system's ssh, recording its pid.
    fn proxy_command(&self) -> String {
        format!(
            "sh -c 'echo $$ >> {pids}; exec ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={kh} -o GlobalKnownHostsFile=/dev/null -i {key} -p 2222 -W %h:%p {user}@127.0.0.1'",
            pids = self.p("proxy-pids"),
            kh = self.p("bastion_known_hosts"),
            key = self.p("id_ed25519"),
            user = self.user,
        )
    }

    /// An inventory: `hosts` lines (`name: {vars}`) as workers, the first also control
    /// plane and etcd, and `vars` for all.
    fn inventory(&self, vars: &str, hosts: &[(&str, &str)]) -> PathBuf {
        let mut s = format!("all:\n  vars:\n{vars}  hosts:\n");
        for (i, (name, hv)) in hosts.iter().enumerate() {
            s.push_str(&format!(
                "    {name}: {{ip: 127.20.0.{}{}{hv}}}\n",
                i + 1,
                if hv.is_empty() { "" } else { ", " }
            ));
        }
        s.push_str(&format!(
            "  children:\n    kube_control_plane: {{hosts: {{{0}: }}}}\n    etcd: {{hosts: {{{0}: }}}}\n    kube_node:\n      hosts:\n",
            hosts[0].0
        ));
        for (name, _) in hosts {
            s.push_str(&format!("        {name}:\n"));
        }
        let path = self.path(&format!(
            "hosts-{}.yaml",
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, s).unwrap();
        path
    }

    /// Runs `kubeforge run` inside the namespace with the test's HOME (at most 2 minutes).
    fn run(&self, inventory: &Path, playbook: &str, extra: &[&str]) -> Run {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let book = self.path(&format!("play-{n}.yml"));
        std::fs::write(&book, playbook).unwrap();
        let events = self.path(&format!("events-{n}.jsonl"));
        let junit = self.path(&format!("junit-{n}.xml"));
        let (out, err) = (
            self.path(&format!("stdout-{n}")),
            self.path(&format!("stderr-{n}")),
        );
        let started = Instant::now();
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                env!("CARGO_BIN_EXE_kubeforge"),
                "run",
                "-i",
            ])
            .arg(inventory)
            .arg(&book)
            .arg("--output")
            .arg(format!("json={}", events.display()))
            .arg("--output")
            .arg(format!("junit={}", junit.display()))
            .args(extra)
            .env("HOME", self.path("home"))
            .env_remove("SSH_AUTH_SOCK")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("kubeforge did not finish within 2 minutes");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let events_text = read(&events);
        Run {
            code: status.code().unwrap_or(-1),
            took: started.elapsed(),
            stdout: read(&out),
            stderr: read(&err),
            events: events_text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            events_text,
            junit: read(&junit),
        }
    }

    fn log(&self, which: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{which}.log"))).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("tests/ssh_auth/lab.sh"))
            .args(["down", self.dir.path().to_str().unwrap_or("")])
            .stdin(Stdio::null())
            .status();
    }
}

struct Run {
    code: i32,
    took: Duration,
    stdout: String,
    stderr: String,
    events: Vec<Value>,
    events_text: String,
    junit: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    fn recap(&self) -> Value {
        self.events
            .iter()
            .rev()
            .find(|e| e["event"] == "recap")
            .cloned()
            .unwrap_or_else(|| panic!("no recap\n{}", self.all()))
    }

    /// Hosts of the recap that failed or were unreachable.
    fn not_ok(&self) -> Vec<String> {
        let recap = self.recap();
        recap["hosts"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, c)| c["failed"] != 0 || c["unreachable"] != 0)
            .map(|(h, _)| h.clone())
            .collect()
    }

    fn error_of(&self, host: &str) -> String {
        self.events
            .iter()
            .filter(|e| e["host"] == host)
            .filter_map(|e| e["error"].as_str().or(e["reason"].as_str()))
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn ok(&self) {
        assert_eq!(self.code, 0, "{}", self.all());
        assert!(
            self.not_ok().is_empty(),
            "{:?}\n{}",
            self.not_ok(),
            self.all()
        );
    }
}

/// Records who ran each host's commands.
const WHOAMI: &str = r#"
- name: reach
  hosts: all
  gather_facts: false
  tasks:
    - {name: who, command: id -un, register: who, changed_when: false}
    - {name: say, debug: {msg: "{{ inventory_hostname }} is {{ who.stdout }}"}}
"#;

/// Pids of the ProxyCommands that ran, and whether any still runs.
fn proxies_left(lab: &Lab) -> (usize, Vec<i32>) {
    let pids: Vec<i32> = std::fs::read_to_string(lab.path("proxy-pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let alive = pids
        .iter()
        .copied()
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // Gone, or a zombie its new parent has yet to reap.
            !stat.is_empty() && stat.split_whitespace().nth(2) != Some("Z")
        })
        .collect();
    (pids.len(), alive)
}

#[test]
fn hosts_named_only_by_an_ssh_config_alias_are_reached_through_a_proxycommand_bastion() {
    let lab = Lab::up();
    // node1: only ~/.ssh/config knows where it is, who logs in and with which key; its
    // known_hosts holds nothing but the host CA.
    lab.ssh_config(&format!(
        "# a site's ~/.ssh/config\nHost node1\n    HostName 127.10.0.1\n    User {user}\n    IdentityFile {key}\n    IdentitiesOnly yes\n    UserKnownHostsFile {kh}\n    ProxyCommand {proxy}\n\nHost *\n    ConnectTimeout 20\n",
        user = lab.user,
        key = lab.p("id_ed25519"),
        kh = lab.p("known_hosts_ca"),
        proxy = lab.proxy_command(),
    ));
    // node2: as Kubespray's bastion role sets it up, `-F ssh-bastion.conf` in
    // ansible_ssh_common_args and a ProxyCommand with StrictHostKeyChecking no.
    std::fs::write(
        lab.path("ssh-bastion.conf"),
        format!(
            "Host 127.0.0.1\n  Hostname 127.0.0.1\n  StrictHostKeyChecking no\n  ControlMaster auto\n  ControlPath ~/.ssh/ansible-%r@%h:%p\n  ControlPersist 5m\n\nHost  127.10.0.2\n  ProxyCommand {}\n  StrictHostKeyChecking no\n",
            lab.proxy_command()
        ),
    )
    .unwrap();
    let inv = lab.inventory(
        "",
        &[
            ("node1", ""),
            (
                "node2",
                &format!(
                    "ansible_host: 127.10.0.2, ansible_user: {}, ansible_ssh_private_key_file: {}, ansible_ssh_common_args: '-F {}'",
                    lab.user,
                    lab.p("id_ed25519"),
                    lab.p("ssh-bastion.conf")
                ),
            ),
        ],
    );
    let r = lab.run(&inv, WHOAMI, &[]);
    r.ok();
    for h in ["node1", "node2"] {
        assert!(
            r.stdout.contains(&format!("{h} is {}", lab.user)),
            "{}",
            r.all()
        );
    }
    // Both came through the bastion: one ProxyCommand (one bastion login) each.
    let bastion = lab.log("bastion");
    assert_eq!(
        bastion
            .matches(&format!("Accepted publickey for {}", lab.user))
            .count(),
        2,
        "{bastion}"
    );
    let (ran, alive) = proxies_left(&lab);
    assert_eq!(ran, 2, "one ProxyCommand per host");
    assert!(
        alive.is_empty(),
        "ProxyCommands outlived the run: {alive:?}"
    );
    // StrictHostKeyChecking no: node2's key was recorded in ~/.ssh/known_hosts.
    let learned = std::fs::read_to_string(lab.path("home/.ssh/known_hosts")).unwrap_or_default();
    assert!(learned.starts_with("127.10.0.2 ssh-ed25519 "), "{learned}");

    // A ProxyCommand that fails is named with what it said.
    lab.ssh_config(&format!(
        "Host node1\n  HostName 127.10.0.1\n  User {}\n  ProxyCommand sh -c 'echo bastion says no >&2; exit 1'\n",
        lab.user
    ));
    let inv = lab.inventory("", &[("node1", "")]);
    let r = lab.run(&inv, WHOAMI, &[]);
    assert_eq!(r.code, 3, "{}", r.all());
    let why = r.error_of("node1");
    assert!(
        why.contains("via ProxyCommand") && why.contains("bastion says no"),
        "{why}"
    );
}

#[test]
fn a_proxyjump_chain_reaches_hosts_through_two_jump_hosts_checking_each_key() {
    let lab = Lab::up();
    // bastion (127.0.0.1:2222) first, then `inner` (the hosts' sshd on 127.10.0.3)
    // through it, then each node through inner. A `Match host` on the HostName-substituted
    // name gives every hop its user, key and known_hosts file.
    let config = |kh: &str| {
        format!(
            "Host node1 node2\n  ProxyJump bastion,inner\nHost bastion\n  HostName 127.0.0.1\n  Port 2222\nHost inner\n  HostName 127.10.0.3\nMatch host 127.*,!127.10.0.9\n  User {user}\n  IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n",
            user = lab.user,
            key = lab.p("id_ed25519"),
        )
    };
    let both = lab.path("known_hosts_both");
    let bastion_kh = std::fs::read_to_string(lab.path("bastion_known_hosts")).unwrap();
    let ca_kh = std::fs::read_to_string(lab.path("known_hosts_ca")).unwrap();
    std::fs::write(&both, format!("{bastion_kh}{ca_kh}")).unwrap();
    // The node names resolve to nothing: only the config knows their addresses.
    lab.ssh_config(&format!(
        "Host node1\n  HostName 127.10.0.1\nHost node2\n  HostName 127.10.0.2\n{}",
        config(both.to_str().unwrap())
    ));
    let inv = lab.inventory("", &[("node1", ""), ("node2", "")]);
    let r = lab.run(&inv, WHOAMI, &[]);
    r.ok();
    for h in ["node1", "node2"] {
        assert!(
            r.stdout.contains(&format!("{h} is {}", lab.user)),
            "{}",
            r.all()
        );
    }
    // The bastion opened channels to inner only, and one connection carried both
    // nodes; inner (the hosts' sshd) opened the channels to the nodes.
    let (bastion, hosts) = (lab.log("bastion"), lab.log("hosts"));
    let accepted = format!("Accepted publickey for {}", lab.user);
    assert_eq!(bastion.matches(&accepted).count(), 1, "{bastion}");
    assert!(bastion.contains("target 127.10.0.3 port 22"), "{bastion}");
    for node in ["127.10.0.1", "127.10.0.2"] {
        assert!(
            !bastion.contains(&format!("target {node} port 22")),
            "the bastion reached {node} itself:\n{bastion}"
        );
        assert!(hosts.contains(&format!("target {node} port 22")), "{hosts}");
    }
    assert_eq!(
        hosts.matches(&accepted).count(),
        3,
        "inner once, each node once:\n{hosts}"
    );

    // Every hop's key is checked: (known_hosts content, what the refusal names).
    for (kh, want) in [
        (ca_kh.clone(), "[127.0.0.1]:2222 is not in"),
        (bastion_kh.clone(), "127.10.0.3 is not in"),
    ] {
        let f = lab.path("known_hosts_partial");
        std::fs::write(&f, kh).unwrap();
        lab.ssh_config(&format!(
            "Host node1\n  HostName 127.10.0.1\n{}",
            config(f.to_str().unwrap())
        ));
        let inv = lab.inventory("", &[("node1", "")]);
        let r = lab.run(&inv, WHOAMI, &[]);
        assert_eq!(r.code, 3, "{}", r.all());
        let why = r.error_of("node1");
        assert!(why.contains(want), "{want}: {why}");
    }
}

#[test]
fn host_certificates_are_checked_against_the_cert_authority() {
    let lab = Lab::up();
    let vars = format!(
        "    ansible_user: {}\n    ansible_ssh_private_key_file: {}\n",
        lab.user,
        lab.p("id_ed25519")
    );
    let inv = lab.inventory(&vars, &[("node1", "ansible_host: 127.10.0.1")]);
    // Nothing but the CA is known: the host's certificate is what gets it in.
    let r = lab.run(&inv, WHOAMI, &["--known-hosts", &lab.p("known_hosts_ca")]);
    r.ok();

    let ca = std::fs::read_to_string(lab.path("host_ca.pub")).unwrap();
    let ca: Vec<&str> = ca.split_whitespace().take(2).collect();
    let other = std::fs::read_to_string(lab.path("other_ca.pub")).unwrap();
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    let cases = [
        // Another CA: the host is unknown.
        (
            format!("@cert-authority * {} {}\n", other[0], other[1]),
            "127.10.0.1",
            "is not in",
        ),
        // The CA revoked.
        (
            format!(
                "@cert-authority * {0} {1}\n@revoked * {0} {1}\n",
                ca[0], ca[1]
            ),
            "127.10.0.1",
            ":2",
        ),
        // An address the certificate does not name.
        (
            format!("@cert-authority * {} {}\n", ca[0], ca[1]),
            "127.10.0.9",
            "does not name 127.10.0.9 among its principals",
        ),
        // The CA trusted for other hosts only.
        (
            format!("@cert-authority *.example.com {} {}\n", ca[0], ca[1]),
            "127.10.0.1",
            "is not in",
        ),
    ];
    for (i, (known, address, want)) in cases.iter().enumerate() {
        let kh = lab.path(&format!("kh-{i}"));
        std::fs::write(&kh, known).unwrap();
        let inv = lab.inventory(&vars, &[("node1", &format!("ansible_host: {address}"))]);
        let r = lab.run(&inv, WHOAMI, &["--known-hosts", kh.to_str().unwrap()]);
        assert_eq!(r.code, 3, "case {i}: {}", r.all());
        let why = r.error_of("node1");
        assert!(why.contains(want), "case {i}: {why}");
        assert!(
            why.contains(kh.to_str().unwrap()),
            "case {i} names the file: {why}"
        );
        if i == 1 {
            assert!(why.contains("@revoked"), "{why}");
        }
    }
}

#[test]
fn user_certificates_are_offered_and_accepted_by_sshd() {
    let lab = Lab::up();
    let kh = lab.p("known_hosts_ca");
    // cert_ed25519 is not in authorized_keys: only its certificate (beside it, as
    // ssh-keygen wrote it) lets it in.
    let inv = lab.inventory(
        &format!("    ansible_user: {}\n", lab.user),
        &[(
            "node1",
            &format!(
                "ansible_host: 127.10.0.1, ansible_ssh_private_key_file: {}",
                lab.p("cert_ed25519")
            ),
        )],
    );
    let r = lab.run(&inv, WHOAMI, &["--known-hosts", &kh]);
    r.ok();
    let log = lab.log("hosts");
    assert!(
        log.contains(&format!("Accepted publickey for {} ", lab.user))
            && log.contains("ED25519-CERT"),
        "{log}"
    );

    // CertificateFile in the ssh config, for a key without a certificate beside it.
    std::fs::create_dir_all(lab.path("elsewhere")).unwrap();
    std::fs::copy(lab.path("cert_ed25519"), lab.path("elsewhere/key")).unwrap();
    lab.ssh_config(&format!(
        "Host 127.10.0.1\n  User {}\n  IdentityFile {}\n  CertificateFile {}\n  IdentitiesOnly yes\n",
        lab.user,
        lab.p("elsewhere/key"),
        lab.p("cert_ed25519-cert.pub")
    ));
    let inv = lab.inventory("", &[("node1", "ansible_host: 127.10.0.1")]);
    let r = lab.run(&inv, WHOAMI, &["--known-hosts", &kh]);
    r.ok();

    // The same key without any certificate is refused, and the message lists what was
    // tried.
    lab.ssh_config("");
    let inv = lab.inventory(
        &format!("    ansible_user: {}\n", lab.user),
        &[(
            "node1",
            &format!(
                "ansible_host: 127.10.0.1, ansible_ssh_private_key_file: {}",
                lab.p("elsewhere/key")
            ),
        )],
    );
    let r = lab.run(&inv, WHOAMI, &["--known-hosts", &kh]);
    assert_eq!(r.code, 3, "{}", r.all());
    let why = r.error_of("node1");
    assert!(
        why.contains("no key accepted") && why.contains("elsewhere/key"),
        "{why}"
    );
}

/// Writes a file as root and shows whatever it can of the password.
const BECOME: &str = r#"
- name: as root
  hosts: all
  become: true
  tasks:
    - {name: uid, command: id -u, register: uid, changed_when: false}
    - {name: again, command: id -u, register: again, changed_when: false}
    - name: a file only root may write
      copy: {dest: "{{ root_file }}", content: "written by {{ uid.stdout }}\n", mode: "0600"}
    - {name: try to show it, debug: {msg: "the password is {{ ansible_become_password }}"}}
    - {name: and as a variable, debug: {var: ansible_become_password}}
"#;

#[test]
fn a_sudo_password_from_a_vault_is_used_and_shown_nowhere() {
    let lab = Lab::up();
    let vault_pw = lab.path("vault-pass.txt");
    std::fs::write(&vault_pw, "test-only vault password\n").unwrap();
    let sealed = kubeforge::inventory::vault::encrypt(
        lab.password.as_bytes(),
        &kubeforge::inventory::vault::Password::new("test-only vault password"),
    );
    let root_file = format!("/var/lib/{}/by-root", lab.user);
    let vars = format!(
        "    ansible_user: {}\n    ansible_ssh_private_key_file: {}\n    root_file: {root_file}\n    ansible_become_password: !vault |\n{}\n",
        lab.user,
        lab.p("id_ed25519"),
        sealed
            .lines()
            .map(|l| format!("      {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let inv = lab.inventory(&vars, &[("node1", "ansible_host: 127.10.0.1")]);
    let args = [
        "--known-hosts",
        &lab.p("known_hosts_ca"),
        "--vault-password-file",
        vault_pw.to_str().unwrap(),
    ];
    let r = lab.run(&inv, BECOME, &args);
    r.ok();
    let meta = std::fs::metadata(&root_file).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        0,
        "written as root"
    );
    assert_eq!(
        std::fs::read_to_string(&root_file).unwrap(),
        "written by 0\n"
    );
    // The password is in no output, event or JUnit file; nor is sudo's prompt.
    for (what, text) in [
        ("stdout", &r.stdout),
        ("stderr", &r.stderr),
        ("events", &r.events_text),
        ("junit", &r.junit),
    ] {
        assert!(!text.is_empty() || what == "stderr", "{what} is empty");
        assert!(
            !text.contains(&lab.password),
            "the password is in {what}:\n{text}"
        );
        assert!(
            !text.contains("kubeforge: sudo password"),
            "sudo's prompt in {what}"
        );
    }
    assert!(
        r.stdout.contains("the password is ********"),
        "{}",
        r.stdout
    );
    // A second run: sudo may have cached the login; the password still goes nowhere.
    let r = lab.run(&inv, BECOME, &args);
    r.ok();
    assert!(!r.all().contains(&lab.password) && !r.events_text.contains(&lab.password));
}

#[test]
fn a_wrong_or_missing_sudo_password_is_reported_naming_the_variable() {
    let lab = Lab::up();
    let vars = format!(
        "    ansible_user: {}\n    ansible_ssh_private_key_file: {}\n    root_file: /var/lib/{}/by-root\n",
        lab.user,
        lab.p("id_ed25519"),
        lab.user
    );
    let kh = lab.p("known_hosts_ca");
    let inv = lab.inventory(
        &format!("{vars}    ansible_become_pass: not-the-password\n"),
        &[("node1", "ansible_host: 127.10.0.1")],
    );
    let r = lab.run(&inv, BECOME, &["--known-hosts", &kh]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(r.took < Duration::from_secs(60), "it took {:?}", r.took);
    let why = r.error_of("node1");
    assert!(
        why.contains("sudo refused the password in ansible_become_password"),
        "{why}"
    );
    assert!(!r.all().contains("not-the-password") && !r.events_text.contains("not-the-password"));

    let inv = lab.inventory(&vars, &[("node1", "ansible_host: 127.10.0.1")]);
    let r = lab.run(&inv, BECOME, &["--known-hosts", &kh]);
    assert_ne!(r.code, 0, "{}", r.all());
    let why = r.error_of("node1");
    assert!(why.contains("ansible_become_password is not set"), "{why}");
}

#[test]
fn password_login_uses_ansible_password_and_names_it_when_missing() {
    let lab = Lab::up();
    let kh = lab.p("known_hosts_ca");
    let host = [("node1", "ansible_host: 127.10.0.1")];
    let inv = lab.inventory(
        &format!(
            "    ansible_user: {}\n    ansible_password: '{}'\n",
            lab.user, lab.password
        ),
        &host,
    );
    let r = lab.run(&inv, WHOAMI, &["--known-hosts", &kh]);
    r.ok();
    assert!(
        lab.log("hosts")
            .contains(&format!("Accepted password for {} ", lab.user)),
        "{}",
        lab.log("hosts")
    );
    assert!(!r.all().contains(&lab.password) && !r.events_text.contains(&lab.password));

    let inv = lab.inventory(
        &format!(
            "    ansible_user: {}\n    ansible_ssh_pass: wrong-one\n",
            lab.user
        ),
        &host,
    );
    let r = lab.run(&inv, WHOAMI, &["--known-hosts", &kh]);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.error_of("node1").contains("ansible_password was refused"),
        "{}",
        r.error_of("node1")
    );

    let inv = lab.inventory(&format!("    ansible_user: {}\n", lab.user), &host);
    let r = lab.run(&inv, WHOAMI, &["--known-hosts", &kh]);
    assert_eq!(r.code, 3, "{}", r.all());
    assert!(
        r.error_of("node1").contains("set ansible_password"),
        "{}",
        r.error_of("node1")
    );
}

/// Tasks as another user: the keyword (a template), then the variable winning over it.
const BECOME_USER: &str = r#"
- name: as others
  hosts: all
  become: true
  become_user: "{{ other_user }}"
  tasks:
    - {name: who by keyword, command: id -un, register: kw, changed_when: false}
    - {name: say kw, debug: {msg: "keyword made {{ kw.stdout }}"}}
    - name: who by variable
      command: id -un
      register: var
      changed_when: false
      vars: {ansible_become_user: root}
    - {name: say var, debug: {msg: "variable made {{ var.stdout }}"}}
"#;

#[test]
fn become_user_runs_tasks_as_that_user_and_other_methods_are_refused() {
    let lab = Lab::up();
    let kh = lab.p("known_hosts_ca");
    let vars = format!(
        "    ansible_user: {}\n    ansible_ssh_private_key_file: {}\n    ansible_become_password: '{}'\n    other_user: nobody\n",
        lab.user,
        lab.p("id_ed25519"),
        lab.password
    );
    let inv = lab.inventory(&vars, &[("node1", "ansible_host: 127.10.0.1")]);
    let r = lab.run(&inv, BECOME_USER, &["--known-hosts", &kh]);
    r.ok();
    assert!(r.stdout.contains("keyword made nobody"), "{}", r.all());
    assert!(r.stdout.contains("variable made root"), "{}", r.all());
    assert!(!r.all().contains(&lab.password));

    // (ansible_become_method, what the refusal says)
    for (method, want) in [
        (
            "su",
            "node1: ansible_become_method is su, which kubeforge does not support",
        ),
        (
            "doas",
            "node1: ansible_become_method is 'doas', which kubeforge does not support",
        ),
    ] {
        let inv = lab.inventory(
            &format!("{vars}    ansible_become_method: {method}\n"),
            &[("node1", "ansible_host: 127.10.0.1")],
        );
        let r = lab.run(&inv, BECOME_USER, &["--known-hosts", &kh]);
        assert_ne!(r.code, 0, "{}", r.all());
        let why = r.error_of("node1");
        assert!(why.contains(want), "{method}: {why}");
    }
}
