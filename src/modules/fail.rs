//! `fail`: stops the host with a message.

use super::{Action, Args, LocalResult, ModuleError};

/// Prepares a `fail` result.
pub fn prepare(a: &Args) -> Result<Action, ModuleError> {
    Ok(Action::Local(LocalResult {
        failed: true,
        msg: Some(a.str_or("msg", "Failed as requested from task")?),
        ..LocalResult::default()
    }))
}
