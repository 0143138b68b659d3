//! The plan: which tasks run on which hosts, in which order, checked before any SSH.
//! Placement is enforced here: a task whose `needs` a host's components do not cover
//! is refused for that host unless its condition already rules the host out.

mod checks;
pub mod pattern;
mod print;

pub use print::{plan_json, plan_text};

use crate::cluster::Cluster;
use crate::diagnostic::{Diagnostic, Location};
use crate::playbook::{Play, Playbook, Task};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Options that narrow a plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--limit PATTERN`.
    pub limit: Option<String>,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
}

/// Whether a task goes to a host, decided at plan time where possible.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// Runs (its condition holds from inventory variables alone, or it has none).
    Runs,
    /// Depends on something known only at run time (a registered result, a fact).
    Conditional(String),
    /// Its condition is false for this host.
    Skipped(String),
}

/// A task in a play, with where it goes.
#[derive(Debug, Clone)]
pub struct PlannedTask {
    /// The task (shared: every host's queue holds it while the host works).
    pub task: std::sync::Arc<Task>,
    /// Per host of the play.
    pub placement: BTreeMap<String, Placement>,
}

/// A play with its hosts and tasks.
#[derive(Debug, Clone)]
pub struct PlannedPlay {
    /// Index in the playbook.
    pub index: usize,
    /// The play.
    pub play: Play,
    /// Hosts it targets, natural order, after `--limit`.
    pub hosts: Vec<String>,
    /// Plays (indexes) it waits for.
    pub deps: Vec<usize>,
    /// Tasks in order (tags applied): pre_tasks, roles, tasks, post_tasks, with a
    /// `meta: flush_handlers` at each role's end and after each section.
    pub tasks: Vec<PlannedTask>,
    /// Handlers the play's tasks may notify: its roles' then its own.
    pub handlers: Vec<Task>,
}

/// The whole plan: everything the runner needs (the playbook is not read again).
#[derive(Debug, Clone)]
pub struct Plan {
    /// The playbook file.
    pub playbook: std::path::PathBuf,
    /// Plays in order.
    pub plays: Vec<PlannedPlay>,
    /// Each role's directory (templates/, files/, `role_path`).
    pub role_dirs: BTreeMap<String, std::path::PathBuf>,
    /// What the operator should know before it runs (e.g. `--tags` matching nothing).
    pub warnings: Vec<Diagnostic>,
}

/// Problems that stop a plan.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the plan is refused: {} problem(s)", .0.len())]
pub struct PlanError(pub Vec<Diagnostic>);

fn tag_selected(task_tags: &BTreeSet<String>, opts: &PlanOptions) -> bool {
    if task_tags.contains("never") && !opts.tags.iter().any(|t| task_tags.contains(t)) {
        return false;
    }
    if opts.skip_tags.iter().any(|t| task_tags.contains(t)) {
        return false;
    }
    if opts.tags.is_empty() || task_tags.contains("always") || opts.tags.iter().any(|t| t == "all")
    {
        return true;
    }
    opts.tags.iter().any(|t| task_tags.contains(t))
}

fn flush_task(role: &str, location: Location) -> Task {
    let mut t = Task::new(
        format!("{role}: run notified handlers"),
        "meta",
        serde_json::json!({"action": "flush_handlers"}),
        location,
        Some(role.to_string()),
    );
    t.tags = vec!["always".into()];
    t
}

/// What a condition the inventory cannot decide waits for, when that is all it lacks:
/// a gathered fact, a result registered by an earlier task, or the loop item. None when
/// it reads a name that nothing defines (the plan then says which).
fn run_time_reason(
    cond: &str,
    task: &Task,
    registered: &BTreeSet<String>,
    scope: &minijinja::Value,
) -> Option<&'static str> {
    let env = crate::vars::template::env();
    let mut reason = None;
    for name in crate::vars::template::condition_names(cond) {
        let defined = scope.get_attr(&name).is_ok_and(|v| !v.is_undefined())
            || env.globals().any(|(g, _)| g == name);
        if defined {
            continue;
        }
        let why = if crate::run::FACT_NAMES.contains(&name.as_str()) {
            "fact"
        } else if registered.contains(&name) {
            "registered result"
        } else if task.loop_.as_ref().is_some_and(|l| l.var == name) {
            "loop item"
        } else {
            return None;
        };
        reason.get_or_insert(why);
    }
    reason
}

/// Decides a task's placement on a host from its `when` with inventory variables;
/// `registered` are the names earlier tasks register.
fn place(
    cluster: &Cluster,
    play: &Play,
    task: &Task,
    host: &str,
    registered: &BTreeSet<String>,
) -> Placement {
    if task.when.is_empty() {
        return Placement::Runs;
    }
    let mut overlay: BTreeMap<String, minijinja::Value> = play
        .vars
        .iter()
        .chain(task.vars.iter())
        .map(|(k, v)| {
            (
                k.clone(),
                minijinja::Value::from(minijinja::value::Serde(v)),
            )
        })
        .collect();
    overlay.insert("ansible_check_mode".into(), minijinja::Value::from(false));
    let scope = cluster.resolver.scope(host, overlay);
    // Any condition false from the inventory alone rules the host out, even when an
    // earlier one (a block's) depends on run time.
    let mut unknown = None;
    for cond in &task.when {
        match crate::vars::template::eval_condition(cond, &scope) {
            Ok(true) => {}
            Ok(false) => return Placement::Skipped(format!("when: {cond}")),
            Err(e) => {
                if unknown.is_none() {
                    unknown = Some(match run_time_reason(cond, task, registered, &scope) {
                        Some(why) => format!("when: {cond}; decided at run time ({why})"),
                        None => format!("when: {cond} ({e})"),
                    });
                }
            }
        }
    }
    match unknown {
        Some(why) => Placement::Conditional(why),
        None => Placement::Runs,
    }
}

/// Builds the plan: selects hosts, applies tags, checks placement. All problems at once.
pub fn build(cluster: &Cluster, book: &Playbook, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let inv = &cluster.inventory;
    let mut problems = Vec::new();
    let limit = match &opts.limit {
        Some(l) => {
            match pattern::select(inv, l, false) {
                Ok(h) => Some(h),
                Err(e) => {
                    problems.push(Diagnostic::error("bad-limit", e.to_string()).help("--limit takes a group, a host or a pattern such as 'kube_node:!instance-2'"));
                    None
                }
            }
        }
        None => None,
    };
    let mut plays: Vec<PlannedPlay> = Vec::new();
    for (index, play) in book.plays.iter().enumerate() {
        // Results registered in earlier plays stay with their hosts (as in Ansible).
        let registered_before: BTreeSet<String> = plays
            .iter()
            .flat_map(|p| p.tasks.iter().filter_map(|t| t.task.register.clone()))
            .collect();
        let hosts = match pattern::select(inv, &play.hosts, true) {
            Ok(h) => h,
            Err(e) => {
                problems.push(
                    Diagnostic::error("bad-pattern", e.to_string()).at(Some(play.location.clone())),
                );
                continue;
            }
        };
        let hosts: Vec<String> = hosts
            .into_iter()
            .filter(|h| limit.as_ref().is_none_or(|l| l.contains(h)))
            .collect();
        let deps: Vec<usize> = match &play.needs {
            None if index > 0 => vec![index - 1],
            None => Vec::new(),
            Some(names) => names
                .iter()
                .filter_map(|n| book.plays.iter().position(|p| &p.name == n))
                .collect(),
        };
        let mut tasks = Vec::new();
        let push = |task: &Task, tasks: &mut Vec<PlannedTask>, problems: &mut Vec<Diagnostic>| {
            let tags: BTreeSet<String> =
                task.tags.iter().chain(play.tags.iter()).cloned().collect();
            if !tag_selected(&tags, opts) {
                return;
            }
            let registered: BTreeSet<String> = registered_before
                .iter()
                .cloned()
                .chain(tasks.iter().filter_map(|t| t.task.register.clone()))
                .collect();
            let mut placement = BTreeMap::new();
            for h in &hosts {
                let p = place(cluster, play, task, h, &registered);
                if !matches!(p, Placement::Skipped(_))
                    && (!task.needs.is_empty() || task.delegate_to.is_some())
                {
                    // A delegated task runs on its delegate: that host must have the components.
                    let target = match &task.delegate_to {
                        Some(d) => {
                            let scope = cluster.resolver.scope(h, BTreeMap::new());
                            match crate::vars::render(&scope, &Value::String(d.clone())) {
                                Ok(Value::String(t)) => t,
                                // Decided at run time (a registered value, a fact): only
                                // a task that needs components must know its host now.
                                _ if task.needs.is_empty() => {
                                    placement.insert(h.clone(), p);
                                    continue;
                                }
                                _ => {
                                    problems.push(
                                        Diagnostic::error("placement", format!("task '{}': delegate_to '{d}' cannot be decided from the inventory", task.name))
                                            .at(Some(task.location.clone()))
                                            .help("delegate to a host named from inventory variables, e.g. \"{{ kubeforge_first_control_plane }}\""),
                                    );
                                    continue;
                                }
                            }
                        }
                        None => h.clone(),
                    };
                    if cluster.host(&target).is_none() {
                        problems.push(
                            Diagnostic::error("placement", format!("task '{}' is delegated to '{target}', which is not in the inventory", task.name))
                                .at(Some(task.location.clone())),
                        );
                        continue;
                    }
                    let h = &target;
                    if let Some(ch) = cluster.host(h) {
                        let missing: Vec<&str> = task
                            .needs
                            .iter()
                            .filter(|c| !ch.has(**c))
                            .map(|c| c.as_str())
                            .collect();
                        if !missing.is_empty() {
                            problems.push(
                                Diagnostic::error(
                                    "placement",
                                    format!(
                                        "task '{}' needs {} but host {h} (roles: {}) does not have it (components: {})",
                                        task.name,
                                        missing.join(", "),
                                        ch.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","),
                                        if ch.components.is_empty() { "none".to_string() } else { ch.components.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",") },
                                    ),
                                )
                                .at(Some(task.location.clone()))
                                .help("narrow the play's hosts, or add a `when:` that excludes hosts without the component"),
                            );
                        }
                    }
                }
                placement.insert(h.clone(), p);
            }
            tasks.push(PlannedTask {
                task: std::sync::Arc::new(task.clone()),
                placement,
            });
        };
        // Handlers: each role's (with its entry's vars and become), then the play's.
        let mut handlers: Vec<Task> = Vec::new();
        for r in &play.roles {
            if let Some(role) = book.roles.get(&r.name) {
                for h in &role.handlers {
                    let mut h = h.clone();
                    h.vars.extend(r.vars.clone());
                    h.become_ = h.become_.or(r.become_);
                    h.become_as = h.become_as.or(&r.become_as);
                    handlers.push(h);
                }
            }
        }
        // Roles brought in by import_role inside the play's task lists: their handlers too.
        let mut imported: Vec<&String> = Vec::new();
        for t in play
            .pre_tasks
            .iter()
            .chain(&play.tasks)
            .chain(&play.post_tasks)
        {
            if let Some(r) = &t.role {
                if !play.roles.iter().any(|x| &x.name == r) && !imported.contains(&r) {
                    imported.push(r);
                }
            }
        }
        for r in imported {
            if let Some(role) = book.roles.get(r) {
                handlers.extend(role.handlers.iter().cloned());
            }
        }
        handlers.extend(play.handlers.iter().cloned());
        problems.extend(checks::unknown_notifications(play, book, &handlers));
        let section_flush =
            |name: &str, tasks: &mut Vec<PlannedTask>, problems: &mut Vec<Diagnostic>| {
                if !handlers.is_empty() {
                    push(&flush_task(name, play.location.clone()), tasks, problems);
                }
            };
        // Ansible's order: pre_tasks, roles, tasks, post_tasks; notified handlers run
        // after pre_tasks, at each role's end, after tasks and after post_tasks.
        for t in &play.pre_tasks {
            push(t, &mut tasks, &mut problems);
        }
        if !play.pre_tasks.is_empty() {
            section_flush(
                &format!("{} (pre_tasks)", play.name),
                &mut tasks,
                &mut problems,
            );
        }
        for r in &play.roles {
            if let Some(role) = book.roles.get(&r.name) {
                for t in &role.tasks {
                    push(&r.apply(t), &mut tasks, &mut problems);
                }
                if !role.handlers.is_empty() {
                    let t = flush_task(
                        &r.name,
                        Location::new(crate::inventory::display_path(&role.dir), 0),
                    );
                    push(&t, &mut tasks, &mut problems);
                }
            }
        }
        for t in &play.tasks {
            push(t, &mut tasks, &mut problems);
        }
        if !handlers.is_empty() && !play.tasks.is_empty() {
            let t = flush_task(&play.name, play.location.clone());
            push(&t, &mut tasks, &mut problems);
        }
        for t in &play.post_tasks {
            push(t, &mut tasks, &mut problems);
        }
        if !play.post_tasks.is_empty() {
            section_flush(
                &format!("{} (post_tasks)", play.name),
                &mut tasks,
                &mut problems,
            );
        }
        plays.push(PlannedPlay {
            index,
            play: play.clone(),
            hosts,
            deps,
            tasks,
            handlers,
        });
    }
    if problems.is_empty() {
        Ok(Plan {
            playbook: book.path.clone(),
            plays,
            role_dirs: book
                .roles
                .iter()
                .map(|(k, r)| (k.clone(), r.dir.clone()))
                .collect(),
            warnings: checks::unmatched_tags(book, opts),
        })
    } else {
        Err(PlanError(problems))
    }
}

/// The playbook's role defaults, merged into the inventory's lowest layer.
pub fn role_defaults(book: &Playbook) -> crate::inventory::VarMap {
    let mut out = crate::inventory::VarMap::new();
    for role in book.roles.values() {
        for (k, v) in &role.defaults {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    out
}

/// A JSON value's text for messages.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
