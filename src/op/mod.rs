//! Operations: what the command line asks for. Each is one type (or function) that
//! owns its preflight (checks against the inventory and the last-applied record before
//! any connection) and its record policy (what it writes to the record afterwards).
//! The pipeline below them (inventory -> cluster -> plan -> run) knows nothing of them.

pub mod connect;
pub mod etcd;
pub mod health;
pub mod init;
pub mod inventory;
pub mod jump;
pub mod kubeconfig;
pub mod lab;
pub mod offline;
mod output;
pub mod plan;
pub mod playbook;
mod reach;
pub mod remove_node;
pub mod reset;
pub mod scale;
mod session;
pub mod upgrade;

use crate::cluster::Cluster;
use crate::diagnostic::Diagnostic;
use crate::state::{Record, RecordPolicy};

pub use session::{execute, prepare, Prepared, Ran, RunSettings};

/// Exit codes (the README's table).
pub mod exit {
    /// Every host ok.
    pub const OK: u8 = 0;
    /// `inventory check`/`show`/`offline list` found errors.
    pub const CHECK_FAILED: u8 = 1;
    /// A host failed (or a health check).
    pub const FAILED: u8 = 2;
    /// A host could not be reached (and none failed).
    pub const UNREACHABLE: u8 = 3;
    /// Invalid input (inventory, playbook, flags, record, lock): nothing was contacted.
    pub const INVALID: u8 = 4;
    /// Interrupted (Ctrl-C).
    pub const INTERRUPTED: u8 = 130;
}

/// An operation on the cluster: its name, its preflight and its record policy.
pub trait Operation {
    /// The name in the record and the lock (install, reset, scale...).
    fn name(&self) -> &'static str;
    /// Problems that refuse the run before any connection (errors), or that the
    /// operator should know of (warnings).
    fn preflight(&self, _cluster: &Cluster, _record: &Record) -> Vec<Diagnostic> {
        Vec::new()
    }
    /// What the record gets afterwards.
    fn record_policy(&self) -> RecordPolicy;
    /// Shapes the inventory before the cluster is built: groups made for this run
    /// (`kubeforge_new`, ...) and variables for its playbook. May refuse.
    fn shape(
        &self,
        _inv: &mut crate::inventory::Inventory,
        _record: &Record,
    ) -> Result<(), OpError> {
        Ok(())
    }
    /// Variables for the playbook that need the built cluster and the record (the
    /// cluster is built again with them). Runs after a preflight without errors.
    fn derive(&self, _cluster: &Cluster, _record: &Record) -> Vec<(String, serde_json::Value)> {
        Vec::new()
    }
    /// The anchors (first control plane, acting etcd member) this run starts from.
    fn anchors(&self, record: &Record) -> crate::cluster::Anchors {
        record.anchors()
    }
    /// Writes the run's outcome into the record (under the lock). The default applies
    /// `record_policy` to the hosts the run completed on.
    fn finish_record(
        &self,
        cluster: &Cluster,
        ran: &session::Ran,
        playbook: &str,
        rec: &mut Record,
    ) {
        crate::state::update(
            rec,
            cluster,
            self.record_policy(),
            &ran.completed(),
            self.name(),
            playbook,
        );
    }
}

/// Why an operation stopped before (or instead of) running.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The inventory cannot be loaded (a run: exit 4).
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    /// The inventory cannot be loaded (inventory/offline commands: exit 1).
    #[error(transparent)]
    InventoryCheck(crate::inventory::InventoryError),
    /// The playbook or a role has an error.
    #[error(transparent)]
    Playbook(#[from] crate::playbook::PlaybookError),
    /// The record or its lock.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// Refused before anything ran: the problems, then why.
    #[error("{summary}")]
    Refused {
        /// Every problem (and warning) found.
        diagnostics: Vec<Diagnostic>,
        /// One line: what was refused.
        summary: String,
        /// The exit code (4, or 1 for check commands).
        exit: u8,
    },
    /// A flag or argument that cannot work.
    #[error("{0}")]
    Usage(String),
    /// A local file or the runtime.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A `kubeforge lab` command failed.
    #[error(transparent)]
    Lab(#[from] crate::lab::LabError),
    /// A host-side failure outside a playbook run (kubeconfig).
    #[error("{host}: {message}")]
    Host {
        /// The host.
        host: String,
        /// What happened.
        message: String,
        /// Unreachable (exit 3) rather than failed (exit 2).
        unreachable: bool,
    },
}

impl OpError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            OpError::InventoryCheck(_) => exit::CHECK_FAILED,
            OpError::Refused { exit, .. } => *exit,
            OpError::Lab(e) => match e {
                crate::lab::LabError::Usage(_)
                | crate::lab::LabError::NoSuchLab { .. }
                | crate::lab::LabError::NotRoot(_) => exit::INVALID,
                _ => exit::FAILED,
            },
            OpError::Host { unreachable, .. } => {
                if *unreachable {
                    exit::UNREACHABLE
                } else {
                    exit::FAILED
                }
            }
            _ => exit::INVALID,
        }
    }
}

/// Prints diagnostics (warnings and errors) to stderr, one block each.
pub fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}\n");
    }
}

/// The controller-side download cache.
pub fn cache_dir() -> std::path::PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("kubeforge")
}
