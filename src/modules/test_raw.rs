//! A test-only module (a DOUBLE of a buggy module): its probe and apply are the shell
//! text given, unquoted, so tests can put into a batch what no real module may generate
//! (a syntax error, a step that kills its own batch) and check that the runner names the
//! step and loses nothing.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep};

fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    Ok(Action::Remote(RemoteStep {
        probe: a.req("probe")?,
        apply: a.str_or("apply", "")?,
        probe_quick: a.bool("probe_quick", false)?,
        apply_quick: a.bool("apply_quick", false)?,
        ..RemoteStep::default()
    }))
}

/// The declaration in the module table (test builds only).
pub const DECL: ModuleDecl = ModuleDecl {
    name: "test_raw",
    aliases: &[],
    args: &["probe", "apply", "probe_quick", "apply_quick"],
    required: &["probe"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
