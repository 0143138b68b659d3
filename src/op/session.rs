//! The common path of every playbook operation: load the playbook once, load the
//! inventory, build the cluster over the defaults, take the lock, read the record, run
//! the operation's preflight, build the plan; then execute it with the human stream and
//! `--output` sinks, and apply the operation's record policy.

use super::output::Outputs;
use super::{exit, print_diagnostics, OpError, Operation};
use crate::cli::{InventoryArgs, SelectArgs, SshArgs};
use crate::cluster::{Cluster, Render};
use crate::plan::{Plan, PlanOptions};
use crate::report::events::Event;
use crate::run::{HostState, RunOptions, RunSummary};
use crate::state::{self, Lock, Record, RecordPolicy};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A plan ready to run, with what was checked on the way.
pub struct Prepared {
    /// The cluster.
    pub cluster: Cluster,
    /// The plan.
    pub plan: Plan,
    /// The record as it was before the run.
    pub record: Record,
    /// The lock, held until the record is written (None for check runs and
    /// operations that write nothing).
    pub lock: Option<Lock>,
}

/// Loads, checks and plans; nothing is contacted. `check` runs take no lock.
pub fn prepare(
    op: &dyn Operation,
    inv: &InventoryArgs,
    playbook: &Path,
    select: &SelectArgs,
    check: bool,
) -> Result<Prepared, OpError> {
    let book = crate::playbook::load(playbook)?;
    let mut inventory = super::inventory::load_inventory(inv)?;
    let defaults = crate::defaults::with_roles(
        crate::defaults::builtin()?,
        crate::plan::role_defaults(&book),
    );
    let lock = if check || op.record_policy() == RecordPolicy::Nothing {
        None
    } else {
        let lock =
            state::lock::acquire(&inventory.dir, op.name()).map_err(state::StateError::from)?;
        if let Some(stale) = &lock.took_over {
            eprintln!(
                "warning: a stale lock was left by {stale}, which is no longer running (killed or crashed); taking it over\n"
            );
        }
        Some(lock)
    };
    let record = state::load(&inventory.dir)?;
    // etcd members the record does not know, while it knows others, join the running
    // cluster (member add, initial-cluster-state existing) instead of founding one.
    let recorded_etcd = record.with_role("etcd");
    let joining: Vec<String> = if recorded_etcd.is_empty() {
        Vec::new()
    } else {
        inventory
            .members("etcd")
            .into_iter()
            .filter(|h| !record.hosts.contains_key(h))
            .collect()
    };
    inventory.add_group("kubeforge_etcd_joining", &joining);
    op.shape(&mut inventory, &record)?;
    let anchors = op.anchors(&record);
    let mut cluster = Cluster::build_anchored(inventory, &defaults, Render::Lazy, &anchors);
    let mut diags = crate::validate::validate(&cluster);
    diags.extend(state::compare(&cluster, &record));
    diags.extend(op.preflight(&cluster, &record));
    if diags.iter().any(|d| d.is_error()) {
        return Err(OpError::Refused {
            diagnostics: diags,
            summary: "the inventory has errors; nothing was run (see `kubeforge inventory check`)"
                .into(),
            exit: exit::INVALID,
        });
    }
    print_diagnostics(&diags);
    let derived = op.derive(&cluster, &record);
    if !derived.is_empty() {
        let mut inventory = (*cluster.inventory).clone();
        let origin = crate::diagnostic::Location::new(format!("kubeforge {}", op.name()), 0);
        for (k, value) in derived {
            inventory.extra.insert(
                k,
                crate::inventory::Var {
                    value,
                    origin: origin.clone(),
                },
            );
        }
        cluster = Cluster::build_anchored(inventory, &defaults, Render::Lazy, &anchors);
    }
    let opts = PlanOptions {
        limit: select.limit.clone(),
        tags: select.tags.clone(),
        skip_tags: select.skip_tags.clone(),
    };
    let plan = crate::plan::build(&cluster, &book, &opts).map_err(|e| OpError::Refused {
        summary: format!("{e}; nothing was run"),
        diagnostics: e.0,
        exit: exit::INVALID,
    })?;
    print_diagnostics(&plan.warnings);
    Ok(Prepared {
        cluster,
        plan,
        record,
        lock,
    })
}

/// How to run a prepared plan.
pub struct RunSettings<'a> {
    /// Probe only.
    pub check: bool,
    /// Diffs of file contents.
    pub diff: bool,
    /// Hosts at once (None: all).
    pub forks: Option<usize>,
    /// Default step limit in seconds.
    pub timeout: u64,
    /// `--output` flags.
    pub outputs: &'a [String],
    /// SSH settings.
    pub ssh: &'a SshArgs,
    /// The playbook (its directory resolves relative `src`).
    pub playbook: &'a Path,
    /// Keep the events (health builds its table from them) and keep the human stream
    /// off stdout unless JSON is asked for.
    pub collect: bool,
    /// On a terminal, print `ok` and `skipped` results too (they are always in the
    /// stream without a terminal).
    pub verbose: bool,
}

/// What a run gave.
pub struct Ran {
    /// The runner's summary.
    pub summary: RunSummary,
    /// The events, when collected.
    pub events: Vec<Event>,
    /// Node marks set (true) or cleared: (node, mark, set).
    pub marks: Vec<(String, String, bool)>,
}

impl Ran {
    /// The exit code.
    pub fn exit_code(&self) -> u8 {
        self.summary.exit_code()
    }

    /// Hosts that completed every step.
    pub fn completed(&self) -> Vec<String> {
        self.summary
            .states
            .iter()
            .filter(|(_, s)| matches!(s, HostState::Active))
            .map(|(h, _)| h.clone())
            .collect()
    }
}

/// Runs a prepared plan; prints the human stream, writes `--output` sinks, then applies
/// the operation's record policy (not after check mode or an interrupted run).
pub fn execute(op: &dyn Operation, prepared: Prepared, s: &RunSettings) -> Result<Ran, OpError> {
    let outputs = Outputs::parse(s.outputs)?;
    let mut sinks = outputs.sinks()?;
    let Prepared {
        cluster,
        plan,
        lock,
        ..
    } = prepared;
    let forks = s.forks.unwrap_or(cluster.hosts.len()).max(1);
    let opts = RunOptions {
        check: s.check,
        diff: s.diff,
        forks,
        default_timeout: s.timeout.max(1),
        cache_dir: super::cache_dir(),
        playbook_dir: s
            .playbook
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let connector = super::connect::connector(super::connect::options(s.ssh, &cluster));
    let record_for =
        (!s.check && op.record_policy() != RecordPolicy::Nothing).then(|| cluster.clone());
    let playbook_name = crate::inventory::display_path(s.playbook);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| OpError::Io {
            what: "cannot start the runtime".into(),
            source,
        })?;
    let collect = s.collect;
    let verbose = s.verbose;
    // What the progress line counts: each play's results per host (one per task; a
    // `meta: flush_handlers` gives none of its own).
    let shapes: Vec<crate::report::human::PlayShape> = plan
        .plays
        .iter()
        .map(|p| crate::report::human::PlayShape {
            name: p.play.name.clone(),
            steps: p
                .tasks
                .iter()
                .filter(|t| {
                    !(t.task.module == "meta"
                        && t.task.args.get("action").and_then(|a| a.as_str())
                            == Some("flush_handlers"))
                })
                .count() as u64,
        })
        .collect();
    let quiet_human = collect && !outputs.json_stdout;
    let human_to_stderr = outputs.human_to_stderr();
    let ran = runtime.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let interrupted = Arc::new(AtomicBool::new(false));
        let flag = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: finishing running steps, starting no new ones");
                flag.store(true, Ordering::SeqCst);
            }
        });
        let printer = tokio::task::spawn_blocking(move || {
            use std::io::IsTerminal;
            let to_stderr = human_to_stderr || quiet_human;
            let (out, tty): (Box<dyn std::io::Write + Send>, bool) = if to_stderr {
                (Box::new(std::io::stderr()), std::io::stderr().is_terminal())
            } else {
                (Box::new(std::io::stdout()), std::io::stdout().is_terminal())
            };
            let mut human =
                crate::report::human::Human::with_progress(out, tty, !to_stderr, shapes, verbose);
            let mut kept = Vec::new();
            let mut marks = Vec::new();
            while let Some(ev) = rx.blocking_recv() {
                human.event(&ev);
                sinks.event(&ev);
                if let Event::Mark {
                    node, mark, set, ..
                } = &ev
                {
                    marks.push((node.clone(), mark.clone(), *set));
                }
                if collect {
                    kept.push(ev);
                }
            }
            sinks.finish();
            (kept, marks)
        });
        let summary = crate::run::run(cluster, plan, opts, connector, tx, interrupted).await;
        let (events, marks) = printer.await.unwrap_or_default();
        Ran {
            summary,
            events,
            marks,
        }
    });
    if let (Some(c), Some(_lock)) = (&record_for, &lock) {
        // Marks are kept even when the run was interrupted: the next run must still
        // know which cordons are kubeforge's.
        let write = state::load(&c.inventory.dir).map(|mut rec| {
            state::update_marks(&mut rec, &ran.marks, op.name());
            if !ran.summary.interrupted {
                op.finish_record(c, &ran, &playbook_name, &mut rec);
            }
            rec
        });
        if let Err(e) = write.and_then(|rec| state::save(&c.inventory.dir, &rec)) {
            eprintln!("warning: {e}");
        }
    }
    drop(lock);
    Ok(ran)
}

/// A successful run's exit code, or 130 when interrupted.
pub fn code_of(ran: &Ran) -> u8 {
    if ran.summary.interrupted {
        exit::INTERRUPTED
    } else {
        ran.exit_code()
    }
}
