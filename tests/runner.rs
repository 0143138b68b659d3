//! The runner end to end on local "hosts" (ansible_connection: local, each with its own
//! directory): convergence, check mode, timeouts, placement, failure policy, handlers,
//! JSON events. The same scenarios over SSH on lab hosts are in tests/lab_engine.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

fn env(hosts: &[(&str, &str)], playbook: &str) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut inv = String::from("all:\n  vars:\n    ansible_connection: local\n");
    inv.push_str(&format!("    root: {}\n  hosts:\n", dir.display()));
    for (h, _) in hosts {
        inv.push_str(&format!(
            "    {h}:\n      ip: 127.0.0.{}\n",
            10 + inv.len() % 200
        ));
    }
    inv.push_str("  children:\n");
    let mut groups: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (h, g) in hosts {
        for g in g.split(',') {
            groups.entry(g).or_default().push(h);
        }
    }
    for (g, hs) in groups {
        inv.push_str(&format!("    {g}:\n      hosts:\n"));
        for h in hs {
            inv.push_str(&format!("        {h}:\n"));
        }
    }
    std::fs::write(dir.join("hosts.yaml"), inv).unwrap();
    std::fs::write(dir.join("play.yml"), playbook).unwrap();
    Env { _tmp: tmp, dir }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    events: Vec<Value>,
}

fn kubeforge(e: &Env, extra: &[&str]) -> Out {
    let events = e.dir.join(format!("events-{}.jsonl", rand_suffix()));
    let out = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["run", "-i"])
        .arg(e.dir.join("hosts.yaml"))
        .arg(e.dir.join("play.yml"))
        .arg("--output")
        .arg(format!("json={}", events.display()))
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&events).unwrap_or_default();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        events: text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each event line is JSON"))
            .collect(),
    }
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn recap(o: &Out) -> &Value {
    o.events
        .iter()
        .find(|e| e["event"] == "recap")
        .expect("a recap event")
}

fn changed(o: &Out, host: &str) -> u64 {
    recap(o)["hosts"][host]["changed"].as_u64().unwrap()
}

fn changed_tasks(o: &Out) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = o
        .events
        .iter()
        .filter(|e| e["event"] == "step_result" && e["status"] == "changed")
        .map(|e| {
            (
                e["host"].as_str().unwrap().to_string(),
                e["task"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn tree(dir: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("cd \"$1\" && find . -path ./events\\* -prune -o -printf '%p %m %s\\n' | sort && find . -type f ! -name 'events*' -exec cat {} +")
        .arg("sh")
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CONVERGE: &str = r#"
- name: converge
  hosts: all
  tasks:
    - name: directories
      file: {path: "{{ root }}/{{ inventory_hostname }}/d{{ item }}", state: directory, mode: "0755"}
      loop: [1, 2, 3]
    - name: templated file
      copy: {dest: "{{ root }}/{{ inventory_hostname }}/d1/name", content: "I am {{ inventory_hostname }}\n"}
      notify: restart thing
    - name: a line
      lineinfile: {path: "{{ root }}/{{ inventory_hostname }}/d1/conf", line: "x=1", regexp: "^x=", create: true}
    - name: command with creates
      command: touch {{ root }}/{{ inventory_hostname }}/d1/once
      args: {creates: "{{ root }}/{{ inventory_hostname }}/d1/once"}
    - name: read it back
      command: cat {{ root }}/{{ inventory_hostname }}/d1/name
      register: name
      changed_when: false
    - name: use the registered value
      copy: {dest: "{{ root }}/{{ inventory_hostname }}/d2/copy", content: "{{ name.stdout }}\n"}
  handlers:
    - name: restart thing
      shell: echo restarted >> {{ root }}/{{ inventory_hostname }}/handler.log
"#;

#[test]
fn converges_and_second_run_changes_nothing() {
    let e = env(
        &[("h1", "kube_control_plane,etcd"), ("h2", "kube_node")],
        CONVERGE,
    );
    let first = kubeforge(&e, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(changed(&first, "h1") >= 6);
    assert_eq!(
        std::fs::read_to_string(e.dir.join("h2/d2/copy")).unwrap(),
        "I am h2\n"
    );
    assert_eq!(
        std::fs::read_to_string(e.dir.join("h1/handler.log")).unwrap(),
        "restarted\n"
    );
    let second = kubeforge(&e, &[]);
    assert_eq!(second.code, 0);
    for h in ["h1", "h2"] {
        assert_eq!(
            changed(&second, h),
            0,
            "{h} changed on the second run: {:?}",
            changed_tasks(&second)
        );
    }
    // The handler ran only when its task changed.
    assert_eq!(
        std::fs::read_to_string(e.dir.join("h1/handler.log")).unwrap(),
        "restarted\n"
    );
}

#[test]
fn check_mode_changes_nothing_and_predicts_the_real_run() {
    let e = env(
        &[("h1", "kube_control_plane,etcd"), ("h2", "kube_node")],
        CONVERGE,
    );
    let before = tree(&e.dir);
    let check = kubeforge(&e, &["--check"]);
    assert_eq!(check.code, 0, "{}\n{}", check.stdout, check.stderr);
    assert_eq!(tree(&e.dir), before, "check mode changed the hosts");
    let real = kubeforge(&e, &[]);
    assert_eq!(real.code, 0);
    // Registered output differs in check mode (the command did not run), so the task
    // that writes it is compared by name only: every change predicted happened.
    assert_eq!(changed_tasks(&check), changed_tasks(&real));
}

#[test]
fn diff_shows_file_changes_with_secrets_masked() {
    let play = r#"
- name: diff
  hosts: all
  vars:
    registry_password: "s3cr3t-value"
  tasks:
    - name: config
      copy: {dest: "{{ root }}/conf", content: "user=me\npassword={{ registry_password }}\n"}
"#;
    let e = env(&[("h1", "kube_control_plane,etcd")], play);
    std::fs::write(e.dir.join("conf"), "user=me\n").unwrap();
    let o = kubeforge(&e, &["--check", "--diff"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let step = o
        .events
        .iter()
        .find(|x| x["event"] == "step_result" && x["task"] == "config")
        .unwrap();
    let diff = step["diff"].as_str().expect("a diff");
    assert!(diff.contains("+password=********"), "{diff}");
    assert!(!diff.contains("s3cr3t-value"));
    assert!(!o.stdout.contains("s3cr3t-value"));
}

#[test]
fn a_command_that_never_ends_is_killed_at_its_timeout() {
    let play = r#"
- name: hang
  hosts: all
  tasks:
    - name: sleep forever
      shell: sleep 600
      timeout: 2
    - name: never reached
      file: {path: "{{ root }}/after", state: directory}
"#;
    let e = env(&[("h1", "kube_control_plane,etcd")], play);
    let started = std::time::Instant::now();
    let o = kubeforge(&e, &[]);
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(o.code, 2, "{}", o.stdout);
    let step = o
        .events
        .iter()
        .find(|x| x["event"] == "step_result" && x["status"] == "failed")
        .unwrap();
    assert_eq!(step["host"], "h1");
    assert_eq!(step["task"], "sleep forever");
    assert!(
        step["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 2 s"),
        "{step}"
    );
    assert!(!e.dir.join("after").exists());
    let check = Command::new("sh")
        .arg("-c")
        .arg("ps -eo args | grep -c '^sleep 600$'")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "0",
        "the sleep survived its timeout"
    );
}

#[test]
fn placement_is_refused_before_anything_runs() {
    let play = r#"
- name: images
  hosts: all
  tasks:
    - name: marker
      file: {path: "{{ root }}/ran-{{ inventory_hostname }}", state: directory}
    - name: list container images
      command: nerdctl images
      needs: [nerdctl]
"#;
    let e = env(
        &[
            ("cp1", "kube_control_plane"),
            ("w1", "kube_node"),
            ("e1", "etcd"),
        ],
        play,
    );
    let o = kubeforge(&e, &[]);
    assert_eq!(o.code, 4, "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stderr
            .contains("task 'list container images' needs nerdctl but host e1 (roles: etcd)"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("play.yml:7"), "{}", o.stderr);
    for h in ["cp1", "w1", "e1"] {
        assert!(
            !e.dir.join(format!("ran-{h}")).exists(),
            "something ran on {h}"
        );
    }
    // Excluding the etcd-only host with a condition makes the same plan acceptable.
    let fixed = play.replace("      needs: [nerdctl]", "      needs: [nerdctl]\n      when: inventory_hostname in groups['k8s_cluster']\n      changed_when: false\n      failed_when: false");
    std::fs::write(e.dir.join("play.yml"), fixed).unwrap();
    let o = kubeforge(&e, &["--check"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn a_failed_host_leaves_the_run_and_the_others_go_on() {
    let play = r#"
- name: one fails
  hosts: all
  tasks:
    - name: fail on h2
      shell: "[ {{ inventory_hostname }} != h2 ]"
    - name: after
      file: {path: "{{ root }}/after-{{ inventory_hostname }}", state: directory}
- name: next play
  hosts: all
  tasks:
    - name: second play
      file: {path: "{{ root }}/second-{{ inventory_hostname }}", state: directory}
"#;
    let e = env(
        &[
            ("h1", "kube_control_plane,etcd"),
            ("h2", "kube_node"),
            ("h3", "kube_node"),
        ],
        play,
    );
    let o = kubeforge(&e, &[]);
    assert_eq!(o.code, 2);
    assert!(e.dir.join("second-h1").exists() && e.dir.join("second-h3").exists());
    assert!(!e.dir.join("after-h2").exists() && !e.dir.join("second-h2").exists());
    let stopped = o
        .events
        .iter()
        .find(|x| x["event"] == "host_stopped")
        .unwrap();
    assert_eq!(stopped["host"], "h2");
    assert!(
        stopped["reason"].as_str().unwrap().contains("fail on h2"),
        "{stopped}"
    );
    assert_eq!(recap(&o)["hosts"]["h2"]["failed"], 1);
    // any_errors_fatal stops everyone.
    std::fs::write(
        e.dir.join("play.yml"),
        play.replacen(
            "  hosts: all\n",
            "  hosts: all\n  any_errors_fatal: true\n",
            1,
        ),
    )
    .unwrap();
    let e2 = Env {
        _tmp: tempfile::tempdir().unwrap(),
        dir: e.dir.clone(),
    };
    for h in ["h1", "h3"] {
        let _ = std::fs::remove_dir(e.dir.join(format!("second-{h}")));
    }
    let o = kubeforge(&e2, &[]);
    assert_eq!(o.code, 2);
    assert!(
        !e.dir.join("second-h1").exists(),
        "any_errors_fatal did not stop h1"
    );
    assert!(o.events.iter().any(|x| x["event"] == "host_stopped"
        && x["reason"].as_str().unwrap().contains("any_errors_fatal")));
}

#[test]
fn ignore_errors_failed_when_until_and_loops() {
    let play = r#"
- name: control
  hosts: all
  tasks:
    - name: allowed to fail
      command: "false"
      ignore_errors: true
    - name: non-zero but fine
      shell: exit 3
      register: r
      failed_when: r.rc not in [0, 3]
    - name: count attempts
      shell: echo x >> {{ root }}/attempts; [ $(wc -l < {{ root }}/attempts) -ge 3 ]
      register: tries
      until: tries.rc == 0
      retries: 5
      delay: 0
    - name: skipped by condition
      file: {path: "{{ root }}/never", state: directory}
      when: r.rc == 0
    - name: loop with when
      file: {path: "{{ root }}/l{{ item }}", state: directory}
      loop: [1, 2, 3]
      when: item != 2
"#;
    let e = env(&[("h1", "kube_control_plane,etcd")], play);
    let o = kubeforge(&e, &[]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(
        std::fs::read_to_string(e.dir.join("attempts"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    assert!(!e.dir.join("never").exists());
    assert!(e.dir.join("l1").exists() && !e.dir.join("l2").exists() && e.dir.join("l3").exists());
    let r = &recap(&o)["hosts"]["h1"];
    assert_eq!(r["ignored"], 1);
    assert_eq!(r["skipped"], 1);
    assert_eq!(r["failed"], 0);
}

#[test]
fn json_recap_matches_the_human_recap() {
    let e = env(
        &[("h1", "kube_control_plane,etcd"), ("h2", "kube_node")],
        CONVERGE,
    );
    let o = kubeforge(&e, &[]);
    let r = recap(&o);
    assert!(o.events.first().unwrap()["event"] == "run_start");
    for h in ["h1", "h2"] {
        let c = &r["hosts"][h];
        let line = o
            .stdout
            .lines()
            .find(|l| l.starts_with(h))
            .expect("a recap line");
        let nums: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .map(|n| n.parse().unwrap())
            .collect();
        let want: Vec<u64> = [
            "ok",
            "changed",
            "skipped",
            "failed",
            "unreachable",
            "ignored",
        ]
        .iter()
        .map(|k| c[*k].as_u64().unwrap())
        .collect();
        assert_eq!(nums, want, "{line}");
    }
    for ev in &o.events {
        if ev["event"] == "step_result" {
            for k in ["host", "task", "status", "changed", "duration_ms"] {
                assert!(!ev[k].is_null(), "{k} missing in {ev}");
            }
        }
    }
}

#[test]
fn run_once_registers_for_every_host_and_tags_select() {
    let play = r#"
- name: once
  hosts: all
  tasks:
    - name: generate once
      shell: echo token-$RANDOM
      register: tok
      run_once: true
    - name: everyone writes it
      copy: {dest: "{{ root }}/{{ inventory_hostname }}.tok", content: "{{ tok.stdout }}\n"}
      tags: [write]
    - name: untagged
      file: {path: "{{ root }}/untagged-{{ inventory_hostname }}", state: directory}
"#;
    let e = env(
        &[("h1", "kube_control_plane,etcd"), ("h2", "kube_node")],
        play,
    );
    // With --tags write, the run_once task is not selected, so `tok` is undefined: the
    // write task fails naming the variable, and the untagged task is not run.
    let o = kubeforge(&e, &["--tags", "write"]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(!e.dir.join("untagged-h1").exists());
    assert!(!e.dir.join("h1.tok").exists());
    let err = o
        .events
        .iter()
        .find(|x| x["event"] == "step_result" && x["status"] == "failed")
        .unwrap();
    assert!(err["error"].as_str().unwrap().contains("tok"), "{err}");
    // Without tags, both hosts share the one token.
    let o = kubeforge(&e, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    let t1 = std::fs::read_to_string(e.dir.join("h1.tok")).unwrap();
    let t2 = std::fs::read_to_string(e.dir.join("h2.tok")).unwrap();
    assert!(t1.starts_with("token-"));
    assert_eq!(t1, t2);
    let runs = o
        .events
        .iter()
        .filter(|x| x["event"] == "step_result" && x["task"] == "generate once")
        .count();
    assert_eq!(runs, 1);
}

#[test]
fn ctrl_c_stops_new_steps_and_prints_the_recap() {
    let play = r#"
- name: interrupted
  hosts: all
  tasks:
    - name: a running step
      shell: sleep 2
    - name: never started
      file: {path: "{{ root }}/after-ctrl-c", state: directory}
"#;
    let e = env(&[("h1", "kube_control_plane,etcd")], play);
    let child = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(["run", "-i"])
        .arg(e.dir.join("hosts.yaml"))
        .arg(e.dir.join("play.yml"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    // SAFETY: signals the child we just started, by its pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("RECAP (interrupted)"), "{stdout}");
    assert!(
        stdout.contains("changed: [h1] a running step"),
        "the running step was not let finish: {stdout}"
    );
    assert!(
        !e.dir.join("after-ctrl-c").exists(),
        "a new step started after Ctrl-C"
    );
}

#[test]
fn max_fail_percentage_stops_the_play_and_serial_runs_in_batches() {
    let play = r#"
- name: batches
  hosts: all
  serial: 2
  max_fail_percentage: 40
  tasks:
    - name: stamp
      shell: "date +%s%N > {{ root }}/stamp-{{ inventory_hostname }}; sleep 0.3"
    - name: fail on h1 and h2
      shell: "[ {{ inventory_hostname }} != h1 ] && [ {{ inventory_hostname }} != h2 ]"
"#;
    let e = env(
        &[
            ("h1", "kube_control_plane,etcd"),
            ("h2", "kube_node"),
            ("h3", "kube_node"),
            ("h4", "kube_node"),
        ],
        play,
    );
    let o = kubeforge(&e, &[]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    // The first batch (h1, h2) failed entirely: 2 of 4 hosts is over 40%, so the
    // second batch never started.
    assert!(e.dir.join("stamp-h1").exists() && e.dir.join("stamp-h2").exists());
    assert!(
        !e.dir.join("stamp-h3").exists() && !e.dir.join("stamp-h4").exists(),
        "the second serial batch ran"
    );
    let stopped: Vec<&Value> = o
        .events
        .iter()
        .filter(|x| x["event"] == "host_stopped")
        .collect();
    for h in ["h3", "h4"] {
        let s = stopped
            .iter()
            .find(|x| x["host"] == h)
            .unwrap_or_else(|| panic!("{h} has no stated reason: {stopped:?}"));
        assert!(
            s["reason"]
                .as_str()
                .unwrap()
                .contains("max_fail_percentage 40% exceeded"),
            "{s}"
        );
    }
}

#[test]
fn templated_task_names_are_shown_rendered_per_host() {
    let play = "- name: names\n  hosts: all\n  vars: {who: world}\n  tasks:\n    - {name: \"hello {{ who }} from {{ inventory_hostname }}\", debug: {msg: hi}}\n";
    let e = env(
        &[("h1", "kube_control_plane,etcd"), ("h2", "kube_node")],
        play,
    );
    let o = kubeforge(&e, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for h in ["h1", "h2"] {
        let want = format!("hello world from {h}");
        assert!(
            o.events.iter().any(|x| x["event"] == "step_result"
                && x["host"] == h
                && x["task"] == want.as_str()),
            "{want}"
        );
    }
}

#[test]
fn a_host_that_left_the_inventory_is_reported_and_never_contacted() {
    let e = env(
        &[("h1", "kube_control_plane,etcd"), ("h2", "kube_node")],
        CONVERGE,
    );
    assert_eq!(kubeforge(&e, &[]).code, 0);
    let record = std::fs::read_to_string(e.dir.join(".kubeforge/last-applied.json")).unwrap();
    assert!(
        record.contains("\"h1\"") && record.contains("\"h2\""),
        "{record}"
    );
    // h2 leaves the inventory; its files are removed to see whether anything recreates them.
    let inv = format!(
        "all:\n  vars:\n    ansible_connection: local\n    root: {}\n  hosts:\n    h1:\n      ip: 127.0.0.10\n  children:\n    etcd:\n      hosts:\n        h1:\n    kube_control_plane:\n      hosts:\n        h1:\n",
        e.dir.display()
    );
    std::fs::write(e.dir.join("hosts.yaml"), inv).unwrap();
    std::fs::remove_dir_all(e.dir.join("h2")).unwrap();
    let o = kubeforge(&e, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("warning[host-left-inventory]: host h2 (roles: worker)"),
        "{}",
        o.stderr
    );
    assert!(
        !e.dir.join("h2").exists(),
        "kubeforge touched a host that left the inventory"
    );
    assert!(o.events.iter().all(|x| x["host"] != "h2"));
}

/// The example of issue 22: a path with an odd number of quotes between two steps.
#[test]
fn an_apostrophe_in_a_path_is_a_path_and_every_step_reports() {
    let e = env(
        &[("h1", "kube_control_plane,etcd")],
        "- hosts: all\n  tasks:\n\
         \x20   - {name: before, copy: {dest: \"{{ root }}/before.txt\", content: \"x\\n\"}}\n\
         \x20   - {name: evil, file: {path: \"{{ root }}/d a'b\", state: directory}}\n\
         \x20   - {name: touch, file: {path: \"{{ root }}/d a'b/t a'b'c'\", state: touch}}\n\
         \x20   - {name: line, lineinfile: {path: \"{{ root }}/l a'b.txt\", line: \"it's\", create: true}}\n\
         \x20   - {name: cmd, command: {cmd: \"true\", creates: \"{{ root }}/cr a'b\"}}\n\
         \x20   - {name: after, copy: {dest: \"{{ root }}/after.txt\", content: \"x\\n\"}}\n",
    );
    let o = kubeforge(&e, &[]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let done: Vec<String> = o
        .events
        .iter()
        .filter(|e| e["event"] == "step_result")
        .map(|e| e["task"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(done, ["before", "evil", "touch", "line", "cmd", "after"]);
    assert!(e.dir.join("d a'b").is_dir());
    assert!(e.dir.join("d a'b/t a'b'c'").is_file());
    assert_eq!(
        std::fs::read_to_string(e.dir.join("l a'b.txt")).unwrap(),
        "it's\n"
    );
    assert!(e.dir.join("after.txt").is_file());
}

/// A batch killed in the middle (SIGKILL of its whole process group, as the OOM killer
/// or a dying session would): the step where it stopped fails by name in the recap, the
/// JSON events and the JUnit report, the step after it never runs, exit code 2.
#[test]
fn a_killed_batch_fails_the_step_by_name_everywhere() {
    // Up from this shell to the batch shell (`sh -s`), then its whole process group.
    let kill = "p=$$; while [ \"$p\" -gt 1 ]; do c=$(tr '\\0' ' ' < /proc/$p/cmdline); \
                case $c in 'sh -s '*) /bin/kill -9 -- -$(awk '{print $5}' /proc/$p/stat); sleep 5;; esac; \
                p=$(awk '{print $4}' /proc/$p/stat); done; exit 9";
    let e = env(
        &[("h1", "kube_control_plane,etcd")],
        &format!(
            "- hosts: all\n  tasks:\n\
             \x20   - {{name: before, copy: {{dest: \"{{{{ root }}}}/before.txt\", content: \"x\\n\"}}}}\n\
             \x20   - name: evil\n      shell: {kill:?}\n\
             \x20   - {{name: after, copy: {{dest: \"{{{{ root }}}}/after.txt\", content: \"x\\n\"}}}}\n"
        ),
    );
    let junit = e.dir.join("junit.xml");
    let o = kubeforge(&e, &["--output", &format!("junit={}", junit.display())]);
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let results: Vec<(String, String, String)> = o
        .events
        .iter()
        .filter(|e| e["event"] == "step_result")
        .map(|e| {
            (
                e["task"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
                e["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(
        (results[0].0.as_str(), results[0].1.as_str()),
        ("before", "changed")
    );
    assert_eq!(
        (results[1].0.as_str(), results[1].1.as_str()),
        ("evil", "failed")
    );
    assert!(results[1].2.contains("SIGKILL"), "{results:?}");
    assert_eq!(recap(&o)["hosts"]["h1"]["failed"].as_u64(), Some(1));
    assert!(o.stdout.contains("evil"), "{}", o.stdout);
    assert!(!e.dir.join("after.txt").exists());
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("evil") && xml.contains("<failure"), "{xml}");
    assert!(xml.contains("SIGKILL"), "{xml}");
}
