//! `set_fact`: variables set on the host for the rest of the run (above inventory vars).

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, LocalResult, ModuleError};
use serde_json::Value;

/// Prepares a `set_fact` result from its (rendered) arguments.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let Value::Object(map) = a.value() else {
        return Err(ModuleError(
            "set_fact takes a mapping of name: value".into(),
        ));
    };
    let mut facts = std::collections::BTreeMap::new();
    for (k, v) in map {
        if !k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ModuleError(format!(
                "set_fact: '{k}' is not a valid variable name"
            )));
        }
        facts.insert(k.clone(), v.clone());
    }
    Ok(Action::Local(LocalResult {
        facts,
        ..LocalResult::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "set_fact",
    aliases: &[],
    args: &[],
    required: &[],
    free_form: None,
    any_args: true,
    runs: Runs::Controller,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
