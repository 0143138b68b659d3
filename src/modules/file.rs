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
    let (probe, apply) = match state.as_str() {
        "directory" => (
            format!(
                "if [ -d {p} ]; then kf_attrs {p} {m} {o} {g}; exit $?; fi\nif [ -e {p} ]; then {}; fi\n{}; exit $KF_CHANGE",
                fail(&format!("{path} exists and is not a directory")),
                say("create directory")
            ),
            format!("mkdir -p -- {p} && kf_fix_attrs {p} {m} {o} {g}"),
        ),
        "file" => (
            format!(
                "if [ -f {p} ]; then kf_attrs {p} {m} {o} {g}; exit $?; fi\n{}",
                fail(&format!("{path} does not exist (state: file never creates files; use touch, copy or template)"))
            ),
            format!("kf_fix_attrs {p} {m} {o} {g}"),
        ),
        "absent" => (
            format!("if [ -e {p} ] || [ -L {p} ]; then {}; exit $KF_CHANGE; fi; exit 0", say("remove")),
            format!("rm -rf -- {p}"),
        ),
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
            )
        }
        _ => (
            format!(
                "if [ -e {p} ]; then kf_attrs {p} {m} {o} {g}; exit $?; fi\n{parent}{}; exit $KF_CHANGE",
                say("create empty file")
            ),
            format!("kf_parent {p} && {{ [ -e {p} ] || : > {p}; }} && kf_fix_attrs {p} {m} {o} {g}"),
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
