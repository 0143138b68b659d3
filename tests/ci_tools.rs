//! Issue 14's tools, without the lab: a JUnit report of a local run with a failing and an
//! unreachable host (schema shape, both shown, combinable with JSON Lines); `inventory
//! init` for 1/3/5 control planes x 0/3 separate etcd hosts passing `inventory check` and
//! `plan`, and its refusals; `--version` with every default version; completions and man
//! pages. Every command runs with stdin closed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "fixtures/junit/schema.rs"]
mod junit_schema;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn kubeforge(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

// h1 and h2 run locally; h3 is an SSH host on a loopback port nothing listens on.
const INVENTORY: &str = "all:
  vars:
    ansible_connection: local
  children:
    kube_control_plane:
      hosts:
        h1: {ip: 127.0.0.11}
    etcd:
      hosts:
        h1:
    kube_node:
      hosts:
        h2: {ip: 127.0.0.12}
        h3: {ip: 127.0.0.13, ansible_connection: ssh, ansible_host: 127.0.0.1, ansible_port: 1, ansible_user: root}
";

const PLAYBOOK: &str = "- name: first play
  hosts: all
  tasks:
    - name: say hello
      command: echo hello
    - name: break h2
      fail: {msg: \"h2 is broken on purpose\"}
      when: inventory_hostname == 'h2'
    - name: never runs
      command: echo never
      when: false
- name: second play
  hosts: all
  tasks:
    - name: after the failure
      command: \"true\"
";

#[test]
fn junit_report_of_a_run_with_a_failing_and_an_unreachable_host() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("hosts.yaml"), INVENTORY).unwrap();
    std::fs::write(dir.join("play.yml"), PLAYBOOK).unwrap();
    let (junit, json) = (dir.join("report.xml"), dir.join("events.jsonl"));
    let out = kubeforge(&[
        "run",
        "-i",
        &s(&dir.join("hosts.yaml")),
        &s(&dir.join("play.yml")),
        "--output",
        &format!("junit={}", s(&junit)),
        "--output",
        &format!("json={}", s(&json)),
        "--connect-timeout",
        "5",
    ]);
    assert_eq!(
        out.code, 2,
        "a failed host exits 2:\n{}\n{}",
        out.stdout, out.stderr
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = junit_schema::check(&xml).unwrap_or_else(|e| panic!("{}\n{xml}", e.join("\n")));

    let suites: Vec<&str> = doc
        .all("testsuite")
        .iter()
        .map(|s| s.attrs["name"].as_str())
        .collect();
    assert_eq!(suites, ["first play", "second play"], "{xml}");
    let case = |host: &str, task: &str| {
        doc.case(host, task)
            .unwrap_or_else(|| panic!("no testcase {host} / {task}:\n{xml}"))
    };
    assert_eq!(doc.outcome(case("h1", "say hello")), "passed");
    let failed = case("h2", "break h2");
    assert_eq!(doc.outcome(failed), "failure");
    let f = doc.kids(failed, "failure")[0];
    assert!(
        f.attrs["message"].contains("h2 is broken on purpose"),
        "{xml}"
    );
    assert_eq!(f.attrs["type"], "failed");
    let unreachable = case("h3", "say hello");
    assert_eq!(doc.outcome(unreachable), "error");
    assert_eq!(
        doc.kids(unreachable, "error")[0].attrs["type"],
        "unreachable"
    );
    assert_eq!(doc.outcome(case("h1", "never runs")), "skipped");
    // Only h1 is left for the second play.
    assert_eq!(doc.outcome(case("h1", "after the failure")), "passed");
    assert!(doc.case("h2", "after the failure").is_none());
    let root = &doc.els[0];
    assert_eq!(
        (
            root.attrs["failures"].as_str(),
            root.attrs["errors"].as_str()
        ),
        ("1", "1"),
        "{xml}"
    );

    // The JSON Lines written alongside tell the same story, step for step.
    let events: Vec<Value> = std::fs::read_to_string(&json)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps = events
        .iter()
        .filter(|e| e["event"] == "step_result")
        .count();
    assert_eq!(steps, doc.all("testcase").len(), "{xml}");
    assert_eq!(events.last().unwrap()["exit_code"], 2);
}

#[test]
fn junit_output_flags_are_checked_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("hosts.yaml"), INVENTORY).unwrap();
    std::fs::write(tmp.path().join("play.yml"), PLAYBOOK).unwrap();
    let inv = s(&tmp.path().join("hosts.yaml"));
    let pb = s(&tmp.path().join("play.yml"));
    for (flag, said) in [
        ("junit", "junit=FILE"),
        ("junit=", "not 'junit='"),
        (
            "junit=/nonexistent/dir/r.xml",
            "cannot write /nonexistent/dir/r.xml",
        ),
    ] {
        let out = kubeforge(&["run", "-i", &inv, &pb, "--output", flag]);
        assert_eq!(out.code, 4, "{flag}: {}", out.stderr);
        assert!(out.stderr.contains(said), "{flag}: {}", out.stderr);
        assert!(!out.stdout.contains("say hello"), "{flag}: something ran");
    }
}

/// `inventory init` for a layout, then `inventory check`, `plan` and `inventory show`.
fn init_and_check(cps: usize, etcd: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("inv");
    let cp = format!("10.0.0.10-{}", 9 + cps);
    let mut args = vec![
        "inventory".to_string(),
        "init".into(),
        s(&dir),
        "--control-plane".into(),
        cp,
        "--worker".into(),
        "10.0.1.1-10.0.1.2".into(),
    ];
    if etcd > 0 {
        args.extend(["--etcd".into(), format!("10.0.2.1-{etcd}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let what = format!("{cps} control plane(s), {etcd} separate etcd");
    let out = kubeforge(&args);
    assert_eq!(out.code, 0, "{what}: {}\n{}", out.stdout, out.stderr);
    let check = kubeforge(&["inventory", "check", "-i", &s(&dir)]);
    assert_eq!(check.code, 0, "{what}: {}\n{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("inventory ok"),
        "{what}: {}",
        check.stdout
    );
    let plan = kubeforge(&["plan", "-i", &s(&dir), "playbooks/cluster.yml"]);
    assert_eq!(plan.code, 0, "{what}: {}\n{}", plan.stdout, plan.stderr);
    let show = kubeforge(&["inventory", "show", "-i", &s(&dir), "--format", "json"]);
    let v: Value = serde_json::from_str(&show.stdout).unwrap();
    let hosts = v["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), cps + 2 + etcd, "{what}");
    let with = |role: &str| {
        hosts
            .iter()
            .filter(|h| h["roles"].as_array().unwrap().iter().any(|r| r == role))
            .count()
    };
    assert_eq!(with("etcd"), if etcd > 0 { etcd } else { cps }, "{what}");
    for h in hosts {
        if h["etcd_only"] == true {
            assert_eq!(h["components"], serde_json::json!(["etcd"]), "{what}: {h}");
        }
    }
    let expected_layout = match (cps, etcd) {
        (_, 3) => "separate",
        (1, _) => "default",
        _ => "ha",
    };
    assert_eq!(v["layout"], expected_layout, "{what}");
}

#[test]
fn inventory_init_layouts_pass_check_and_plan() {
    for cps in [1, 3, 5] {
        for etcd in [0, 3] {
            init_and_check(cps, etcd);
        }
    }
}

#[test]
fn inventory_init_refuses_what_cannot_work_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("inv");
    let d = s(&dir);
    let cases: [(&[&str], &str); 5] = [
        (&["--control-plane", "10.0.0.1-2"], "2 etcd members"),
        (
            &["--control-plane", "10.0.0.1", "--etcd", "10.0.0.5-8"],
            "4 etcd members from --etcd",
        ),
        (
            &["--control-plane", "10.0.0.1-10.0.0.x"],
            "--control-plane 10.0.0.1-10.0.0.x",
        ),
        (&["--control-plane", "fd00::1"], "pass --ipv6"),
        (
            &["--control-plane", "10.0.0.1", "--key", "/nonexistent/key"],
            "--key /nonexistent/key",
        ),
    ];
    for (flags, said) in cases {
        let mut args = vec!["inventory", "init", d.as_str()];
        args.extend_from_slice(flags);
        let out = kubeforge(&args);
        assert_eq!(out.code, 4, "{flags:?}: {}", out.stderr);
        assert!(out.stderr.contains(said), "{flags:?}: {}", out.stderr);
        assert!(!dir.exists(), "{flags:?}: something was written");
    }
    // A non-empty directory: refused without --force; with it init's files are replaced
    // and the operator's own files stay.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let out = kubeforge(&["inventory", "init", &d, "--control-plane", "10.0.0.1"]);
    assert_eq!(out.code, 4);
    assert!(
        out.stderr.contains("is not empty") && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    assert!(!dir.join("hosts.yaml").exists());
    let out = kubeforge(&[
        "inventory",
        "init",
        &d,
        "--control-plane",
        "10.0.0.1",
        "--force",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(dir.join("group_vars/all/etcd.yml").exists());
}

#[test]
fn inventory_init_writes_the_sample_layout_with_user_key_and_ipv6() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("id_ed25519");
    std::fs::write(&key, "not a real key").unwrap();
    let dir = tmp.path().join("inv");
    let out = kubeforge(&[
        "inventory",
        "init",
        &s(&dir),
        "--control-plane",
        "10.0.0.1+fd00::1",
        "--worker",
        "10.0.0.2-3+fd00::2-3",
        "--etcd",
        "10.0.0.9+fd00::9",
        "--ipv6",
        "--user",
        "debian",
        "--key",
        &s(&key),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The sample's files, nothing missing.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory/sample");
    for f in [
        "group_vars/all/all.yml",
        "group_vars/all/etcd.yml",
        "group_vars/all/offline.yml",
        "group_vars/k8s_cluster/k8s-cluster.yml",
        "group_vars/k8s_cluster/k8s-net-cilium.yml",
        ".gitignore",
    ] {
        assert!(sample.join(f).exists() && dir.join(f).exists(), "{f}");
    }
    let show = kubeforge(&["inventory", "show", "-i", &s(&dir), "--format", "json"]);
    let v: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(v["layout"], "separate");
    assert_eq!(
        v["network"]["families"],
        serde_json::json!(["ipv4", "ipv6"])
    );
    let h = &v["hosts"][0];
    assert_eq!(h["ips"], serde_json::json!(["10.0.0.1", "fd00::1"]));
    assert_eq!(h["ssh"]["user"], "debian");
    assert_eq!(
        h["ssh"]["key_file"],
        s(&std::fs::canonicalize(&key).unwrap())
    );
    let check = kubeforge(&["inventory", "check", "-i", &s(&dir)]);
    assert_eq!(check.code, 0, "{}", check.stdout);
}

#[test]
fn version_names_every_default_version() {
    let out = kubeforge(&["--version"]);
    assert_eq!(out.code, 0);
    assert!(out
        .stdout
        .starts_with(&format!("kubeforge {}\n", env!("CARGO_PKG_VERSION"))));
    for a in kubeforge::artifacts::all() {
        let line = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(a.name.as_str()))
            .unwrap_or_else(|| panic!("{} missing:\n{}", a.name, out.stdout));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cols,
            [
                a.name.as_str(),
                a.default_version.as_str(),
                a.version_var.as_str()
            ]
        );
    }
    assert!(out.stdout.contains("cilium_version"), "{}", out.stdout);
    // -V stays the one-line form scripts parse.
    let short = kubeforge(&["-V"]);
    assert_eq!(
        short.stdout,
        format!("kubeforge {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn completions_and_man_pages_build() {
    for shell in ["bash", "zsh", "fish"] {
        let out = kubeforge(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        for word in [
            "inventory",
            "init",
            "control-plane",
            "health",
            "completions",
        ] {
            assert!(out.stdout.contains(word), "{shell} completion lacks {word}");
        }
    }
    // The bash script is valid bash.
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("kubeforge.bash");
    std::fs::write(&script, kubeforge(&["completions", "bash"]).stdout).unwrap();
    let n = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(n.success(), "bash -n rejects the completion script");

    let man = tmp.path().join("man");
    let out = kubeforge(&["man", "--dir", &s(&man)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for page in [
        "kubeforge.1",
        "kubeforge-run.1",
        "kubeforge-inventory-init.1",
    ] {
        let text =
            std::fs::read_to_string(man.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {text}"
        );
    }
    let init = std::fs::read_to_string(man.join("kubeforge-inventory-init.1")).unwrap();
    assert!(init.contains("control\\-plane"), "{init}");
    let stdout = kubeforge(&["man"]);
    assert!(
        stdout.stdout.contains(".TH kubeforge 1"),
        "{}",
        stdout.stdout
    );
}
