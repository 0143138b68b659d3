//! The human stream with and without a terminal (issue 21): without one (CI logs) one
//! line per result; on one (here a pseudo-terminal from util-linux `script`) a progress
//! line, changed/failed/unreachable results only (`ok` lines with -v), a short PLAY
//! line, and the same recap figures. Local "hosts" (ansible_connection: local).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

const HOSTS: usize = 12;
const STEPS: usize = 8;

fn setup(dir: &Path) {
    let mut inv = format!(
        "all:\n  vars:\n    ansible_connection: local\n    root: {}\n  hosts:\n",
        dir.display()
    );
    for i in 1..=HOSTS {
        inv.push_str(&format!("    h{i}: {{ip: 127.0.0.{}}}\n", 10 + i));
    }
    inv.push_str("  children:\n    kube_control_plane: {hosts: {h1: }}\n    etcd: {hosts: {h1: }}\n    kube_node:\n      hosts:\n");
    for i in 1..=HOSTS {
        inv.push_str(&format!("        h{i}:\n"));
    }
    std::fs::write(dir.join("hosts.yaml"), inv).unwrap();
    let mut book = String::from("- name: scale\n  hosts: kube_node\n  tasks:\n");
    for i in 1..=STEPS / 2 {
        let d = "{{ root }}/{{ inventory_hostname }}";
        book.push_str(&format!(
            "    - {{name: \"dir {i}\", file: {{path: \"{d}/d{i}\", state: directory}}}}\n    - {{name: \"file {i}\", copy: {{dest: \"{d}/d{i}/f\", content: \"{i}\\n\"}}}}\n"
        ));
    }
    std::fs::write(dir.join("play.yml"), book).unwrap();
}

fn args(dir: &Path) -> Vec<String> {
    vec![
        "run".into(),
        "-i".into(),
        dir.join("hosts.yaml").display().to_string(),
        dir.join("play.yml").display().to_string(),
    ]
}

/// Without a terminal: stdout of a plain run.
fn plain(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kubeforge"))
        .args(args(dir))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// On a pseudo-terminal: what the terminal received, control sequences removed and
/// carriage returns as line ends. None when `script` is missing.
fn on_tty(dir: &Path, extra: &[&str]) -> Option<String> {
    let mut words: Vec<String> = vec![env!("CARGO_BIN_EXE_kubeforge").into()];
    words.extend(args(dir));
    words.extend(extra.iter().map(|s| s.to_string()));
    let line = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let raw = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    let ansi = regex::Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]").unwrap();
    Some(ansi.replace_all(&raw, "").into_owned())
}

/// The recap's host rows (the wall time line differs run to run).
fn recap(out: &str) -> Vec<String> {
    let at = out.rfind("RECAP").expect("a recap");
    out[at..]
        .lines()
        .filter(|l| l.starts_with('h'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn results(out: &str, word: &str) -> usize {
    out.lines()
        .filter(|l| l.trim_start().starts_with(&format!("{word}: [")))
        .count()
}

#[test]
fn a_terminal_gets_a_progress_line_and_the_same_figures() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    // Cold, without a terminal: one line per result.
    let cold = plain(tmp.path());
    assert_eq!(results(&cold, "changed"), HOSTS * STEPS, "{cold}");
    assert!(
        cold.contains(&format!(
            "PLAY [scale] on {HOSTS} hosts: h1, h2, h3, h4, h5, ... ({} more)",
            HOSTS - 5
        )),
        "{cold}"
    );
    // Warm, without a terminal: every ok line.
    let warm = plain(tmp.path());
    assert_eq!(results(&warm, "ok"), HOSTS * STEPS, "{warm}");
    // Warm, on a terminal: no ok lines, a progress line, the same recap.
    let Some(tty) = on_tty(tmp.path(), &[]) else {
        eprintln!("skipped: no `script` (util-linux) to make a pseudo-terminal");
        return;
    };
    assert_eq!(results(&tty, "ok"), 0, "{tty}");
    assert!(tty.contains(" steps "), "no progress line: {tty}");
    assert_eq!(recap(&tty), recap(&warm));
    assert_eq!(recap(&tty).len(), HOSTS);
    let printed = tty[..tty.rfind("RECAP").unwrap()]
        .lines()
        .filter(|l| l.contains(": [") || l.starts_with("PLAY") || l.starts_with("kubeforge:"))
        .count();
    assert!(printed < 5, "{printed} lines besides the recap: {tty}");
    // -v brings the ok lines back on a terminal.
    let verbose = on_tty(tmp.path(), &["-v"]).unwrap();
    assert_eq!(results(&verbose, "ok"), HOSTS * STEPS, "{verbose}");
    assert_eq!(recap(&verbose), recap(&warm));
}
