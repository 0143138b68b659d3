//! Modules: one file each. A module turns its (rendered) arguments into either a
//! controller-side result (debug, set_fact, assert, fail) or a remote step: a `probe`
//! shell snippet that only looks (exit 0: already so, `$KF_CHANGE`: a change is needed,
//! other: failure) and an `apply` snippet that makes the change. Check mode runs probes
//! only, so it changes nothing by construction. Snippets of many steps travel to a host
//! in one script (one round trip), see `run::batch`.
//!
//! Each module declares itself (`DECL`: name, arguments, where it runs, time limit) in
//! its own file; the table below lists the declarations. Adding a module touches its
//! file and this table, nothing else.

mod args;
pub mod decl;
pub mod probe;
mod shell_lib;

pub use args::Args;
pub use decl::{check_required, find, names, parse_args, ModuleDecl, Runs, Timeout};
pub use shell_lib::{shell_lib, shell_lib_compact, SHELL_LIB};

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The module table: `mod` lines and declarations in one place.
macro_rules! module_table {
    ($($m:ident => [$($decl:ident),+]),+ $(,)?) => {
        $(mod $m;)+
        /// Every module's declaration, in the order of this table.
        pub static MODULES: &[&ModuleDecl] = &[$($(&$m::$decl),+),+];
    };
}

module_table! {
    assert => [DECL],
    blockinfile => [DECL],
    command => [DECL, SHELL_DECL],
    copy => [DECL],
    cordon => [DECL],
    debug => [DECL],
    download => [DECL],
    etcd_certs => [DECL],
    fail => [DECL],
    fetch => [DECL],
    file => [DECL],
    get_url => [DECL],
    image_pull => [DECL],
    lineinfile => [DECL],
    meta => [DECL],
    modprobe => [DECL],
    set_fact => [DECL],
    sysctl => [DECL],
    systemd => [DECL],
    template => [DECL],
    unarchive => [DECL],
    uri => [DECL],
    wait_for => [DECL],
}

// A module that exists only for tests: it proves the runner needs no edit for a new
// module (see run::tests).
#[cfg(test)]
pub(crate) mod test_marker;

// A test-only double of a buggy module (raw shell), for the runner's integrity tests.
#[cfg(test)]
pub(crate) mod test_raw;

// Property tests over every module argument (issue 22).
#[cfg(test)]
mod values_tests;

/// Every declaration (the table, plus test-only modules in unit tests).
pub fn all() -> impl Iterator<Item = &'static ModuleDecl> {
    let extra: &[&ModuleDecl] = {
        #[cfg(test)]
        {
            &[&test_marker::DECL, &test_raw::DECL]
        }
        #[cfg(not(test))]
        {
            &[]
        }
    };
    MODULES.iter().chain(extra.iter()).copied()
}

/// What a module needs to know beyond its arguments.
pub struct Context<'a> {
    /// The task's template scope (host vars, facts, loop item).
    pub scope: &'a minijinja::Value,
    /// The role's directory (templates/, files/), if the task is in a role.
    pub role_dir: Option<&'a std::path::Path>,
    /// The playbook's directory (for relative `src`).
    pub playbook_dir: &'a std::path::Path,
    /// Where controller-side downloads are cached.
    pub cache_dir: &'a std::path::Path,
    /// The host's name (for messages).
    pub host: &'a str,
    /// Check mode: controller-side modules must not write either.
    pub check: bool,
}

/// A step that runs on the host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteStep {
    /// Looks only. Exit 0: already so; `$KF_CHANGE`: change needed; else failure (stderr
    /// says why). See `probe`.
    pub probe: String,
    /// Makes the change; exit 0 on success.
    pub apply: String,
    /// Files to stream to the host before the step (local path, remote path, mode).
    pub uploads: Vec<(PathBuf, String, u32)>,
    /// The probe only reads local files and cannot block: it runs in a subshell of the
    /// batch script instead of under its own `timeout` process (saves forks per step;
    /// the batch as a whole still has a deadline).
    pub probe_quick: bool,
    /// The same for the apply.
    pub apply_quick: bool,
    /// The probe and the apply (unless `apply_exec`) only call the module library's
    /// functions (`shell_lib`) with quoted words: they run in the batch shell itself (no
    /// subshell, no process), and their short output goes back as text.
    pub calls: bool,
    /// The apply is one simple command (quoted words): it runs under `timeout` with no
    /// shell in between (one process fewer than a slow apply).
    pub apply_exec: bool,
    /// The registered result carries stdout/stderr of the apply (command, shell).
    pub reports_output: bool,
    /// Lines `KFVAR name=value` printed by the probe become fields of the registered
    /// result (a name ending in `_b64` is decoded and stored without the suffix).
    pub probe_vars: bool,
    /// Paths the apply creates or rewrites. In check mode a step that would change
    /// records them, so later probes treat them as present-to-be (a unit file an
    /// earlier step would write, a directory it would make).
    pub creates: Vec<String>,
    /// Probe exit `probe::UPLOAD` means "stage `uploads` first": download this URL to the
    /// controller's cache (checked against the sha256) before uploading.
    pub fetch: Option<Fetch>,
    /// After a change (outside check mode): copy this file from the host to the
    /// controller (in bounded chunks, checked by sha256).
    pub pull: Option<Pull>,
}

/// A file the controller downloads (once, cached by sha256) before pushing it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetch {
    /// Upstream (or mirror) URL.
    pub url: String,
    /// Expected sha256 (lowercase hex).
    pub sha256: String,
    /// Where it is cached on the controller.
    pub cache_path: PathBuf,
}

/// A file copied from a host to the controller.
#[derive(Debug, Clone, PartialEq)]
pub struct Pull {
    /// Path on the host.
    pub remote: String,
    /// Path on the controller (written atomically, mode 0600).
    pub local: PathBuf,
}

/// Where files pushed from the controller are staged on hosts.
pub const STAGE_DIR: &str = "/var/cache/kubeforge";

/// A result decided on the controller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalResult {
    /// Something changed (never for these modules, kept for set_fact symmetry).
    pub changed: bool,
    /// The task failed.
    pub failed: bool,
    /// Message for the output.
    pub msg: Option<String>,
    /// Facts to set on the host (set_fact).
    pub facts: BTreeMap<String, Value>,
}

/// What a module decided to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Handled on the controller.
    Local(LocalResult),
    /// Runs on the host.
    Remote(RemoteStep),
    /// `meta: flush_handlers`.
    FlushHandlers,
    /// `meta: end_host`: this host runs no more tasks of the play.
    EndHost,
}

/// A module argument problem found when preparing a step (after rendering).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ModuleError(pub String);

/// Prepares a step for `module` with rendered `args`.
pub fn prepare(module: &str, args: &Value, ctx: &Context) -> Result<Action, ModuleError> {
    let decl = find(module).ok_or_else(|| ModuleError(format!("unknown module '{module}'")))?;
    (decl.prepare)(&Args::new(decl.name, args), ctx)
}

/// Quotes for the shell.
pub(crate) fn q(s: &str) -> String {
    crate::shell::quote(s)
}

/// sha256 of bytes as lowercase hex.
pub(crate) fn sha256_hex(content: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(content))
}

/// `backup: true` (copy, template): before the apply replaces an existing file, a copy of
/// it is kept beside it as `DEST.PID.YYYY-MM-DD@HH:MM:SS~`, Ansible's name.
pub(crate) fn with_backup(mut step: RemoteStep, dest: &str, backup: bool) -> RemoteStep {
    if backup {
        // `kf_backup` returns (never exits): right for steps that run in the batch shell.
        step.apply = format!("kf_backup {} && {{ {}\n}}", q(dest), step.apply);
    }
    step
}

/// Probe and apply for "this file has exactly this content and these attributes".
pub(crate) fn content_step(
    dest: &str,
    content: &[u8],
    mode: &str,
    owner: &str,
    group: &str,
) -> RemoteStep {
    let sha = sha256_hex(content);
    let (d, m, o, g) = (q(dest), q(mode), q(owner), q(group));
    // Text goes in as a quoted shell word (printf is a builtin: no process); anything
    // with NUL bytes or invalid UTF-8 as base64. The probe sets it, the apply (which
    // runs right after, in the same shell) writes it: the content travels once.
    let (word, form) = match std::str::from_utf8(content) {
        Ok(text) if !text.contains('\0') => (q(text), "t"),
        _ => {
            use base64::Engine as _;
            (
                q(&base64::engine::general_purpose::STANDARD.encode(content)),
                "b",
            )
        }
    };
    RemoteStep {
        probe: format!("kf_c={word}; kf_content {d} {sha} {m} {o} {g} {form}"),
        apply: format!("kf_content_put {d} {m} {o} {g} {form}"),
        calls: true,
        probe_quick: true,
        apply_quick: true,
        creates: vec![dest.to_string()],
        ..RemoteStep::default()
    }
}
