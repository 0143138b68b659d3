//! The runner on the local transport, without the command line: a harness that builds a
//! cluster and a plan from inline text and runs them, counting the sessions each host
//! gets. Each concern of the runner has its tests here or in its own file.

use super::{run, Connector, RunOptions, RunSummary};
use crate::cluster::{Cluster, Render};
use crate::inventory::Inventory;
use crate::plan::PlanOptions;
use crate::report::events::{Event, Status};
use crate::transport::local::Local;
use crate::transport::{BoxFuture, ExecOutput, ExecRequest, Transport, TransportError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// Local execution that counts sessions (exec calls) per host.
struct Counting {
    host: String,
    counts: Arc<Mutex<BTreeMap<String, usize>>>,
    fault: Option<Fault>,
}

/// Damage done to a session's output before the runner reads it (a DOUBLE of a broken
/// connection or a corrupting relay).
pub(crate) type Fault = fn(ExecOutput) -> ExecOutput;

impl Transport for Counting {
    fn exec(&self, req: ExecRequest) -> BoxFuture<'_, Result<ExecOutput, TransportError>> {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(self.host.clone()).or_default() += 1;
        }
        let fault = self.fault;
        Box::pin(async move {
            let out = Local.exec(req).await?;
            Ok(match fault {
                Some(f) => f(out),
                None => out,
            })
        })
    }
    fn upload<'a>(
        &'a self,
        local: &'a Path,
        remote: &'a str,
        mode: u32,
        become_: &'a crate::transport::Become,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        Local.upload(local, remote, mode, become_)
    }
    fn close(&self) -> BoxFuture<'_, ()> {
        Local.close()
    }
}

/// A finished run.
pub(crate) struct Done {
    pub summary: RunSummary,
    pub events: Vec<Event>,
    pub sessions: BTreeMap<String, usize>,
}

impl Done {
    /// Status of `task` on `host`.
    pub fn status(&self, host: &str, task: &str) -> Option<Status> {
        self.events.iter().find_map(|e| match e {
            Event::StepResult {
                host: h,
                task: t,
                status,
                ..
            } if h == host && t == task => Some(*status),
            _ => None,
        })
    }
    /// Number of steps reported changed on `host`.
    pub fn changed(&self, host: &str) -> u32 {
        self.summary.counts.get(host).map_or(0, |c| c.changed)
    }
}

/// A temp directory with `hosts.yaml` (local hosts h1..hN in `groups`) and a playbook.
pub(crate) struct Lab {
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// Hosts `(name, group)`; every host gets `root` = the temp directory.
    pub fn new(hosts: &[(&str, &str)], playbook: &str) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let mut inv = format!(
            "all:\n  vars:\n    ansible_connection: local\n    root: {}\n  children:\n",
            dir.path().display()
        );
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (h, g) in hosts {
            groups.entry(g).or_default().push(h);
        }
        for (g, hs) in groups {
            inv.push_str(&format!("    {g}:\n      hosts:\n"));
            for (i, h) in hs.iter().enumerate() {
                inv.push_str(&format!("        {h}: {{ip: 127.0.0.{}}}\n", 10 + i));
            }
        }
        std::fs::write(dir.path().join("hosts.yaml"), inv).unwrap();
        std::fs::write(dir.path().join("play.yml"), playbook).unwrap();
        Lab { dir }
    }

    /// The path of a file in the lab directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Plans and runs the playbook.
    pub fn run(&self, check: bool) -> Done {
        self.run_via(check, None)
    }

    /// As `run`, with every session's output passed through `fault` (a transport
    /// DOUBLE: damage the real program cannot be made to show).
    pub fn run_via(&self, check: bool, fault: Option<Fault>) -> Done {
        let book = crate::playbook::load(&self.path("play.yml")).unwrap();
        let inv = Inventory::load(&self.path("hosts.yaml"), &[]).unwrap();
        let defaults = crate::defaults::with_roles(
            crate::defaults::builtin().unwrap(),
            crate::plan::role_defaults(&book),
        );
        let cluster = Cluster::build_with(inv, &defaults, Render::Lazy);
        let plan = crate::plan::build(&cluster, &book, &PlanOptions::default()).unwrap();
        let counts: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
        let c2 = counts.clone();
        let connector: Connector = Arc::new(move |h| {
            let t: Arc<dyn Transport> = Arc::new(Counting {
                host: h.name.clone(),
                counts: c2.clone(),
                fault,
            });
            Box::pin(async move { Ok(t) })
        });
        let opts = RunOptions {
            check,
            diff: false,
            forks: 10,
            default_timeout: 60,
            cache_dir: self.path("cache"),
            playbook_dir: self.dir.path().to_path_buf(),
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let summary = rt.block_on(run(
            cluster,
            plan,
            opts,
            connector,
            tx,
            Arc::new(AtomicBool::new(false)),
        ));
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        let sessions = counts.lock().unwrap().clone();
        Done {
            summary,
            events,
            sessions,
        }
    }
}

#[test]
fn a_module_registered_only_in_the_table_runs_end_to_end() {
    // test_marker exists only in the module table (cfg(test)); nothing in the runner
    // names it.
    let lab = Lab::new(
        &[("h1", "kube_node")],
        "- hosts: all\n  tasks:\n    - name: mark\n      test_marker: {path: \"{{ root }}/marker\", text: hello}\n",
    );
    let first = lab.run(false);
    assert_eq!(first.summary.exit_code(), 0, "{:?}", first.events);
    assert_eq!(first.status("h1", "mark"), Some(Status::Changed));
    assert_eq!(
        std::fs::read_to_string(lab.path("marker")).unwrap(),
        "hello\n"
    );
    let second = lab.run(false);
    assert_eq!(second.status("h1", "mark"), Some(Status::Ok));
}

#[test]
fn consecutive_steps_travel_in_one_session_per_host() {
    let mut book = String::from("- hosts: all\n  tasks:\n");
    for i in 0..12 {
        book.push_str(&format!(
            "    - name: file {i}\n      copy: {{dest: \"{{{{ root }}}}/{{{{ inventory_hostname }}}}-{i}\", content: \"{i}\\n\"}}\n"
        ));
    }
    let lab = Lab::new(&[("h1", "kube_node"), ("h2", "kube_node")], &book);
    let cold = lab.run(false);
    assert_eq!(cold.changed("h1"), 12);
    assert_eq!(cold.sessions.get("h1"), Some(&1), "{:?}", cold.sessions);
    let warm = lab.run(false);
    assert_eq!(warm.changed("h1"), 0);
    assert_eq!(warm.sessions.get("h2"), Some(&1), "{:?}", warm.sessions);
}

#[test]
fn fetch_brings_a_file_back_in_chunks_and_checks_it() {
    let lab = Lab::new(
        &[("h1", "kube_node")],
        "- hosts: all\n  tasks:\n    - name: back\n      fetch: {src: \"{{ root }}/big.bin\", dest: \"{{ root }}/copies/big.bin\"}\n",
    );
    // Over one chunk (8 MiB) and not a multiple of it.
    let data: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(lab.path("big.bin"), &data).unwrap();
    let first = lab.run(false);
    assert_eq!(
        first.status("h1", "back"),
        Some(Status::Changed),
        "{:?}",
        first.events
    );
    assert_eq!(std::fs::read(lab.path("copies/big.bin")).unwrap(), data);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(lab.path("copies/big.bin"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let second = lab.run(false);
    assert_eq!(second.status("h1", "back"), Some(Status::Ok));
    let check = lab.run(true);
    assert_eq!(check.status("h1", "back"), Some(Status::Ok));
}
