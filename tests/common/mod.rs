//! Helpers shared by the inventory integration tests: running the binary (with a
//! time limit, output to files so a chatty child never blocks on a full pipe),
//! reading its diagnostics back, and comparing `inventory show` documents.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The repository root (tests run with it as the working directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture path as the operator would type it from the repository root.
pub fn fixture(rel: &str) -> String {
    format!("tests/fixtures/{rel}")
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `kubeforge ARGS` in `cwd`; fails the test if it takes more than 60 s.
pub fn kubeforge_in(cwd: &Path, args: &[&str]) -> Run {
    let out_dir = tempfile::tempdir().expect("tempdir for output");
    let out_path = out_dir.path().join("stdout");
    let err_path = out_dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn kubeforge");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for kubeforge") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kubeforge {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// Runs `kubeforge ARGS` from the repository root.
pub fn kubeforge(args: &[&str]) -> Run {
    kubeforge_in(&root(), args)
}

/// `inventory show -i INV --format json [EXTRA...]` from `cwd`; must exit 0.
pub fn show_json_in(cwd: &Path, inv: &str, extra: &[&str]) -> Value {
    let mut args = vec!["inventory", "show", "-i", inv, "--format", "json"];
    args.extend_from_slice(extra);
    let run = kubeforge_in(cwd, &args);
    assert_eq!(run.code, 0, "show {inv} failed:\n{}", run.stderr);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("show {inv}: not JSON ({e}):\n{}", run.stdout))
}

/// `inventory show ... --format json` from the repository root.
pub fn show_json(inv: &str, extra: &[&str]) -> Value {
    show_json_in(&root(), inv, extra)
}

/// The document with every `source` field removed (INI and YAML differ only there).
pub fn strip_sources(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "source")
                .map(|(k, v)| (k.clone(), strip_sources(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_sources).collect()),
        other => other.clone(),
    }
}

/// The host object called `name` in a show document.
pub fn host<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["hosts"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["name"] == name))
        .unwrap_or_else(|| panic!("no host {name} in {doc:#}"))
}

/// A list of strings from a JSON array.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| {
            x.as_str()
                .unwrap_or_else(|| panic!("not a string: {x}"))
                .to_string()
        })
        .collect()
}

/// One diagnostic as printed on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    /// `error` or `warning`.
    pub severity: String,
    /// The code between brackets.
    pub code: String,
    /// The message after `]: `.
    pub message: String,
    /// The `--> file:line` part, if any.
    pub location: Option<String>,
    /// The `= help:` part, if any.
    pub help: Option<String>,
}

/// Reads every `severity[code]: message / --> loc / = help: ...` block from stderr.
pub fn parse_diagnostics(stderr: &str) -> Vec<Printed> {
    let mut out: Vec<Printed> = Vec::new();
    for line in stderr.lines() {
        let head = ["error[", "warning["]
            .iter()
            .find(|p| line.starts_with(**p))
            .map(|p| p.trim_end_matches('['));
        if let Some(sev) = head {
            let rest = &line[sev.len() + 1..];
            let (code, message) = rest
                .split_once("]: ")
                .unwrap_or_else(|| panic!("malformed diagnostic line: {line}"));
            out.push(Printed {
                severity: sev.to_string(),
                code: code.to_string(),
                message: message.to_string(),
                location: None,
                help: None,
            });
        } else if let Some(loc) = line.strip_prefix("  --> ") {
            let d = out
                .last_mut()
                .unwrap_or_else(|| panic!("location before any diagnostic: {line}"));
            d.location = Some(loc.to_string());
        } else if let Some(help) = line.strip_prefix("  = help: ") {
            let d = out
                .last_mut()
                .unwrap_or_else(|| panic!("help before any diagnostic: {line}"));
            d.help = Some(help.to_string());
        }
    }
    out
}

/// A load error (the inventory could not be read at all) as the CLI prints it:
/// the code on its own line, then `× file:line: message` (wrapped by the renderer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The code line.
    pub code: String,
    /// `file:line`, when the error has one.
    pub location: Option<String>,
    /// The message, unwrapped.
    pub message: String,
}

/// Parses the CLI's rendering of a load error.
pub fn parse_load_error(stderr: &str) -> LoadError {
    let lines: Vec<&str> = stderr.lines().collect();
    let code = lines
        .iter()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| panic!("empty stderr"));
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with('×'))
        .unwrap_or_else(|| panic!("no '×' line in:\n{stderr}"));
    let mut text = lines[start]
        .trim_start()
        .trim_start_matches('×')
        .trim()
        .to_string();
    for l in &lines[start + 1..] {
        match l.trim_start().strip_prefix('│') {
            Some(cont) => {
                text.push(' ');
                text.push_str(cont.trim());
            }
            None => break,
        }
    }
    let re = regex::Regex::new(r"^(\S+:\d+): (.*)$").expect("regex");
    match re.captures(&text) {
        Some(caps) => LoadError {
            code,
            location: Some(caps[1].to_string()),
            message: caps[2].to_string(),
        },
        None => LoadError {
            code,
            location: None,
            message: text,
        },
    }
}

/// The 1-based line of the first line of `file` starting with `prefix`.
pub fn line_of(file: &Path, prefix: &str) -> u32 {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let idx = text
        .lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {}", file.display()));
    u32::try_from(idx + 1).expect("line fits u32")
}

/// Copies a directory tree (files made writable: the shared sample is read-only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create target dir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::write(&dst, std::fs::read(&src).expect("read fixture file"))
                .expect("write copy");
        }
    }
}
