//! JUnit XML reports (`--output junit=FILE`), the format CI systems (GitLab, Jenkins,
//! GitHub actions that publish test results) show as test reports: one `<testsuite>` per
//! play, one `<testcase>` per host and task (classname = host, name = task).
//!
//! Built from the run's events alone, like the human stream: a failed step is a
//! `<failure>`, an unreachable host an `<error>`, a skipped step `<skipped/>`. A host
//! that left the run without a failing step of its own (any_errors_fatal,
//! max_fail_percentage, facts it could not gather) gets a testcase named `stopped` with
//! the stated reason, so no host that did not finish looks green. Element and attribute
//! names are those of the JUnit schema Jenkins' xUnit plugin ships (junit-10.xsd),
//! which GitLab's parser reads too; the XML is written with quick-xml, never by hand.

use super::events::{Event, Status};
use quick_xml::events::{BytesDecl, BytesText, Event as Xml};
use quick_xml::Writer;
use std::collections::{BTreeMap, HashSet};
use std::io;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// The name of the testcase reporting a host that left the run without a failing step.
pub const STOPPED_CASE: &str = "stopped";

/// Longest `message` attribute kept (the whole text is in the element's body).
const MESSAGE_MAX: usize = 500;

/// How one testcase ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Passed,
    Failed {
        message: String,
        text: String,
    },
    Error {
        kind: &'static str,
        message: String,
        text: String,
    },
    Skipped {
        message: Option<String>,
    },
}

/// One testcase, kept compact for the run's life (a thousand hosts of 80 steps are
/// 80,000 of them): host and task names are shared, a passed case holds no text.
#[derive(Debug, Clone)]
struct Case {
    host: Arc<str>,
    task: Arc<str>,
    ms: u64,
    outcome: Box<Outcome>,
    out: Option<Box<str>>,
}

#[derive(Debug, Clone)]
struct Suite {
    name: String,
    hosts: Vec<String>,
    timestamp: SystemTime,
    started: Instant,
    last: Instant,
    cases: Vec<Case>,
}

/// A JUnit report being collected from a run's events.
#[derive(Debug, Clone, Default)]
pub struct Junit {
    playbook: String,
    check: bool,
    suites: Vec<Suite>,
    // The suite each play's events go to (the latest play of that name: names may repeat).
    open: BTreeMap<String, usize>,
    duration_ms: Option<u64>,
    interrupted: bool,
    // Host and task names, one copy each.
    names: HashSet<Arc<str>>,
}

/// One shared copy of `s` from `names`.
fn intern(names: &mut HashSet<Arc<str>>, s: &str) -> Arc<str> {
    if let Some(a) = names.get(s) {
        return a.clone();
    }
    let a: Arc<str> = Arc::from(s);
    names.insert(a.clone());
    a
}

impl Junit {
    /// An empty report.
    pub fn new() -> Junit {
        Junit::default()
    }

    /// Takes one event of the run.
    pub fn event(&mut self, ev: &Event) {
        let now = Instant::now();
        match ev {
            Event::RunStart {
                playbook, check, ..
            } => {
                self.playbook = playbook.clone();
                self.check = *check;
            }
            Event::PlayStart { play, hosts } => {
                self.open.insert(play.clone(), self.suites.len());
                self.suites.push(Suite {
                    name: play.clone(),
                    hosts: hosts.clone(),
                    timestamp: SystemTime::now(),
                    started: now,
                    last: now,
                    cases: Vec::new(),
                });
            }
            Event::TaskStart { play, .. } => {
                if let Some(s) = self.suite_of(play) {
                    s.last = now;
                }
            }
            Event::StepResult { play, .. } => {
                if let Some(case) = step_case(ev, &mut self.names) {
                    let suite = self.suite_or_new(play);
                    suite.last = now;
                    suite.cases.push(case);
                }
            }
            Event::HostStopped { host, reason } => self.stopped(host, reason),
            // A mark (a cordon kubeforge made) is state for the record, not a result.
            Event::Mark { .. } => {}
            Event::Recap {
                duration_ms,
                interrupted,
                ..
            } => {
                self.duration_ms = Some(*duration_ms);
                self.interrupted = *interrupted;
            }
        }
    }

    /// A host left the run: a `stopped` testcase unless its own step already says why.
    fn stopped(&mut self, host: &str, reason: &str) {
        let own_step = self.suites.iter().flat_map(|s| &s.cases).any(|c| {
            &*c.host == host && matches!(*c.outcome, Outcome::Failed { .. } | Outcome::Error { .. })
        });
        if own_step {
            return;
        }
        let message = first_line(reason);
        let text = clean(reason);
        let outcome = if reason.starts_with("unreachable") {
            Outcome::Error {
                kind: "unreachable",
                message,
                text,
            }
        } else if reason.starts_with("failed") {
            Outcome::Failed { message, text }
        } else {
            // Stopped because of other hosts (any_errors_fatal, max_fail_percentage).
            Outcome::Skipped {
                message: Some(message),
            }
        };
        // The latest play the host was in; a host in no play yet gets a suite of its own.
        let idx = self
            .suites
            .iter()
            .rposition(|s| s.hosts.iter().any(|h| h == host));
        let case = Case {
            host: intern(&mut self.names, host),
            task: intern(&mut self.names, STOPPED_CASE),
            ms: 0,
            outcome: Box::new(outcome),
            out: None,
        };
        let suite = match idx {
            Some(i) => &mut self.suites[i],
            None => self.suite_or_new("(before the first play)"),
        };
        suite.last = Instant::now();
        suite.cases.push(case);
    }

    fn suite_of(&mut self, play: &str) -> Option<&mut Suite> {
        let i = *self.open.get(play)?;
        self.suites.get_mut(i)
    }

    fn suite_or_new(&mut self, play: &str) -> &mut Suite {
        let i = match self.open.get(play) {
            Some(i) => *i,
            None => {
                let now = Instant::now();
                self.open.insert(play.to_string(), self.suites.len());
                self.suites.push(Suite {
                    name: play.to_string(),
                    hosts: Vec::new(),
                    timestamp: SystemTime::now(),
                    started: now,
                    last: now,
                    cases: Vec::new(),
                });
                self.suites.len() - 1
            }
        };
        &mut self.suites[i]
    }

    /// The report as an XML document.
    pub fn to_xml(&self) -> io::Result<Vec<u8>> {
        let mut suites: Vec<(Suite, Props)> = self
            .suites
            .iter()
            .map(|s| (s.clone(), self.props(s)))
            .collect();
        if self.interrupted {
            let now = Instant::now();
            let message = "interrupted (Ctrl-C): running steps finished, no new step started; the hosts did not complete the playbook".to_string();
            suites.push((
                Suite {
                    name: "interrupted".into(),
                    hosts: Vec::new(),
                    timestamp: SystemTime::now(),
                    started: now,
                    last: now,
                    cases: vec![Case {
                        host: "kubeforge".into(),
                        task: "run".into(),
                        ms: 0,
                        outcome: Box::new(Outcome::Error {
                            kind: "interrupted",
                            text: message.clone(),
                            message,
                        }),
                        out: None,
                    }],
                },
                Vec::new(),
            ));
        }
        let all: Vec<&Case> = suites.iter().flat_map(|(s, _)| &s.cases).collect();
        let total_ms = self.duration_ms.unwrap_or_else(|| {
            suites
                .iter()
                .map(|(s, _)| s.last.duration_since(s.started).as_millis() as u64)
                .sum()
        });
        let name = if self.playbook.is_empty() {
            "kubeforge".to_string()
        } else {
            format!("kubeforge {}", self.playbook)
        };
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        w.write_event(Xml::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.create_element("testsuites")
            .with_attributes([
                ("name", name.as_str()),
                ("tests", &all.len().to_string()),
                ("failures", &count(&all, is_failure).to_string()),
                ("errors", &count(&all, is_error).to_string()),
                ("time", &secs(total_ms)),
            ])
            .write_inner_content(|w| {
                for (i, (s, props)) in suites.iter().enumerate() {
                    write_suite(w, i, s, props)?;
                }
                Ok(())
            })?;
        let mut out = w.into_inner();
        out.push(b'\n');
        Ok(out)
    }

    fn props(&self, s: &Suite) -> Props {
        vec![
            ("playbook", self.playbook.clone()),
            ("check_mode", self.check.to_string()),
            ("hosts", s.hosts.join(",")),
        ]
    }
}

type Props = Vec<(&'static str, String)>;

/// A report for a run that never finished writing its own (killed, crashed): written
/// when the file is opened, replaced at the end, so CI shows an error, not a parse error.
pub fn unfinished() -> io::Result<Vec<u8>> {
    let mut j = Junit::new();
    j.suites.push(Suite {
        name: "kubeforge".into(),
        hosts: Vec::new(),
        timestamp: SystemTime::now(),
        started: Instant::now(),
        last: Instant::now(),
        cases: vec![Case {
            host: "kubeforge".into(),
            task: "run".into(),
            ms: 0,
            outcome: Box::new(Outcome::Error {
                kind: "unfinished",
                message: "the run did not finish: kubeforge was killed or crashed before it wrote this report".into(),
                text: "kubeforge writes this placeholder when the run starts and replaces it with the real report when the run ends".into(),
            }),
            out: None,
        }],
    });
    j.duration_ms = Some(0);
    j.to_xml()
}

/// The testcase of one step result.
fn step_case(ev: &Event, names: &mut HashSet<Arc<str>>) -> Option<Case> {
    let Event::StepResult {
        host,
        task,
        status,
        duration_ms,
        error,
        msg,
        diff,
        ignored,
        ..
    } = ev
    else {
        return None;
    };
    let (status, ms, ignored) = (*status, *duration_ms, *ignored);
    let err = error.as_deref().unwrap_or("");
    let body = |extra: &Option<String>| {
        let mut t = clean(err);
        if let Some(m) = extra.as_deref().filter(|m| !m.is_empty()) {
            if !t.is_empty() {
                t.push_str("\n\n");
            }
            t.push_str(&clean(m));
        }
        t
    };
    let outcome = match status {
        Status::Failed if !ignored => Outcome::Failed {
            message: first_line(if err.is_empty() { "failed" } else { err }),
            text: body(msg),
        },
        Status::Unreachable => Outcome::Error {
            kind: "unreachable",
            message: first_line(if err.is_empty() { "unreachable" } else { err }),
            text: body(msg),
        },
        Status::Skipped => Outcome::Skipped {
            message: msg.as_deref().map(first_line),
        },
        Status::Ok | Status::Changed | Status::Failed => Outcome::Passed,
    };
    let mut out = Vec::new();
    if status == Status::Changed {
        out.push("changed".to_string());
    }
    if status == Status::Failed && ignored {
        out.push(format!("failed, ignored (ignore_errors): {}", clean(err)));
    }
    if matches!(outcome, Outcome::Passed) {
        out.extend(msg.as_deref().map(clean));
    }
    out.extend(diff.as_deref().map(clean));
    Some(Case {
        host: intern(names, host),
        task: intern(names, task),
        ms,
        outcome: Box::new(outcome),
        out: (!out.is_empty()).then(|| out.join("\n").into_boxed_str()),
    })
}

fn write_suite(w: &mut Writer<Vec<u8>>, id: usize, s: &Suite, props: &Props) -> io::Result<()> {
    let cases: Vec<&Case> = s.cases.iter().collect();
    let ms = s.last.duration_since(s.started).as_millis() as u64;
    w.create_element("testsuite")
        .with_attributes([
            ("name", s.name.as_str()),
            ("tests", &cases.len().to_string()),
            ("failures", &count(&cases, is_failure).to_string()),
            ("errors", &count(&cases, is_error).to_string()),
            ("skipped", &count(&cases, is_skipped).to_string()),
            ("time", &secs(ms)),
            ("timestamp", &timestamp(s.timestamp)),
            ("id", &id.to_string()),
        ])
        .write_inner_content(|w| {
            if !props.is_empty() {
                w.create_element("properties").write_inner_content(|w| {
                    for (k, v) in props {
                        w.create_element("property")
                            .with_attributes([("name", *k), ("value", v.as_str())])
                            .write_empty()?;
                    }
                    Ok(())
                })?;
            }
            for c in &cases {
                write_case(w, c)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn write_case(w: &mut Writer<Vec<u8>>, c: &Case) -> io::Result<()> {
    let el = w.create_element("testcase").with_attributes([
        ("name", &*c.task),
        ("classname", &*c.host),
        ("time", &secs(c.ms)),
    ]);
    if *c.outcome == Outcome::Passed && c.out.is_none() {
        el.write_empty()?;
        return Ok(());
    }
    el.write_inner_content(|w| {
        match &*c.outcome {
            Outcome::Passed => {}
            Outcome::Failed { message, text } => detail(w, "failure", "failed", message, text)?,
            Outcome::Error {
                kind,
                message,
                text,
            } => detail(w, "error", kind, message, text)?,
            Outcome::Skipped { message } => {
                let el = w.create_element("skipped");
                match message {
                    Some(m) => el.with_attribute(("message", m.as_str())).write_empty()?,
                    None => el.write_empty()?,
                };
            }
        }
        if let Some(out) = &c.out {
            w.create_element("system-out")
                .write_text_content(BytesText::new(out))?;
        }
        Ok(())
    })?;
    Ok(())
}

fn detail(
    w: &mut Writer<Vec<u8>>,
    element: &str,
    kind: &str,
    message: &str,
    text: &str,
) -> io::Result<()> {
    let el = w
        .create_element(element)
        .with_attributes([("message", message), ("type", kind)]);
    if text.is_empty() {
        el.write_empty()?;
    } else {
        el.write_text_content(BytesText::new(text))?;
    }
    Ok(())
}

fn is_failure(c: &Case) -> bool {
    matches!(*c.outcome, Outcome::Failed { .. })
}
fn is_error(c: &Case) -> bool {
    matches!(*c.outcome, Outcome::Error { .. })
}
fn is_skipped(c: &Case) -> bool {
    matches!(*c.outcome, Outcome::Skipped { .. })
}
fn count(cases: &[&Case], f: fn(&Case) -> bool) -> usize {
    cases.iter().filter(|c| f(c)).count()
}

/// Milliseconds as JUnit's seconds ("1.250").
fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// ISO 8601 in UTC without a zone suffix: the form Ant's schema (and Jenkins) accept.
fn timestamp(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The first line, shortened: what a CI list view shows.
fn first_line(s: &str) -> String {
    let line = clean(
        s.lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim(),
    );
    if line.chars().count() > MESSAGE_MAX {
        let mut cut: String = line.chars().take(MESSAGE_MAX).collect();
        cut.push('…');
        cut
    } else {
        line
    }
}

/// Text XML 1.0 can carry: terminal colour codes dropped, other control characters
/// (which no XML parser accepts, even escaped) replaced by U+FFFD.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            // CSI sequence: ESC [ parameters final-byte.
            chars.next();
            for n in chars.by_ref() {
                if ('@'..='~').contains(&n) {
                    break;
                }
            }
            continue;
        }
        let ok =
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}');
        out.push(if ok { c } else { '\u{fffd}' });
    }
    out
}

#[cfg(test)]
mod tests;
