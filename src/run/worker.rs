//! One play on its hosts: free-running hosts between barriers, and the per-host worker
//! that batches consecutive steps into one round trip while keeping task order and
//! every dependency on registered results intact.

use super::batch::{self, BatchStep};
use super::outcome::{interpret, ItemResult};
use crate::vars::secret::mask;
use super::{facts, fetch, HostRt, HostState, Shared};
use crate::modules::{self, Action, Context, LocalResult};
use crate::plan::{Placement, PlannedPlay};
use crate::playbook::Task;
use crate::report::events::{Event, Status};
use crate::transport::ExecRequest;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const OMIT: &str = "__omit_place_holder__kubeforge";

/// What a result says besides its status.
#[derive(Default)]
struct Said {
    error: Option<String>,
    msg: Option<String>,
    diff: Option<String>,
}

enum Segment {
    Free(std::ops::Range<usize>),
    Barrier(usize),
}

fn segments(play: &PlannedPlay) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in play.tasks.iter().enumerate() {
        if t.task.run_once || t.task.delegate_to.is_some() {
            if start < i {
                out.push(Segment::Free(start..i));
            }
            out.push(Segment::Barrier(i));
            start = i + 1;
        }
    }
    if start < play.tasks.len() {
        out.push(Segment::Free(start..play.tasks.len()));
    }
    out
}

async fn active(sh: &Shared, hosts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for h in hosts {
        if let Some(m) = sh.hosts.get(h) {
            if m.lock().await.active() {
                out.push(h.clone());
            }
        }
    }
    out
}

/// Runs a play on its hosts (in `serial` batches when set).
pub(crate) async fn run_play(sh: Arc<Shared>, play: Arc<PlannedPlay>) {
    let hosts = active(&sh, &play.hosts).await;
    sh.emit(Event::PlayStart {
        play: play.play.name.clone(),
        hosts: hosts.clone(),
    });
    let size = play.play.serial.unwrap_or(hosts.len()).max(1);
    let chunks: Vec<&[String]> = hosts.chunks(size).collect();
    for (n, chunk) in chunks.iter().enumerate() {
        if sh.interrupted.load(Ordering::SeqCst) {
            break;
        }
        if let Some(why) = run_batch(&sh, &play, chunk).await {
            // The play is over: hosts of later serial batches never start it.
            for later in chunks[n + 1..].iter().flat_map(|c| c.iter()) {
                sh.stop_host(later, HostState::Stopped(why.clone())).await;
            }
            break;
        }
    }
}

/// Runs one serial batch; returns why the whole play must stop, if it must.
async fn run_batch(sh: &Arc<Shared>, play: &Arc<PlannedPlay>, hosts: &[String]) -> Option<String> {
    let total = hosts.len();
    for seg in segments(play) {
        let now = active(sh, hosts).await;
        if now.is_empty() {
            break;
        }
        match seg {
            Segment::Free(range) => {
                let mut set = tokio::task::JoinSet::new();
                for h in now {
                    let (sh, play, range) = (sh.clone(), play.clone(), range.clone());
                    set.spawn(async move {
                        let Ok(_permit) = sh.forks.acquire().await else {
                            return;
                        };
                        let Some(m) = sh.hosts.get(&h) else { return };
                        let mut rt = m.lock().await;
                        let mut w = Worker::new(&sh, &play, &h, &h, &mut rt);
                        for i in range {
                            if !w.rt.active() || sh.interrupted.load(Ordering::SeqCst) {
                                break;
                            }
                            let pt = &play.tasks[i];
                            let placement =
                                pt.placement.get(&h).cloned().unwrap_or(Placement::Runs);
                            w.task(i, &pt.task, &placement).await;
                        }
                        w.flush().await;
                    });
                }
                while set.join_next().await.is_some() {}
            }
            Segment::Barrier(i) => barrier(sh, play, i, &now).await,
        }
        if sh.interrupted.load(Ordering::SeqCst) {
            for h in active(sh, hosts).await {
                sh.stop_host(
                    &h,
                    HostState::Stopped("interrupted (Ctrl-C): no new steps were started".into()),
                )
                .await;
            }
            return Some("interrupted (Ctrl-C): no new steps were started".into());
        }
        let still = active(sh, hosts).await;
        let failed: Vec<&String> = hosts.iter().filter(|h| !still.contains(h)).collect();
        if !failed.is_empty() && play.play.any_errors_fatal {
            let why = format!(
                "any_errors_fatal: {} failed in play '{}'",
                failed[0], play.play.name
            );
            for h in &still {
                sh.stop_host(h, HostState::Stopped(why.clone())).await;
            }
            return Some(why);
        }
        if let Some(pct) = play.play.max_fail_percentage {
            let ratio = failed.len() as f64 * 100.0 / total as f64;
            if ratio > pct {
                let why = format!(
                    "max_fail_percentage {pct}% exceeded in play '{}' ({} of {total} hosts failed)",
                    play.play.name,
                    failed.len()
                );
                for h in &still {
                    sh.stop_host(h, HostState::Stopped(why.clone())).await;
                }
                return Some(why);
            }
        }
    }
    None
}

async fn barrier(sh: &Arc<Shared>, play: &Arc<PlannedPlay>, i: usize, hosts: &[String]) {
    let pt = &play.tasks[i];
    let task = &pt.task;
    let runners: Vec<String> = if task.run_once {
        hosts.iter().take(1).cloned().collect()
    } else {
        hosts.to_vec()
    };
    for h in runners {
        let Some(m) = sh.hosts.get(&h) else { continue };
        let placement = pt.placement.get(&h).cloned().unwrap_or(Placement::Runs);
        let before: BTreeMap<String, Value>;
        let after: BTreeMap<String, Value>;
        {
            let mut rt = m.lock().await;
            before = rt.facts.clone();
            let via = match &task.delegate_to {
                Some(d) => {
                    let scope = sh.cluster.resolver.scope(&h, BTreeMap::new());
                    match crate::vars::render(&scope, &Value::String(d.clone())) {
                        Ok(Value::String(s)) => s,
                        Ok(other) => other.to_string(),
                        Err(e) => {
                            drop(rt);
                            sh.stop_host(
                                &h,
                                HostState::Failed(format!(
                                    "task '{}': delegate_to: {e}",
                                    task.name
                                )),
                            )
                            .await;
                            continue;
                        }
                    }
                }
                None => h.clone(),
            };
            let mut w = Worker::new(sh, play, &h, &via, &mut rt);
            w.task(i, task, &placement).await;
            w.flush().await;
            after = rt.facts.clone();
        }
        if task.run_once {
            // run_once: what the one host learned (register, set_fact) holds for all.
            let learned: Vec<(String, Value)> = after
                .into_iter()
                .filter(|(k, v)| before.get(k) != Some(v))
                .collect();
            for other in hosts.iter().filter(|o| **o != h) {
                if let Some(om) = sh.hosts.get(other) {
                    let mut ort = om.lock().await;
                    for (k, v) in &learned {
                        ort.facts.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
}

struct Pending {
    task: Task,
    started: Instant,
    items: Vec<Slot>,
}

enum Slot {
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
    sh: &'a Shared,
    play: &'a PlannedPlay,
    host: String,
    via: String,
    pub rt: &'a mut HostRt,
    pending: Vec<Pending>,
    pending_names: HashSet<String>,
    pending_become: bool,
    refs_cache: BTreeMap<String, HashSet<String>>,
}

fn names_in(src: &str, out: &mut HashSet<String>) {
    let src = crate::vars::template::normalize(src);
    if let Ok(t) = crate::vars::template::env().template_from_str(&src) {
        out.extend(t.undeclared_variables(false));
    }
}

fn names_in_value(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") => names_in(s, out),
        Value::Array(a) => a.iter().for_each(|x| names_in_value(x, out)),
        Value::Object(m) => m.values().for_each(|x| names_in_value(x, out)),
        _ => {}
    }
}

fn referenced(task: &Task) -> HashSet<String> {
    let mut out = HashSet::new();
    for e in task
        .when
        .iter()
        .chain(task.changed_when.iter())
        .chain(task.failed_when.iter())
        .chain(task.until.iter())
    {
        names_in(&format!("{{{{ {e} }}}}"), &mut out);
    }
    names_in_value(&task.args, &mut out);
    if let Some(l) = &task.loop_ {
        names_in_value(&l.items, &mut out);
    }
    for v in task.vars.values() {
        names_in_value(v, &mut out);
    }
    if let Some(d) = &task.delegate_to {
        names_in(d, &mut out);
    }
    // assert's `that` are bare expressions.
    if task.module == "assert" {
        if let Some(that) = task.args.get("that") {
            let list: Vec<String> = match that {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                _ => Vec::new(),
            };
            for e in list {
                names_in(&format!("{{{{ {e} }}}}"), &mut out);
            }
        }
    }
    out
}

fn is_local_module(m: &str) -> bool {
    matches!(
        m,
        "set_fact" | "debug" | "assert" | "fail" | "meta" | "etcd_certs"
    )
}

impl<'a> Worker<'a> {
    fn new(
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
            pending_become: false,
            refs_cache: BTreeMap::new(),
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

    /// Template scope: inventory vars < play vars < task vars < facts/registered < item.
    fn scope(&self, task: &Task, item: Option<(&str, &Value)>) -> minijinja::Value {
        let resolver = &self.sh.cluster.resolver;
        let mut overlay: BTreeMap<String, minijinja::Value> = BTreeMap::new();
        overlay.insert(
            "ansible_check_mode".into(),
            minijinja::Value::from(self.sh.opts.check),
        );
        overlay.insert(
            "ansible_diff_mode".into(),
            minijinja::Value::from(self.sh.opts.diff),
        );
        overlay.insert("omit".into(), minijinja::Value::from(OMIT));
        overlay.insert(
            "role_path".into(),
            minijinja::Value::from(
                task.role
                    .as_ref()
                    .and_then(|r| self.sh.book.roles.get(r))
                    .map(|r| r.dir.display().to_string())
                    .unwrap_or_default(),
            ),
        );
        for (k, v) in &self.rt.facts {
            overlay.insert(
                k.clone(),
                minijinja::Value::from(minijinja::value::Serde(v)),
            );
        }
        let base = resolver.scope(&self.host, overlay.clone());
        for (k, raw) in self.play.play.vars.iter().chain(task.vars.iter()) {
            if resolver.is_extra(k) || self.rt.facts.contains_key(k) {
                continue;
            }
            let v = crate::vars::render(&base, raw).unwrap_or_else(|_| raw.clone());
            overlay.insert(
                k.clone(),
                minijinja::Value::from(minijinja::value::Serde(&v)),
            );
        }
        if let Some((name, v)) = item {
            overlay.insert(
                name.to_string(),
                minijinja::Value::from(minijinja::value::Serde(v)),
            );
        }
        resolver.scope(&self.host, overlay)
    }

    fn emit_result(
        &mut self,
        task: &Task,
        status: Status,
        changed: bool,
        started: Instant,
        said: Said,
        ignored: bool,
    ) {
        let Said { error, msg, diff } = said;
        match status {
            Status::Ok => self.rt.counts.ok += 1,
            Status::Changed => self.rt.counts.changed += 1,
            Status::Skipped => self.rt.counts.skipped += 1,
            Status::Failed if ignored => self.rt.counts.ignored += 1,
            Status::Failed => self.rt.counts.failed += 1,
            Status::Unreachable => {}
        }
        let secrets = self.secrets();
        // A templated name ("install {{ item }}") is shown rendered for this host.
        let name = if task.name.contains("{{") {
            crate::vars::render(&self.scope(task, None), &Value::String(task.name.clone()))
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| task.name.clone())
        } else {
            task.name.clone()
        };
        self.sh.emit(Event::StepResult {
            host: self.host.clone(),
            play: self.play.play.name.clone(),
            task: name,
            role: task.role.clone(),
            status,
            changed,
            duration_ms: started.elapsed().as_millis() as u64,
            error: error.map(|e| mask(&e, &secrets)),
            msg: if task.no_log {
                None
            } else {
                msg.map(|m| mask(&m, &secrets))
            },
            diff: if task.no_log {
                None
            } else {
                diff.map(|d| mask(&d, &secrets))
            },
            ignored,
        });
    }

    fn secrets(&self) -> Vec<String> {
        let r = &self.sh.cluster.resolver;
        let scope = r.scope(&self.host, BTreeMap::new());
        let play_secrets: Vec<String> = self
            .play
            .play
            .vars
            .iter()
            .filter(|(k, _)| crate::vars::secret::is_secret_name(k))
            .filter_map(|(_, v)| crate::vars::render(&scope, v).ok())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        r.names(&self.host)
            .into_iter()
            .filter(|n| crate::vars::secret::is_secret_name(n))
            // Only values already rendered: a secret no task used is not in any output.
            .filter_map(|n| r.get_cached(&self.host, &n))
            .filter_map(|v| v.as_str().map(str::to_string))
            .chain(
                self.rt
                    .facts
                    .iter()
                    .filter(|(k, _)| crate::vars::secret::is_secret_name(k))
                    .filter_map(|(_, v)| v.as_str().map(str::to_string)),
            )
            .chain(play_secrets)
            .collect()
    }

    fn fail_host(&mut self, state: HostState) {
        super::mark_stopped(self.rt, &self.host, state, &self.sh.events);
    }

    fn fail_task(&mut self, task: &Task, started: Instant, why: String) {
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
            self.fail_host(HostState::Failed(format!(
                "task '{}' ({}): {why}",
                task.name, task.location
            )));
        }
    }

    /// Handles one task: decides, renders, and queues or runs it.
    pub async fn task(&mut self, i: usize, task: &Task, placement: &Placement) {
        self.task_started(i, task);
        if let Placement::Skipped(why) = placement {
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

    async fn run_task(&mut self, task: &Task) {
        let key = task.location.to_string() + &task.name;
        let refs = match self.refs_cache.get(&key) {
            Some(r) => r.clone(),
            None => {
                let r = referenced(task);
                self.refs_cache.insert(key, r.clone());
                r
            }
        };
        let become_ = task.become_.unwrap_or(self.play.play.become_);
        let must_flush = !self.pending.is_empty()
            && (refs.iter().any(|r| self.pending_names.contains(r))
                || is_local_module(&task.module)
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
            if !self.gather_facts(become_).await {
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
            .and_then(|r| self.sh.book.roles.get(r))
            .map(|r| r.dir.clone());
        let mut slots = Vec::new();
        let mut flush_handlers = false;
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
                Ok(Action::Remote(mut step)) => {
                    let t = if task.module == "wait_for" {
                        timeout.max(crate::modules::wait_for_seconds(&args) + 30)
                    } else {
                        timeout
                    };
                    if task.module == "command" || task.module == "shell" {
                        step.apply_in_check = false;
                    }
                    slots.push(Slot::Remote {
                        step: BatchStep {
                            step,
                            timeout: t,
                            continue_on_failure: task.ignore_errors || task.failed_when.is_some(),
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
        let has_remote = slots.iter().any(|s| matches!(s, Slot::Remote { .. }));
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

    async fn run_until(&mut self, task: &Task) {
        let Some(until) = task.until.clone() else {
            return;
        };
        let Some(p) = self.pending.pop() else { return };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let again = Pending {
                task: p.task.clone(),
                started: p.started,
                items: p
                    .items
                    .iter()
                    .map(|s| match s {
                        Slot::Remote { step, item, .. } => Slot::Remote {
                            step: step.clone(),
                            item: item.clone(),
                            result: None,
                        },
                        Slot::Skipped(w) => Slot::Skipped(w.clone()),
                        Slot::Local(r) => Slot::Local(r.clone()),
                    })
                    .collect(),
            };
            let last = attempt > task.retries;
            self.pending.push(again);
            // Run quietly; judge `until` on the registered result.
            let results = self.execute().await;
            let Some(done) = results else { return };
            let Some(p2) = done.into_iter().next() else {
                return;
            };
            let reg = self.registered(&p2);
            let mut overlay = BTreeMap::new();
            if let Some(r) = &task.register {
                overlay.insert(r.clone(), reg.clone());
            }
            let scope = {
                let base = self.scope(task, None);
                let mut o: BTreeMap<String, minijinja::Value> = BTreeMap::new();
                for (k, v) in &overlay {
                    o.insert(
                        k.clone(),
                        minijinja::Value::from(minijinja::value::Serde(v)),
                    );
                }
                let _ = base;
                let mut facts = self.rt.facts.clone();
                facts.extend(overlay.clone());
                let saved = std::mem::replace(&mut self.rt.facts, facts);
                let s = self.scope(task, None);
                self.rt.facts = saved;
                s
            };
            let ok = crate::vars::template::eval_condition(&until, &scope).unwrap_or(false);
            if ok || last || !self.rt.active() || self.sh.interrupted.load(Ordering::SeqCst) {
                let mut p2 = p2;
                if !ok {
                    for s in &mut p2.items {
                        if let Slot::Remote {
                            result: Some(r), ..
                        } = s
                        {
                            r.failed = true;
                            r.msg = Some(format!(
                                "until: {until} still false after {attempt} attempt(s)"
                            ));
                        }
                    }
                }
                self.finish(p2);
                return;
            }
            tokio::time::sleep(Duration::from_secs(task.delay)).await;
        }
    }

    async fn gather_facts(&mut self, become_: bool) -> bool {
        let conn = match self.sh.connection(&self.via).await {
            Ok(c) => c,
            Err(e) => {
                self.unreachable(e.to_string());
                return false;
            }
        };
        let req = ExecRequest {
            script: facts::SCRIPT.to_string(),
            become_,
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

    fn unreachable(&mut self, why: String) {
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
            error: Some(why.clone()),
            msg: None,
            diff: None,
            ignored: false,
        });
        self.pending.clear();
        self.pending_names.clear();
        self.fail_host(HostState::Unreachable(why));
    }

    /// Sends the queued steps (one round trip, more only to push staged files) and
    /// records every task's result in order.
    pub async fn flush(&mut self) {
        if let Some(done) = self.execute().await {
            for p in done {
                if !self.rt.active() {
                    break;
                }
                self.finish(p);
            }
        }
        self.pending_names.clear();
    }

    /// Runs the queue; returns the tasks with their item results filled (a task whose
    /// steps never ran because an earlier one failed keeps `result: None`).
    async fn execute(&mut self) -> Option<Vec<Pending>> {
        let mut pending = std::mem::take(&mut self.pending);
        let mut queue: Vec<(usize, usize)> = Vec::new();
        for (pi, p) in pending.iter().enumerate() {
            for (ii, s) in p.items.iter().enumerate() {
                if matches!(s, Slot::Remote { .. }) {
                    queue.push((pi, ii));
                }
            }
        }
        if queue.is_empty() {
            return Some(pending);
        }
        let conn = match self.sh.connection(&self.via).await {
            Ok(c) => c,
            Err(e) => {
                self.pending = pending;
                self.unreachable(e.to_string());
                return None;
            }
        };
        let check = self.sh.opts.check;
        let mut start = 0;
        while start < queue.len() {
            let steps: Vec<BatchStep> = queue[start..]
                .iter()
                .filter_map(|(pi, ii)| match &pending[*pi].items[*ii] {
                    Slot::Remote { step, .. } => Some(step.clone()),
                    _ => None,
                })
                .collect();
            let nonce = batch::nonce();
            let deadline: u64 = steps.iter().map(|s| 2 * s.timeout + 10).sum::<u64>() + 30;
            let req = ExecRequest {
                script: batch::script(&steps, &nonce, check, self.sh.opts.diff),
                become_: self.pending_become,
                timeout: Duration::from_secs(deadline),
            };
            if let Ok(mut v) = self.sh.inflight.lock() {
                v.push((self.via.clone(), nonce.clone(), self.pending_become));
            }
            let result = conn.exec(req).await;
            if let Ok(mut v) = self.sh.inflight.lock() {
                v.retain(|(_, n, _)| *n != nonce);
            }
            let out = match result {
                Ok(o) => o,
                Err(e) if e.is_unreachable() => {
                    self.pending = pending;
                    self.unreachable(e.to_string());
                    return None;
                }
                Err(e) => {
                    let (pi, _) = queue[start];
                    let task = pending[pi].task.clone();
                    let started = pending[pi].started;
                    self.fail_task(&task, started, e.to_string());
                    return None;
                }
            };
            let outcomes = batch::parse(&String::from_utf8_lossy(&out.stdout), &nonce);
            if outcomes.is_empty() {
                let (pi, _) = queue[start];
                let task = pending[pi].task.clone();
                let started = pending[pi].started;
                let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
                self.fail_task(
                    &task,
                    started,
                    format!(
                        "the step script did not run (exit {:?}): {err}",
                        out.exit_code
                    ),
                );
                return None;
            }
            let n = outcomes.len();
            let last_needs_upload = !check && outcomes.last().is_some_and(|o| o.probe_rc == 12);
            for (k, o) in outcomes.into_iter().enumerate() {
                let (pi, ii) = queue[start + k];
                if let Slot::Remote { step, result, .. } = &mut pending[pi].items[ii] {
                    if !(last_needs_upload && k == n - 1) {
                        *result = Some(interpret(&step.step, &o, check, step.timeout));
                    }
                }
            }
            if last_needs_upload {
                let (pi, ii) = queue[start + n - 1];
                let (step, task, started) = match &pending[pi].items[ii] {
                    Slot::Remote { step, .. } => (
                        step.step.clone(),
                        pending[pi].task.clone(),
                        pending[pi].started,
                    ),
                    _ => break,
                };
                if let Err(e) = self.stage(&conn, &step).await {
                    self.pending.clear();
                    self.fail_task(&task, started, e);
                    return None;
                }
                start += n - 1;
                continue;
            }
            start += n;
            if n < steps.len() {
                break;
            }
        }
        Some(pending)
    }

    async fn stage(
        &self,
        conn: &Arc<dyn crate::transport::Transport>,
        step: &modules::RemoteStep,
    ) -> Result<(), String> {
        if let Some(f) = &step.fetch {
            fetch::ensure(f).await?;
        }
        for (local, remote, mode) in &step.uploads {
            conn.upload(local, remote, *mode, self.pending_become)
                .await
                .map_err(|e| format!("pushing {} to {remote}: {e}", local.display()))?;
        }
        Ok(())
    }

    fn registered(&self, p: &Pending) -> Value {
        let results: Vec<Value> = p
            .items
            .iter()
            .map(|s| match s {
                Slot::Skipped(why) => {
                    json!({"skipped": true, "changed": false, "failed": false, "skip_reason": why})
                }
                Slot::Local(r) => json!({"changed": r.changed, "failed": r.failed, "msg": r.msg}),
                Slot::Remote {
                    result: Some(r),
                    item,
                    ..
                } => {
                    let mut v = r.registered.clone();
                    if let (Some(it), Value::Object(m)) = (item, &mut v) {
                        m.insert("item".into(), it.clone());
                    }
                    v
                }
                Slot::Remote { result: None, .. } => {
                    json!({"skipped": true, "changed": false, "failed": false})
                }
            })
            .collect();
        if p.task.loop_.is_none() {
            return results
                .into_iter()
                .next()
                .unwrap_or_else(|| json!({"skipped": true, "changed": false}));
        }
        let changed = results.iter().any(|r| r["changed"] == true);
        let failed = results.iter().any(|r| r["failed"] == true);
        let skipped = results.iter().all(|r| r["skipped"] == true);
        json!({"results": results, "changed": changed, "failed": failed, "skipped": skipped})
    }

    /// Records a task's result: changed_when/failed_when, register, notify, events.
    fn finish(&mut self, mut p: Pending) {
        let task = p.task.clone();
        let ran_remote = p.items.iter().any(|s| {
            matches!(
                s,
                Slot::Remote {
                    result: Some(_),
                    ..
                }
            )
        });
        let never_ran = p
            .items
            .iter()
            .any(|s| matches!(s, Slot::Remote { result: None, .. }));
        if never_ran && !ran_remote {
            return;
        }
        // changed_when / failed_when per item, with the item's result under the register name.
        if task.changed_when.is_some() || task.failed_when.is_some() {
            let loop_var = task
                .loop_
                .as_ref()
                .map(|l| l.var.clone())
                .unwrap_or_else(|| "item".into());
            for s in &mut p.items {
                if let Slot::Remote {
                    result: Some(r),
                    item,
                    ..
                } = s
                {
                    let mut facts = self.rt.facts.clone();
                    if let Some(name) = &task.register {
                        facts.insert(name.clone(), r.registered.clone());
                    }
                    let saved = std::mem::replace(&mut self.rt.facts, facts);
                    let scope = self.scope(&task, item.as_ref().map(|v| (loop_var.as_str(), v)));
                    self.rt.facts = saved;
                    if let Some(cw) = &task.changed_when {
                        match crate::vars::template::eval_condition(cw, &scope) {
                            Ok(c) => r.changed = c,
                            Err(e) => {
                                r.failed = true;
                                r.msg = Some(format!("changed_when: {cw}: {e}"));
                            }
                        }
                    }
                    if let Some(fw) = &task.failed_when {
                        match crate::vars::template::eval_condition(fw, &scope) {
                            Ok(f) => {
                                r.failed = f;
                                if f && r.msg.is_none() {
                                    r.msg = Some(format!("failed_when: {fw}"));
                                }
                            }
                            Err(e) => {
                                r.failed = true;
                                r.msg = Some(format!("failed_when: {fw}: {e}"));
                            }
                        }
                    }
                    if let Value::Object(m) = &mut r.registered {
                        m.insert("changed".into(), json!(r.changed));
                        m.insert("failed".into(), json!(r.failed));
                    }
                }
            }
        }
        let mut changed = false;
        let mut failed: Option<String> = None;
        let mut msgs = Vec::new();
        let mut diffs = Vec::new();
        let mut all_skipped = true;
        let mut facts = BTreeMap::new();
        for s in &p.items {
            match s {
                Slot::Skipped(_) => {}
                Slot::Local(r) => {
                    all_skipped = false;
                    changed |= r.changed;
                    if r.failed && failed.is_none() {
                        failed = Some(r.msg.clone().unwrap_or_else(|| "failed".into()));
                    } else if let Some(m) = &r.msg {
                        msgs.push(m.clone());
                    }
                    facts.extend(r.facts.clone());
                }
                Slot::Remote {
                    result: Some(r), ..
                } => {
                    all_skipped = false;
                    changed |= r.changed;
                    if r.failed && failed.is_none() {
                        failed = Some(r.msg.clone().unwrap_or_else(|| "failed".into()));
                    } else if let Some(m) = &r.msg {
                        msgs.push(m.clone());
                    }
                    if let Some(d) = &r.diff {
                        diffs.push(d.clone());
                    }
                }
                Slot::Remote { result: None, .. } => {}
            }
        }
        let registered = self.registered(&p);
        if let Some(name) = &task.register {
            self.rt.facts.insert(name.clone(), registered);
        }
        self.rt.facts.extend(facts);
        let msg = (!msgs.is_empty()).then(|| msgs.join("\n"));
        let diff = (!diffs.is_empty()).then(|| diffs.join("\n"));
        if let Some(why) = failed {
            self.emit_result(
                &task,
                Status::Failed,
                changed,
                p.started,
                Said {
                    error: Some(why.clone()),
                    msg,
                    diff,
                },
                task.ignore_errors,
            );
            if !task.ignore_errors {
                self.fail_host(HostState::Failed(format!(
                    "task '{}' ({}): {why}",
                    task.name, task.location
                )));
            }
            return;
        }
        if changed && !task.notify.is_empty() {
            self.rt.notified.extend(task.notify.iter().cloned());
        }
        let status = if all_skipped {
            Status::Skipped
        } else if changed {
            Status::Changed
        } else {
            Status::Ok
        };
        self.emit_result(
            &task,
            status,
            changed,
            p.started,
            Said {
                error: None,
                msg,
                diff,
            },
            false,
        );
    }

    async fn run_handlers(&mut self) {
        if self.rt.notified.is_empty() {
            return;
        }
        let mut handlers: Vec<Task> = Vec::new();
        for r in &self.play.play.roles {
            if let Some(role) = self.sh.book.roles.get(r) {
                handlers.extend(role.handlers.iter().cloned());
            }
        }
        handlers.extend(self.play.play.handlers.iter().cloned());
        let notified: BTreeSet<String> = std::mem::take(&mut self.rt.notified);
        for h in handlers {
            if !self.rt.active() {
                break;
            }
            if notified.contains(&h.name) || h.notify.iter().any(|l| notified.contains(l)) {
                let mut h = h;
                h.notify.clear();
                Box::pin(self.run_task(&h)).await;
            }
        }
        self.flush().await;
    }
}
