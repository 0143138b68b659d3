//! The engine on real hosts: 3 Debian lab hosts booted by tests/lab/up.sh (systemd-nspawn,
//! sshd, one network namespace each), reached over SSH by kubeforge's russh transport.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab_support;

use lab_support::*;
use std::path::Path;

fn guard() -> std::sync::MutexGuard<'static, ()> {
    LAB.lock().unwrap_or_else(|e| e.into_inner())
}

const WORKERS: &[(&str, &[usize])] = &[
    ("kube_control_plane", &[1]),
    ("etcd", &[1]),
    ("kube_node", &[2, 3]),
];

fn run(dir: &Path, inv: &Path, play: &str, extra: &[&str]) -> Run {
    std::fs::write(dir.join("play.yml"), play).unwrap();
    let inv = inv.to_str().unwrap().to_string();
    let playbook = dir.join("play.yml").to_str().unwrap().to_string();
    let mut args = vec!["run", "-i", inv.as_str(), playbook.as_str()];
    args.extend_from_slice(extra);
    kubeforge(dir, &args)
}

const MODULES: &str = r##"
- name: every module over ssh
  hosts: instance-1
  vars: {t: /root/kf-modules}
  tasks:
    - {name: directory, file: {path: "{{ t }}/d", state: directory, mode: "0750"}}
    - {name: touch, file: {path: "{{ t }}/d/touched", state: touch}}
    - {name: link, file: {path: "{{ t }}/link", state: link, src: "{{ t }}/d"}}
    - {name: copy, copy: {dest: "{{ t }}/copy.txt", content: "on {{ inventory_hostname }}\n", mode: "0600"}}
    - {name: template-like content, copy: {dest: "{{ t }}/ips", content: "{{ ip }} {{ ip6 }}\n"}}
    - {name: lineinfile, lineinfile: {path: "{{ t }}/conf", line: "key=value", regexp: "^key=", create: true}}
    - {name: blockinfile, blockinfile: {path: "{{ t }}/conf", block: "a\nb", marker: "# {mark} kf", create: true}}
    - name: command
      command: touch {{ t }}/cmd
      args: {creates: "{{ t }}/cmd"}
    - {name: shell, shell: "echo hi > {{ t }}/sh", args: {creates: "{{ t }}/sh"}}
    - {name: unit file, copy: {dest: /etc/systemd/system/kf-test.service, content: "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"}}
    - {name: systemd, systemd: {name: kf-test, state: started, enabled: true, daemon_reload: true}}
    - {name: sysctl, sysctl: {name: net.ipv4.ip_forward, value: "1", sysctl_file: /etc/sysctl.d/99-kf-test.conf}}
    - {name: modprobe, modprobe: {name: overlay, state: present, persistent: present}}
    - {name: source for get_url, copy: {dest: "{{ t }}/src.bin", content: "payload\n"}}
    - {name: get_url, get_url: {url: "file://{{ t }}/src.bin", dest: "{{ t }}/got.bin", checksum: "sha256:ab6d2fa2e1d2b3bc8a9b2d1d1e3a2b0bbff5e2d5cc0a8e1d4af3b2c1b5b4c3a1", mode: "0644"}, ignore_errors: true, register: bad}
    - {name: bad checksum was refused, assert: {that: ["bad.failed", "'checksum mismatch' in bad.msg"]}}
    - {name: archive, shell: "tar -czf {{ t }}/a.tgz -C {{ t }} d", args: {creates: "{{ t }}/a.tgz"}}
    - {name: unarchive, unarchive: {src: "{{ t }}/a.tgz", dest: "{{ t }}/x", remote_src: true}}
    - {name: wait_for, wait_for: {port: 22, host: 127.0.0.1, timeout: 10}}
    - {name: http server, shell: "systemd-run --unit kf-http -p WorkingDirectory={{ t }} python3 -m http.server 8081 --bind 127.0.0.1", args: {creates: /run/systemd/transient/kf-http.service}}
    - {name: uri, uri: {url: "http://127.0.0.1:8081/copy.txt", status_code: [200, 403]}, register: page, retries: 20, delay: 1, until: page.status is defined}
"##;

#[test]
fn every_module_over_ssh_converges() {
    let _g = guard();
    up(3, false);
    let tmp = tempfile::tempdir().unwrap();
    ssh(1, "rm -rf /root/kf-modules; systemctl stop kf-http 2>/dev/null; rm -f /etc/systemd/system/kf-test.service; true");
    let inv = inventory(tmp.path(), &[1, 2, 3], WORKERS, "");
    let first = run(tmp.path(), &inv, MODULES, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(first.changed("instance-1") >= 15, "{}", first.stdout);
    let (ok, out) = ssh(1, "cat /root/kf-modules/copy.txt /root/kf-modules/ips; stat -c %a /root/kf-modules/d; systemctl is-active kf-test; cat /etc/sysctl.d/99-kf-test.conf; ls /root/kf-modules/x/d");
    assert!(ok, "{out}");
    assert!(out.contains("on instance-1\n10.213.0.11 fd00:6b66:6f72::11\n750\nactive\nnet.ipv4.ip_forward = 1\ntouched"), "{out}");
    let second = run(tmp.path(), &inv, MODULES, &[]);
    assert_eq!(second.code, 0, "{}", second.stdout);
    assert_eq!(
        second.changed("instance-1"),
        0,
        "second run changed: {:?}",
        second.changed_tasks()
    );
    ssh(1, "systemctl stop kf-http kf-test; true");
}

const THREE: &str = r#"
- name: three hosts
  hosts: all
  vars: {t: /root/kf-three}
  tasks:
    - {name: dirs, file: {path: "{{ t }}/{{ item }}", state: directory}, loop: [a, b]}
    - {name: hostfile, copy: {dest: "{{ t }}/a/host", content: "{{ inventory_hostname }}\n"}}
    - {name: a line, lineinfile: {path: "{{ t }}/b/lines", line: "x=1", create: true}}
    - {name: once, command: "touch {{ t }}/once", args: {creates: "{{ t }}/once"}}
"#;

fn listing(k: usize) -> String {
    ssh(
        k,
        "find /root/kf-three /etc/systemd/system -printf '%p %m %s\\n' 2>/dev/null | sort",
    )
    .1
}

#[test]
fn check_predicts_then_apply_then_nothing_changes_on_three_hosts() {
    let _g = guard();
    up(3, false);
    for k in 1..=3 {
        ssh(k, "rm -rf /root/kf-three");
    }
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(tmp.path(), &[1, 2, 3], WORKERS, "");
    let before: Vec<String> = (1..=3).map(listing).collect();
    let check = run(tmp.path(), &inv, THREE, &["--check"]);
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
    let after_check: Vec<String> = (1..=3).map(listing).collect();
    assert_eq!(before, after_check, "check mode changed files on the hosts");
    let apply = run(tmp.path(), &inv, THREE, &[]);
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    assert_eq!(
        check.changed_tasks(),
        apply.changed_tasks(),
        "check mode did not predict the real run"
    );
    assert_eq!(ssh(3, "cat /root/kf-three/a/host").1, "instance-3\n");
    let again = run(tmp.path(), &inv, THREE, &[]);
    for h in ["instance-1", "instance-2", "instance-3"] {
        assert_eq!(again.changed(h), 0, "{h}: {:?}", again.changed_tasks());
    }
    // The JSON recap and the human recap agree.
    for h in ["instance-1", "instance-2", "instance-3"] {
        let c = &again.recap()["hosts"][h];
        let line = again
            .stdout
            .lines()
            .find(|l| l.starts_with(h))
            .expect("recap line");
        let nums: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(nums[0], c["ok"].as_u64().unwrap());
        assert_eq!(nums[1], c["changed"].as_u64().unwrap());
    }
}

#[test]
fn a_host_stopped_mid_run_is_unreachable_and_the_others_finish() {
    let _g = guard();
    up(3, false);
    let tmp = tempfile::tempdir().unwrap();
    for k in 1..=3 {
        ssh(k, "rm -rf /root/kf-stop");
    }
    let inv = inventory(tmp.path(), &[1, 2, 3], WORKERS, "");
    let play = r#"
- name: slow
  hosts: all
  tasks:
    - {name: wait a little, shell: sleep 4}
    - {name: after, file: {path: /root/kf-stop, state: directory}}
"#;
    let stopper = std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        host_action("stop", "instance-3");
    });
    let r = run(tmp.path(), &inv, play, &["--timeout", "30"]);
    stopper.join().unwrap();
    host_action("start", "instance-3");
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.recap()["hosts"]["instance-3"]["unreachable"],
        1,
        "{}",
        r.stdout
    );
    assert!(r.events.iter().any(|e| e["event"] == "host_stopped"
        && e["host"] == "instance-3"
        && e["reason"].as_str().unwrap().starts_with("unreachable")));
    assert!(ssh(1, "test -d /root/kf-stop").0 && ssh(2, "test -d /root/kf-stop").0);
}

#[test]
fn a_remote_command_that_never_ends_is_killed_at_its_timeout() {
    let _g = guard();
    up(3, false);
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(tmp.path(), &[1, 2, 3], WORKERS, "");
    let play = r#"
- name: hang
  hosts: instance-2
  tasks:
    - {name: never ends, shell: "sleep 600 && echo kf-never-marker", timeout: 2}
"#;
    let started = std::time::Instant::now();
    let r = run(tmp.path(), &inv, play, &[]);
    assert!(started.elapsed().as_secs() < 30);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let f = r
        .events
        .iter()
        .find(|e| e["event"] == "step_result" && e["status"] == "failed")
        .unwrap();
    assert_eq!(f["host"], "instance-2");
    assert_eq!(f["task"], "never ends");
    assert!(
        f["error"].as_str().unwrap().contains("timed out after 2 s"),
        "{f}"
    );
    let (_, left) = ssh(2, "ps -eo args | grep -c '^sleep 600' || true");
    assert_eq!(left.trim(), "0", "the remote process outlived its timeout");
}

#[test]
fn a_host_with_a_different_key_is_refused_and_nothing_runs_there() {
    let _g = guard();
    up(3, false);
    let tmp = tempfile::tempdir().unwrap();
    for k in 1..=3 {
        ssh(k, "rm -rf /root/kf-keys");
    }
    // A known_hosts where instance-2's lines carry instance-1's key.
    let kh = std::fs::read_to_string(lab_dir().join("known_hosts")).unwrap();
    let key1: String = kh
        .lines()
        .find(|l| {
            l.split_whitespace()
                .next()
                .unwrap_or("")
                .split(',')
                .any(|h| h == "10.213.0.11")
        })
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .expect("instance-1 key");
    let forged: String = kh
        .lines()
        .map(|l| {
            let host = l.split_whitespace().next().unwrap_or("");
            if host.split(',').any(|h| h == "10.213.0.12") {
                format!("{host} {key1}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let kh_path = tmp.path().join("known_hosts");
    std::fs::write(&kh_path, forged).unwrap();
    let inv = inventory(tmp.path(), &[1, 2, 3], WORKERS, "");
    std::fs::write(tmp.path().join("play.yml"), "- name: keys\n  hosts: all\n  tasks:\n    - {name: marker, file: {path: /root/kf-keys, state: directory}}\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["run", "-i"])
        .arg(&inv)
        .arg(tmp.path().join("play.yml"))
        .arg("--known-hosts")
        .arg(&kh_path)
        .arg("--accept-new-host-keys")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("instance-2") && stdout.contains("host key"),
        "{stdout}"
    );
    assert!(
        !ssh(2, "test -e /root/kf-keys").0,
        "something ran on the host with the wrong key"
    );
    assert!(ssh(1, "test -d /root/kf-keys").0 && ssh(3, "test -d /root/kf-keys").0);
}

#[test]
fn needs_are_refused_before_any_connection() {
    let _g = guard();
    up(3, false);
    let tmp = tempfile::tempdir().unwrap();
    for k in 1..=3 {
        ssh(k, "rm -rf /root/kf-needs");
    }
    let inv = inventory(
        tmp.path(),
        &[1, 2, 3],
        &[
            ("kube_control_plane", &[1]),
            ("kube_node", &[2]),
            ("etcd", &[3]),
        ],
        "",
    );
    let play = r#"
- name: images everywhere
  hosts: all
  tasks:
    - {name: marker, file: {path: /root/kf-needs, state: directory}}
    - {name: list images, command: nerdctl images, needs: [nerdctl]}
"#;
    let r = run(tmp.path(), &inv, play, &[]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("needs nerdctl but host instance-3 (roles: etcd)"),
        "{}",
        r.stderr
    );
    assert!(r.events.is_empty(), "events were emitted: the run started");
    for k in 1..=3 {
        assert!(
            !ssh(k, "test -e /root/kf-needs").0,
            "instance-{k} was touched"
        );
    }
}

#[test]
fn a_bastion_carries_the_connection() {
    let _g = guard();
    up(3, false);
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(
        tmp.path(),
        &[1, 2, 3],
        &[
            ("bastion", &[1]),
            ("kube_control_plane", &[2]),
            ("etcd", &[2]),
            ("kube_node", &[3]),
        ],
        "",
    );
    let play = r#"
- name: where from
  hosts: instance-2
  tasks:
    - {name: client address, shell: 'echo "$SSH_CLIENT"', register: client, changed_when: false}
    - {name: write it, copy: {dest: /root/kf-client, content: "{{ client.stdout.split(' ')[0] }}\n"}}
"#;
    let r = run(tmp.path(), &inv, play, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    // instance-2 saw the SSH session come from the bastion, not from this machine.
    assert_eq!(ssh(2, "cat /root/kf-client").1.trim(), addr(1));
}

#[test]
fn sudo_that_wants_a_password_is_an_error_not_a_hang() {
    let _g = guard();
    up(3, false);
    let pubkey = std::fs::read_to_string(lab_dir().join("id_ed25519.pub")).unwrap();
    let (ok, out) = ssh(
        2,
        &format!(
            "id kfu >/dev/null 2>&1 || useradd -m -s /bin/sh kfu; mkdir -p ~kfu/.ssh; echo '{}' > ~kfu/.ssh/authorized_keys; chown -R kfu ~kfu/.ssh; echo 'kfu ALL=(ALL) ALL' > /etc/sudoers.d/kfu; chmod 0440 /etc/sudoers.d/kfu",
            pubkey.trim()
        ),
    );
    assert!(ok, "{out}");
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(tmp.path(), &[1, 2, 3], WORKERS, "");
    // instance-2 logs in as kfu.
    let text = std::fs::read_to_string(&inv).unwrap().replace(
        "    instance-2:\n      ansible_host: 10.213.0.12\n      ansible_user: root",
        "    instance-2:\n      ansible_host: 10.213.0.12\n      ansible_user: kfu",
    );
    std::fs::write(&inv, text).unwrap();
    let play = "- name: root things\n  hosts: instance-2\n  become: true\n  tasks:\n    - {name: as root, file: {path: /root/kf-sudo, state: directory}}\n";
    let started = std::time::Instant::now();
    let r = run(tmp.path(), &inv, play, &[]);
    assert!(started.elapsed().as_secs() < 20, "it waited for a password");
    assert_eq!(r.code, 2, "{}", r.stdout);
    let f = r
        .events
        .iter()
        .find(|e| e["event"] == "step_result" && e["status"] == "failed")
        .expect("a failed step");
    assert!(
        f["error"]
            .as_str()
            .unwrap()
            .contains("sudo needs a password"),
        "{f}"
    );
    assert!(!ssh(2, "test -e /root/kf-sudo").0);
}

#[test]
fn download_once_fetches_on_the_controller_and_pushes() {
    let _g = guard();
    up(3, false);
    for script in ["files-repo.sh", "files-server.sh"] {
        let mut c = std::process::Command::new("bash");
        c.arg(repo().join("tests/lab").join(script));
        if script == "files-server.sh" {
            c.arg("start");
        }
        let out = c.stdin(std::process::Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let vars = std::fs::read_to_string("/var/cache/kubeforge-lab/files/lab-vars.yml").unwrap();
    let sha = vars
        .lines()
        .find(|l| l.trim_start().starts_with("runc:"))
        .and_then(|l| l.split("amd64: ").nth(1))
        .map(|s| s.trim_end_matches(['}', ' ']).to_string())
        .expect("runc checksum");
    let version = vars
        .lines()
        .find(|l| l.starts_with("runc_version:"))
        .map(|l| l.split('"').nth(1).unwrap().to_string())
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    ssh(3, "rm -rf /root/kf-once");
    let inv = inventory(tmp.path(), &[1, 2, 3], WORKERS, "");
    let play = format!(
        "- name: once\n  hosts: instance-3\n  tasks:\n    - name: runc via the controller\n      get_url: {{url: \"http://10.213.0.1:8080/github.com/opencontainers/runc/releases/download/v{version}/runc.amd64\", dest: /root/kf-once/runc, checksum: \"sha256:{sha}\", mode: \"0755\", download_once: true}}\n"
    );
    let cache = tmp.path().join("cache");
    std::fs::write(tmp.path().join("play.yml"), &play).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["run", "-i"])
        .arg(&inv)
        .arg(tmp.path().join("play.yml"))
        .arg("--known-hosts")
        .arg(lab_dir().join("known_hosts"))
        .env("XDG_CACHE_HOME", &cache)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        cache.join("kubeforge").join(&sha).is_file(),
        "not cached on the controller"
    );
    assert_eq!(
        ssh(3, "sha256sum < /root/kf-once/runc | cut -d' ' -f1")
            .1
            .trim(),
        sha
    );
    assert!(
        !ssh(3, &format!("test -e /var/cache/kubeforge/{sha}")).0,
        "the staged copy was left on the host"
    );
}

#[test]
fn kubeconfig_points_at_a_reachable_address_and_returns() {
    let _g = guard();
    up(3, false);
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(tmp.path(), &[1, 2, 3], WORKERS, "");
    let kc = |out: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"))
            .args(["kubeconfig", "-i"])
            .arg(&inv)
            .arg("-o")
            .arg(out)
            .arg("--known-hosts")
            .arg(lab_dir().join("known_hosts"))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    ssh(1, "rm -f /etc/kubernetes/admin.conf");
    let missing = kc(&tmp.path().join("none.conf"));
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("has the cluster been bootstrapped"));
    ssh(1, "mkdir -p /etc/kubernetes && printf 'apiVersion: v1\\nclusters:\\n- cluster:\\n    server: https://10.96.0.1:6443\\n  name: kf\\n' > /etc/kubernetes/admin.conf");
    let out = tmp.path().join("admin.conf");
    let started = std::time::Instant::now();
    let r = kc(&out);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(started.elapsed().as_secs() < 10);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("server: https://10.213.0.11:6443"), "{text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    ssh(1, "rm -f /etc/kubernetes/admin.conf");
}

#[test]
fn an_unknown_host_is_refused_unless_new_keys_are_accepted_then_recorded() {
    let _g = guard();
    up(3, false);
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(tmp.path(), &[1, 2, 3], WORKERS, "");
    std::fs::write(tmp.path().join("play.yml"), "- name: hello\n  hosts: instance-1\n  tasks:\n    - {name: hello, command: 'true', changed_when: false}\n").unwrap();
    let kh = tmp.path().join("known_hosts");
    std::fs::write(&kh, "").unwrap();
    let go = |accept: bool| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kubeforge"));
        c.args(["run", "-i"])
            .arg(&inv)
            .arg(tmp.path().join("play.yml"))
            .arg("--known-hosts")
            .arg(&kh);
        if accept {
            c.arg("--accept-new-host-keys");
        }
        c.stdin(std::process::Stdio::null()).output().unwrap()
    };
    let refused = go(false);
    let text = String::from_utf8_lossy(&refused.stdout);
    assert_eq!(refused.status.code(), Some(3), "{text}");
    assert!(
        text.contains("is not in") && text.contains("--accept-new-host-keys"),
        "{text}"
    );
    let accepted = go(true);
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stdout)
    );
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(recorded.contains("10.213.0.11 ssh-ed25519 "), "{recorded}");
    assert!(go(false).status.success(), "the recorded key was not used");
}

/// A fixed sample of the values the property test (src/modules/values_tests.rs) draws
/// from, over SSH: every one takes effect literally as a file name, a file's content and
/// a program's argument, and nothing they spell runs.
#[test]
fn nasty_values_take_effect_literally_over_ssh() {
    use base64::Engine as _;
    let _g = guard();
    up(3, false);
    let names: Vec<String> = vec![
        "o'brien".into(),
        "Bob's files".into(),
        "a''b'''c".into(),
        "$(touch KFPWNED)".into(),
        "`touch KFPWNED`".into(),
        "; touch KFPWNED".into(),
        "&& touch KFPWNED &&".into(),
        "' ; touch KFPWNED ; '".into(),
        "new\nline\ttab".into(),
        "-leading dash".into(),
        "*?[glob]~%s%n\\\\".into(),
        "\"dq\" $HOME ${IFS} é✓日本".into(),
        "x".repeat(200),
    ];
    let play = serde_json::json!([{
        "name": "nasty values",
        "hosts": "instance-1",
        "vars": {"t": "/root/kf-nasty", "names": names},
        "tasks": [
            {"name": "clean", "shell": "rm -rf /root/kf-nasty; mkdir -p /root/kf-nasty/d /root/kf-nasty/c /root/kf-nasty/a",
             "args": {"creates": "/root/kf-nasty/lines"}},
            {"name": "dirs", "file": {"path": "{{ t }}/d/{{ item }}", "state": "directory"}, "loop": "{{ names }}"},
            {"name": "files", "copy": {"dest": "{{ t }}/c/{{ item }}", "content": "{{ item }}"}, "loop": "{{ names }}"},
            {"name": "lines", "lineinfile": {"path": "{{ t }}/lines", "line": "{{ item | replace('\\n', ' ') }}", "create": true}, "loop": "{{ names }}"},
            {"name": "argv", "command": {"argv": ["touch", "--", "{{ t }}/a/{{ item }}"], "creates": "{{ t }}/a/{{ item }}"}, "loop": "{{ names }}"},
        ],
    }]);
    let tmp = tempfile::tempdir().unwrap();
    let inv = inventory(tmp.path(), &[1, 2, 3], WORKERS, "");
    let text = serde_json::to_string_pretty(&play).unwrap();
    let first = run(tmp.path(), &inv, &text, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let listed = |sub: &str| -> Vec<String> {
        let (ok, out) = ssh(
            1,
            &format!("cd /root/kf-nasty/{sub} && find . -mindepth 1 -maxdepth 1 -printf '%f\\0' | base64 -w0"),
        );
        assert!(ok, "{out}");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(out.trim())
            .unwrap();
        let mut v: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8(s.to_vec()).unwrap())
            .collect();
        v.sort();
        v
    };
    let mut want = names.clone();
    want.sort();
    assert_eq!(listed("d"), want);
    assert_eq!(listed("c"), want);
    assert_eq!(listed("a"), want);
    let (ok, out) = ssh(
        1,
        "cat /root/kf-nasty/c/o\\'brien; echo; cat /root/kf-nasty/lines | base64 -w0",
    );
    assert!(ok, "{out}");
    let mut lines = out.splitn(2, '\n');
    assert_eq!(lines.next(), Some("o'brien"));
    let body = base64::engine::general_purpose::STANDARD
        .decode(lines.next().unwrap().trim())
        .unwrap();
    let want_lines: String = names
        .iter()
        .map(|n| format!("{}\n", n.replace('\n', " ")))
        .collect();
    assert_eq!(String::from_utf8(body).unwrap(), want_lines);
    let (_, pwned) = ssh(1, "find / -xdev -name KFPWNED 2>/dev/null | head -5");
    assert!(pwned.trim().is_empty(), "a value ran as a command: {pwned}");
    let second = run(tmp.path(), &inv, &text, &[]);
    assert_eq!(second.code, 0, "{}", second.stdout);
    assert_eq!(
        second.changed("instance-1"),
        0,
        "{:?}",
        second.changed_tasks()
    );
}
