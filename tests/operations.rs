//! Operations on local "hosts" (ansible_connection: local): the lock beside the record
//! (a second run fails fast naming the holder; a killed run's lock is reported and
//! taken over), the record policy of each operation (reset removes its hosts), a
//! corrupt record refused, and the playbook features the operations rely on (pre_tasks
//! and post_tasks order, role entries with when/tags/vars, check_mode on a task).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn env(playbook: &str) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let inv = format!(
        "all:\n  vars:\n    ansible_connection: local\n    root: {}\n  children:\n    kube_control_plane:\n      hosts:\n        h1: {{ip: 127.0.0.11}}\n    kube_node:\n      hosts:\n        h2: {{ip: 127.0.0.12}}\n    etcd:\n      hosts:\n        h1:\n",
        dir.display()
    );
    std::fs::write(dir.join("hosts.yaml"), inv).unwrap();
    std::fs::write(dir.join("play.yml"), playbook).unwrap();
    Env { _tmp: tmp, dir }
}

fn cmd(e: &Env, playbook: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubeforge"));
    c.args(["run", "-i"])
        .arg(e.dir.join("hosts.yaml"))
        .arg(e.dir.join(playbook))
        .args(extra)
        .stdin(Stdio::null());
    c
}

struct Out {
    code: i32,
    stdout: String,
    /// stderr with the error renderer's line wrapping undone.
    stderr: String,
}

/// Joins the lines the error renderer wrapped (`\n  │ ` continuations).
fn unwrap_lines(s: &str) -> String {
    let re = regex::Regex::new(r"\n\s*│ ?").unwrap();
    re.replace_all(s, " ").into_owned()
}

fn run(e: &Env, playbook: &str, extra: &[&str]) -> Out {
    let out = cmd(e, playbook, extra).output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: unwrap_lines(&String::from_utf8_lossy(&out.stderr)),
    }
}

fn record(e: &Env) -> Value {
    let text = std::fs::read_to_string(e.dir.join(".kubeforge/last-applied.json"))
        .unwrap_or_else(|_| "{\"hosts\": {}}".into());
    serde_json::from_str(&text).unwrap()
}

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SLOW: &str = "- hosts: all\n  tasks:\n    - name: mark\n      shell: \"touch {{ root }}/{{ inventory_hostname }}.started; sleep 3\"\n";

#[test]
fn a_second_run_is_refused_naming_the_holder_and_a_killed_runs_lock_is_taken_over() {
    let e = env(SLOW);
    let mut first = cmd(&e, "play.yml", &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&e.dir.join("h1.started"));
    let lock = e.dir.join(".kubeforge/lock");
    assert!(lock.exists(), "a running run holds the lock");
    let second = run(&e, "play.yml", &[]);
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert!(
        second.stderr.contains(&format!("pid {}", first.id())) && second.stderr.contains("run"),
        "the refusal names the holder: {}",
        second.stderr
    );
    // Killed without a chance to clean up: the lock stays behind.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(lock.exists());
    let third = run(&e, "play.yml", &[]);
    assert_eq!(third.code, 0, "{}{}", third.stdout, third.stderr);
    assert!(
        third.stderr.contains("stale lock")
            && third.stderr.contains(&format!("pid {}", first.id())),
        "the stale lock is reported: {}",
        third.stderr
    );
    assert!(!lock.exists(), "released at the end");
    // Check mode takes no lock: it runs beside a held lock.
    std::fs::write(
        &lock,
        "{\"pid\": 1, \"machine\": \"elsewhere\", \"started_at\": 1, \"operation\": \"install\"}",
    )
    .unwrap();
    assert_eq!(run(&e, "play.yml", &["--check"]).code, 0);
    let refused = run(&e, "play.yml", &[]);
    assert_eq!(refused.code, 4);
    assert!(refused.stderr.contains("elsewhere"), "{}", refused.stderr);
}

#[test]
fn reset_removes_its_hosts_from_the_record_and_health_writes_none() {
    let e = env("- hosts: all\n  tasks:\n    - name: touch\n      file: {path: \"{{ root }}/{{ inventory_hostname }}\", state: touch}\n");
    let out = run(&e, "play.yml", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rec = record(&e);
    assert_eq!(rec["hosts"]["h1"]["operation"], "run");
    assert_eq!(
        rec["hosts"]["h1"]["roles"],
        serde_json::json!(["control_plane", "etcd"])
    );
    assert!(
        rec["hosts"]["h1"]["versions"]["etcd"].is_string(),
        "{rec:#}"
    );
    assert!(
        rec["hosts"]["h2"]["versions"]["containerd"].is_string(),
        "{rec:#}"
    );
    assert!(
        rec["hosts"]["h2"]["versions"].get("etcd").is_none(),
        "{rec:#}"
    );
    std::fs::write(
        e.dir.join("reset.yml"),
        "- hosts: all\n  tasks:\n    - name: remove\n      file: {path: \"{{ root }}/{{ inventory_hostname }}\", state: absent}\n",
    )
    .unwrap();
    let out = run(&e, "reset.yml", &["--limit", "h2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rec = record(&e);
    assert!(
        rec["hosts"].get("h2").is_none(),
        "reset removed h2: {rec:#}"
    );
    assert!(
        rec["hosts"].get("h1").is_some(),
        "h1 was not reset: {rec:#}"
    );
    let text = std::fs::read_to_string(e.dir.join(".kubeforge/last-applied.json")).unwrap();
    assert!(!text.contains("reset.yml"), "{text}");
}

#[test]
fn a_corrupt_record_is_an_error_naming_its_path_and_nothing_runs() {
    let e = env("- hosts: all\n  tasks:\n    - name: touch\n      file: {path: \"{{ root }}/{{ inventory_hostname }}\", state: touch}\n");
    std::fs::create_dir_all(e.dir.join(".kubeforge")).unwrap();
    std::fs::write(e.dir.join(".kubeforge/last-applied.json"), "{ truncated").unwrap();
    let out = run(&e, "play.yml", &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains(".kubeforge/last-applied.json"),
        "{}",
        out.stderr
    );
    assert!(!e.dir.join("h1").exists(), "nothing ran");
    let check = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["inventory", "check", "-i"])
        .arg(e.dir.join("hosts.yaml"))
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stderr).contains("record-unreadable"));
}

#[test]
fn pre_tasks_roles_tasks_post_tasks_run_in_ansibles_order_with_role_entry_keywords() {
    let e = env(
        "- hosts: h1\n  vars: {log: \"{{ root }}/order\"}\n  post_tasks:\n    - shell: \"echo post >> {{ log }}\"\n  tasks:\n    - shell: \"echo task >> {{ log }}\"\n  pre_tasks:\n    - shell: \"echo pre >> {{ log }}\"\n  roles:\n    - {role: r, vars: {word: role-param}, tags: [rt]}\n    - {name: r, when: \"false\"}\n",
    );
    std::fs::create_dir_all(e.dir.join("roles/r/tasks")).unwrap();
    std::fs::write(
        e.dir.join("roles/r/tasks/main.yml"),
        "- shell: \"echo {{ word | default('unset') }} >> {{ log }}\"\n",
    )
    .unwrap();
    let out = run(&e, "play.yml", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let order = std::fs::read_to_string(e.dir.join("order")).unwrap();
    assert_eq!(order, "pre\nrole-param\ntask\npost\n");
    // tags on the role entry select its tasks.
    std::fs::remove_file(e.dir.join("order")).unwrap();
    assert_eq!(run(&e, "play.yml", &["--tags", "rt"]).code, 0);
    assert_eq!(
        std::fs::read_to_string(e.dir.join("order")).unwrap(),
        "role-param\n"
    );
    // Unknown keys in a role entry are refused at file:line.
    std::fs::write(
        e.dir.join("bad.yml"),
        "- hosts: h1\n  roles:\n    - {role: r, colour: red}\n",
    )
    .unwrap();
    let bad = run(&e, "bad.yml", &[]);
    assert_eq!(bad.code, 4);
    assert!(
        bad.stderr.contains("bad.yml:3") && bad.stderr.contains("colour"),
        "{}",
        bad.stderr
    );
}

#[test]
fn check_mode_on_a_task_overrides_the_run() {
    let e = env(
        "- hosts: h1\n  tasks:\n    - name: read for real\n      shell: \"echo probe > {{ root }}/read\"\n      check_mode: false\n    - name: never change\n      file: {path: \"{{ root }}/never\", state: touch}\n      check_mode: true\n    - name: as the run\n      file: {path: \"{{ root }}/asrun\", state: touch}\n",
    );
    let out = run(&e, "play.yml", &["--check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        e.dir.join("read").exists(),
        "check_mode: false runs under --check"
    );
    assert!(!e.dir.join("never").exists());
    assert!(!e.dir.join("asrun").exists());
    let out = run(&e, "play.yml", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !e.dir.join("never").exists(),
        "check_mode: true never changes"
    );
    assert!(e.dir.join("asrun").exists());
}

/// A cluster on addresses nothing answers (TEST-NET-1): a refusal must come before any
/// connection, so these tests also prove nothing was contacted (and finish at once).
fn recorded_cluster() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::write(
        dir.join("hosts.yaml"),
        "all:\n  vars: {ansible_user: root}\n  hosts:\n    cp1: {ansible_host: 192.0.2.1, ip: 192.0.2.1}\n    w1: {ansible_host: 192.0.2.2, ip: 192.0.2.2}\n    e1: {ansible_host: 192.0.2.3, ip: 192.0.2.3}\n    e2: {ansible_host: 192.0.2.4, ip: 192.0.2.4}\n    e3: {ansible_host: 192.0.2.5, ip: 192.0.2.5}\n  children:\n    kube_control_plane: {hosts: {cp1: }}\n    kube_node: {hosts: {w1: }}\n    etcd: {hosts: {e1: , e2: , e3: }}\n",
    )
    .unwrap();
    let host = |roles: &str| {
        format!(
            "{{\"roles\": [{roles}], \"components\": [], \"playbook\": \"playbooks/cluster.yml\", \"applied_at\": 1}}"
        )
    };
    std::fs::create_dir_all(dir.join(".kubeforge")).unwrap();
    std::fs::write(
        dir.join(".kubeforge/last-applied.json"),
        format!(
            "{{\"hosts\": {{\"cp1\": {}, \"w1\": {}, \"e1\": {}, \"e2\": {}, \"e3\": {}}}}}",
            host("\"control_plane\""),
            host("\"worker\""),
            host("\"etcd\""),
            host("\"etcd\""),
            host("\"etcd\"")
        ),
    )
    .unwrap();
    (tmp, dir)
}

fn kf(dir: &Path, args: &[&str]) -> Out {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(args)
        .arg("-i")
        .arg(dir.join("hosts.yaml"))
        .arg("--connect-timeout")
        .arg("30")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "a refusal must not wait for any host"
    );
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: unwrap_lines(&String::from_utf8_lossy(&out.stderr)),
    }
}

#[test]
fn remove_node_refusals_come_before_any_connection() {
    let (_tmp, dir) = recorded_cluster();
    let cases: [(&[&str], &str); 6] = [
        (&["remove-node", "w1"], "without --yes"),
        (&["remove-node", "cp1", "--yes"], "without a control plane"),
        (
            &["remove-node", "e1", "e2", "--yes"],
            "removing 2 of 3 etcd members at once",
        ),
        (
            &["remove-node", "e1", "--yes"],
            "etcd would be left with 2 members",
        ),
        (
            &["remove-node", "e1", "e2", "e3", "--yes", "--force"],
            "every etcd member",
        ),
        (
            &["remove-node", "ghost", "--yes"],
            "ghost is not in the last-applied record",
        ),
    ];
    for (args, says) in cases {
        let out = kf(&dir, args);
        assert_eq!(out.code, 4, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(says),
            "{args:?} should say {says:?}: {}",
            out.stderr
        );
        assert!(!dir.join(".kubeforge/lock").exists());
    }
    let rec = std::fs::read_to_string(dir.join(".kubeforge/last-applied.json")).unwrap();
    assert!(
        rec.contains("\"e1\"") && rec.contains("\"cp1\""),
        "the record is untouched"
    );
}

#[test]
fn scale_refusals_name_what_to_do() {
    let (_tmp, dir) = recorded_cluster();
    // w2 is in the inventory but neither provisioned nor named.
    let text = std::fs::read_to_string(dir.join("hosts.yaml"))
        .unwrap()
        .replace("    w1: {ansible_host: 192.0.2.2, ip: 192.0.2.2}\n", "    w1: {ansible_host: 192.0.2.2, ip: 192.0.2.2}\n    w2: {ansible_host: 192.0.2.6, ip: 192.0.2.6}\n    w3: {ansible_host: 192.0.2.7, ip: 192.0.2.7}\n")
        .replace("kube_node: {hosts: {w1: }}", "kube_node: {hosts: {w1: , w2: , w3: }}");
    std::fs::write(dir.join("hosts.yaml"), text).unwrap();
    let out = kf(&dir, &["scale", "--limit", "w3"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("w2 is in the inventory but neither provisioned nor named in --limit"),
        "{}",
        out.stderr
    );
    let out = kf(&dir, &["scale"]);
    assert_eq!(out.code, 4);
    assert!(out.stderr.contains("--limit"), "{}", out.stderr);
    std::fs::remove_file(dir.join(".kubeforge/last-applied.json")).unwrap();
    let out = kf(&dir, &["scale", "--limit", "w2,w3"]);
    assert_eq!(out.code, 4);
    assert!(
        out.stderr.contains("there is no cluster to scale"),
        "{}",
        out.stderr
    );
}

#[test]
fn etcd_restore_and_recover_refusals_come_before_any_connection() {
    let (_tmp, dir) = recorded_cluster();
    let good = dir.join("snap.db");
    std::fs::write(&good, b"not really a snapshot").unwrap();
    let damaged = dir.join("damaged.db");
    std::fs::write(&damaged, b"bytes").unwrap();
    std::fs::write(dir.join("damaged.db.sha256"), "00ff  damaged.db\n").unwrap();
    let junit = format!("junit={}", dir.join("r.xml").display());
    let cases: [(Vec<&str>, i32, &str); 4] = [
        (
            vec![
                "etcd",
                "restore",
                "--snapshot",
                good.to_str().unwrap(),
                "--output",
                &junit,
            ],
            4,
            "without --yes",
        ),
        (
            vec![
                "etcd",
                "restore",
                "--snapshot",
                "/nonexistent/x.db",
                "--yes",
            ],
            4,
            "cannot read the snapshot /nonexistent/x.db",
        ),
        (
            vec![
                "etcd",
                "restore",
                "--snapshot",
                damaged.to_str().unwrap(),
                "--yes",
            ],
            4,
            "the snapshot is damaged",
        ),
        (vec!["recover", "--output", &junit], 4, "without --yes"),
    ];
    for (args, code, says) in cases {
        let out = kf(&dir, &args);
        assert!(
            out.stderr.contains(says),
            "{args:?} should say {says:?}: {}",
            out.stderr
        );
        assert_eq!(out.code, code, "{args:?}: {}", out.stderr);
        assert!(!dir.join(".kubeforge/lock").exists());
    }
}
