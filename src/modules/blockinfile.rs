//! `blockinfile`: a block between marker lines, replaced in place or appended.

use super::lineinfile::edit_step;
use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, q};

const AWK: &str = r#"BEGIN { B = ENVIRON["KB"]; MB = ENVIRON["KMB"]; ME = ENVIRON["KME"]; S = ENVIRON["KS"]; inb = 0; done = 0 }
$0 == MB { inb = 1; if (S == "present" && !done) { print MB; if (B != "") print B; print ME; done = 1 } next }
$0 == ME && inb { inb = 0; next }
inb { next }
{ print }
END { if (S == "present" && !done) { print MB; if (B != "") print B; print ME } }"#;

/// Prepares a `blockinfile` step.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let path = a.req("path")?;
    let state = a.choice("state", "present", &["present", "absent"])?;
    let block = a.str_or("block", "")?;
    let block = block.trim_end_matches('\n').to_string();
    let marker = a.str_or("marker", "# {mark} ANSIBLE MANAGED BLOCK")?;
    if !marker.contains("{mark}") {
        return Err(a.err("marker", "must contain {mark}"));
    }
    let (mb, me) = (
        marker.replace("{mark}", "BEGIN"),
        marker.replace("{mark}", "END"),
    );
    let p = q(&path);
    let missing = if a.bool("create", false)? || state == "absent" {
        ": > \"$KFS/cur\"".to_string()
    } else {
        crate::shell::fail(&format!("{path} does not exist (set create: true to create it)"))
    };
    let compute = format!(
        "if [ -f {p} ]; then cp -- {p} \"$KFS/cur\"; else {missing}; fi\n\
         KB={b} KMB={mb} KME={me} KS={s} awk {awk} \"$KFS/cur\" > \"$KFS/new\" || exit 1",
        b = q(&block),
        mb = q(&mb),
        me = q(&me),
        s = q(&state),
        awk = q(AWK)
    );
    Ok(Action::Remote(edit_step(
        &path,
        &compute,
        &a.mode("mode")?,
        &a.account("owner")?,
        &a.account("group")?,
    )))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "blockinfile",
    aliases: &[],
    args: &["path", "block", "marker", "state", "create", "mode", "owner", "group"],
    required: &["path"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
