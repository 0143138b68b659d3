//! `file`: directories, files' attributes, symlinks, removal, touch.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, q};

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
        q(&a.str_or("owner", "")?),
        q(&a.str_or("group", "")?),
    );
    let p = q(&path);
    let (probe, apply) = match state.as_str() {
        "directory" => (
            format!("if [ -d {p} ]; then kf_attrs {p} {m} {o} {g}; exit $?; fi\nif [ -e {p} ]; then echo '{path} exists and is not a directory' >&2; exit 1; fi\necho 'create directory'; exit $KF_CHANGE"),
            format!("mkdir -p -- {p} && kf_fix_attrs {p} {m} {o} {g}"),
        ),
        "file" => (
            format!("if [ -f {p} ]; then kf_attrs {p} {m} {o} {g}; exit $?; fi\necho '{path} does not exist (state: file never creates files; use touch, copy or template)' >&2; exit 1"),
            format!("kf_fix_attrs {p} {m} {o} {g}"),
        ),
        "absent" => (
            format!("if [ -e {p} ] || [ -L {p} ]; then echo 'remove'; exit $KF_CHANGE; fi; exit 0"),
            format!("rm -rf -- {p}"),
        ),
        "link" => {
            let src = a.req("src")?;
            let s = q(&src);
            (
                format!("if [ -L {p} ] && [ \"$(readlink -- {p})\" = {s} ]; then exit 0; fi\nif [ -d {p} ] && [ ! -L {p} ]; then echo '{path} is a directory' >&2; exit 1; fi\necho 'link to {src}'; exit $KF_CHANGE"),
                format!("mkdir -p \"$(dirname -- {p})\" && ln -sfn -- {s} {p}"),
            )
        }
        _ => (
            format!("if [ -e {p} ]; then kf_attrs {p} {m} {o} {g}; exit $?; fi\necho 'create empty file'; exit $KF_CHANGE"),
            format!("mkdir -p \"$(dirname -- {p})\" && {{ [ -e {p} ] || : > {p}; }} && kf_fix_attrs {p} {m} {o} {g}"),
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
        probe_quick: true,
        apply_quick: true,
        ..RemoteStep::default()
    }))
}

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
