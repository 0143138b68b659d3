//! `assert`: conditions evaluated on the controller; fails with `fail_msg` when one is false.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, LocalResult, ModuleError};
use serde_json::Value;

/// Prepares an `assert` result.
fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    let that: Vec<String> = match a.raw("that") {
        Some(Value::Array(v)) => v
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect(),
        Some(Value::Bool(b)) => vec![b.to_string()],
        Some(_) => vec![a.req("that")?],
        None => return Err(a.err("that", "is required")),
    };
    for cond in &that {
        let ok = crate::vars::template::eval_condition(cond, ctx.scope)
            .map_err(|e| ModuleError(format!("assert: {cond}: {e}")))?;
        if !ok {
            let msg = a
                .str("fail_msg")?
                .or(a.str("msg")?)
                .unwrap_or_else(|| format!("assertion failed: {cond}"));
            return Ok(Action::Local(LocalResult {
                failed: true,
                msg: Some(msg),
                ..LocalResult::default()
            }));
        }
    }
    Ok(Action::Local(LocalResult {
        msg: Some(
            a.str("success_msg")?
                .unwrap_or_else(|| "all assertions passed".into()),
        ),
        ..LocalResult::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "assert",
    aliases: &[],
    args: &["that", "fail_msg", "success_msg", "msg", "quiet"],
    required: &["that"],
    free_form: None,
    any_args: false,
    runs: Runs::Controller,
    timeout: Timeout::Task,
    expressions: &["that"],
    prepare,
};
