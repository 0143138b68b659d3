//! The runner: plays as a DAG (a play waits for the plays it needs), hosts of a play
//! concurrently (bounded by forks), each host's steps in order, sent in batches of one
//! round trip. run_once/delegate_to tasks are barriers across the play's hosts. A host
//! that fails or cannot be reached leaves the run with its reason stated.

pub mod batch;
mod become_as;
mod blocks;
mod facts;
mod fetch;
mod fold;
#[cfg(test)]
mod integrity_tests;
pub mod outcome;
mod play;
mod pull;
mod queue;
mod refs;
mod scope;
#[cfg(test)]
pub(crate) mod tests;
mod worker;

pub use facts::FACT_NAMES;

use crate::cluster::{Cluster, ClusterHost};
use crate::plan::{Plan, PlannedPlay};
use crate::report::events::{Counts, Event};
use crate::transport::{BoxFuture, Transport, TransportError};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Mutex, OnceCell, Semaphore};

/// Opens a connection to a host.
pub type Connector = Arc<
    dyn Fn(ClusterHost) -> BoxFuture<'static, Result<Arc<dyn Transport>, TransportError>>
        + Send
        + Sync,
>;

type ConnResult = Result<Arc<dyn Transport>, TransportError>;

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Probe only; change nothing.
    pub check: bool,
    /// Show diffs of file contents.
    pub diff: bool,
    /// Hosts working at once.
    pub forks: usize,
    /// Seconds a remote command may take unless the task says otherwise.
    pub default_timeout: u64,
    /// Controller-side download cache.
    pub cache_dir: PathBuf,
    /// The playbook's directory.
    pub playbook_dir: PathBuf,
}

/// Where a host stands.
#[derive(Debug, Clone, PartialEq)]
pub enum HostState {
    /// Still running.
    Active,
    /// A task failed.
    Failed(String),
    /// Could not be reached.
    Unreachable(String),
    /// Stopped because of another host (any_errors_fatal, max_fail_percentage) or Ctrl-C.
    Stopped(String),
}

/// A host's state during the run.
#[derive(Debug, Default)]
pub(crate) struct HostRt {
    pub facts: BTreeMap<String, Value>,
    pub gathered: bool,
    pub notified: BTreeSet<String>,
    /// Check mode: paths earlier steps would have created (present-to-be for probes).
    pub would: BTreeSet<String>,
    /// A failure a block is handling (rescue/always to come).
    pub failing: Option<blocks::Failing>,
    /// Failures a rescue handled.
    pub rescued: u32,
    /// Plays (by index) this host left with `meta: end_host`.
    pub ended: BTreeSet<usize>,
    pub state: Option<HostState>,
    pub counts: Counts,
}

impl HostRt {
    pub fn active(&self) -> bool {
        self.state.is_none()
    }
}

pub(crate) struct Shared {
    /// When the run began (event times are relative to it).
    pub began: Instant,
    pub cluster: Cluster,
    pub role_dirs: BTreeMap<String, PathBuf>,
    pub opts: RunOptions,
    pub connector: Connector,
    pub events: mpsc::UnboundedSender<Event>,
    pub hosts: BTreeMap<String, Mutex<HostRt>>,
    pub conns: BTreeMap<String, OnceCell<ConnResult>>,
    pub forks: Semaphore,
    pub interrupted: Arc<AtomicBool>,
    pub started: std::sync::Mutex<HashSet<(usize, usize)>>,
    /// Batches running now: (host the script runs on, nonce, become).
    pub inflight: std::sync::Mutex<Vec<(String, String, crate::transport::Become)>>,
    /// `throttle:` semaphores by (play, task).
    pub throttles: std::sync::Mutex<std::collections::HashMap<(usize, usize), Arc<Semaphore>>>,
    /// The variables each task reads, worked out once for all hosts (by location and
    /// name).
    pub refs: std::sync::Mutex<std::collections::HashMap<String, Arc<HashSet<String>>>>,
}

impl Shared {
    pub fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    pub async fn connection(&self, host: &str) -> Result<Arc<dyn Transport>, TransportError> {
        let Some(cell) = self.conns.get(host) else {
            return Err(TransportError::Other(format!(
                "no host named {host} in the inventory"
            )));
        };
        let Some(ch) = self.cluster.host(host).cloned() else {
            return Err(TransportError::Other(format!(
                "no host named {host} in the inventory"
            )));
        };
        cell.get_or_init(|| (self.connector)(ch)).await.clone()
    }

    /// The variables `task` reads (see `refs`), shared by every host.
    pub fn refs(&self, task: &crate::playbook::Task) -> Arc<HashSet<String>> {
        let key = format!("{}{}", task.location, task.name);
        if let Some(r) = self.refs.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return r;
        }
        let r = Arc::new(refs::referenced(task));
        if let Ok(mut m) = self.refs.lock() {
            m.insert(key, r.clone());
        }
        r
    }

    /// The semaphore bounding a throttled task across hosts.
    pub fn throttle(&self, play: usize, task: usize, limit: usize) -> Arc<Semaphore> {
        match self.throttles.lock() {
            Ok(mut m) => m
                .entry((play, task))
                .or_insert_with(|| Arc::new(Semaphore::new(limit.max(1))))
                .clone(),
            Err(_) => Arc::new(Semaphore::new(limit.max(1))),
        }
    }

    pub async fn stop_host(&self, host: &str, state: HostState) {
        if let Some(m) = self.hosts.get(host) {
            let mut rt = m.lock().await;
            mark_stopped(&mut rt, host, state, &self.events);
        }
    }
}

/// Takes an active host out of the run with its reason (no-op if already out).
pub(crate) fn mark_stopped(
    rt: &mut HostRt,
    host: &str,
    state: HostState,
    events: &mpsc::UnboundedSender<Event>,
) {
    if !rt.active() {
        return;
    }
    let reason = match &state {
        HostState::Failed(r) => format!("failed: {r}"),
        HostState::Unreachable(r) => format!("unreachable: {r}"),
        HostState::Stopped(r) => r.clone(),
        HostState::Active => String::new(),
    };
    if matches!(state, HostState::Unreachable(_)) {
        rt.counts.unreachable = 1;
    }
    rt.state = Some(state);
    let _ = events.send(Event::HostStopped {
        host: host.to_string(),
        reason,
    });
}

/// Why the run must stop after `play`: it had hosts and none of them is still active.
async fn no_hosts_left(sh: &Shared, play: &PlannedPlay) -> Option<String> {
    if play.hosts.is_empty() || play.tasks.is_empty() {
        return None;
    }
    for h in &play.hosts {
        if let Some(m) = sh.hosts.get(h) {
            if m.lock().await.active() {
                return None;
            }
        }
    }
    Some(format!(
        "play '{}' ended with no host left; the run stops (later plays are not started)",
        play.play.name
    ))
}

/// The run's result.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Counts per host.
    pub counts: BTreeMap<String, Counts>,
    /// How each host ended.
    pub states: BTreeMap<String, HostState>,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// Wall time.
    pub duration_ms: u64,
}

impl RunSummary {
    /// 0 all ok, 2 a host failed, 3 a host unreachable, 130 interrupted.
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            130
        } else if self
            .states
            .values()
            .any(|s| matches!(s, HostState::Failed(_)))
        {
            2
        } else if self
            .states
            .values()
            .any(|s| matches!(s, HostState::Unreachable(_)))
        {
            3
        } else {
            0
        }
    }
}

/// Runs a plan. Events go to `events`; `interrupted` is set by the caller on Ctrl-C.
pub async fn run(
    cluster: Cluster,
    plan: Plan,
    opts: RunOptions,
    connector: Connector,
    events: mpsc::UnboundedSender<Event>,
    interrupted: Arc<AtomicBool>,
) -> RunSummary {
    let started = Instant::now();
    let mut in_run: Vec<String> = plan
        .plays
        .iter()
        .flat_map(|p| p.hosts.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    in_run.sort_by(|a, b| crate::diagnostic::natural_cmp(a, b));
    let hosts = in_run
        .iter()
        .map(|h| (h.clone(), Mutex::new(HostRt::default())))
        .collect();
    let conns = cluster
        .hosts
        .iter()
        .map(|h| (h.name.clone(), OnceCell::new()))
        .collect();
    let forks = opts.forks.max(1);
    let _ = events.send(Event::RunStart {
        playbook: crate::inventory::display_path(&plan.playbook),
        hosts: in_run.clone(),
        check: opts.check,
    });
    let shared = Arc::new(Shared {
        began: started,
        cluster,
        role_dirs: plan.role_dirs,
        opts,
        connector,
        events,
        hosts,
        conns,
        forks: Semaphore::new(forks),
        interrupted,
        started: std::sync::Mutex::new(HashSet::new()),
        inflight: std::sync::Mutex::new(Vec::new()),
        throttles: std::sync::Mutex::new(std::collections::HashMap::new()),
        refs: std::sync::Mutex::new(std::collections::HashMap::new()),
    });
    // On Ctrl-C, tell every running batch to start no further step.
    let watcher = {
        let sh = shared.clone();
        tokio::spawn(async move {
            while !sh.interrupted.load(Ordering::SeqCst) {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let running: Vec<(String, String, crate::transport::Become)> =
                sh.inflight.lock().map(|v| v.clone()).unwrap_or_default();
            for (host, nonce, become_) in running {
                if let Ok(conn) = sh.connection(&host).await {
                    let _ = conn
                        .exec(crate::transport::ExecRequest {
                            script: format!("touch {}", batch::stop_path(&nonce)),
                            become_,
                            timeout: std::time::Duration::from_secs(10),
                        })
                        .await;
                }
            }
        })
    };
    let plays: Vec<Arc<PlannedPlay>> = plan.plays.into_iter().map(Arc::new).collect();
    let mut done = vec![false; plays.len()];
    let mut launched = vec![false; plays.len()];
    let mut set = tokio::task::JoinSet::new();
    loop {
        for (i, p) in plays.iter().enumerate() {
            if !launched[i] && p.deps.iter().all(|d| done[*d]) {
                launched[i] = true;
                let sh = shared.clone();
                let p = p.clone();
                set.spawn(async move {
                    play::run_play(sh, p).await;
                    i
                });
            }
        }
        match set.join_next().await {
            Some(Ok(i)) => {
                done[i] = true;
                // As Ansible: a play that had hosts and ended with none left stops the
                // run (later plays would act on a cluster in an unknown state).
                if let Some(why) = no_hosts_left(&shared, &plays[i]).await {
                    for (j, l) in launched.iter_mut().enumerate() {
                        if !*l {
                            *l = true;
                            done[j] = true;
                        }
                    }
                    for h in shared.hosts.keys() {
                        shared.stop_host(h, HostState::Stopped(why.clone())).await;
                    }
                }
            }
            Some(Err(e)) => {
                // A panicking play task is a bug; record it rather than hang.
                tracing::error!("play task ended abnormally: {e}");
                for (i, l) in launched.iter().enumerate() {
                    if *l {
                        done[i] = true;
                    }
                }
            }
            None => break,
        }
    }
    watcher.abort();
    let interrupted = shared.interrupted.load(Ordering::SeqCst);
    let mut counts = BTreeMap::new();
    let mut states = BTreeMap::new();
    for (h, m) in &shared.hosts {
        let rt = m.lock().await;
        let mut c = rt.counts;
        c.rescued = rt.rescued;
        counts.insert(h.clone(), c);
        states.insert(h.clone(), rt.state.clone().unwrap_or(HostState::Active));
    }
    for cell in shared.conns.values() {
        if let Some(Ok(c)) = cell.get() {
            c.close().await;
        }
    }
    let summary = RunSummary {
        counts,
        states,
        interrupted,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    shared.emit(Event::Recap {
        hosts: summary.counts.clone(),
        duration_ms: summary.duration_ms,
        exit_code: summary.exit_code(),
        interrupted,
    });
    summary
}
