//! `file`: directories, files' attributes, symlinks, removal, touch.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, q};
use crate::shell::{fail, say};

/// Prepares a `file` step.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let path = a.req("path")?;
    let state = a.choice(
        "state",
        "file",
        &["file", "directory", "absent", "link", "touch"],
    )?;
    let (m, o, g) = (
        q(&a.mode("mode")?),
        q(&a.account("owner")?),
        q(&a.account("group")?),
    );
    if a.bool("recurse", false)? {
        return Err(a.err(
            "recurse",
            "is not supported yet: set owner, group and mode on the files themselves",
        ));
    }
    let p = q(&path);
    let parent = format!(
        "kf_parent {p} || {{ [ \"${{KF_CHECK:-0}}\" = 1 ] && kf_would \"$kf_d\"; }} || exit 1\n"
    );
    let (probe, apply, calls) = match state.as_str() {
        "directory" => (
            format!("kf_file_dir {p} {m} {o} {g}"),
            format!("kf_file_mkdir {p} {m} {o} {g}"),
            true,
        ),
        "file" => (
            format!("kf_file_is {p} {m} {o} {g}"),
            format!("kf_fix_attrs {p} {m} {o} {g}"),
            true,
        ),
        "absent" => (format!("kf_file_absent {p}"), format!("rm -rf -- {p}"), true),
        "link" => {
            let src = a.req("src")?;
            let s = q(&src);
            (
                format!(
                    "if [ -L {p} ] && [ \"$(readlink -- {p})\" = {s} ]; then exit 0; fi\nif [ -d {p} ] && [ ! -L {p} ]; then {}; fi\n{parent}{}; exit $KF_CHANGE",
                    fail(&format!("{path} is a directory")),
                    say(&format!("link to {src}"))
                ),
                format!("kf_parent {p} && ln -sfn -- {s} {p}"),
                false,
            )
        }
        _ => (
            format!("kf_file_touch {p} {m} {o} {g}"),
            format!("kf_parent {p} && {{ [ -e {p} ] || : > {p}; }} && kf_fix_attrs {p} {m} {o} {g}"),
            true,
        ),
    };
    let creates = match state.as_str() {
        "directory" | "link" | "touch" => vec![path.clone()],
        _ => Vec::new(),
    };
    Ok(Action::Remote(RemoteStep {
        probe,
        apply,
        creates,
        calls,
        probe_quick: true,
        apply_quick: true,
        ..RemoteStep::default()
    }))
}

/// The module's shell functions (sent once per batch, see `shell_lib`).
pub(crate) const LIB: &str = r#"
# file: kf_file_dir PATH MODE OWNER GROUP (state: directory), the probe.
kf_file_dir() {
  if [ -d "$1" ]; then kf_attrs "$1" "$2" "$3" "$4"; return; fi
  if [ -e "$1" ]; then printf '%s\n' "$1 exists and is not a directory" >&2; return 1; fi
  echo 'create directory'; return $KF_CHANGE
}
# kf_file_mkdir PATH MODE OWNER GROUP: the apply (mkdir sets the mode itself).
kf_file_mkdir() {
  if [ -d "$1" ]; then kf_fix_attrs "$@"; return; fi
  if [ -n "$2" ]; then mkdir -p -m "$2" -- "$1"; else mkdir -p -- "$1"; fi || return 1
  kf_fix_attrs "$1" '' "$3" "$4"
}
# kf_file_is PATH MODE OWNER GROUP (state: file): attributes of an existing file.
kf_file_is() {
  if [ -f "$1" ]; then kf_attrs "$1" "$2" "$3" "$4"; return; fi
  printf '%s\n' "$1 does not exist (state: file never creates files; use touch, copy or template)" >&2; return 1
}
# kf_file_absent PATH
kf_file_absent() { if [ -e "$1" ] || [ -L "$1" ]; then echo remove; return $KF_CHANGE; fi; }
# kf_file_touch PATH MODE OWNER GROUP (state: touch)
kf_file_touch() {
  if [ -e "$1" ]; then kf_attrs "$1" "$2" "$3" "$4"; return; fi
  kf_parent "$1" || { [ "${KF_CHECK:-0}" = 1 ] && kf_would "$kf_d"; } || return 1
  echo 'create empty file'; return $KF_CHANGE
}
"#;

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "file",
    aliases: &[],
    args: &["path", "state", "mode", "owner", "group", "src", "recurse"],
    required: &["path"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
