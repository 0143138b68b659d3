//! Modules: one file each. A module turns its (rendered) arguments into either a
//! controller-side result (debug, set_fact, assert, fail) or a remote step: a `probe`
//! shell snippet that only looks (exit 0: already so, 10: a change is needed, other:
//! failure) and an `apply` snippet that makes the change. Check mode runs probes only,
//! so it changes nothing by construction. Snippets of many steps travel to a host in one
//! script (one round trip), see `run::batch`.

mod args;
mod assert;
mod blockinfile;
mod command;
mod copy;
mod debug;
mod download;
mod etcd_certs;
mod fail;
mod file;
mod get_url;
mod lineinfile;
mod modprobe;
mod set_fact;
mod spec;
mod sysctl;
mod systemd;
mod template;
mod unarchive;
mod uri;
mod wait_for;

pub use args::Args;
pub use spec::{check_required, parse_args, spec, ModuleSpec, NAMES, SPECS};
pub use wait_for::max_seconds as wait_for_seconds;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

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
    /// Looks only. Exit 0: already so; 10: change needed; else failure (stderr says why).
    pub probe: String,
    /// Makes the change; exit 0 on success.
    pub apply: String,
    /// Files to stream to the host before the step (local path, remote path, mode).
    pub uploads: Vec<(PathBuf, String, u32)>,
    /// Run the apply even in check mode (read-only commands with `check_mode: false`).
    pub apply_in_check: bool,
    /// The probe only reads local files and cannot block: it runs in a subshell of the
    /// batch script instead of under its own `timeout` process (saves forks per step;
    /// the batch as a whole still has a deadline).
    pub probe_quick: bool,
    /// The same for the apply.
    pub apply_quick: bool,
    /// The registered result carries stdout/stderr of the apply (command, shell).
    pub reports_output: bool,
    /// Lines `KFVAR name=value` printed by the probe become fields of the registered
    /// result (a name ending in `_b64` is decoded and stored without the suffix).
    pub probe_vars: bool,
    /// Probe exit 12 means "stage `uploads` first": download this URL to the
    /// controller's cache (checked against the sha256) before uploading.
    pub fetch: Option<Fetch>,
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
}

/// A module argument problem found when preparing a step (after rendering).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ModuleError(pub String);

/// Prepares a step for `module` with rendered `args`.
pub fn prepare(module: &str, args: &Value, ctx: &Context) -> Result<Action, ModuleError> {
    let a = Args::new(module, args);
    let canonical = spec(module).map(|s| s.name).unwrap_or(module);
    match canonical {
        "file" => file::prepare(&a),
        "copy" => copy::prepare(&a, ctx),
        "template" => template::prepare(&a, ctx),
        "lineinfile" => lineinfile::prepare(&a),
        "blockinfile" => blockinfile::prepare(&a),
        "command" => command::prepare(&a, false, ctx.check),
        "shell" => command::prepare(&a, true, ctx.check),
        "systemd" => systemd::prepare(&a),
        "sysctl" => sysctl::prepare(&a),
        "modprobe" => modprobe::prepare(&a),
        "get_url" => get_url::prepare(&a, ctx),
        "download" => download::prepare(&a, ctx),
        "etcd_certs" => etcd_certs::prepare(&a, ctx),
        "unarchive" => unarchive::prepare(&a, ctx),
        "wait_for" => wait_for::prepare(&a),
        "uri" => uri::prepare(&a),
        "assert" => assert::prepare(&a, ctx),
        "set_fact" => set_fact::prepare(args),
        "debug" => debug::prepare(&a, ctx),
        "fail" => fail::prepare(&a),
        "meta" => match a.str("action")?.as_deref() {
            Some("flush_handlers") => Ok(Action::FlushHandlers),
            Some("noop") | Some("end_host") | None => Ok(Action::Local(LocalResult::default())),
            Some(other) => Err(ModuleError(format!(
                "meta: '{other}' is not supported (flush_handlers, noop)"
            ))),
        },
        other => Err(ModuleError(format!("unknown module '{other}'"))),
    }
}

/// Shell functions every snippet can use (`. "$KF/lib.sh"` is prepended by the batch).
pub const SHELL_LIB: &str = r#"
kf_norm_mode() { kf_m=${1#"${1%%[!0]*}"}; [ -n "$kf_m" ] || kf_m=0; }
# kf_attrs PATH MODE OWNER GROUP: prints what differs; exit 10 if anything does.
kf_attrs() {
  st=$(stat -c '%a|%U|%G' -- "$1") || return 1
  cm=${st%%|*}; r=${st#*|}; cu=${r%%|*}; cg=${r#*|}; d=0
  if [ -n "$2" ]; then kf_norm_mode "$2"; want=$kf_m; kf_norm_mode "$cm"; if [ "$want" != "$kf_m" ]; then echo "mode $cm -> $2"; d=1; fi; fi
  if [ -n "$3" ] && [ "$3" != "$cu" ]; then echo "owner $cu -> $3"; d=1; fi
  if [ -n "$4" ] && [ "$4" != "$cg" ]; then echo "group $cg -> $4"; d=1; fi
  [ $d = 0 ] || return 10
}
# kf_fix_attrs PATH MODE OWNER GROUP
kf_fix_attrs() {
  if [ -n "$2" ]; then chmod "$2" -- "$1" || return 1; fi
  if [ -n "$3" ]; then chown "$3" -- "$1" || return 1; fi
  if [ -n "$4" ]; then chgrp "$4" -- "$1" || return 1; fi
}
# kf_put DEST MODE OWNER GROUP < content: atomic write (temp file in the same dir,
# rename), with mode/owner/group set on the temp file first.
kf_put() {
  kf_d=${1%/*}; [ -n "$kf_d" ] || kf_d=/
  [ -d "$kf_d" ] || mkdir -p -- "$kf_d" || return 1
  kf_t="$kf_d/.kubeforge.$$.${KFN:-0}"
  if ! cat > "$kf_t"; then rm -f "$kf_t"; return 1; fi
  if [ -n "$2" ]; then chmod "$2" "$kf_t"; elif [ -e "$1" ]; then chmod "$(stat -c %a -- "$1")" "$kf_t"; else chmod 644 "$kf_t"; fi || { rm -f "$kf_t"; return 1; }
  if [ -n "$3" ]; then chown "$3" "$kf_t" || { rm -f "$kf_t"; return 1; }; fi
  if [ -n "$4" ]; then chgrp "$4" "$kf_t" || { rm -f "$kf_t"; return 1; }; fi
  mv -f "$kf_t" "$1"
}
# kf_same_content PATH SHA256: exit 0 when PATH holds exactly that content.
kf_same_content() { [ -f "$1" ] || return 1; kf_h=$(sha256sum < "$1"); [ "${kf_h%% *}" = "$2" ]; }
# kf_diff_files BEFORE AFTER: keeps both for the controller's diff when asked.
kf_diff_files() { if [ "${KF_DIFF:-0}" = 1 ]; then cp -- "$1" "$KFS/before" 2>/dev/null || : > "$KFS/before"; cp -- "$2" "$KFS/after"; fi; }
"#;

/// Quotes for the shell.
pub(crate) fn q(s: &str) -> String {
    crate::shell::quote(s)
}

/// A here-document-free way to feed bytes to a command: base64 text decoded remotely.
pub(crate) fn b64_pipe(content: &[u8]) -> String {
    use base64::Engine as _;
    let enc = base64::engine::general_purpose::STANDARD.encode(content);
    format!("printf '%s' {} | base64 -d", q(&enc))
}

/// sha256 of bytes as lowercase hex.
pub(crate) fn sha256_hex(content: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(content))
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
    let probe = format!(
        "if [ -d {d} ]; then echo \"{dest} is a directory\" >&2; exit 1; fi\n\
         if kf_same_content {d} {sha}; then kf_attrs {d} {m} {o} {g} || exit $?; exit 0; fi\n\
         echo 'content differs'\n\
         if [ \"${{KF_DIFF:-0}}\" = 1 ]; then {pipe} > \"$KFS/new\"; kf_diff_files {d} \"$KFS/new\"; fi\n\
         exit 10",
        pipe = b64_pipe(content)
    );
    // Text goes in as a quoted shell word (printf is a builtin: no process); anything
    // with NUL bytes or invalid UTF-8 as base64.
    let feed = match std::str::from_utf8(content) {
        Ok(text) if !text.contains('\0') => format!("printf '%s' {}", q(text)),
        _ => b64_pipe(content),
    };
    let apply = format!("{feed} | kf_put {d} {m} {o} {g}");
    RemoteStep {
        probe,
        apply,
        probe_quick: true,
        apply_quick: true,
        ..RemoteStep::default()
    }
}
