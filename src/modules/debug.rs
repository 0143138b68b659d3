//! `debug`: prints a message or a variable.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, LocalResult, ModuleError};

/// Prepares a `debug` result.
fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    let msg = if let Some(var) = a.str("var")? {
        let expr = crate::vars::template::env()
            .compile_expression(&var)
            .map_err(|e| ModuleError(format!("debug: var {var}: {e}")))?;
        let v = expr
            .eval(ctx.scope.clone())
            .map_err(|e| ModuleError(format!("debug: var {var}: {e}")))?;
        format!(
            "{var}: {}",
            if v.is_undefined() {
                "VARIABLE IS NOT DEFINED".to_string()
            } else {
                v.to_string()
            }
        )
    } else {
        a.str_or("msg", "Hello world!")?
    };
    Ok(Action::Local(LocalResult {
        msg: Some(msg),
        ..LocalResult::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "debug",
    aliases: &[],
    args: &["msg", "var", "verbosity"],
    required: &[],
    free_form: None,
    any_args: false,
    runs: Runs::Controller,
    timeout: Timeout::Task,
    expressions: &["var"],
    prepare,
};
