//! `meta`: `flush_handlers` runs the handlers notified so far; `end_host` ends the play
//! for the host (not a failure); `noop` does nothing.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, LocalResult, ModuleError};

fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    match a.str("action")?.as_deref() {
        Some("flush_handlers") => Ok(Action::FlushHandlers),
        Some("end_host") => Ok(Action::EndHost),
        Some("noop") | None => Ok(Action::Local(LocalResult::default())),
        Some(other) => Err(ModuleError(format!(
            "meta: '{other}' is not supported (flush_handlers, noop, end_host)"
        ))),
    }
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "meta",
    aliases: &[],
    args: &["action"],
    required: &["action"],
    free_form: Some("action"),
    any_args: false,
    runs: Runs::Controller,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
