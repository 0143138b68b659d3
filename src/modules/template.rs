//! `template`: renders a Jinja template from the role's templates/ on the controller and
//! installs the result like `copy`.

use super::copy::find_src;
use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, content_step};

/// Prepares a `template` step.
fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    let src = a.req("src")?;
    let dest = a.req("dest")?;
    let path = find_src(&src, "templates", ctx)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ModuleError(format!("template: cannot read {}: {e}", path.display())))?;
    let source = crate::vars::template::normalize(&text);
    let rendered = crate::vars::template::env()
        .render_str(&source, ctx.scope.clone())
        .map_err(|e| {
            let line = e.line().map(|l| format!(":{l}")).unwrap_or_default();
            ModuleError(format!(
                "template {}{line}: {}",
                path.display(),
                crate::vars::template::describe(&e)
            ))
        })?;
    let step = content_step(
        &dest,
        rendered.as_bytes(),
        &a.mode("mode")?,
        &a.account("owner")?,
        &a.account("group")?,
    );
    Ok(Action::Remote(super::with_backup(
        step,
        &dest,
        a.bool("backup", false)?,
    )))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "template",
    aliases: &[],
    args: &["src", "dest", "mode", "owner", "group", "backup"],
    required: &["src", "dest"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
