//! `kubeforge health` output: a table host x check with pass/fail and the reason.

use super::events::{Event, Status};
use serde::Serialize;

/// One check on one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Host.
    pub host: String,
    /// Check (the task's name).
    pub check: String,
    /// pass, fail, or skipped.
    pub status: &'static str,
    /// Why it failed.
    pub reason: Option<String>,
}

/// Rows from a health run's events (skipped checks are not the host's to run).
pub fn table(events: &[Event]) -> Vec<Row> {
    let mut rows = Vec::new();
    for e in events {
        match e {
            Event::StepResult {
                host,
                task,
                status,
                error,
                ..
            } => {
                let status = match status {
                    Status::Ok | Status::Changed => "pass",
                    Status::Skipped => continue,
                    Status::Failed | Status::Unreachable => "fail",
                };
                rows.push(Row {
                    host: host.clone(),
                    check: task.clone(),
                    status,
                    reason: error.clone(),
                });
            }
            Event::HostStopped { host, reason } if reason.starts_with("unreachable") => {
                rows.push(Row {
                    host: host.clone(),
                    check: "reachable".into(),
                    status: "fail",
                    reason: Some(reason.clone()),
                })
            }
            _ => {}
        }
    }
    rows
}

/// The table as text.
pub fn render(rows: &[Row]) -> String {
    let hw = rows.iter().map(|r| r.host.len()).max().unwrap_or(4).max(4);
    let cw = rows.iter().map(|r| r.check.len()).max().unwrap_or(5).max(5);
    let mut s = format!(
        "\n{:<hw$}  {:<cw$}  {:<6}  REASON\n",
        "HOST", "CHECK", "RESULT"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<hw$}  {:<cw$}  {:<6}  {}\n",
            r.host,
            r.check,
            r.status,
            r.reason
                .as_deref()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
        ));
    }
    let failed = rows.iter().filter(|r| r.status == "fail").count();
    s.push_str(&format!("{} check(s), {} failed\n", rows.len(), failed));
    s
}
