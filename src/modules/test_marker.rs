//! A test-only module, registered only through the module table: writes a marker file
//! (probe: does it hold the text?). Proves a new module runs end to end without any
//! change to the runner.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{content_step, Action, Args, Context, ModuleError};

fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let path = a.req("path")?;
    let text = a.req("text")?;
    Ok(Action::Remote(content_step(
        &path,
        format!("{text}\n").as_bytes(),
        "0644",
        "",
        "",
    )))
}

/// The declaration in the module table (test builds only).
pub const DECL: ModuleDecl = ModuleDecl {
    name: "test_marker",
    aliases: &[],
    args: &["path", "text"],
    required: &["path", "text"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
