//! What can go wrong in a lab, each with what was being done.

use std::path::PathBuf;
use thiserror::Error;

/// A lab command's failure.
#[derive(Debug, Error)]
pub enum LabError {
    /// Not run as root.
    #[error("kubeforge lab {0} must run as root (it creates network namespaces, a bridge and systemd-nspawn hosts); run it with sudo")]
    NotRoot(String),
    /// A tool is missing and cannot be installed here.
    #[error("{tool} is missing (package {package}) and apt-get is not available; install it with: {install}")]
    MissingTool {
        /// The command looked for.
        tool: String,
        /// The Debian package that has it.
        package: String,
        /// The command a person would run.
        install: String,
    },
    /// A flag or name that cannot work.
    #[error("{0}")]
    Usage(String),
    /// No record of that lab.
    #[error(
        "no lab named '{name}' (no record at {record}); `kubeforge lab status` lists the labs"
    )]
    NoSuchLab {
        /// The lab's name.
        name: String,
        /// Where its record would be.
        record: PathBuf,
    },
    /// An external command failed.
    #[error("{command}: exited with {code}{}", tail(.stderr))]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        code: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// An external command ran past its deadline and was killed.
    #[error("{command}: no answer within {secs} s (killed)")]
    Timeout {
        /// The command line.
        command: String,
        /// The deadline.
        secs: u64,
    },
    /// A local file or directory.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The lab's record cannot be read or written.
    #[error("lab record {}: {message}", path.display())]
    Record {
        /// The record file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A host did not come up (or stop) as it should.
    #[error("{host}: {message}")]
    Host {
        /// The host.
        host: String,
        /// What happened, with the end of its console log.
        message: String,
    },
    /// Another kubeforge holds the lab's lock.
    #[error("lab '{0}' is busy: another `kubeforge lab` command holds its lock")]
    Busy(String),
}

fn tail(stderr: &str) -> String {
    let t = stderr.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!(": {t}")
    }
}

impl LabError {
    /// An I/O error with what was being done and where.
    pub fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> LabError {
        let path = path.into();
        move |source| LabError::Io { what, path, source }
    }
}
