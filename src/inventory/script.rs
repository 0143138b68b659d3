//! Executable inventory scripts, run as ansible-core 2.18's `script` plugin runs them:
//! `SCRIPT --list` prints a JSON object of groups (`hosts` list, `vars`, `children`, or
//! a bare list of hosts) with `_meta.hostvars`; without `_meta.hostvars`, `SCRIPT --host
//! NAME` is run for each host. kubeforge closes the script's stdin, gives each run a time
//! limit (KUBEFORGE_INVENTORY_SCRIPT_TIMEOUT seconds, default 60) and names the script
//! and shows its stderr when it fails.

use super::model::{Parsed, Var, VarMap};
use super::InventoryError;
use crate::diagnostic::Location;
use serde_json::{Map, Value};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Environment variable holding each script run's time limit in seconds.
pub const TIMEOUT_ENV: &str = "KUBEFORGE_INVENTORY_SCRIPT_TIMEOUT";

/// Time limit of a script run when the environment does not set one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// True when `path` is run as a script: executable, and a `#!` script or an ELF program.
/// An executable text file without `#!` is read as a file: Ansible's exec of it fails
/// and its INI/YAML plugins read it (a shell would run it instead, so it is never run).
pub fn is_script(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return false;
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n].starts_with(b"#!") || head[..n].starts_with(b"\x7fELF")
}

/// The time limit from KUBEFORGE_INVENTORY_SCRIPT_TIMEOUT (whole seconds, at least 1).
pub fn timeout_from_env() -> Result<Duration, InventoryError> {
    match std::env::var(TIMEOUT_ENV) {
        Err(_) => Ok(DEFAULT_TIMEOUT),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(s) if s > 0 => Ok(Duration::from_secs(s)),
            _ => Err(InventoryError::Syntax {
                code: "inventory-script",
                location: Location::new(TIMEOUT_ENV, 0),
                message: format!("{TIMEOUT_ENV}={v} is not a number of seconds"),
                help: format!(
                    "set {TIMEOUT_ENV} to a whole number of seconds (default 60), or unset it"
                ),
            }),
        },
    }
}

/// Runs the script (`shown` names it in messages and variable sources) and reads its
/// inventory.
pub fn load(path: &Path, shown: &str, timeout: Duration) -> Result<Parsed, InventoryError> {
    let out = run(path, shown, &["--list"], timeout)?;
    let fail = |message: String| script_error(shown, "--list", message, &out.stderr);
    let text = String::from_utf8(out.stdout.clone())
        .map_err(|_| fail("its output is not UTF-8 text".into()))?;
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("its output is not JSON: {e}")))?;
    let Value::Object(doc) = doc else {
        return Err(fail(format!(
            "its output is a JSON {}, not an object of groups",
            type_name(&doc)
        )));
    };
    let origin = Location::new(format!("{shown} --list"), 0);
    let (mut parsed, hosts, meta) = parse_list(&doc, &origin).map_err(fail)?;
    for host in hosts {
        let (vars, origin) = match &meta {
            // A host missing from _meta.hostvars has no variables.
            Some(hostvars) => (
                hostvars
                    .get(&host)
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Map::new())),
                origin.clone(),
            ),
            None => {
                let origin = Location::new(format!("{shown} --host {host}"), 0);
                (host_vars(path, shown, &host, timeout)?, origin)
            }
        };
        // Ansible 2.18 takes only an object here: null, or an empty --host output, is
        // its "expected dictionary" error.
        let vars = match vars {
            Value::Object(m) => m,
            other => {
                let args = match &meta {
                    Some(_) => "--list".to_string(),
                    None => format!("--host {host}"),
                };
                return Err(script_error(
                    shown,
                    &args,
                    format!(
                        "the variables of host '{host}' are {}, not a JSON object (print {{}} for none)",
                        describe(&other)
                    ),
                    &out.stderr,
                ));
            }
        };
        if let Some(h) = parsed.hosts.get_mut(&host) {
            h.vars.extend(var_map(vars, &origin));
        }
    }
    Ok(parsed)
}

/// Hosts, groups and group vars of a `--list` document; the hosts named in groups (in
/// order) and `_meta.hostvars` when present.
type ListDoc = (Parsed, Vec<String>, Option<Map<String, Value>>);

fn parse_list(doc: &Map<String, Value>, origin: &Location) -> Result<ListDoc, String> {
    let mut parsed = Parsed::default();
    let mut hosts: Vec<String> = Vec::new();
    let mut meta = None;
    for (group, data) in doc {
        if group == "_meta" {
            if let Some(hv) = data.get("hostvars") {
                match hv {
                    Value::Object(m) => meta = Some(m.clone()),
                    other => {
                        return Err(format!(
                            "_meta.hostvars is a JSON {}, not an object of hosts",
                            type_name(other)
                        ))
                    }
                }
            }
            continue;
        }
        parsed.group_mut(group, Some(origin.clone()));
        // Ansible's shorthands: a list is the group's hosts; an object without hosts,
        // vars or children is one host named like the group, with those variables.
        let shorthand;
        let data = match data {
            Value::Object(m)
                if ["hosts", "vars", "children"]
                    .iter()
                    .any(|k| m.contains_key(*k)) =>
            {
                m
            }
            Value::Object(m) => {
                shorthand = Map::from_iter([
                    ("hosts".to_string(), Value::from(vec![group.clone()])),
                    ("vars".to_string(), Value::Object(m.clone())),
                ]);
                &shorthand
            }
            other => {
                shorthand = Map::from_iter([("hosts".to_string(), other.clone())]);
                &shorthand
            }
        };
        if let Some(list) = data.get("hosts") {
            let Value::Array(list) = list else {
                return Err(format!(
                    "group '{group}' has bad data for the host list: a JSON {}, not a list",
                    type_name(list)
                ));
            };
            for h in list {
                let Value::String(name) = h else {
                    return Err(format!(
                        "group '{group}' lists a host that is a JSON {}, not a name",
                        type_name(h)
                    ));
                };
                if !hosts.contains(name) {
                    hosts.push(name.clone());
                }
                parsed.add_host(group, name, origin.clone(), None, VarMap::new());
            }
        }
        if let Some(vars) = data.get("vars") {
            let Value::Object(vars) = vars else {
                return Err(format!(
                    "group '{group}' has bad data for variables: a JSON {}, not an object",
                    type_name(vars)
                ));
            };
            let vars = var_map(vars.clone(), origin);
            parsed.group_mut(group, None).vars.extend(vars);
        }
        if let Some(children) = data.get("children") {
            let names: Vec<String> = match children {
                Value::Array(list) => list
                    .iter()
                    .map(|c| match c {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(format!(
                            "group '{group}' lists a child that is a JSON {}, not a group name",
                            type_name(other)
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Value::Object(m) => m.keys().cloned().collect(),
                other => {
                    return Err(format!(
                        "group '{group}' has bad data for children: a JSON {}, not a list",
                        type_name(other)
                    ))
                }
            };
            for child in names {
                parsed.add_child(group, &child, origin.clone());
            }
        }
    }
    Ok((parsed, hosts, meta))
}

fn var_map(vars: Map<String, Value>, origin: &Location) -> VarMap {
    vars.into_iter()
        .map(|(k, value)| {
            (
                k,
                Var {
                    value,
                    origin: origin.clone(),
                },
            )
        })
        .collect()
}

/// `SCRIPT --host NAME`: the host's variables, JSON or YAML as Ansible's loader takes
/// there (an empty output is null, which the caller refuses as Ansible 2.18 does).
fn host_vars(
    path: &Path,
    shown: &str,
    host: &str,
    timeout: Duration,
) -> Result<Value, InventoryError> {
    let args = ["--host", host];
    let out = run(path, shown, &args, timeout)?;
    let fail = |m: String| script_error(shown, &args.join(" "), m, &out.stderr);
    let text = String::from_utf8(out.stdout.clone())
        .map_err(|_| fail("its output is not UTF-8 text".into()))?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => Ok(v),
        Err(json_err) => match crate::yaml::parse(&text) {
            Ok(node) => Ok(node.to_value()),
            Err(_) => Err(fail(format!("its output is not JSON: {json_err}"))),
        },
    }
}

/// A value refused as host variables, for messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "empty (null)".to_string(),
        other => format!("a JSON {}", type_name(other)),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn script_error(shown: &str, args: &str, message: String, stderr: &[u8]) -> InventoryError {
    InventoryError::Script {
        script: shown.to_string(),
        args: args.to_string(),
        message,
        stderr: String::from_utf8_lossy(stderr).trim_end().to_string(),
    }
}

/// What a finished script run printed.
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `path ARGS` with stdin closed, in its own process group (so that a time-out
/// ends whatever it started), collecting stdout and stderr; a non-zero exit, a signal or
/// the time limit is an error naming the script.
fn run(
    path: &Path,
    shown: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<Output, InventoryError> {
    use std::os::unix::process::CommandExt;
    let what = args.join(" ");
    let fail = |m: String, stderr: &[u8]| script_error(shown, &what, m, stderr);
    let mut child = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}"), b""))?;
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    let readers: Vec<(bool, Option<Box<dyn Read + Send>>)> = vec![
        (
            true,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
        (
            false,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
    ];
    for (is_out, reader) in readers {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = reader {
                let _ = r.read_to_end(&mut buf);
            }
            let _ = tx.send((is_out, buf));
        });
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let pid = i32::try_from(child.id()).unwrap_or(0);
    let kill_group = || {
        if pid > 0 {
            // SAFETY: kill(2) with a negative pid signals exactly the script's own
            // process group (made by process_group(0) above).
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    };
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                kill_group();
                let _ = child.wait();
                return Err(fail(
                    format!(
                        "it did not finish within {} s (set {TIMEOUT_ENV} to allow longer)",
                        timeout.as_secs()
                    ),
                    b"",
                ));
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(fail(format!("cannot wait for it: {e}"), b"")),
        }
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        match rx.recv_timeout(left) {
            Ok((true, b)) => stdout = b,
            Ok((false, b)) => stderr = b,
            Err(_) => {
                // Something it started still holds its output open.
                kill_group();
                return Err(fail(
                    "it exited but a process it started kept its output open".into(),
                    &stderr,
                ));
            }
        }
    }
    if !status.success() {
        let how = match status.code() {
            Some(c) => format!("it exited with status {c}"),
            None => format!("it was killed ({status})"),
        };
        return Err(fail(how, &stderr));
    }
    Ok(Output { stdout, stderr })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn list(doc: &str) -> Result<ListDoc, String> {
        let Value::Object(m) = serde_json::from_str(doc).unwrap() else {
            panic!("not an object")
        };
        parse_list(&m, &Location::new("inv.py --list", 0))
    }

    /// Names, each with a list of names (host -> groups, group -> variables).
    type NamesTo<'a> = &'a [(&'a str, &'a [&'a str])];

    #[test]
    fn list_shapes() {
        // (--list output, host -> direct groups, group -> vars keys)
        let table: [(&str, NamesTo, NamesTo); 4] = [
            (
                r#"{"web": {"hosts": ["a", "b"], "vars": {"x": 1}, "children": ["db"]}, "db": ["c"]}"#,
                &[("a", &["web"]), ("b", &["web"]), ("c", &["db"])],
                &[("web", &["x"]), ("db", &[])],
            ),
            // An object without hosts/vars/children: one host named like the group.
            (
                r#"{"solo": {"ansible_host": "10.0.0.1"}}"#,
                &[("solo", &["solo"])],
                &[("solo", &["ansible_host"])],
            ),
            // children as an object: its keys.
            (
                r#"{"all": {"children": {"k8s": {}}}, "k8s": {"hosts": ["n1"]}}"#,
                &[("n1", &["k8s"])],
                &[("all", &[]), ("k8s", &[])],
            ),
            (r#"{"_meta": {"hostvars": {}}}"#, &[], &[]),
        ];
        for (doc, hosts, groups) in table {
            let (parsed, _, _) = list(doc).unwrap();
            for (h, want) in hosts {
                let got: Vec<&str> = parsed
                    .groups
                    .values()
                    .filter(|g| g.hosts.iter().any(|x| x == h))
                    .map(|g| g.name.as_str())
                    .collect();
                assert_eq!(&got, want, "{doc}: host {h}");
            }
            for (g, keys) in groups {
                let got: Vec<&String> = parsed.groups[*g].vars.keys().collect();
                assert_eq!(&got, keys, "{doc}: group {g}");
            }
        }
    }

    #[test]
    fn bad_list_shapes_are_errors_naming_the_group() {
        let table = [
            (
                r#"{"web": {"hosts": "a"}}"#,
                "group 'web' has bad data for the host list",
            ),
            (
                r#"{"web": {"hosts": [1]}}"#,
                "group 'web' lists a host that is a JSON number",
            ),
            (
                r#"{"web": {"vars": [1]}}"#,
                "group 'web' has bad data for variables",
            ),
            (
                r#"{"web": {"children": "db"}}"#,
                "group 'web' has bad data for children",
            ),
            (
                r#"{"_meta": {"hostvars": []}}"#,
                "_meta.hostvars is a JSON list",
            ),
        ];
        for (doc, want) in table {
            let e = list(doc).unwrap_err();
            assert!(e.contains(want), "{doc}: {e}");
        }
    }

    #[test]
    fn runs_with_meta_without_meta_and_fails_clearly() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let t = Duration::from_secs(10);
        let with_meta = script(
            d,
            "meta.sh",
            "#!/bin/sh\n[ \"$1\" = --list ] || exit 3\nread x && exit 4\n\
             echo '{\"k\": {\"hosts\": [\"h1\"]}, \"_meta\": {\"hostvars\": {\"h1\": {\"v\": 1}}}}'\n",
        );
        let p = load(&with_meta, "meta.sh", t).unwrap();
        assert_eq!(p.hosts["h1"].vars["v"].value, Value::from(1));
        assert_eq!(p.hosts["h1"].vars["v"].origin.to_string(), "meta.sh --list");

        let per_host = script(
            d,
            "host.sh",
            "#!/bin/sh\nif [ \"$1\" = --list ]; then echo '{\"k\": [\"h1\", \"h2\"]}';\n\
             elif [ \"$2\" = h1 ]; then echo 'v: 2'; else echo '{}'; fi\n",
        );
        let p = load(&per_host, "host.sh", t).unwrap();
        assert_eq!(p.hosts["h1"].vars["v"].value, Value::from(2));
        assert_eq!(
            p.hosts["h1"].vars["v"].origin.to_string(),
            "host.sh --host h1"
        );
        assert!(p.hosts["h2"].vars.is_empty());

        // (script body, words the error must hold)
        let table: [(&str, &[&str]); 6] = [
            (
                "#!/bin/sh\necho boom >&2\nexit 2\n",
                &["bad.sh --list", "status 2", "boom"],
            ),
            ("#!/bin/sh\necho '{oops'\n", &["bad.sh --list", "not JSON"]),
            ("#!/bin/sh\necho '[1]'\n", &["bad.sh --list", "JSON list"]),
            (
                "#!/bin/sh\n[ \"$1\" = --list ] && echo '{\"k\": [\"h\"]}' && exit 0\necho '{x' \n",
                &["bad.sh --host h", "not JSON"],
            ),
            // Ansible 2.18: an empty --host output is "expected dictionary, got None".
            (
                "#!/bin/sh\n[ \"$1\" = --list ] && echo '{\"k\": [\"h\"]}'\nexit 0\n",
                &[
                    "bad.sh --host h",
                    "host 'h' are empty (null)",
                    "print {} for none",
                ],
            ),
            (
                "#!/bin/sh\necho '{\"k\": [\"h\"], \"_meta\": {\"hostvars\": {\"h\": [1]}}}'\n",
                &["bad.sh --list", "host 'h' are a JSON list"],
            ),
        ];
        for (body, words) in table {
            let p = script(d, "bad.sh", body);
            let e = load(&p, "bad.sh", t).unwrap_err();
            let text = format!("{e} {}", miette_help(&e));
            for w in words {
                assert!(text.contains(w), "{body}: {text}");
            }
        }
    }

    fn miette_help(e: &InventoryError) -> String {
        miette::Diagnostic::help(e)
            .map(|h| h.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_script_that_hangs_is_stopped_at_its_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let p = script(tmp.path(), "slow.sh", "#!/bin/sh\nsleep 30 &\nsleep 30\n");
        let start = Instant::now();
        let e = load(&p, "slow.sh", Duration::from_secs(1)).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(e.to_string().contains("did not finish within 1 s"), "{e}");
    }

    #[test]
    fn what_counts_as_a_script() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        // (name, content, mode, run as a script)
        let table = [
            ("a", "#!/bin/sh\n", 0o755, true),
            ("b", "#!/bin/sh\n", 0o644, false),
            ("c", "[all]\nh1\n", 0o755, false),
            ("e", "\x7fELF....", 0o700, true),
        ];
        for (name, body, mode, want) in table {
            let p = d.join(name);
            std::fs::write(&p, body).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(is_script(&p), want, "{name}");
        }
        assert!(!is_script(d));
    }
}
