//! Playbooks, plays, roles and tasks: an Ansible-familiar YAML format, loaded with
//! file:line on everything so that mistakes are reported before anything runs.

mod block;
mod import_role;
mod load;
mod nodes;
mod role;
mod task;

pub use load::load;
pub use role::Role;

use crate::diagnostic::Location;
use crate::topology::Component;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A loaded playbook: plays in order, with every role they use.
#[derive(Debug, Clone)]
pub struct Playbook {
    /// The playbook file.
    pub path: PathBuf,
    /// Plays in file order.
    pub plays: Vec<Play>,
    /// Roles by name.
    pub roles: BTreeMap<String, Role>,
}

/// One play: a host pattern and the roles and tasks to run there.
#[derive(Debug, Clone)]
pub struct Play {
    /// Name (defaults to the host pattern).
    pub name: String,
    /// Host pattern (`a:b`, `a:&b`, `a:!b`).
    pub hosts: String,
    /// Tasks before the roles.
    pub pre_tasks: Vec<Task>,
    /// Roles in order.
    pub roles: Vec<RoleRef>,
    /// Tasks after the roles.
    pub tasks: Vec<Task>,
    /// Tasks after `tasks`.
    pub post_tasks: Vec<Task>,
    /// Handlers of the play's own tasks.
    pub handlers: Vec<Task>,
    /// Play variables.
    pub vars: BTreeMap<String, Value>,
    /// Batch sizes (`serial`: a number, a percentage, or a list whose last entry
    /// repeats); empty: all hosts at once.
    pub serial: Vec<Serial>,
    /// Stop every host when one fails.
    pub any_errors_fatal: bool,
    /// Stop when more than this percentage of hosts failed.
    pub max_fail_percentage: Option<f64>,
    /// Run tasks with sudo.
    pub become_: bool,
    /// `become_user` / `become_method` for its tasks.
    pub become_as: BecomeAs,
    /// Tags applied to every task of the play.
    pub tags: Vec<String>,
    /// Plays (by name) this play waits for. None: the previous play (Ansible order).
    pub needs: Option<Vec<String>>,
    /// Where the play starts.
    pub location: Location,
}

/// A role as a play names it, with what the play applies to all of its tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleRef {
    /// The role's name (roles/NAME).
    pub name: String,
    /// Conditions added before each task's own.
    pub when: Vec<String>,
    /// Tags added to each task.
    pub tags: Vec<String>,
    /// Role parameters (above task vars, as in Ansible).
    pub vars: BTreeMap<String, Value>,
    /// `become` for tasks that do not set their own.
    pub become_: Option<bool>,
    /// `become_user` / `become_method` for tasks that do not set their own.
    pub become_as: BecomeAs,
    /// Where the play names it.
    pub location: Location,
}

/// One `serial` entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Serial {
    /// This many hosts.
    Hosts(usize),
    /// This percentage of the play's hosts (rounded down, at least one).
    Percent(f64),
}

impl Serial {
    /// The batch size for a play of `total` hosts.
    pub fn size(self, total: usize) -> usize {
        match self {
            Serial::Hosts(n) => n.max(1),
            Serial::Percent(p) => ((total as f64 * p / 100.0).floor() as usize).max(1),
        }
    }
}

/// Parses a `serial` value given on the command line: `2`, `20%`, or `1,20%`.
pub fn parse_serial(text: &str) -> Option<Vec<Serial>> {
    text.split(',')
        .map(|p| {
            let p = p.trim();
            match p.strip_suffix('%') {
                Some(n) => n
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| *x > 0.0 && *x <= 100.0)
                    .map(Serial::Percent),
                None => p
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Serial::Hosts),
            }
        })
        .collect()
}

/// Splits hosts into serial batches: sizes from `serial`, the last size repeating.
pub fn serial_batches(serial: &[Serial], hosts: &[String]) -> Vec<Vec<String>> {
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let mut out = Vec::new();
    let mut rest = hosts;
    let mut i = 0;
    while !rest.is_empty() {
        let spec = serial[i.min(serial.len() - 1)];
        let n = spec.size(hosts.len()).min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
        i += 1;
    }
    out
}

/// Which part of a block a task is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `block:`.
    Block,
    /// `rescue:` (runs when a task of the block failed).
    Rescue,
    /// `always:` (runs in every case).
    Always,
}

/// A task's place in one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockPos {
    /// The block (unique in a playbook).
    pub id: u32,
    /// The section the task is in.
    pub section: Section,
    /// The block has a `rescue:`.
    pub has_rescue: bool,
    /// The block has an `always:`.
    pub has_always: bool,
}

/// How a task repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Loop {
    /// The items (a list, or a template rendering to one).
    pub items: Value,
    /// The loop variable name (default `item`).
    pub var: String,
}

/// One task: a module call and the keywords around it.
#[derive(Debug, Clone)]
pub struct Task {
    /// Name shown in output.
    pub name: String,
    /// Module name (normalized: `ansible.builtin.` dropped).
    pub module: String,
    /// Module arguments (unrendered).
    pub args: Value,
    /// Conditions, all must hold.
    pub when: Vec<String>,
    /// Loop.
    pub loop_: Option<Loop>,
    /// Variable to store the result in.
    pub register: Option<String>,
    /// Handlers to notify when changed.
    pub notify: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// sudo for this task (None: the play's setting).
    pub become_: Option<bool>,
    /// `become_user` / `become_method` (unset: the block's, role's, then play's).
    pub become_as: BecomeAs,
    /// Run on one host only, for all.
    pub run_once: bool,
    /// Run on this host instead.
    pub delegate_to: Option<String>,
    /// Expression deciding `changed`.
    pub changed_when: Option<String>,
    /// Expression deciding failure.
    pub failed_when: Option<String>,
    /// Keep going on failure.
    pub ignore_errors: bool,
    /// Retry count with `until`.
    pub retries: u32,
    /// Condition to stop retrying.
    pub until: Option<String>,
    /// Seconds between retries.
    pub delay: u64,
    /// Timeout in seconds for the remote command (None: the run's default).
    pub timeout: Option<u64>,
    /// Components the host must have (placement).
    pub needs: Vec<Component>,
    /// Task variables.
    pub vars: BTreeMap<String, Value>,
    /// Hide values in output.
    pub no_log: bool,
    /// `check_mode:` — true: never change anything (even in a real run); false: run for
    /// real even under `--check` (read-only commands whose output later tasks need).
    pub check_mode: Option<bool>,
    /// At most this many hosts run the task at once (`throttle:`).
    pub throttle: Option<usize>,
    /// The blocks it sits in, outermost first (empty outside any block).
    pub blocks: Vec<BlockPos>,
    /// Where it is written.
    pub location: Location,
    /// The role it belongs to.
    pub role: Option<String>,
}

/// Something wrong in a playbook or role, with its location.
#[derive(Debug, Clone, PartialEq, thiserror::Error, miette::Diagnostic)]
#[error("{location}: {message}")]
pub struct PlaybookError {
    /// Where.
    pub location: Location,
    /// What.
    pub message: String,
    /// What to do.
    #[help]
    pub help: String,
}

impl PlaybookError {
    pub(crate) fn new(
        location: Location,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        PlaybookError {
            location,
            message: message.into(),
            help: help.into(),
        }
    }
}

impl Task {
    /// A task with every keyword at its default.
    pub fn new(
        name: impl Into<String>,
        module: impl Into<String>,
        args: Value,
        location: Location,
        role: Option<String>,
    ) -> Task {
        Task {
            name: name.into(),
            module: module.into(),
            args,
            when: Vec::new(),
            loop_: None,
            register: None,
            notify: Vec::new(),
            tags: Vec::new(),
            become_: None,
            become_as: BecomeAs::default(),
            run_once: false,
            delegate_to: None,
            changed_when: None,
            failed_when: None,
            ignore_errors: false,
            retries: 0,
            until: None,
            delay: 5,
            timeout: None,
            needs: Vec::new(),
            vars: BTreeMap::new(),
            no_log: false,
            check_mode: None,
            throttle: None,
            blocks: Vec::new(),
            location,
            role,
        }
    }
}

impl RoleRef {
    /// A task of this role as this play runs it: the entry's `when`, `tags`, `vars` and
    /// `become` applied.
    pub fn apply(&self, task: &Task) -> Task {
        let mut t = task.clone();
        let mut when = self.when.clone();
        when.append(&mut t.when);
        t.when = when;
        for tag in &self.tags {
            if !t.tags.contains(tag) {
                t.tags.push(tag.clone());
            }
        }
        for (k, v) in &self.vars {
            t.vars.insert(k.clone(), v.clone());
        }
        if t.become_.is_none() {
            t.become_ = self.become_;
        }
        t.become_as = t.become_as.or(&self.become_as);
        t
    }
}

/// The `become_user` and `become_method` keywords of a task, block, role entry or play
/// (as written: templates are rendered when the task runs). The inventory's
/// `ansible_become_user` / `ansible_become_method` win over them, as in Ansible.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BecomeAs {
    /// `become_user`.
    pub user: Option<String>,
    /// `become_method`.
    pub method: Option<String>,
}

impl BecomeAs {
    /// These, with `outer`'s where these are unset.
    pub fn or(&self, outer: &BecomeAs) -> BecomeAs {
        BecomeAs {
            user: self.user.clone().or_else(|| outer.user.clone()),
            method: self.method.clone().or_else(|| outer.method.clone()),
        }
    }

    /// Reads `become_user` / `become_method`; false for any other key.
    pub(crate) fn read(
        &mut self,
        file: &str,
        key: &str,
        v: &crate::yaml::Node,
    ) -> Result<bool, PlaybookError> {
        match key {
            "become_user" => self.user = Some(nodes::string_of(file, key, v)?),
            "become_method" => self.method = Some(nodes::string_of(file, key, v)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
#[path = "become_as_tests.rs"]
mod become_as_tests;
