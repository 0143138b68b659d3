//! Property tests over every module argument (issue 22): arbitrary strings — quotes in
//! odd and even numbers, `$( )`, backticks, `;`, `&&`, newlines, tabs, leading `-`,
//! globs, `~`, `%`, backslashes, unicode, very long values — either take effect
//! literally (the file is named exactly that, the line is exactly that, the program
//! receives exactly that argument) or are refused with an error naming the argument.
//! Never a shell syntax error, never a command the value spelled.
//!
//! Each step runs through the real batch script (`batch::script`) under `sh` on this
//! machine. Programs a module drives on a real host (systemctl, sysctl, modprobe,
//! kubectl, ctr, curl) are RECORDERS here: fakes in a private bin directory that write
//! their argv (NUL-separated) to a log and answer like the real program would in the
//! state the test wants; tar and grep are recorded and then run for real. A value
//! "takes effect literally" for them when it arrives as exactly one argv element.

use super::{prepare, Action, Context};
use crate::run::batch;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The name a value's injected command would create in the step's directory.
const PWNED: &str = "KFPWNED";

/// What one run of a step gave.
struct Ran {
    /// The prepare error, or the step's outcome.
    res: Result<batch::StepOutcome, String>,
    /// argv of every recorded program call (program name first).
    calls: Vec<Vec<String>>,
    /// Everything the script printed (for messages).
    all: String,
}

impl Ran {
    fn ok(&self) -> bool {
        match &self.res {
            Ok(o) => {
                o.probe_rc == 0 || (o.probe_rc == super::probe::CHANGE && o.apply_rc == Some(0))
            }
            Err(_) => false,
        }
    }

    fn error_text(&self) -> String {
        match &self.res {
            Ok(o) => format!("{}{}", o.probe_err, o.apply_err),
            Err(e) => e.clone(),
        }
    }

    /// The call of `prog` whose argv holds `word` as one element.
    fn called_with(&self, prog: &str, word: &str) -> bool {
        self.calls.iter().any(|c| {
            c.first().map(String::as_str) == Some(prog) && c[1..].iter().any(|a| a == word)
        })
    }
}

/// A test's view of one value.
struct T<'a> {
    /// The step's own directory (its working directory).
    d: &'a Path,
    /// The value under test.
    v: &'a str,
}

impl T<'_> {
    /// The value as one path component (no `/`, not `.`/`..`, at most 200 bytes).
    fn comp(&self) -> String {
        comp(self.v)
    }
    /// `d/<value as a component>`.
    fn p(&self) -> String {
        self.d.join(self.comp()).to_string_lossy().into_owned()
    }
    /// A directory `d/<value>` created beforehand, and a file name under it: probes
    /// paths whose parent directory is the value.
    fn nested(&self) -> String {
        let dir = self.d.join(self.comp());
        std::fs::create_dir_all(&dir).expect("create the nested directory");
        dir.join("f").to_string_lossy().into_owned()
    }
    fn bin(&self) -> String {
        bin_dir().to_string_lossy().into_owned()
    }
}

fn comp(v: &str) -> String {
    let mut c = v.replace('/', "_");
    if c.is_empty() || c == "." || c == ".." {
        c.insert(0, 'x');
    }
    while c.len() > 200 {
        c.pop();
    }
    c
}

type Build = fn(&T) -> Value;
type Check = fn(&T, &Ran) -> Result<(), String>;

/// What must happen with a value in one argument.
enum Exp {
    /// It takes effect literally (`check`), unless `may_refuse` says this value may be
    /// refused (then the refusal must name the argument).
    Literal {
        build: Build,
        check: Check,
        may_refuse: fn(&str) -> bool,
    },
    /// It is always refused, naming the argument (a mode, a choice, a number, a
    /// user name, a reference: the value is prefixed with `'` so it is never valid).
    Refused(Build),
    /// The argument never reaches a shell (why).
    #[allow(dead_code)] // the reason is for the reader
    Fixed(&'static str),
}

struct Case {
    module: &'static str,
    arg: &'static str,
    exp: Exp,
}

fn never(_: &str) -> bool {
    false
}

fn lit(module: &'static str, arg: &'static str, build: Build, check: Check) -> Case {
    Case {
        module,
        arg,
        exp: Exp::Literal {
            build,
            check,
            may_refuse: never,
        },
    }
}

fn refused(module: &'static str, arg: &'static str, build: Build) -> Case {
    Case {
        module,
        arg,
        exp: Exp::Refused(build),
    }
}

fn fixed(module: &'static str, arg: &'static str, why: &'static str) -> Case {
    Case {
        module,
        arg,
        exp: Exp::Fixed(why),
    }
}

/// The value made invalid for arguments that accept only a fixed shape.
fn bad(v: &str) -> String {
    format!("'{v}")
}

fn read(p: &str) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("cannot read {p:?}: {e}"))
}

fn ok(r: &Ran) -> Result<(), String> {
    if r.ok() {
        Ok(())
    } else {
        Err(format!("the step failed: {}", r.error_text()))
    }
}

fn eq<A: PartialEq + std::fmt::Debug>(what: &str, got: A, want: A) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn recorded(r: &Ran, prog: &str, word: &str) -> Result<(), String> {
    if r.called_with(prog, word) {
        Ok(())
    } else {
        Err(format!(
            "{prog} was not called with {word:?} as one argument; calls: {:?}",
            r.calls
        ))
    }
}

const CHECKSUM_DATA: &str =
    "sha256:3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7"; // of "data"

/// Every module argument, with what must happen to arbitrary values in it.
fn cases() -> Vec<Case> {
    let ctl = "runs on the controller: the value never reaches a shell";
    vec![
        // Controller-side modules.
        fixed("assert", "that", ctl),
        fixed("assert", "fail_msg", ctl),
        fixed("assert", "success_msg", ctl),
        fixed("assert", "msg", ctl),
        fixed("assert", "quiet", ctl),
        fixed("debug", "msg", ctl),
        fixed("debug", "var", ctl),
        fixed("debug", "verbosity", ctl),
        fixed("fail", "msg", ctl),
        fixed("meta", "action", ctl),
        fixed("etcd_certs", "dir", ctl),
        fixed("etcd_certs", "members", "controller-side; member names are checked as host names (unit test in etcd_certs)"),
        fixed("etcd_certs", "clients", "controller-side; client names are checked as host names (unit test in etcd_certs)"),
        fixed("test_marker", "path", "test-only module"),
        fixed("test_marker", "text", "test-only module"),
        fixed("test_raw", "probe", "test-only double: raw shell by design"),
        fixed("test_raw", "apply", "test-only double: raw shell by design"),
        fixed("test_raw", "probe_quick", "test-only double"),
        fixed("test_raw", "apply_quick", "test-only double"),
        // file
        lit("file", "path", |t| json!({"path": t.p(), "state": "directory"}), |t, r| {
            ok(r)?;
            eq("is a directory", Path::new(&t.p()).is_dir(), true)
        }),
        lit("file", "src", |t| json!({"path": t.d.join("ln").to_string_lossy(), "src": t.v, "state": "link"}), |t, r| {
            ok(r)?;
            let got = std::fs::read_link(t.d.join("ln")).map_err(|e| e.to_string())?;
            eq("link target", got.to_string_lossy().into_owned(), t.v.to_string())
        }),
        refused("file", "state", |t| json!({"path": t.p(), "state": bad(t.v)})),
        refused("file", "mode", |t| json!({"path": t.p(), "state": "directory", "mode": bad(t.v)})),
        refused("file", "owner", |t| json!({"path": t.p(), "state": "directory", "owner": bad(t.v)})),
        refused("file", "group", |t| json!({"path": t.p(), "state": "directory", "group": bad(t.v)})),
        refused("file", "recurse", |t| json!({"path": t.p(), "state": "directory", "recurse": bad(t.v)})),
        // copy
        lit("copy", "dest", |t| json!({"dest": t.nested(), "content": "x\n"}), |t, r| {
            ok(r)?;
            eq("content", read(&t.d.join(t.comp()).join("f").to_string_lossy())?, "x\n".into())
        }),
        lit("copy", "content", |t| json!({"dest": t.d.join("c.txt").to_string_lossy(), "content": t.v}), |t, r| {
            ok(r)?;
            eq("content", read(&t.d.join("c.txt").to_string_lossy())?, t.v.to_string())
        }),
        lit("copy", "src", |t| {
            let src = t.d.join("src").join(t.comp());
            std::fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
            std::fs::write(&src, t.v).expect("write src");
            json!({"dest": t.d.join("c.txt").to_string_lossy(), "src": src.to_string_lossy()})
        }, |t, r| {
            ok(r)?;
            eq("content", read(&t.d.join("c.txt").to_string_lossy())?, t.v.to_string())
        }),
        refused("copy", "mode", |t| json!({"dest": t.p(), "content": "x", "mode": bad(t.v)})),
        refused("copy", "owner", |t| json!({"dest": t.p(), "content": "x", "owner": bad(t.v)})),
        refused("copy", "group", |t| json!({"dest": t.p(), "content": "x", "group": bad(t.v)})),
        refused("copy", "remote_src", |t| json!({"dest": t.p(), "src": "/etc/hostname", "remote_src": bad(t.v)})),
        refused("copy", "backup", |t| json!({"dest": t.p(), "content": "x", "backup": bad(t.v)})),
        // template
        lit("template", "src", |t| {
            let src = t.d.join("tpl").join(t.comp());
            std::fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
            std::fs::write(&src, "x={{ 1 + 1 }}\n").expect("write src");
            json!({"dest": t.d.join("t.txt").to_string_lossy(), "src": src.to_string_lossy()})
        }, |t, r| {
            ok(r)?;
            eq("content", read(&t.d.join("t.txt").to_string_lossy())?, "x=2\n".into())
        }),
        lit("template", "dest", |t| {
            let src = t.d.join("t.j2");
            std::fs::write(&src, "y\n").expect("write src");
            json!({"dest": t.nested(), "src": src.to_string_lossy()})
        }, |t, r| {
            ok(r)?;
            eq("content", read(&t.d.join(t.comp()).join("f").to_string_lossy())?, "y\n".into())
        }),
        refused("template", "mode", |t| json!({"dest": t.p(), "src": "/etc/hostname", "mode": bad(t.v)})),
        refused("template", "owner", |t| json!({"dest": t.p(), "src": "/etc/hostname", "owner": bad(t.v)})),
        refused("template", "group", |t| json!({"dest": t.p(), "src": "/etc/hostname", "group": bad(t.v)})),
        refused("template", "backup", |t| json!({"dest": t.p(), "src": "/etc/hostname", "backup": bad(t.v)})),
        // lineinfile
        lit("lineinfile", "path", |t| json!({"path": t.nested(), "line": "x", "create": true}), |t, r| {
            ok(r)?;
            eq("content", read(&t.d.join(t.comp()).join("f").to_string_lossy())?, "x\n".into())
        }),
        lit("lineinfile", "line", |t| json!({"path": t.d.join("l.txt").to_string_lossy(), "line": t.v, "create": true}), |t, r| {
            ok(r)?;
            eq("content", read(&t.d.join("l.txt").to_string_lossy())?, format!("{}\n", t.v))
        }),
        Case { module: "lineinfile", arg: "regexp", exp: Exp::Literal {
            build: |t| {
                std::fs::write(t.d.join("l.txt"), "a\n").expect("write");
                json!({"path": t.d.join("l.txt").to_string_lossy(), "line": "b", "regexp": t.v})
            },
            // A regexp is a regexp: awk either applies it (the line is there) or it is
            // refused naming the argument; the file is never damaged.
            check: |t, r| {
                let c = read(&t.d.join("l.txt").to_string_lossy())?;
                if r.ok() {
                    if c == "a\nb\n" || c == "b\n" { Ok(()) } else { Err(format!("content {c:?}")) }
                } else if r.error_text().contains("regexp") {
                    eq("content after a refusal", c, "a\n".into())
                } else {
                    Err(format!("failed without naming regexp: {}", r.error_text()))
                }
            },
            may_refuse: |_| true,
        } },
        lit("lineinfile", "insertafter", |t| json!({"path": t.d.join("l.txt").to_string_lossy(), "line": "b", "create": true, "insertafter": t.v}), |_, r| {
            // Not supported: refused naming the argument whatever the value.
            if r.error_text().contains("insertafter") { Ok(()) } else { ok(r) }
        }),
        lit("lineinfile", "insertbefore", |t| json!({"path": t.d.join("l.txt").to_string_lossy(), "line": "b", "create": true, "insertbefore": t.v}), |_, r| {
            if r.error_text().contains("insertbefore") { Ok(()) } else { ok(r) }
        }),
        refused("lineinfile", "state", |t| json!({"path": t.p(), "line": "x", "state": bad(t.v)})),
        refused("lineinfile", "create", |t| json!({"path": t.p(), "line": "x", "create": bad(t.v)})),
        refused("lineinfile", "mode", |t| json!({"path": t.p(), "line": "x", "create": true, "mode": bad(t.v)})),
        refused("lineinfile", "owner", |t| json!({"path": t.p(), "line": "x", "create": true, "owner": bad(t.v)})),
        refused("lineinfile", "group", |t| json!({"path": t.p(), "line": "x", "create": true, "group": bad(t.v)})),
        // blockinfile
        lit("blockinfile", "path", |t| json!({"path": t.nested(), "block": "x", "create": true}), |t, r| {
            ok(r)?;
            eq("content", read(&t.d.join(t.comp()).join("f").to_string_lossy())?,
               "# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\n".into())
        }),
        lit("blockinfile", "block", |t| json!({"path": t.d.join("b.txt").to_string_lossy(), "block": t.v, "create": true}), |t, r| {
            ok(r)?;
            let b = t.v.trim_end_matches('\n');
            eq("content", read(&t.d.join("b.txt").to_string_lossy())?,
               format!("# BEGIN ANSIBLE MANAGED BLOCK\n{b}\n# END ANSIBLE MANAGED BLOCK\n"))
        }),
        lit("blockinfile", "marker", |t| json!({"path": t.d.join("b.txt").to_string_lossy(), "block": "x", "create": true, "marker": format!("#{{mark}} {}", t.v)}), |t, r| {
            ok(r)?;
            let m = format!("#{{mark}} {}", t.v);
            eq("content", read(&t.d.join("b.txt").to_string_lossy())?,
               format!("{}\nx\n{}\n", m.replace("{mark}", "BEGIN"), m.replace("{mark}", "END")))
        }),
        refused("blockinfile", "state", |t| json!({"path": t.p(), "block": "x", "state": bad(t.v)})),
        refused("blockinfile", "create", |t| json!({"path": t.p(), "block": "x", "create": bad(t.v)})),
        refused("blockinfile", "mode", |t| json!({"path": t.p(), "block": "x", "create": true, "mode": bad(t.v)})),
        refused("blockinfile", "owner", |t| json!({"path": t.p(), "block": "x", "create": true, "owner": bad(t.v)})),
        refused("blockinfile", "group", |t| json!({"path": t.p(), "block": "x", "create": true, "group": bad(t.v)})),
        // command
        lit("command", "argv", |t| json!({"argv": [format!("{}/rec", t.bin()), t.v, "-x"]}), |t, r| {
            ok(r)?;
            let c = r.calls.iter().find(|c| c[0] == "rec").ok_or("rec was not called")?;
            eq("argv", c[1..].to_vec(), vec![t.v.to_string(), "-x".to_string()])
        }),
        lit("command", "cmd", |t| json!({"cmd": format!("{}/rec {}", t.bin(), shlex_quote(t.v))}), |t, r| {
            ok(r)?;
            let c = r.calls.iter().find(|c| c[0] == "rec").ok_or("rec was not called")?;
            eq("argv", c[1..].to_vec(), vec![t.v.to_string()])
        }),
        lit("command", "creates", |t| {
            if t.v.len() % 2 == 0 { std::fs::write(t.p(), "").expect("write"); }
            json!({"argv": [format!("{}/rec", t.bin()), "ran"], "creates": t.p()})
        }, |t, r| {
            ok(r)?;
            eq("ran", r.called_with("rec", "ran"), t.v.len() % 2 != 0)
        }),
        lit("command", "removes", |t| {
            if t.v.len() % 2 == 0 { std::fs::write(t.p(), "").expect("write"); }
            json!({"argv": [format!("{}/rec", t.bin()), "ran"], "removes": t.p()})
        }, |t, r| {
            ok(r)?;
            eq("ran", r.called_with("rec", "ran"), t.v.len() % 2 == 0)
        }),
        lit("command", "chdir", |t| {
            std::fs::create_dir_all(t.p()).expect("mkdir");
            json!({"argv": ["pwd"], "chdir": t.p()})
        }, |t, r| {
            ok(r)?;
            let Ok(o) = &r.res else { return Err("no outcome".into()) };
            eq("pwd", o.apply_out.clone(), format!("{}\n", t.p()))
        }),
        lit("command", "environment", |t| json!({"argv": ["sh", "-c", "printf %s \"$KFV\""], "environment": {"KFV": t.v}}), |t, r| {
            ok(r)?;
            let Ok(o) = &r.res else { return Err("no outcome".into()) };
            eq("$KFV", o.apply_out.clone(), t.v.to_string())
        }),
        lit("command", "stdin", |t| json!({"argv": ["cat"], "stdin": t.v}), |t, r| {
            ok(r)?;
            let Ok(o) = &r.res else { return Err("no outcome".into()) };
            eq("stdin", o.apply_out.clone(), format!("{}\n", t.v))
        }),
        // shell: cmd is shell text by design (it runs); what must hold is that the shell
        // receives exactly it.
        lit("shell", "cmd", |t| json!({"cmd": t.v, "executable": format!("{}/rec", t.bin())}), |t, r| {
            ok(r)?;
            let c = r.calls.iter().find(|c| c[0] == "rec").ok_or("rec was not called")?;
            eq("argv", c[1..].to_vec(), vec!["-c".to_string(), t.v.to_string()])
        }),
        lit("shell", "executable", |t| {
            let exe = t.d.join(t.comp());
            std::os::unix::fs::symlink(bin_dir().join("rec"), &exe).expect("symlink");
            json!({"cmd": "x", "executable": exe.to_string_lossy()})
        }, |t, r| {
            ok(r)?;
            let c = r.calls.iter().find(|c| c[0] == t.comp()).ok_or("the executable was not called")?;
            eq("argv", c[1..].to_vec(), vec!["-c".to_string(), "x".to_string()])
        }),
        lit("shell", "creates", |t| json!({"cmd": "exit 0", "creates": t.p()}), |_, r| ok(r)),
        lit("shell", "removes", |t| json!({"cmd": "exit 0", "removes": t.p()}), |_, r| ok(r)),
        lit("shell", "chdir", |t| {
            std::fs::create_dir_all(t.p()).expect("mkdir");
            json!({"cmd": "pwd", "chdir": t.p()})
        }, |t, r| {
            ok(r)?;
            let Ok(o) = &r.res else { return Err("no outcome".into()) };
            eq("pwd", o.apply_out.clone(), format!("{}\n", t.p()))
        }),
        lit("shell", "environment", |t| json!({"cmd": "printf %s \"$KFV\"", "environment": {"KFV": t.v}}), |t, r| {
            ok(r)?;
            let Ok(o) = &r.res else { return Err("no outcome".into()) };
            eq("$KFV", o.apply_out.clone(), t.v.to_string())
        }),
        lit("shell", "stdin", |t| json!({"cmd": "cat", "stdin": t.v}), |t, r| {
            ok(r)?;
            let Ok(o) = &r.res else { return Err("no outcome".into()) };
            eq("stdin", o.apply_out.clone(), format!("{}\n", t.v))
        }),
        // cordon (kubectl recorded)
        lit("cordon", "node", |t| json!({"node": t.v, "kubectl": format!("{}/kubectl", t.bin())}), |t, r| {
            ok(r)?;
            recorded(r, "kubectl", "cordon")?;
            recorded(r, "kubectl", t.v)
        }),
        lit("cordon", "kubectl", |t| {
            let exe = t.d.join(t.comp());
            std::os::unix::fs::symlink(bin_dir().join("kubectl"), &exe).expect("symlink");
            json!({"node": "n1", "kubectl": exe.to_string_lossy()})
        }, |t, r| {
            ok(r)?;
            recorded(r, &t.comp(), "n1")
        }),
        lit("cordon", "kubeconfig", |t| json!({"node": "n1", "kubectl": format!("{}/kubectl", t.bin()), "kubeconfig": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "kubectl", &format!("--kubeconfig={}", t.v))
        }),
        lit("cordon", "owner", |t| json!({"node": "n1", "kubectl": format!("{}/kubectl", t.bin()), "owner": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "kubectl", &format!("kubeforge.io/cordoned-by={}", t.v))
        }),
        refused("cordon", "state", |t| json!({"node": "n1", "state": bad(t.v)})),
        // systemd (systemctl recorded)
        lit("systemd", "name", |t| json!({"name": t.v, "state": "started"}), |t, r| {
            ok(r)?;
            recorded(r, "systemctl", "start")?;
            recorded(r, "systemctl", t.v)
        }),
        refused("systemd", "state", |t| json!({"name": "x", "state": bad(t.v)})),
        refused("systemd", "enabled", |t| json!({"name": "x", "enabled": bad(t.v)})),
        refused("systemd", "masked", |t| json!({"name": "x", "masked": bad(t.v)})),
        refused("systemd", "daemon_reload", |t| json!({"name": "x", "daemon_reload": bad(t.v)})),
        // sysctl (sysctl recorded)
        refused("sysctl", "name", |t| json!({"name": bad(t.v), "value": "1", "sysctl_file": t.p()})),
        Case { module: "sysctl", arg: "value", exp: Exp::Literal {
            build: |t| json!({"name": "net.kf.test", "value": t.v, "sysctl_file": t.d.join("s.conf").to_string_lossy()}),
            check: |t, r| {
                ok(r)?;
                eq("file", read(&t.d.join("s.conf").to_string_lossy())?, format!("net.kf.test = {}\n", t.v))?;
                recorded(r, "sysctl", &format!("net.kf.test={}", t.v))
            },
            // A value of several lines cannot be one sysctl.conf line.
            may_refuse: |v| v.contains(['\n', '\r']),
        } },
        lit("sysctl", "sysctl_file", |t| json!({"name": "net.kf.test", "value": "1", "sysctl_file": t.nested(), "reload": false}), |t, r| {
            ok(r)?;
            eq("file", read(&t.d.join(t.comp()).join("f").to_string_lossy())?, "net.kf.test = 1\n".into())
        }),
        refused("sysctl", "state", |t| json!({"name": "net.kf.test", "value": "1", "state": bad(t.v)})),
        refused("sysctl", "reload", |t| json!({"name": "net.kf.test", "value": "1", "reload": bad(t.v)})),
        // modprobe (modprobe recorded)
        refused("modprobe", "name", |t| json!({"name": bad(t.v)})),
        lit("modprobe", "params", |t| json!({"name": "kf_no_such_module", "params": t.v}), |t, r| {
            ok(r)?;
            let c = r.calls.iter().find(|c| c[0] == "modprobe").ok_or("modprobe was not called")?;
            let mut want = vec!["kf_no_such_module".to_string()];
            want.extend(crate::shell::split_words(t.v));
            eq("argv", c[1..].to_vec(), want)
        }),
        refused("modprobe", "state", |t| json!({"name": "x", "state": bad(t.v)})),
        refused("modprobe", "persistent", |t| json!({"name": "x", "persistent": bad(t.v)})),
        // image_pull (ctr recorded)
        refused("image_pull", "image", |t| json!({"image": bad(t.v), "ctr": format!("{}/ctr", t.bin())})),
        lit("image_pull", "namespace", |t| json!({"image": "r/i:1", "ctr": format!("{}/ctr", t.bin()), "namespace": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "ctr", "pull")?;
            recorded(r, "ctr", t.v)
        }),
        lit("image_pull", "hosts_dir", |t| json!({"image": "r/i:1", "ctr": format!("{}/ctr", t.bin()), "hosts_dir": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "ctr", t.v)
        }),
        lit("image_pull", "ctr", |t| {
            let exe = t.d.join(t.comp());
            std::os::unix::fs::symlink(bin_dir().join("ctr"), &exe).expect("symlink");
            json!({"image": "r/i:1", "ctr": exe.to_string_lossy()})
        }, |t, r| {
            ok(r)?;
            recorded(r, &t.comp(), "r/i:1")
        }),
        lit("image_pull", "snapshotter", |t| json!({"image": "r/i:1", "ctr": format!("{}/ctr", t.bin()), "snapshotter": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "ctr", t.v)
        }),
        lit("image_pull", "platform", |t| json!({"image": "r/i:1", "ctr": format!("{}/ctr", t.bin()), "platform": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "ctr", t.v)
        }),
        refused("image_pull", "via_controller", |t| json!({"image": "r/i:1", "via_controller": bad(t.v)})),
        // get_url (curl recorded; it writes "data")
        Case { module: "get_url", arg: "url", exp: Exp::Literal {
            build: |t| json!({"url": format!("http://h/{}", t.v), "dest": t.p(), "checksum": CHECKSUM_DATA}),
            check: |t, r| {
                ok(r)?;
                recorded(r, "curl", &format!("http://h/{}", t.v))
            },
            may_refuse: never,
        } },
        lit("get_url", "dest", |t| json!({"url": "http://h/x", "dest": t.nested(), "checksum": CHECKSUM_DATA}), |t, r| {
            ok(r)?;
            eq("content", read(&t.d.join(t.comp()).join("f").to_string_lossy())?, "data".into())
        }),
        refused("get_url", "checksum", |t| json!({"url": "http://h/x", "dest": t.p(), "checksum": bad(t.v)})),
        refused("get_url", "mode", |t| json!({"url": "http://h/x", "dest": t.p(), "checksum": CHECKSUM_DATA, "mode": bad(t.v)})),
        refused("get_url", "owner", |t| json!({"url": "http://h/x", "dest": t.p(), "checksum": CHECKSUM_DATA, "owner": bad(t.v)})),
        refused("get_url", "group", |t| json!({"url": "http://h/x", "dest": t.p(), "checksum": CHECKSUM_DATA, "group": bad(t.v)})),
        refused("get_url", "timeout", |t| json!({"url": "http://h/x", "dest": t.p(), "checksum": CHECKSUM_DATA, "timeout": bad(t.v)})),
        refused("get_url", "validate_certs", |t| json!({"url": "http://h/x", "dest": t.p(), "checksum": CHECKSUM_DATA, "validate_certs": bad(t.v)})),
        refused("get_url", "download_once", |t| json!({"url": "http://h/x", "dest": t.p(), "checksum": CHECKSUM_DATA, "download_once": bad(t.v)})),
        // download: an artifact of the table, handed to get_url (covered above).
        refused("download", "artifact", |t| json!({"artifact": bad(t.v)})),
        fixed("download", "dest", "joined with the artifact's file name and handed to get_url as dest (get_url.dest is tested)"),
        refused("download", "mode", |t| json!({"artifact": "etcd", "mode": bad(t.v)})),
        refused("download", "timeout", |t| json!({"artifact": "etcd", "timeout": bad(t.v)})),
        refused("download", "download_once", |t| json!({"artifact": "etcd", "download_once": bad(t.v)})),
        // fetch
        lit("fetch", "src", |t| {
            std::fs::write(t.p(), "data").expect("write");
            json!({"src": t.p(), "dest": t.d.join("fetched").to_string_lossy()})
        }, |_, r| {
            // The pull itself is the runner's (after the probe): the probe must find the
            // file and name its checksum.
            let Ok(o) = &r.res else { return Err(r.error_text()) };
            if o.probe_rc == super::probe::CHANGE && o.probe_out.contains("KFVAR sha256=3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7") {
                Ok(())
            } else {
                Err(format!("no checksum of the file in {:?}", o.probe_out))
            }
        }),
        fixed("fetch", "dest", "a controller path, written by the runner with std::fs (never through a shell)"),
        fixed("fetch", "flat", "a controller-side flag"),
        // unarchive (tar recorded, then run for real)
        lit("unarchive", "src", |t| {
            let src = t.d.join("arch").join(t.comp());
            std::fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
            std::fs::write(&src, tarball()).expect("write tarball");
            json!({"src": src.to_string_lossy(), "dest": t.d.join("out").to_string_lossy()})
        }, |t, r| {
            ok(r)?;
            eq("extracted", read(&t.d.join("out/m.txt").to_string_lossy())?, "m\n".into())
        }),
        lit("unarchive", "dest", |t| {
            std::fs::write(t.d.join("a.tar"), tarball()).expect("write tarball");
            json!({"src": t.d.join("a.tar").to_string_lossy(), "remote_src": true, "dest": t.nested()})
        }, |t, r| {
            ok(r)?;
            eq("extracted", read(&t.d.join(t.comp()).join("f/m.txt").to_string_lossy())?, "m\n".into())
        }),
        lit("unarchive", "creates", |t| {
            std::fs::write(t.d.join("a.tar"), tarball()).expect("write tarball");
            json!({"src": t.d.join("a.tar").to_string_lossy(), "remote_src": true, "dest": t.d.join("out").to_string_lossy(), "creates": t.p()})
        }, |t, r| {
            ok(r)?;
            eq("extracted", t.d.join("out/m.txt").exists(), true)
        }),
        lit("unarchive", "extra_opts", |t| {
            std::fs::write(t.d.join("a.tar"), tarball()).expect("write tarball");
            json!({"src": t.d.join("a.tar").to_string_lossy(), "remote_src": true, "dest": t.d.join("out").to_string_lossy(), "extra_opts": [t.v]})
        }, |t, r| {
            // tar decides what an option means; it must receive exactly this one.
            if !r.ok() && !r.called_with("tar", "--no-unquote") {
                return Err(format!("tar never ran: {}", r.error_text()));
            }
            if r.called_with("tar", "--no-unquote") { recorded(r, "tar", t.v) } else { Ok(()) }
        }),
        lit("unarchive", "include", |t| {
            std::fs::write(t.d.join("a.tar"), tarball()).expect("write tarball");
            json!({"src": t.d.join("a.tar").to_string_lossy(), "remote_src": true, "dest": t.d.join("out").to_string_lossy(), "include": [t.v]})
        }, |t, r| {
            // No member has that name: tar says so, having received it as a member name.
            recorded(r, "tar", t.v)?;
            if r.ok() { Err("a member that does not exist was extracted".into()) } else { Ok(()) }
        }),
        refused("unarchive", "remote_src", |t| json!({"src": "/x.tar", "dest": t.p(), "remote_src": bad(t.v)})),
        refused("unarchive", "mode", |t| json!({"src": "/x.tar", "dest": t.p(), "remote_src": true, "mode": bad(t.v)})),
        refused("unarchive", "owner", |t| json!({"src": "/x.tar", "dest": t.p(), "remote_src": true, "owner": bad(t.v)})),
        refused("unarchive", "group", |t| json!({"src": "/x.tar", "dest": t.p(), "remote_src": true, "group": bad(t.v)})),
        // uri (curl recorded; it answers 200)
        lit("uri", "url", |t| json!({"url": format!("http://h/{}", t.v)}), |t, r| {
            ok(r)?;
            recorded(r, "curl", &format!("http://h/{}", t.v))
        }),
        lit("uri", "method", |t| json!({"url": "http://h/", "method": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "curl", &t.v.to_ascii_uppercase())
        }),
        lit("uri", "ca_path", |t| json!({"url": "http://h/", "ca_path": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "curl", t.v)
        }),
        lit("uri", "client_cert", |t| json!({"url": "http://h/", "client_cert": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "curl", t.v)
        }),
        lit("uri", "client_key", |t| json!({"url": "http://h/", "client_key": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "curl", t.v)
        }),
        lit("uri", "body", |t| json!({"url": "http://h/", "body": t.v}), |t, r| {
            ok(r)?;
            recorded(r, "curl", t.v)
        }),
        lit("uri", "headers", |t| json!({"url": "http://h/", "headers": {"X-Kf": t.v}}), |t, r| {
            ok(r)?;
            recorded(r, "curl", &format!("X-Kf: {}", t.v))
        }),
        refused("uri", "status_code", |t| json!({"url": "http://h/", "status_code": bad(t.v)})),
        refused("uri", "timeout", |t| json!({"url": "http://h/", "timeout": bad(t.v)})),
        refused("uri", "validate_certs", |t| json!({"url": "http://h/", "validate_certs": bad(t.v)})),
        refused("uri", "return_content", |t| json!({"url": "http://h/", "return_content": bad(t.v)})),
        // wait_for
        lit("wait_for", "path", |t| {
            std::fs::write(t.p(), "ready\n").expect("write");
            json!({"path": t.p(), "timeout": 2})
        }, |_, r| ok(r)),
        lit("wait_for", "search_regex", |t| {
            std::fs::write(t.d.join("w.txt"), "ready\n").expect("write");
            json!({"path": t.d.join("w.txt").to_string_lossy(), "search_regex": t.v, "timeout": 1})
        }, |t, r| {
            // grep decides what the regexp matches; it must receive exactly this one.
            recorded(r, "grep", t.v)
        }),
        lit("wait_for", "host", |t| json!({"host": t.v, "port": 1, "state": "stopped", "timeout": 2}), |_, r| ok(r)),
        refused("wait_for", "port", |t| json!({"port": bad(t.v)})),
        refused("wait_for", "state", |t| json!({"port": 1, "state": bad(t.v)})),
        refused("wait_for", "timeout", |t| json!({"port": 1, "timeout": bad(t.v)})),
        refused("wait_for", "delay", |t| json!({"port": 1, "delay": bad(t.v)})),
    ]
}

/// Python's shlex.quote: how an operator writes an arbitrary word into `cmd`.
fn shlex_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// A tar archive holding m.txt ("m\n"), built once.
fn tarball() -> Vec<u8> {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("m.txt"), "m\n").expect("write");
        let out = std::process::Command::new("tar")
            .args(["-cf", "-", "-C"])
            .arg(d.path())
            .arg("m.txt")
            .output()
            .expect("tar");
        assert!(out.status.success());
        out.stdout
    })
    .clone()
}

/// The recorders' directory (built once per test process).
fn bin_dir() -> &'static Path {
    static BIN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = BIN.get_or_init(|| {
        let d = tempfile::tempdir().expect("tempdir");
        let bin = d.path().join("bin");
        std::fs::create_dir(&bin).expect("mkdir bin");
        let script = r#"#!/bin/sh
kf_me=${0##*/}
{ printf '%s\0' "$kf_me" "$@"; printf '\036'; } >> "$KF_ARGV"
case $kf_me in
  systemctl) case $1 in is-active) exit 3;; is-enabled) echo disabled; exit 1;; show) echo no;; esac;;
  sysctl) case $1 in -n) echo 0;; esac;;
  kubectl) case " $* " in *" get node "*) printf '|';; esac;;
  ctr) case " $* " in *" images ls "*) echo 'REF TYPE DIGEST SIZE PLATFORMS LABELS';; esac;;
  curl) o=; prev=; for a in "$@"; do [ "$prev" = -o ] && o=$a; prev=$a; done
        [ -n "$o" ] && printf data > "$o"; case " $* " in *" -w "*) printf 200;; esac;;
  tar|grep) PATH=$KF_REAL_PATH exec "$kf_me" "$@";;
esac
exit 0
"#;
        for name in ["rec", "systemctl", "sysctl", "kubectl", "ctr", "curl", "modprobe", "tar", "grep"] {
            let p = bin.join(name);
            std::fs::write(&p, script).expect("write recorder");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        (d, bin)
    });
    p
}

/// Runs one module with one argument set in directory `d`.
fn run(module: &str, args: &Value, d: &Path) -> Ran {
    let scope =
        minijinja::Value::from(minijinja::value::Serde(json!({"inventory_hostname": "h1"})));
    let ctx = Context {
        scope: &scope,
        role_dir: None,
        playbook_dir: d,
        cache_dir: d,
        host: "h1",
        check: false,
    };
    let step = match prepare(module, args, &ctx) {
        Ok(Action::Remote(step)) => step,
        Ok(_) => {
            return Ran {
                res: Err(format!("{module} is not a remote module")),
                calls: vec![],
                all: String::new(),
            }
        }
        Err(e) => {
            return Ran {
                res: Err(e.to_string()),
                calls: vec![],
                all: String::new(),
            }
        }
    };
    // The runner's part of an upload: the controller's file at the staged path.
    for (local, remote, mode) in &step.uploads {
        let remote = Path::new(remote);
        std::fs::create_dir_all(remote.parent().expect("staged path has a parent"))
            .expect("staging directory (run as root)");
        std::fs::copy(local, remote).expect("stage the upload (run as root)");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(remote, std::fs::Permissions::from_mode(*mode)).expect("chmod");
    }
    let nonce = batch::nonce();
    let script = batch::script(&[batch::BatchStep::new(step, 20)], &nonce, false, true);
    let log = d.join(".argv");
    let real = std::env::var("PATH").unwrap_or_default();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(d)
        .env("PATH", format!("{}:{real}", bin_dir().display()))
        .env("KF_REAL_PATH", &real)
        .env("KF_ARGV", &log)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let mut b = batch::parse(&stdout, &nonce);
    let calls = std::fs::read(&log)
        .map(|raw| {
            raw.split(|c| *c == 0x1e)
                .filter(|r| !r.is_empty())
                .map(|r| {
                    let mut w: Vec<String> = r
                        .split(|c| *c == 0)
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect();
                    w.pop(); // after the last NUL
                    w
                })
                .collect()
        })
        .unwrap_or_default();
    let res = if b.outcomes.len() == 1 && b.damaged.is_none() && b.end.is_some() {
        Ok(b.outcomes.remove(0))
    } else {
        Err(format!("the batch did not end cleanly: {all}"))
    };
    Ran { res, calls, all }
}

/// Any file named PWNED under `d`: a command the value spelled ran.
fn pwned(d: &Path) -> bool {
    fn walk(p: &Path) -> bool {
        let Ok(rd) = std::fs::read_dir(p) else {
            return false;
        };
        rd.flatten().any(|e| {
            e.file_name() == PWNED
                || (e
                    .file_type()
                    .map(|t| t.is_dir() && !t.is_symlink())
                    .unwrap_or(false)
                    && walk(&e.path()))
        })
    }
    walk(d)
}

/// One value in one case; Err says what went wrong.
fn one(case: &Case, v: &str, root: &Path, n: usize) -> Result<(), String> {
    let d = root.join(format!("{}-{}-{n}", case.module, case.arg));
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    let t = T { d: &d, v };
    let (args, check, may): (Value, Option<Check>, fn(&str) -> bool) = match &case.exp {
        Exp::Literal {
            build,
            check,
            may_refuse,
        } => (build(&t), Some(*check), *may_refuse),
        Exp::Refused(build) => (build(&t), None, never),
        Exp::Fixed(_) => return Ok(()),
    };
    let r = run(case.module, &args, &d);
    let out = (|| {
        for bad in [
            "Syntax error",
            "syntax error",
            "unexpected EOF",
            "unterminated",
            "Bad substitution",
        ] {
            if r.all.contains(bad) {
                return Err(format!("shell error ({bad}) in: {}", r.all));
            }
        }
        if pwned(&d) {
            return Err("a command spelled by the value ran".into());
        }
        let named = r.error_text().contains(case.arg);
        match check {
            None => {
                if r.ok() {
                    Err("accepted a value it must refuse".into())
                } else if named {
                    Ok(())
                } else {
                    Err(format!(
                        "refused without naming {}: {}",
                        case.arg,
                        r.error_text()
                    ))
                }
            }
            Some(check) => {
                if !r.ok() && may(v) && named {
                    Ok(())
                } else {
                    check(&t, &r)
                }
            }
        }
    })();
    let _ = std::fs::remove_dir_all(&d);
    out.map_err(|e| format!("{}.{} = {v:?}: {e}", case.module, case.arg))
}

/// Arbitrary values built from the pieces that break hand-made shell text.
fn nasty() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("'".to_string()),
        Just("''".to_string()),
        Just("\"".to_string()),
        Just(format!("$(touch {PWNED})")),
        Just(format!("`touch {PWNED}`")),
        Just(format!("; touch {PWNED}")),
        Just(format!("&& touch {PWNED} &&")),
        Just(format!("\ntouch {PWNED}\n")),
        Just(format!("' ; touch {PWNED} ; '")),
        Just("\t".to_string()),
        Just("-".to_string()),
        Just("--x".to_string()),
        Just("*".to_string()),
        Just("?".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("~".to_string()),
        Just("%s%n%".to_string()),
        Just("\\".to_string()),
        Just("\\n".to_string()),
        Just("$HOME".to_string()),
        Just("${IFS}".to_string()),
        Just("|".to_string()),
        Just(">".to_string()),
        Just("<".to_string()),
        Just("#".to_string()),
        Just("!".to_string()),
        Just(" ".to_string()),
        Just("{a,b}".to_string()),
        Just("=".to_string()),
        Just("é✓日本".to_string()),
        "[a-z]{1,8}",
        (1usize..600).prop_map(|n| "x".repeat(n)),
        (1usize..60).prop_map(|n| "'".repeat(n)),
    ];
    prop::collection::vec(piece, 1..7).prop_map(|v| v.concat())
}

#[test]
fn every_module_argument_has_a_case() {
    let cases = cases();
    let mut missing = Vec::new();
    for decl in super::all() {
        if decl.any_args {
            continue; // set_fact: controller-side, arbitrary names, no shell
        }
        for arg in decl.args {
            if !cases.iter().any(|c| c.module == decl.name && c.arg == *arg) {
                missing.push(format!("{}.{arg}", decl.name));
            }
        }
    }
    // Aliases and shell's own arguments are covered by name too.
    assert!(
        missing.is_empty(),
        "module arguments without a property case: {missing:?}"
    );
    for c in &cases {
        let decl = super::decl::find(c.module).unwrap_or_else(|| panic!("no module {}", c.module));
        assert!(
            decl.args.contains(&c.arg),
            "{}.{} is not an argument",
            c.module,
            c.arg
        );
    }
}

#[test]
fn arbitrary_values_take_effect_literally_or_are_refused_by_name() {
    let per_case: u32 = std::env::var("KF_PROP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let root = tempfile::tempdir().expect("tempdir");
    let cases = cases();
    let live: Vec<&Case> = cases
        .iter()
        .filter(|c| !matches!(c.exp, Exp::Fixed(_)))
        .collect();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    // Two workers: each case's runs are independent (own directory).
    std::thread::scope(|s| {
        for w in 0..2 {
            let (live, counter, failures, root) = (&live, &counter, &failures, root.path());
            s.spawn(move || {
                for case in live.iter().skip(w).step_by(2) {
                    let mut runner = TestRunner::new(Config {
                        cases: per_case,
                        failure_persistence: None,
                        ..Config::default()
                    });
                    let res = runner.run(&nasty(), |v| {
                        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        one(case, &v, root, n).map_err(TestCaseError::fail)
                    });
                    if let Err(e) = res {
                        failures.lock().expect("lock").push(e.to_string());
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().expect("lock");
    let total = counter.into_inner();
    eprintln!(
        "{} cases over {} arguments ({} fixed), {total} runs",
        live.len(),
        cases.len(),
        cases.len() - live.len()
    );
    assert!(
        failures.is_empty(),
        "{} argument(s) broke:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
