//! The human stream: one line per host per task as results arrive (hosts run
//! concurrently), a progress line on a terminal, and the recap table.

use super::events::{Counts, Event, Status};
use std::io::Write;

/// Renders events for people.
pub struct Human {
    out: Box<dyn Write + Send>,
    bar: Option<indicatif::ProgressBar>,
    done: u64,
}

impl Human {
    /// Writes to `out`; draws a progress line when `tty`.
    pub fn new(out: Box<dyn Write + Send>, tty: bool) -> Human {
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        Human { out, bar, done: 0 }
    }

    fn line(&mut self, s: &str) {
        match &self.bar {
            Some(b) => b.println(s),
            None => {
                let _ = writeln!(self.out, "{s}");
            }
        }
    }

    /// Renders one event.
    pub fn event(&mut self, e: &Event) {
        match e {
            Event::RunStart {
                playbook,
                hosts,
                check,
            } => {
                let mode = if *check {
                    " (check mode: nothing will be changed)"
                } else {
                    ""
                };
                self.line(&format!(
                    "kubeforge: {playbook} on {} host(s){mode}",
                    hosts.len()
                ));
            }
            Event::PlayStart { play, hosts } => {
                self.line(&format!(
                    "\nPLAY [{play}] on {}",
                    if hosts.is_empty() {
                        "no hosts".to_string()
                    } else {
                        hosts.join(", ")
                    }
                ));
            }
            Event::TaskStart { .. } => {}
            Event::StepResult {
                host,
                task,
                role,
                status,
                error,
                msg,
                diff,
                ignored,
                duration_ms,
                ..
            } => {
                self.done += 1;
                let name = match role {
                    Some(r) => format!("{r} : {task}"),
                    None => task.clone(),
                };
                let mut l = format!(
                    "{}: [{host}] {name} ({:.2}s)",
                    status.as_str(),
                    *duration_ms as f64 / 1000.0
                );
                if let Some(err) = error {
                    l.push_str(&format!(
                        "\n    {}{}",
                        if *ignored { "(ignored) " } else { "" },
                        err.trim().replace('\n', "\n    ")
                    ));
                } else if let Some(m) = msg {
                    if matches!(status, Status::Changed | Status::Ok) && !m.trim().is_empty() {
                        l.push_str(&format!("\n    {}", m.trim().replace('\n', "\n    ")));
                    }
                }
                self.line(&l);
                if let Some(d) = diff {
                    let d = d.trim_end().to_string();
                    self.line(&d);
                }
                if let Some(b) = &self.bar {
                    b.set_message(format!("{} step results", self.done));
                }
            }
            Event::HostStopped { host, reason } => {
                self.line(&format!("stopped: [{host}] {reason}"))
            }
            Event::Mark {
                node, mark, set, ..
            } => self.line(&format!(
                "    kubeforge {} {mark} on node {node} (kept in the record)",
                if *set { "set" } else { "cleared" }
            )),
            Event::Recap {
                hosts,
                duration_ms,
                interrupted,
                ..
            } => {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
                let _ = writeln!(
                    self.out,
                    "{}",
                    recap_table(hosts, *duration_ms, *interrupted)
                );
            }
        }
    }
}

/// The RECAP table.
pub fn recap_table(
    hosts: &std::collections::BTreeMap<String, Counts>,
    duration_ms: u64,
    interrupted: bool,
) -> String {
    let w = hosts.keys().map(|h| h.len()).max().unwrap_or(4).max(4);
    let mut s = format!(
        "\nRECAP{}\n",
        if interrupted { " (interrupted)" } else { "" }
    );
    // The rescued column appears only when a block rescued something.
    let rescued = hosts.values().any(|c| c.rescued > 0);
    s.push_str(&format!(
        "{:<w$}  {:>4} {:>7} {:>7} {:>6} {:>11} {:>7}{}\n",
        "HOST",
        "ok",
        "changed",
        "skipped",
        "failed",
        "unreachable",
        "ignored",
        if rescued { "  rescued" } else { "" }
    ));
    let mut names: Vec<&String> = hosts.keys().collect();
    names.sort_by(|a, b| crate::diagnostic::natural_cmp(a, b));
    for h in names {
        let c = hosts[h];
        let extra = if rescued {
            format!(" {:>8}", c.rescued)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "{h:<w$}  {:>4} {:>7} {:>7} {:>6} {:>11} {:>7}{extra}\n",
            c.ok, c.changed, c.skipped, c.failed, c.unreachable, c.ignored
        ));
    }
    s.push_str(&format!("wall time: {:.2}s", duration_ms as f64 / 1000.0));
    s
}
