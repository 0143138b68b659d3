//! Run events: the JSON Lines contract of `--output json` and the input of the human
//! stream. One event per line; fields documented in the README.

use serde::Serialize;
use std::collections::BTreeMap;

/// A step's outcome on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Already as wanted.
    Ok,
    /// Changed (or, in check mode, would change).
    Changed,
    /// Not run (condition false, or no host for it).
    Skipped,
    /// Failed.
    Failed,
    /// The host could not be reached.
    Unreachable,
}

impl Status {
    /// The word printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Unreachable => "unreachable",
        }
    }
}

/// Per-host counts for the recap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Steps already as wanted.
    pub ok: u32,
    /// Steps that changed something.
    pub changed: u32,
    /// Steps skipped.
    pub skipped: u32,
    /// Steps that failed.
    pub failed: u32,
    /// 1 when the host was unreachable.
    pub unreachable: u32,
    /// Failures ignored by ignore_errors.
    pub ignored: u32,
    /// Failures a block's rescue handled.
    pub rescued: u32,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run begins.
    RunStart {
        /// Playbook path.
        playbook: String,
        /// Hosts in the run.
        hosts: Vec<String>,
        /// Check mode.
        check: bool,
    },
    /// A play begins.
    PlayStart {
        /// Play name.
        play: String,
        /// Its hosts.
        hosts: Vec<String>,
    },
    /// The first host reaches a task.
    TaskStart {
        /// Play name.
        play: String,
        /// Task name.
        task: String,
        /// Role, if any.
        role: Option<String>,
        /// file:line.
        location: String,
    },
    /// A task's result on a host.
    StepResult {
        /// Host.
        host: String,
        /// Play name.
        play: String,
        /// Task name.
        task: String,
        /// Role, if any.
        role: Option<String>,
        /// Outcome.
        status: Status,
        /// True when something changed (or would, in check mode).
        changed: bool,
        /// Wall time of the step on this host, in milliseconds.
        duration_ms: u64,
        /// When it started, in milliseconds since the run began.
        started_ms: u64,
        /// Why it failed.
        error: Option<String>,
        /// A message (debug, assert, what would change).
        msg: Option<String>,
        /// Unified diff of file contents (with --diff).
        diff: Option<String>,
        /// True when the failure was ignored (ignore_errors).
        ignored: bool,
    },
    /// A step set or cleared a mark kubeforge keeps on a node (a cordon it made).
    Mark {
        /// The host the step ran for.
        host: String,
        /// The Kubernetes node.
        node: String,
        /// The mark (`cordoned-by`).
        mark: String,
        /// Set (true) or cleared.
        set: bool,
    },
    /// A host leaves the run, with the reason.
    HostStopped {
        /// Host.
        host: String,
        /// Why.
        reason: String,
    },
    /// The run ends.
    Recap {
        /// Counts per host.
        hosts: BTreeMap<String, Counts>,
        /// Wall time in milliseconds.
        duration_ms: u64,
        /// The process exit code.
        exit_code: u8,
        /// True when stopped by Ctrl-C.
        interrupted: bool,
    },
}
