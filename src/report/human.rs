//! The human stream. Without a terminal (CI logs): one line per host per task as
//! results arrive (hosts run concurrently). On a terminal: a live progress line (hosts
//! done, failed and unreachable, the step most hosts are on, steps done, elapsed time),
//! with changed, failed and unreachable steps printed as they happen and `ok`/`skipped`
//! ones only when verbose. Both end with the same recap table.

use super::events::{Counts, Event, Status};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::time::{Duration, Instant};

/// Host names a PLAY line shows before it says how many more there are.
const PLAY_NAMES: usize = 5;

/// What the progress line needs to know of a play before it runs: its name and how
/// many step results each of its hosts gives (one per task).
#[derive(Debug, Clone, PartialEq)]
pub struct PlayShape {
    /// Play name.
    pub name: String,
    /// Results per host when every task reports.
    pub steps: u64,
}

/// Renders events for people.
pub struct Human {
    out: Box<dyn Write + Send>,
    live: Option<Live>,
    verbose: bool,
}

/// The progress line and what it counts.
struct Live {
    bar: indicatif::ProgressBar,
    shapes: Vec<PlayShape>,
    /// The play the line is about.
    play: String,
    steps_per_host: u64,
    /// Its tasks in the order hosts reached them.
    tasks: Vec<String>,
    /// Per host of the play: results so far and the index of its last reported task.
    hosts: HashMap<String, (u64, Option<usize>)>,
    done: BTreeSet<String>,
    failed: BTreeSet<String>,
    unreachable: BTreeSet<String>,
    drawn: Instant,
}

impl Human {
    /// Writes to `out`, one line per event.
    pub fn new(out: Box<dyn Write + Send>, tty: bool) -> Human {
        Human::with_progress(out, tty, false, Vec::new(), false)
    }

    /// Writes to `out`; on a terminal (`tty`) draws the progress line on the same
    /// stream (`stdout` says which) and prints `ok`/`skipped` results only when `verbose`.
    pub fn with_progress(
        out: Box<dyn Write + Send>,
        tty: bool,
        stdout: bool,
        shapes: Vec<PlayShape>,
        verbose: bool,
    ) -> Human {
        let live = tty.then(|| {
            let target = if stdout {
                indicatif::ProgressDrawTarget::stdout()
            } else {
                indicatif::ProgressDrawTarget::stderr()
            };
            let b = indicatif::ProgressBar::with_draw_target(Some(0), target);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{bar:20}] {pos}/{len} steps  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner())
                .progress_chars("=> "),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            Live {
                bar: b,
                shapes,
                play: String::new(),
                steps_per_host: 0,
                tasks: Vec::new(),
                hosts: HashMap::new(),
                done: BTreeSet::new(),
                failed: BTreeSet::new(),
                unreachable: BTreeSet::new(),
                drawn: Instant::now(),
            }
        });
        Human { out, live, verbose }
    }

    fn line(&mut self, s: &str) {
        match &self.live {
            Some(l) => l.bar.println(s),
            None => {
                let _ = writeln!(self.out, "{s}");
            }
        }
    }

    /// Renders one event.
    pub fn event(&mut self, e: &Event) {
        if let Some(l) = &mut self.live {
            l.count(e);
        }
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
                self.line(&format!("\nPLAY [{play}] on {}", some_hosts(hosts)));
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
                let quiet = matches!(status, Status::Ok | Status::Skipped)
                    && self.live.is_some()
                    && !self.verbose;
                if quiet {
                    return;
                }
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
                if let Some(l) = self.live.take() {
                    l.bar.finish_and_clear();
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

/// A PLAY line's hosts: the first few names and how many more.
fn some_hosts(hosts: &[String]) -> String {
    match hosts.len() {
        0 => "no hosts".to_string(),
        n if n <= PLAY_NAMES + 1 => hosts.join(", "),
        n => format!(
            "{n} hosts: {}, ... ({} more)",
            hosts[..PLAY_NAMES].join(", "),
            n - PLAY_NAMES
        ),
    }
}

impl Live {
    /// Counts one event and redraws the line (at most every 100 ms).
    fn count(&mut self, e: &Event) {
        match e {
            Event::PlayStart { play, hosts } => {
                self.play = play.clone();
                self.steps_per_host = self
                    .shapes
                    .iter()
                    .find(|s| s.name == *play)
                    .map_or(0, |s| s.steps);
                self.tasks.clear();
                self.done.clear();
                self.hosts = hosts.iter().map(|h| (h.clone(), (0, None))).collect();
                self.bar
                    .set_length(self.steps_per_host * hosts.len() as u64);
                self.bar.set_position(0);
            }
            Event::TaskStart { play, task, .. } if *play == self.play => {
                if !self.tasks.contains(task) {
                    self.tasks.push(task.clone());
                }
            }
            Event::StepResult {
                host,
                play,
                task,
                status,
                ignored,
                ..
            } if *play == self.play => {
                self.bar.inc(1);
                let at = self.tasks.iter().position(|t| t == task);
                if let Some((n, last)) = self.hosts.get_mut(host) {
                    *n += 1;
                    if at.is_some() {
                        *last = at;
                    }
                    if self.steps_per_host > 0 && *n >= self.steps_per_host {
                        self.done.insert(host.clone());
                    }
                }
                match status {
                    Status::Failed if !ignored => {
                        self.failed.insert(host.clone());
                    }
                    Status::Unreachable => {
                        self.unreachable.insert(host.clone());
                    }
                    _ => {}
                }
            }
            Event::HostStopped { host, reason } => {
                if reason.starts_with("unreachable") {
                    self.unreachable.insert(host.clone());
                } else if reason.starts_with("failed") {
                    self.failed.insert(host.clone());
                }
                if self.hosts.contains_key(host) {
                    self.done.insert(host.clone());
                }
            }
            _ => return,
        }
        if self.drawn.elapsed() >= Duration::from_millis(100) {
            self.drawn = Instant::now();
            self.bar.set_message(self.message());
        }
    }

    /// The line's text: the play, hosts done/failed/unreachable, the step most hosts
    /// still at work are on (the one after their last result).
    fn message(&self) -> String {
        let mut on: HashMap<usize, u32> = HashMap::new();
        for (h, (_, last)) in &self.hosts {
            if !self.done.contains(h) {
                *on.entry(last.map_or(0, |i| i + 1)).or_default() += 1;
            }
        }
        let most = on
            .iter()
            .max_by_key(|(i, n)| (**n, std::cmp::Reverse(**i)))
            .and_then(|(i, n)| self.tasks.get(*i).map(|t| format!(" · most on: {t} ({n})")))
            .unwrap_or_default();
        format!(
            "[{}] hosts {}/{} done, {} failed, {} unreachable{most}",
            self.play,
            self.done.len(),
            self.hosts.len(),
            self.failed.len(),
            self.unreachable.len()
        )
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
