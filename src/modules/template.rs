//! `template`: renders a Jinja template from the role's templates/ on the controller and
//! installs the result like `copy`.

use super::copy::find_src;
use super::{content_step, Action, Args, Context, ModuleError};

/// Prepares a `template` step.
pub fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
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
    Ok(Action::Remote(content_step(
        &dest,
        rendered.as_bytes(),
        &a.mode("mode")?,
        &a.str_or("owner", "")?,
        &a.str_or("group", "")?,
    )))
}
