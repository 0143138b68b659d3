//! The per-host worker: decides, renders and queues each task of a host, keeping task
//! order and every dependency on registered results intact. Sending the queue is in
//! `queue`, folding results in `fold`, scopes and masking in `scope`.

use super::batch::BatchStep;
use super::outcome::ItemResult;
use super::{facts, HostRt, HostState, Shared};
use crate::modules::{self, Action, Context, LocalResult, Runs};
use crate::plan::{Placement, PlannedPlay};
use crate::playbook::Task;
use crate::report::events::{Event, Status};
use crate::transport::{Become, ExecRequest};
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ansible's `omit`: an argument rendered to this is dropped.
pub(super) const OMIT: &str = "__omit_place_holder__kubeforge";

/// What a result says besides its status.
#[derive(Default)]
pub(super) struct Said {
    pub error: Option<String>,
    pub msg: Option<String>,
    pub diff: Option<String>,
}

/// A task queued on a host, with one slot per loop item.
pub(super) struct Pending {
    pub task: Arc<Task>,
    pub started: Instant,
    pub items: Vec<Slot>,
}

impl Pending {
    /// True when an item runs on the host.
    pub(super) fn has_remote(&self) -> bool {
        self.items.iter().any(|s| matches!(s, Slot::Remote { .. }))
    }
}

/// One item of a queued task.
#[derive(Clone)]
pub(super) enum Slot {
    Skipped(String),
    Local(LocalResult),
    Remote {
        step: BatchStep,
        item: Option<Value>,
        result: Option<ItemResult>,
    },
}

/// Works through one host's tasks.
pub(crate) struct Worker<'a> {
    pub(super) sh: &'a Shared,
    pub(super) play: &'a PlannedPlay,
    pub(super) host: String,
    pub(super) via: String,
    pub rt: &'a mut HostRt,
    pub(super) pending: Vec<Pending>,
    pub(super) pending_names: HashSet<String>,
    pub(super) pending_become: Become,
    /// Set when a batch's steps all reported but its end marker was missing.
    pub(super) broken_after: Option<String>,
    last_blocks: Vec<crate::playbook::BlockPos>,
}

impl<'a> Worker<'a> {
    pub(super) fn new(
        sh: &'a Shared,
        play: &'a PlannedPlay,
        host: &str,
        via: &str,
        rt: &'a mut HostRt,
    ) -> Self {
        Worker {
            sh,
            play,
            host: host.to_string(),
            via: via.to_string(),
            rt,
            pending: Vec::new(),
            pending_names: HashSet::new(),
            pending_become: Become::No,
            broken_after: None,
            last_blocks: Vec::new(),
        }
    }

    fn task_started(&self, i: usize, task: &Task) {
        let first = self
            .sh
            .started
            .lock()
            .map(|mut s| s.insert((self.play.index, i)))
            .unwrap_or(false);
        if first {
            self.sh.emit(Event::TaskStart {
                play: self.play.play.name.clone(),
                task: task.name.clone(),
                role: task.role.clone(),
                location: task.location.to_string(),
            });
        }
    }

    pub(super) fn fail_host(&mut self, state: HostState) {
        super::mark_stopped(self.rt, &self.host, state, &self.sh.events);
    }

    pub(super) fn fail_task(&mut self, task: &Task, started: Instant, why: String) {
        self.emit_result(
            task,
            Status::Failed,
            false,
            started,
            Said {
                error: Some(why.clone()),
                ..Said::default()
            },
            task.ignore_errors,
        );
        if !task.ignore_errors {
            self.task_failed(task, &why);
        }
    }

    /// A task failed (not ignored): a block may take the failure over (its rescue and
    /// always run, Ansible's `ansible_failed_task`/`ansible_failed_result` are set);
    /// otherwise the host leaves the run.
    pub(super) fn task_failed(&mut self, task: &Task, why: &str) {
        let message = format!("task '{}' ({}): {why}", task.name, task.location);
        if super::blocks::failed(self.rt, task, &message) {
            self.fail_host(HostState::Failed(message));
        } else {
            self.rt.facts.insert(
                "ansible_failed_task".into(),
                serde_json::json!({"name": task.name, "location": task.location.to_string()}),
            );
            self.rt.facts.insert(
                "ansible_failed_result".into(),
                serde_json::json!({"failed": true, "msg": why}),
            );
        }
    }

    /// Handles one task: decides, renders, and queues or runs it. Steps queued for
    /// another block section are sent first, so a failure is known before the next
    /// section (rescue, always) is decided.
    pub async fn task(&mut self, i: usize, task: &Arc<Task>, placement: &Placement) {
        if self.last_blocks != task.blocks {
            self.flush().await;
            self.last_blocks = task.blocks.clone();
        }
        if !self.rt.active() {
            return;
        }
        match super::blocks::gate(self.rt, task) {
            super::blocks::Gate::Run => {}
            super::blocks::Gate::Skip => return,
            super::blocks::Gate::Fail(message) => {
                self.fail_host(HostState::Failed(message));
                return;
            }
        }
        if let Some(limit) = task.throttle {
            // At most `limit` hosts run this task at once: it travels alone.
            self.flush().await;
            let sem = self.sh.throttle(self.play.index, i, limit);
            let Ok(_permit) = sem.acquire().await else {
                return;
            };
            self.task_started(i, task);
            self.dispatch(task, placement).await;
            self.flush().await;
            return;
        }
        self.task_started(i, task);
        self.dispatch(task, placement).await;
    }

    async fn dispatch(&mut self, task: &Arc<Task>, placement: &Placement) {
        if let Placement::Skipped(why) = placement {
            // As Ansible: a skipped task still registers (`skipped: true`), so later
            // conditions can read it.
            if let Some(r) = &task.register {
                self.rt.facts.insert(
                    r.clone(),
                    serde_json::json!({"skipped": true, "changed": false, "failed": false, "skip_reason": why}),
                );
            }
            self.emit_result(
                task,
                Status::Skipped,
                false,
                Instant::now(),
                Said {
                    msg: Some(why.clone()),
                    ..Said::default()
                },
                false,
            );
            return;
        }
        self.run_task(task).await;
    }

    async fn run_task(&mut self, task: &Arc<Task>) {
        let refs = self.sh.refs(task);
        let become_ = match self.become_for(task) {
            Ok(b) => b,
            Err(why) => return self.fail_task(task, Instant::now(), why),
        };
        let must_flush = !self.pending.is_empty()
            && (refs.iter().any(|r| self.pending_names.contains(r))
                || modules::find(&task.module).is_none_or(|d| d.runs == Runs::Controller)
                || task.until.is_some()
                || become_ != self.pending_become);
        if must_flush {
            self.flush().await;
            if !self.rt.active() {
                return;
            }
        }
        if !self.rt.gathered && refs.iter().any(|r| facts::FACT_NAMES.contains(&r.as_str())) {
            self.flush().await;
            if !self.gather_facts(&become_).await {
                return;
            }
        }
        let started = Instant::now();
        let items: Vec<Option<Value>> = match &task.loop_ {
            None => vec![None],
            Some(l) => {
                let scope = self.scope(task, None);
                match crate::vars::render(&scope, &l.items) {
                    Ok(Value::Array(a)) => a.into_iter().map(Some).collect(),
                    Ok(Value::Null) => Vec::new(),
                    Ok(other) => {
                        return self.fail_task(
                            task,
                            started,
                            format!("loop must be a list, got {other}"),
                        )
                    }
                    Err(e) => return self.fail_task(task, started, format!("loop: {e}")),
                }
            }
        };
        let loop_var = task
            .loop_
            .as_ref()
            .map(|l| l.var.clone())
            .unwrap_or_else(|| "item".into());
        let timeout = task.timeout.unwrap_or(self.sh.opts.default_timeout);
        let role_dir = task
            .role
            .as_ref()
            .and_then(|r| self.sh.role_dirs.get(r))
            .cloned();
        let mut slots = Vec::with_capacity(items.len());
        let mut flush_handlers = false;
        let mut end_host = false;
        for item in &items {
            let scope = self.scope(task, item.as_ref().map(|v| (loop_var.as_str(), v)));
            let mut skip = None;
            for cond in &task.when {
                match crate::vars::template::eval_condition(cond, &scope) {
                    Ok(true) => {}
                    Ok(false) => {
                        skip = Some(format!("when: {cond}"));
                        break;
                    }
                    Err(e) => return self.fail_task(task, started, format!("when: {cond}: {e}")),
                }
            }
            if let Some(why) = skip {
                slots.push(Slot::Skipped(why));
                continue;
            }
            let args = match crate::vars::render(&scope, &task.args) {
                Ok(Value::Object(mut m)) => {
                    m.retain(|_, v| v.as_str() != Some(OMIT));
                    Value::Object(m)
                }
                Ok(v) => v,
                Err(e) => return self.fail_task(task, started, format!("arguments: {e}")),
            };
            let ctx = Context {
                scope: &scope,
                role_dir: role_dir.as_deref(),
                playbook_dir: &self.sh.opts.playbook_dir,
                cache_dir: &self.sh.opts.cache_dir,
                host: &self.host,
                check: self.sh.opts.check,
            };
            match modules::prepare(&task.module, &args, &ctx) {
                Err(e) => return self.fail_task(task, started, e.0),
                Ok(Action::Local(r)) => slots.push(Slot::Local(r)),
                Ok(Action::FlushHandlers) => flush_handlers = true,
                Ok(Action::EndHost) => end_host = true,
                Ok(Action::Remote(step)) => {
                    let t = modules::find(&task.module)
                        .map(|d| d.timeout.seconds(&args, timeout))
                        .unwrap_or(timeout);
                    slots.push(Slot::Remote {
                        step: BatchStep {
                            step,
                            timeout: t,
                            continue_on_failure: task.ignore_errors || task.failed_when.is_some(),
                            check: task.check_mode,
                        },
                        item: item.clone(),
                        result: None,
                    });
                }
            }
        }
        if flush_handlers {
            self.flush().await;
            Box::pin(self.run_handlers()).await;
            return;
        }
        if end_host {
            self.flush().await;
            self.rt.ended.insert(self.play.index);
            self.emit_result(
                task,
                Status::Ok,
                false,
                started,
                Said {
                    msg: Some("end_host: this host runs no more tasks of the play".into()),
                    ..Said::default()
                },
                false,
            );
            return;
        }
        let has_remote = slots.iter().any(|s| matches!(s, Slot::Remote { .. }));
        if has_remote && !self.pending.iter().any(|p| p.has_remote()) {
            // The host's first remote step of this queue waits for its connection before
            // anything more is queued: a host waiting for its handshake holds one step,
            // not its whole play (memory stays flat in the number of steps).
            if let Err(e) = self.sh.connection(&self.via).await {
                self.pending.push(Pending {
                    task: task.clone(),
                    started,
                    items: Vec::new(),
                });
                self.unreachable(e.to_string());
                return;
            }
        }
        self.pending.push(Pending {
            task: task.clone(),
            started,
            items: slots,
        });
        self.pending_become = become_;
        if let Some(r) = &task.register {
            self.pending_names.insert(r.clone());
        }
        if !has_remote {
            // Nothing to send: finish it now (the queue before it was flushed above).
            self.flush().await;
            return;
        }
        if task.until.is_some() {
            self.run_until(task).await;
        } else if task.failed_when.is_some() {
            self.flush().await;
        }
    }

    /// Retries a task until `until` holds: for a loop, each item on its own (as
    /// Ansible), re-running only the items that do not satisfy it yet.
    async fn run_until(&mut self, task: &Task) {
        let Some(until) = task.until.clone() else {
            return;
        };
        let Some(p) = self.pending.pop() else { return };
        let loop_var = task
            .loop_
            .as_ref()
            .map(|l| l.var.clone())
            .unwrap_or_else(|| "item".into());
        // Final slot per item once it satisfied `until` (or is not a remote step).
        let mut settled: Vec<Option<Slot>> = p
            .items
            .iter()
            .map(|s| match s {
                Slot::Remote { .. } => None,
                other => Some(other.clone()),
            })
            .collect();
        let mut latest: Vec<Option<Slot>> = vec![None; p.items.len()];
        let mut attempt = 0;
        loop {
            attempt += 1;
            let open: Vec<usize> = (0..p.items.len())
                .filter(|i| settled[*i].is_none())
                .collect();
            let items: Vec<Slot> = open
                .iter()
                .map(|i| match &p.items[*i] {
                    Slot::Remote { step, item, .. } => {
                        let mut step = step.clone();
                        // Every open item runs in each attempt, whatever the others do.
                        step.continue_on_failure = true;
                        Slot::Remote {
                            step,
                            item: item.clone(),
                            result: None,
                        }
                    }
                    other => other.clone(),
                })
                .collect();
            self.pending.push(Pending {
                task: p.task.clone(),
                started: p.started,
                items,
            });
            let Some(done) = self.execute().await else {
                return;
            };
            let Some(p2) = done.into_iter().next() else {
                return;
            };
            for (k, slot) in p2.items.into_iter().enumerate() {
                let i = open[k];
                let satisfied = match &slot {
                    Slot::Remote {
                        result: Some(r),
                        item,
                        ..
                    } => {
                        let mut facts = self.rt.facts.clone();
                        if let Some(name) = &task.register {
                            facts.insert(name.clone(), r.registered.clone());
                        }
                        let saved = std::mem::replace(&mut self.rt.facts, facts);
                        let scope = self.scope(task, item.as_ref().map(|v| (loop_var.as_str(), v)));
                        self.rt.facts = saved;
                        crate::vars::template::eval_condition(&until, &scope).unwrap_or(false)
                    }
                    Slot::Remote { result: None, .. } => false,
                    _ => true,
                };
                if satisfied {
                    settled[i] = Some(slot);
                } else {
                    latest[i] = Some(slot);
                }
            }
            let all = settled.iter().all(Option::is_some);
            let last = attempt > task.retries;
            if all || last || !self.rt.active() || self.sh.interrupted.load(Ordering::SeqCst) {
                let mut items = Vec::with_capacity(settled.len());
                for (i, s) in settled.into_iter().enumerate() {
                    match (s, latest[i].take()) {
                        (Some(slot), _) => items.push(slot),
                        (
                            None,
                            Some(Slot::Remote {
                                step,
                                item,
                                result: Some(mut r),
                            }),
                        ) => {
                            r.failed = true;
                            r.msg = Some(format!(
                                "until: {until} still false after {attempt} attempt(s)"
                            ));
                            items.push(Slot::Remote {
                                step,
                                item,
                                result: Some(r),
                            });
                        }
                        (None, Some(other)) => items.push(other),
                        (None, None) => items.push(p.items[i].clone()),
                    }
                }
                self.finish(Pending {
                    task: p.task.clone(),
                    started: p.started,
                    items,
                });
                return;
            }
            tokio::time::sleep(Duration::from_secs(task.delay)).await;
        }
    }

    async fn gather_facts(&mut self, become_: &Become) -> bool {
        let conn = match self.sh.connection(&self.via).await {
            Ok(c) => c,
            Err(e) => {
                self.unreachable(e.to_string());
                return false;
            }
        };
        let req = ExecRequest {
            script: facts::SCRIPT.to_string(),
            become_: become_.clone(),
            timeout: Duration::from_secs(60),
        };
        match conn.exec(req).await {
            Ok(out) => {
                let f = facts::parse(&String::from_utf8_lossy(&out.stdout));
                self.rt.facts.extend(f);
                self.rt.gathered = true;
                true
            }
            Err(e) if e.is_unreachable() => {
                self.unreachable(e.to_string());
                false
            }
            Err(e) => {
                self.fail_host(HostState::Failed(format!("gathering facts: {e}")));
                false
            }
        }
    }

    pub(super) fn unreachable(&mut self, why: String) {
        self.sh.emit(Event::StepResult {
            host: self.host.clone(),
            play: self.play.play.name.clone(),
            task: self
                .pending
                .first()
                .map(|p| p.task.name.clone())
                .unwrap_or_else(|| "connect".into()),
            role: self.pending.first().and_then(|p| p.task.role.clone()),
            status: Status::Unreachable,
            changed: false,
            duration_ms: 0,
            started_ms: self.sh.began.elapsed().as_millis() as u64,
            error: Some(why.clone()),
            msg: None,
            diff: None,
            ignored: false,
        });
        self.pending.clear();
        self.pending_names.clear();
        self.fail_host(HostState::Unreachable(why));
    }

    /// Runs the handlers notified so far, in the order they are declared.
    async fn run_handlers(&mut self) {
        if self.rt.notified.is_empty() {
            return;
        }
        let handlers: Vec<Task> = self.play.handlers.clone();
        let notified: BTreeSet<String> = std::mem::take(&mut self.rt.notified);
        for (k, h) in handlers.into_iter().enumerate() {
            if !self.rt.active() {
                break;
            }
            if notified.contains(&h.name) || h.notify.iter().any(|l| notified.contains(l)) {
                let mut h = h;
                h.notify.clear();
                let h = Arc::new(h);
                if let Some(limit) = h.throttle {
                    // A throttled handler (etcd restarts) runs alone, `limit` hosts at once.
                    self.flush().await;
                    let sem = self.sh.throttle(self.play.index, usize::MAX - k, limit);
                    let Ok(_permit) = sem.acquire().await else {
                        return;
                    };
                    Box::pin(self.run_task(&h)).await;
                    self.flush().await;
                } else {
                    Box::pin(self.run_task(&h)).await;
                }
            }
        }
        self.flush().await;
    }
}
