//! Every module, table-driven on the local transport: the probe sees the change, the
//! apply makes it, the second probe finds nothing to do, and check mode changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kubeforge::modules::{self, Action, Context};
use kubeforge::run::batch::{self, BatchStep};
use serde_json::{json, Value};
use std::path::Path;

struct Case {
    name: &'static str,
    module: &'static str,
    args: Value,
    /// Shell run before (in the case's directory, $D).
    setup: &'static str,
    /// Shell that must succeed after the apply.
    verify: &'static str,
    /// True when the first probe must report a change.
    changes: bool,
}

fn run_step(module: &str, args: &Value, dir: &Path, check: bool) -> batch::StepOutcome {
    let scope =
        minijinja::Value::from(minijinja::value::Serde(json!({"inventory_hostname": "h1"})));
    let ctx = Context {
        scope: &scope,
        role_dir: None,
        playbook_dir: dir,
        cache_dir: dir,
        host: "h1",
        check,
    };
    let Action::Remote(step) = modules::prepare(module, args, &ctx).unwrap() else {
        panic!("{module} is not a remote module")
    };
    let nonce = batch::nonce();
    let script = batch::script(&[BatchStep::new(step, 30)], &nonce, check, true);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .env("D", dir)
        .output()
        .unwrap();
    let mut b = batch::parse(&String::from_utf8_lossy(&out.stdout), &nonce);
    assert_eq!(
        (b.outcomes.len(), b.damaged.clone(), b.end.is_some()),
        (1, None, true),
        "{module}: stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.outcomes.remove(0)
}

fn subst(v: &Value, dir: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("$D", dir)),
        Value::Array(a) => Value::Array(a.iter().map(|x| subst(x, dir)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), subst(x, dir))).collect())
        }
        other => other.clone(),
    }
}

fn sh(script: &str, dir: &Path) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("D", dir)
        .status()
        .unwrap()
        .success()
}

fn snapshot(dir: &Path) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("cd \"$D\" && find . -printf '%p %m %s\\n' | sort && cat $(find . -type f | sort) 2>/dev/null")
        .env("D", dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn modules_probe_apply_and_converge() {
    let cases = vec![
        Case { name: "directory created with mode", module: "file", args: json!({"path": "$D/a/b", "state": "directory", "mode": "0750"}), setup: "", verify: "[ -d \"$D/a/b\" ] && [ $(stat -c %a \"$D/a/b\") = 750 ]", changes: true },
        Case { name: "directory mode fixed", module: "file", args: json!({"path": "$D/x", "state": "directory", "mode": "0700"}), setup: "mkdir -m 755 \"$D/x\"", verify: "[ $(stat -c %a \"$D/x\") = 700 ]", changes: true },
        Case { name: "directory already right", module: "file", args: json!({"path": "$D/x", "state": "directory"}), setup: "mkdir \"$D/x\"", verify: "[ -d \"$D/x\" ]", changes: false },
        Case { name: "absent removes a tree", module: "file", args: json!({"path": "$D/t", "state": "absent"}), setup: "mkdir -p \"$D/t/u\" && touch \"$D/t/u/f\"", verify: "[ ! -e \"$D/t\" ]", changes: true },
        Case { name: "link", module: "file", args: json!({"path": "$D/l", "state": "link", "src": "/etc/hostname"}), setup: "", verify: "[ \"$(readlink \"$D/l\")\" = /etc/hostname ]", changes: true },
        Case { name: "touch", module: "file", args: json!({"path": "$D/new", "state": "touch", "mode": "0600"}), setup: "", verify: "[ -f \"$D/new\" ] && [ $(stat -c %a \"$D/new\") = 600 ]", changes: true },
        Case { name: "copy content", module: "copy", args: json!({"dest": "$D/c/f", "content": "hello\nworld\n", "mode": "0640"}), setup: "", verify: "[ \"$(cat \"$D/c/f\")\" = \"$(printf 'hello\\nworld')\" ] && [ $(stat -c %a \"$D/c/f\") = 640 ]", changes: true },
        Case { name: "copy replaces content", module: "copy", args: json!({"dest": "$D/f", "content": "new\n"}), setup: "echo old > \"$D/f\"", verify: "grep -qx new \"$D/f\"", changes: true },
        Case { name: "copy remote_src", module: "copy", args: json!({"dest": "$D/g", "src": "$D/f", "remote_src": true}), setup: "echo data > \"$D/f\"", verify: "cmp \"$D/f\" \"$D/g\"", changes: true },
        Case { name: "lineinfile appends", module: "lineinfile", args: json!({"path": "$D/l", "line": "a=1"}), setup: "printf 'x\\n' > \"$D/l\"", verify: "[ \"$(cat \"$D/l\")\" = \"$(printf 'x\\na=1')\" ]", changes: true },
        Case { name: "lineinfile replaces by regexp", module: "lineinfile", args: json!({"path": "$D/l", "regexp": "^a=", "line": "a=2"}), setup: "printf 'a=1\\nb=1\\n' > \"$D/l\"", verify: "[ \"$(cat \"$D/l\")\" = \"$(printf 'a=2\\nb=1')\" ]", changes: true },
        Case { name: "lineinfile absent", module: "lineinfile", args: json!({"path": "$D/l", "regexp": "^b=", "state": "absent"}), setup: "printf 'a=1\\nb=1\\n' > \"$D/l\"", verify: "[ \"$(cat \"$D/l\")\" = a=1 ]", changes: true },
        Case { name: "lineinfile present already", module: "lineinfile", args: json!({"path": "$D/l", "line": "a=1"}), setup: "printf 'a=1\\n' > \"$D/l\"", verify: "true", changes: false },
        Case { name: "blockinfile inserts then keeps", module: "blockinfile", args: json!({"path": "$D/b", "block": "one\ntwo", "marker": "# {mark} kf"}), setup: "echo top > \"$D/b\"", verify: "[ \"$(cat \"$D/b\")\" = \"$(printf 'top\\n# BEGIN kf\\none\\ntwo\\n# END kf')\" ]", changes: true },
        Case { name: "blockinfile replaces the block", module: "blockinfile", args: json!({"path": "$D/b", "block": "three", "marker": "# {mark} kf"}), setup: "printf 'a\\n# BEGIN kf\\nold\\n# END kf\\nz\\n' > \"$D/b\"", verify: "[ \"$(cat \"$D/b\")\" = \"$(printf 'a\\n# BEGIN kf\\nthree\\n# END kf\\nz')\" ]", changes: true },
        Case { name: "command with creates", module: "command", args: json!({"cmd": "touch $D/made", "creates": "$D/made"}), setup: "", verify: "[ -f \"$D/made\" ]", changes: true },
        Case { name: "shell with removes", module: "shell", args: json!({"cmd": "rm -f $D/gone && echo done", "removes": "$D/gone"}), setup: "touch \"$D/gone\"", verify: "[ ! -e \"$D/gone\" ]", changes: true },
        Case { name: "wait_for a path that exists", module: "wait_for", args: json!({"path": "$D/p", "timeout": 5}), setup: "touch \"$D/p\"", verify: "true", changes: false },
    ];
    for c in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let d = dir.to_str().unwrap();
        assert!(sh(c.setup, dir), "{}: setup failed", c.name);
        let args = subst(&c.args, d);
        // Check mode: reports, changes nothing.
        let before = snapshot(dir);
        let o = run_step(c.module, &args, dir, true);
        assert_eq!(
            o.probe_rc,
            if c.changes { 10 } else { 0 },
            "{}: check-mode probe {o:?}",
            c.name
        );
        assert_eq!(o.apply_rc, None, "{}: check mode applied", c.name);
        assert_eq!(
            snapshot(dir),
            before,
            "{}: check mode changed files",
            c.name
        );
        // Real run.
        let o = run_step(c.module, &args, dir, false);
        if c.changes {
            assert_eq!((o.probe_rc, o.apply_rc), (10, Some(0)), "{}: {o:?}", c.name);
        } else {
            assert_eq!((o.probe_rc, o.apply_rc), (0, None), "{}: {o:?}", c.name);
        }
        assert!(sh(c.verify, dir), "{}: verify failed; {o:?}", c.name);
        // Converged.
        let o = run_step(c.module, &args, dir, false);
        assert_eq!(
            (o.probe_rc, o.apply_rc),
            (0, None),
            "{}: not idempotent: {o:?}",
            c.name
        );
    }
}

#[test]
fn failures_say_why() {
    let cases = vec![
        (
            "file state=file on a missing path",
            "file",
            json!({"path": "$D/none", "state": "file"}),
            "does not exist",
        ),
        (
            "directory over a file",
            "file",
            json!({"path": "$D/f", "state": "directory"}),
            "not a directory",
        ),
        (
            "lineinfile without create",
            "lineinfile",
            json!({"path": "$D/none", "line": "x"}),
            "create: true",
        ),
        (
            "wait_for timeout",
            "wait_for",
            json!({"path": "$D/never", "timeout": 1}),
            "not met within 1 s",
        ),
    ];
    for (name, module, args, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        sh("touch \"$D/f\"", dir);
        let args = subst(&args, dir.to_str().unwrap());
        let o = run_step(module, &args, dir, false);
        assert!(o.probe_rc != 0 && o.probe_rc != 10, "{name}: {o:?}");
        assert!(o.probe_err.contains(want), "{name}: {}", o.probe_err);
    }
}

#[test]
fn get_url_refuses_a_checksum_mismatch_and_installs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("artifact"), b"real bytes").unwrap();
    let url = format!("file://{}/artifact", dir.display());
    let wrong = "0".repeat(64);
    let args = json!({"url": url, "dest": format!("{}/out/bin", dir.display()), "checksum": format!("sha256:{wrong}"), "mode": "0755"});
    let o = run_step("get_url", &args, dir, false);
    assert_eq!(o.probe_rc, 10);
    assert_eq!(o.apply_rc, Some(1), "{o:?}");
    assert!(
        o.apply_err.contains("checksum mismatch") && o.apply_err.contains(&wrong),
        "{}",
        o.apply_err
    );
    assert!(
        o.apply_err.contains("expected") && o.apply_err.contains("got"),
        "{}",
        o.apply_err
    );
    assert!(!dir.join("out/bin").exists());
    let left: Vec<_> = std::fs::read_dir(dir.join("out")).unwrap().collect();
    assert!(left.is_empty(), "temp files left: {left:?}");
    // The right checksum installs it, once.
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(b"real bytes"));
    let args = json!({"url": url, "dest": format!("{}/out/bin", dir.display()), "checksum": format!("sha256:{sha}"), "mode": "0755"});
    let o = run_step("get_url", &args, dir, false);
    assert_eq!((o.probe_rc, o.apply_rc), (10, Some(0)), "{o:?}");
    assert_eq!(std::fs::read(dir.join("out/bin")).unwrap(), b"real bytes");
    let o = run_step("get_url", &args, dir, false);
    assert_eq!((o.probe_rc, o.apply_rc), (0, None));
}

#[test]
fn unarchive_extracts_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(sh("mkdir -p \"$D/src/bin\" && echo x > \"$D/src/bin/tool\" && tar -czf \"$D/a.tgz\" -C \"$D/src\" bin", dir));
    let args = json!({"src": format!("{}/a.tgz", dir.display()), "dest": format!("{}/opt", dir.display()), "remote_src": true});
    let o = run_step("unarchive", &args, dir, false);
    assert_eq!((o.probe_rc, o.apply_rc), (10, Some(0)), "{o:?}");
    assert!(dir.join("opt/bin/tool").is_file());
    let o = run_step("unarchive", &args, dir, false);
    assert_eq!((o.probe_rc, o.apply_rc), (0, None), "{o:?}");
}
