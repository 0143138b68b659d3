//! `wait_for`: waits (on the host) until a port is open or closed, or a path exists or
//! not. It only looks, so it runs in check mode too and never reports a change.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, q};

/// Prepares a `wait_for` step.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let timeout = a.uint("timeout", 300)?;
    let delay = a.uint("delay", 0)?;
    let state = a.choice(
        "state",
        "started",
        &["started", "stopped", "present", "absent"],
    )?;
    let check = if let Some(path) = a.str("path")? {
        let p = q(&path);
        match (state.as_str(), a.str("search_regex")?) {
            ("absent" | "stopped", _) => format!("[ ! -e {p} ]"),
            (_, Some(re)) => format!("grep -Eq -e {} -- {p} 2>/dev/null", q(&re)),
            _ => format!("[ -e {p} ]"),
        }
    } else {
        let port = a.uint("port", 0)?;
        if port == 0 || port > 65535 {
            return Err(a.err("port", "or path is required"));
        }
        let host = a.str_or("host", "127.0.0.1")?;
        let h = host.trim_start_matches('[').trim_end_matches(']');
        // The host is an argument of the bash snippet, never part of its text.
        let open = format!(
            "bash -c 'exec 3<>\"/dev/tcp/$1/$2\"' _ {} {port} 2>/dev/null",
            q(h)
        );
        if state == "stopped" || state == "absent" {
            format!("! {open}")
        } else {
            open
        }
    };
    Ok(Action::Remote(RemoteStep {
        probe: format!(
            "sleep {delay}; end=$(( $(date +%s) + {timeout} ))\n\
             while :; do if {check}; then exit 0; fi; if [ $(date +%s) -ge $end ]; then echo 'wait_for: condition not met within {timeout} s' >&2; exit 1; fi; sleep 1; done"
        ),
        apply: String::new(),
        ..RemoteStep::default()
    }))
}

/// The longest a wait_for step may legitimately take (for the runner's deadline).
fn max_seconds(args: &serde_json::Value) -> u64 {
    let get = |k: &str| {
        args.get(k).and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    };
    get("timeout").unwrap_or(300) + get("delay").unwrap_or(0)
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "wait_for",
    aliases: &[],
    args: &["port", "host", "path", "state", "timeout", "delay", "search_regex"],
    required: &[],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Own(max_seconds),
    expressions: &[],
    prepare,
};
