//! Turns a step's raw outcome into a status, a message and a registered result.

use super::batch::{is_timeout, signal_name, StepOutcome};
use crate::modules::RemoteStep;
use base64::Engine as _;
use serde_json::{json, Map, Value};

/// An item's interpreted result.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemResult {
    /// Something changed (or would, in check mode).
    pub changed: bool,
    /// It failed.
    pub failed: bool,
    /// Why it failed, or what changed.
    pub msg: Option<String>,
    /// The registered form (`rc`, `stdout`, `changed`, ...).
    pub registered: Value,
    /// Unified diff (diff mode).
    pub diff: Option<String>,
}

fn lines(s: &str) -> Value {
    Value::from(s.lines().map(str::to_string).collect::<Vec<_>>())
}

/// Why a probe or apply with exit `rc` stopped, when it did not exit by itself: "timed
/// out" only when kubeforge's own `timeout` fired (the snippet ran under it and took its
/// limit), otherwise the signal that killed it.
fn stopped_by(rc: i32, quick: bool, secs: Option<f64>, timeout: u64, err: &str) -> Option<String> {
    let ran_out = !quick && is_timeout(rc) && secs.is_none_or(|s| s + 1.0 >= timeout as f64);
    if ran_out {
        return Some(format!(
            "timed out after {timeout} s; the command was killed"
        ));
    }
    if rc > 128 && rc < 128 + 65 {
        let mut m = format!("killed by {} (exit {rc})", signal_name(rc - 128));
        if let Some(s) = secs {
            m.push_str(&format!(" after {s:.2} s"));
        }
        if !err.trim().is_empty() {
            m.push_str(": ");
            m.push_str(err.trim());
        }
        return Some(m);
    }
    None
}

/// Interprets one step; `check` says whether applies were skipped; `timeout` is for messages.
pub fn interpret(step: &RemoteStep, o: &StepOutcome, check: bool, timeout: u64) -> ItemResult {
    let raw_probe_out = o.probe_out.clone();
    let mut reg = Map::new();
    let said: String = o
        .probe_out
        .lines()
        .filter(|l| !l.starts_with("KFVAR "))
        .collect::<Vec<_>>()
        .join("\n");
    let o = &StepOutcome {
        probe_out: said,
        ..o.clone()
    };
    let vars_out = o.probe_out.clone();
    let (changed, failed, msg) = match (o.probe_rc, o.apply_rc) {
        (0, _) => (false, false, None),
        (10, None) | (12, None) if check => (true, false, Some(o.probe_out.trim().to_string())),
        (10, Some(0)) => (true, false, Some(o.probe_out.trim().to_string())),
        (10, None) => (true, false, Some(o.probe_out.trim().to_string())),
        (10, Some(rc))
            if stopped_by(rc, step.apply_quick, o.apply_secs, timeout, &o.apply_err).is_some() =>
        {
            (
                true,
                true,
                stopped_by(rc, step.apply_quick, o.apply_secs, timeout, &o.apply_err),
            )
        }
        (10, Some(rc)) => {
            let err = if o.apply_err.trim().is_empty() {
                o.apply_out.trim()
            } else {
                o.apply_err.trim()
            };
            (
                true,
                true,
                Some(if err.is_empty() {
                    format!("exit code {rc}")
                } else {
                    format!("exit code {rc}: {err}")
                }),
            )
        }
        (rc, _)
            if stopped_by(rc, step.probe_quick, o.probe_secs, timeout, &o.probe_err).is_some() =>
        {
            (
                false,
                true,
                stopped_by(rc, step.probe_quick, o.probe_secs, timeout, &o.probe_err),
            )
        }
        (rc, _) => {
            let err = if o.probe_err.trim().is_empty() {
                o.probe_out.trim()
            } else {
                o.probe_err.trim()
            };
            (
                false,
                true,
                Some(if err.is_empty() {
                    format!("exit code {rc}")
                } else {
                    err.to_string()
                }),
            )
        }
    };
    if step.reports_output {
        let rc = match (o.probe_rc, o.apply_rc) {
            (0, _) => 0,
            (_, Some(rc)) => rc,
            (rc, None) => {
                if rc == 10 {
                    0
                } else {
                    rc
                }
            }
        };
        let (stdout, stderr) = if o.apply_rc.is_some() {
            (&o.apply_out, &o.apply_err)
        } else {
            (&o.probe_out, &o.probe_err)
        };
        let stdout = stdout.strip_suffix('\n').unwrap_or(stdout);
        let stderr = stderr.strip_suffix('\n').unwrap_or(stderr);
        reg.insert("rc".into(), json!(rc));
        reg.insert("stdout".into(), json!(stdout));
        reg.insert("stderr".into(), json!(stderr));
        reg.insert("stdout_lines".into(), lines(stdout));
        reg.insert("stderr_lines".into(), lines(stderr));
    }
    let _ = vars_out;
    if step.probe_vars {
        for l in raw_probe_out.lines() {
            if let Some((k, v)) = l.strip_prefix("KFVAR ").and_then(|r| r.split_once('=')) {
                if let Some(name) = k.strip_suffix("_b64") {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v.trim())
                        .unwrap_or_default();
                    reg.insert(name.into(), json!(String::from_utf8_lossy(&bytes)));
                } else if let Ok(n) = v.trim().parse::<i64>() {
                    reg.insert(k.into(), json!(n));
                } else {
                    reg.insert(k.into(), json!(v));
                }
            }
        }
    }
    reg.insert("changed".into(), json!(changed));
    reg.insert("failed".into(), json!(failed));
    reg.insert("skipped".into(), json!(false));
    if let Some(m) = &msg {
        reg.insert("msg".into(), json!(m));
    }
    let diff = match (&o.before, &o.after) {
        (Some(b), Some(a)) if changed => Some(unified(b, a)),
        _ => None,
    };
    ItemResult {
        changed,
        failed,
        msg: if failed {
            msg
        } else {
            msg.filter(|m| !m.is_empty())
        },
        registered: Value::Object(reg),
        diff,
    }
}

/// A unified diff of two file contents.
pub fn unified(before: &[u8], after: &[u8]) -> String {
    let b = String::from_utf8_lossy(before);
    let a = String::from_utf8_lossy(after);
    similar::TextDiff::from_lines(b.as_ref(), a.as_ref())
        .unified_diff()
        .header("before", "after")
        .to_string()
}
