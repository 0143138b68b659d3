//! `fail`: stops the host with a message.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, LocalResult, ModuleError};

/// Prepares a `fail` result.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    Ok(Action::Local(LocalResult {
        failed: true,
        msg: Some(a.str_or("msg", "Failed as requested from task")?),
        ..LocalResult::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "fail",
    aliases: &[],
    args: &["msg"],
    required: &[],
    free_form: None,
    any_args: false,
    runs: Runs::Controller,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
