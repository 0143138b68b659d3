//! How commands reach a host: a trait with two implementations, SSH (russh, one
//! persistent connection per host) and local (this machine, for tests and
//! `ansible_connection: local`). The transport knows nothing of roles or tasks.

pub mod admission;
mod channel;
pub mod dial;
pub mod greeting;
pub mod known_hosts;
pub mod local;
pub mod proxy;
pub mod ssh;
pub mod ssh_config;
pub mod ssh_match;

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
    /// Run it as root or another user through sudo: `sudo -n` (a password prompt is an
    /// error), or `sudo -S` fed the connection's become password on stdin.
    pub become_: Become,
    /// Deadline for the whole command; past it the process is killed.
    pub timeout: Duration,
}

/// Who a command runs as (`become`, `become_user`; sudo is the only method).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Become {
    /// The login user.
    #[default]
    No,
    /// root, through sudo (directly when the login user is root).
    Root,
    /// Another user, through `sudo -u USER` (`become_user`).
    User(String),
}

impl Become {
    /// `become: true` as root, or not.
    pub fn root_if(on: bool) -> Become {
        if on {
            Become::Root
        } else {
            Become::No
        }
    }

    /// `become: true` as `user` (root: `Root`).
    pub fn user(user: &str) -> Become {
        if user == "root" {
            Become::Root
        } else {
            Become::User(user.to_string())
        }
    }

    /// True unless the login user runs it.
    pub fn on(&self) -> bool {
        *self != Become::No
    }
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
    /// sudo asked for a password and none was given.
    #[error("sudo needs a password on this host and ansible_become_password is not set; kubeforge never prompts: set ansible_become_password (alias ansible_become_pass, e.g. from a vault), allow passwordless sudo for the user, or log in as root")]
    SudoPassword,
    /// sudo refused the password given.
    #[error("sudo refused the password in ansible_become_password (or ansible_become_pass) for the login user: fix the value (a vault variable, most often){0}")]
    BecomePassword(String),
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
        become_: &'a Become,
    ) -> BoxFuture<'a, Result<(), TransportError>>;
    /// Closes the connection.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// A password: shown nowhere (Debug prints the mask), sent only on a command's stdin.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(std::sync::Arc<str>);

impl Secret {
    /// Wraps a password.
    pub fn new(s: &str) -> Secret {
        Secret(s.into())
    }
    /// The password itself (for stdin or the SSH password request, nothing else).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::vars::secret::MASK)
    }
}

/// The prompt sudo writes on stderr before it reads the password (removed from output).
const SUDO_PROMPT: &str = "[kubeforge: sudo password]";

/// How a command gets root: what runs remotely and what goes before its own stdin.
pub struct Wrapped {
    /// The remote command.
    pub command: String,
    /// Bytes to send on stdin before the command's input (the become password and a
    /// mark line), empty without a password.
    pub prefix: Vec<u8>,
}

/// Runs `inner` (shell text that reads the rest of stdin) as root or another user.
/// Without a password: `sudo -n` (never prompts). With one: `sudo -S` reads the password
/// line from stdin; then a random mark line follows, and the command drops every line up
/// to it, so that when sudo does not read the password (already root, NOPASSWD, cached
/// credentials) the password is read and dropped, never run or echoed. Another user is
/// `sudo -H -u USER` (as Ansible's sudo: that user's HOME), from root too.
fn as_root(inner: &str, become_: &Become, password: Option<&Secret>) -> Wrapped {
    let target = match become_ {
        Become::No => {
            return Wrapped {
                command: inner.to_string(),
                prefix: Vec::new(),
            }
        }
        Become::Root => None,
        Become::User(u) => Some(format!("-H -u {}", crate::shell::quote(u))),
    };
    let run = |sudo: &str, q: &str| match &target {
        None => format!(
            "if [ \"$(id -u)\" = 0 ]; then exec sh -c {q}; else exec {sudo} -- sh -c {q}; fi"
        ),
        Some(u) => format!("exec {sudo} {u} -- sh -c {q}"),
    };
    let Some(pw) = password else {
        let q = crate::shell::quote(inner);
        return Wrapped {
            command: run("sudo -n", &q),
            prefix: Vec::new(),
        };
    };
    use rand::Rng;
    let mark = format!("kf-become-{:032x}", rand::rng().random::<u128>());
    let skip = format!(
        "kf_ok=; while IFS= read -r kf_l; do if [ \"$kf_l\" = {mark} ]; then kf_ok=1; break; fi; done; [ -n \"$kf_ok\" ] || exit 125; {inner}"
    );
    let q = crate::shell::quote(&skip);
    let p = crate::shell::quote(SUDO_PROMPT);
    let mut prefix = Vec::with_capacity(pw.expose().len() + mark.len() + 2);
    prefix.extend_from_slice(pw.expose().as_bytes());
    prefix.push(b'\n');
    prefix.extend_from_slice(mark.as_bytes());
    prefix.push(b'\n');
    Wrapped {
        command: run(&format!("sudo -S -p {p}"), &q),
        prefix,
    }
}

/// The remote command that runs a script from stdin.
pub fn shell_command(become_: &Become, password: Option<&Secret>) -> Wrapped {
    as_root("exec sh -s", become_, password)
}

/// A finished command, or the sudo error it really is (a password wanted but not given,
/// or the one given refused); sudo's prompt is taken out of stderr.
pub fn check_sudo(
    mut out: ExecOutput,
    become_: &Become,
    password: Option<&Secret>,
) -> Result<ExecOutput, TransportError> {
    if !become_.on() {
        return Ok(out);
    }
    if password.is_some() {
        let prompt = SUDO_PROMPT.as_bytes();
        let refused = out.exit_code != Some(0) && sudo_refused_password(&out.stderr);
        if let Some(pos) = out.stderr.windows(prompt.len()).position(|w| w == prompt) {
            // Whatever sudo said before its prompt (a first-use lecture) goes too.
            out.stderr.drain(..pos + prompt.len());
        }
        if refused {
            let said = String::from_utf8_lossy(&out.stderr)
                .replace(SUDO_PROMPT, "")
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .map(|l| format!(" (sudo: {})", l.trim_start_matches("sudo: ")))
                .unwrap_or_default();
            return Err(TransportError::BecomePassword(said));
        }
        return Ok(out);
    }
    if out.exit_code != Some(0) && sudo_wants_password(&out.stderr) {
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

/// True when stderr shows sudo did not accept the password it read.
fn sudo_refused_password(stderr: &[u8]) -> bool {
    let s = String::from_utf8_lossy(stderr);
    s.contains("incorrect password attempt")
        || s.contains("Sorry, try again")
        || s.contains("no password was provided")
}

/// The remote command that writes stdin atomically to `remote` with `mode`.
pub fn upload_command(
    remote: &str,
    mode: u32,
    become_: &Become,
    password: Option<&Secret>,
) -> Wrapped {
    let q = crate::shell::quote(remote);
    let script = format!(
        "set -e; d=$(dirname {q}); mkdir -p \"$d\"; t=$(mktemp \"$d/.kubeforge.XXXXXX\"); trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; chmod {mode:o} \"$t\"; sync \"$t\" 2>/dev/null || true; mv -f \"$t\" {q}; trap - EXIT"
    );
    let inner = format!("exec sh -c {}", crate::shell::quote(&script));
    if become_.on() {
        as_root(&inner, become_, password)
    } else {
        Wrapped {
            command: format!("sh -c {}", crate::shell::quote(&script)),
            prefix: Vec::new(),
        }
    }
}

#[cfg(test)]
#[path = "become_tests.rs"]
mod become_tests;
