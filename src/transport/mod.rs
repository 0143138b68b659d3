//! How commands reach a host: a trait with two implementations, SSH (russh, one
//! persistent connection per host) and local (this machine, for tests and
//! `ansible_connection: local`). The transport knows nothing of roles or tasks.

pub mod admission;
mod channel;
pub mod dial;
pub mod greeting;
pub mod known_hosts;
pub mod local;
pub mod ssh;
pub mod ssh_config;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future (the trait is used as `dyn Transport`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One remote command: a POSIX shell script fed to `sh -s` on stdin.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// The script.
    pub script: String,
    /// Run it through `sudo -n` (never prompts: a password prompt is an error).
    pub become_: bool,
    /// Deadline for the whole command; past it the process is killed.
    pub timeout: Duration,
}

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecOutput {
    /// Exit status (None: killed by a signal or the channel closed without one).
    pub exit_code: Option<u32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// The signal that ended the command, when the transport knows it (e.g. "SIGKILL").
    pub signal: Option<String>,
}

/// A signal's name from its number (the common ones; others by number).
pub fn signal_name(n: i32) -> String {
    let name = match n {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => return format!("signal {n}"),
    };
    name.to_string()
}

/// Why a transport operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransportError {
    /// The host cannot be reached (connect, handshake, or the connection dropped).
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The host presented a key that is not the recorded one, or an unknown key.
    #[error("host key refused: {0}")]
    HostKey(String),
    /// No accepted credentials.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The command did not finish in time and was killed.
    #[error("timed out after {0} s; the remote process was killed")]
    Timeout(u64),
    /// sudo asked for a password.
    #[error("sudo needs a password on this host; kubeforge never prompts: allow passwordless sudo for the user, or log in as root")]
    SudoPassword,
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl TransportError {
    /// True when the host should be reported unreachable rather than failed.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            TransportError::Unreachable(_) | TransportError::HostKey(_) | TransportError::Auth(_)
        )
    }
}

/// A connection to one host.
pub trait Transport: Send + Sync {
    /// Runs a script and collects its output.
    fn exec(&self, req: ExecRequest) -> BoxFuture<'_, Result<ExecOutput, TransportError>>;
    /// Streams a local file to `remote` atomically (temp file in the same directory,
    /// then rename), with `mode`.
    fn upload<'a>(
        &'a self,
        local: &'a Path,
        remote: &'a str,
        mode: u32,
        become_: bool,
    ) -> BoxFuture<'a, Result<(), TransportError>>;
    /// Closes the connection.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// The remote command that runs a script from stdin.
pub fn shell_command(become_: bool) -> String {
    if become_ {
        "if [ \"$(id -u)\" = 0 ]; then exec sh -s; else exec sudo -n -- sh -s; fi".to_string()
    } else {
        "sh -s".to_string()
    }
}

/// A finished command, or the sudo-wants-a-password error it really is.
pub fn check_sudo(out: ExecOutput, become_: bool) -> Result<ExecOutput, TransportError> {
    if become_ && out.exit_code != Some(0) && sudo_wants_password(&out.stderr) {
        Err(TransportError::SudoPassword)
    } else {
        Ok(out)
    }
}

/// True when stderr shows sudo wanted a password.
pub fn sudo_wants_password(stderr: &[u8]) -> bool {
    let s = String::from_utf8_lossy(stderr);
    s.contains("sudo: a password is required") || s.contains("sudo: a terminal is required")
}

/// The remote command that writes stdin atomically to `remote` with `mode`.
pub fn upload_command(remote: &str, mode: u32, become_: bool) -> String {
    let q = crate::shell::quote(remote);
    let script = format!(
        "set -e; d=$(dirname {q}); mkdir -p \"$d\"; t=$(mktemp \"$d/.kubeforge.XXXXXX\"); trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; chmod {mode:o} \"$t\"; sync \"$t\" 2>/dev/null || true; mv -f \"$t\" {q}; trap - EXIT"
    );
    let inner = format!("sh -c {}", crate::shell::quote(&script));
    if become_ {
        format!("if [ \"$(id -u)\" = 0 ]; then {inner}; else sudo -n -- {inner}; fi")
    } else {
        inner
    }
}
