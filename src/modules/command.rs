//! `command` and `shell`: run a command unless `creates` exists or `removes` does not.
//! `command` runs the words as given (no pipes or globs); `shell` runs through sh.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{q, Action, Args, Context, ModuleError, RemoteStep};
use serde_json::Value;

/// Prepares a `command` (shell = false) or `shell` step.
fn prepare(a: &Args, shell: bool, check: bool) -> Result<Action, ModuleError> {
    // In check mode a command built from an earlier step's output (which check mode did
    // not run) is still unknown: report it as a change to come, after `creates`/`removes`.
    if check && a.str("cmd")?.is_some_and(|c| c.trim().is_empty()) && a.raw("argv").is_none() {
        let mut probe = String::new();
        if let Some(c) = a.str("creates")? {
            probe.push_str(&format!("if [ -e {} ]; then exit 0; fi\n", q(&c)));
        }
        probe.push_str("echo 'unknown in check mode: the command comes from an earlier step that did not run'; exit $KF_CHANGE");
        return Ok(Action::Remote(RemoteStep {
            probe,
            probe_quick: true,
            reports_output: true,
            ..RemoteStep::default()
        }));
    }
    let line = if shell {
        let cmd = a.req("cmd")?;
        let exe = a.str_or("executable", "/bin/sh")?;
        format!("{} -c {}", q(&exe), q(&cmd))
    } else if let Some(Value::Array(argv)) = a.raw("argv") {
        argv.iter()
            .map(|v| {
                q(&v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()))
            })
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        let cmd = a.req("cmd")?;
        let w = crate::shell::split_words(&cmd);
        if w.is_empty() {
            return Err(a.err("cmd", "is empty"));
        }
        w.iter().map(|x| q(x)).collect::<Vec<_>>().join(" ")
    };
    // A first word such as `A=b` would be an assignment to sh; `command` runs it as the
    // program's name, as Ansible does.
    let line = match line.split_once(' ').map_or(line.as_str(), |(w, _)| w) {
        first if first.contains('=') && !first.starts_with('\'') => format!("'{first}'{}", &line[first.len()..]),
        _ => line,
    };
    // `kf_cmd_probe HAS_CREATES CREATES HAS_REMOVES REMOVES` (a call: no process).
    let creates = a.str("creates")?;
    let removes = a.str("removes")?;
    let probe = format!(
        "kf_cmd_probe {} {} {} {}",
        u8::from(creates.is_some()),
        q(creates.as_deref().unwrap_or("")),
        u8::from(removes.is_some()),
        q(removes.as_deref().unwrap_or(""))
    );
    let mut env = String::new();
    if let Some(Value::Object(vars)) = a.raw("environment") {
        for (k, v) in vars {
            if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(a.err("environment", &format!("has an invalid name '{k}'")));
            }
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            env.push_str(&format!("{k}={} ", q(&v)));
        }
    }
    let chdir = a.str("chdir")?;
    let stdin = a.str("stdin")?;
    let run = format!(
        "{}{}{line}",
        match &chdir {
            Some(d) => format!("cd -- {} && ", q(d)),
            None => String::new(),
        },
        if env.is_empty() {
            String::new()
        } else {
            format!("env {env}")
        }
    );
    // Without chdir or stdin the command is one simple command: `timeout` runs it
    // directly, no shell in between.
    let apply_exec = chdir.is_none() && stdin.is_none();
    // stdin is a quoted word fed by printf (a builtin), never a here-document whose end
    // line a value could spell.
    let apply = match stdin {
        Some(s) => format!("printf '%s\\n' {} | {{ {run}; }}", q(&s)),
        None if apply_exec => run,
        None => format!("{{ {run}; }} </dev/null"),
    };
    Ok(Action::Remote(RemoteStep {
        probe,
        apply,
        reports_output: true,
        probe_quick: true,
        calls: true,
        apply_exec,
        ..RemoteStep::default()
    }))
}

/// The module's shell functions (sent once per batch, see `shell_lib`).
pub(crate) const LIB: &str = r#"
# command, shell: kf_cmd_probe HAS_CREATES CREATES HAS_REMOVES REMOVES, the probe.
kf_cmd_probe() {
  if [ "$1" = 1 ] && [ -e "$2" ]; then printf '%s\n' "skipped: $2 exists"; return 0; fi
  if [ "$3" = 1 ] && [ ! -e "$4" ]; then printf '%s\n' "skipped: $4 does not exist"; return 0; fi
  if [ "${KF_CHECK:-0}" = 1 ]; then echo 'unknown in check mode: commands do not run'; fi
  return $KF_CHANGE
}
"#;

fn prepare_command(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    prepare(a, false, ctx.check)
}

fn prepare_shell(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    prepare(a, true, ctx.check)
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "command",
    aliases: &[],
    args: &["cmd", "argv", "creates", "removes", "chdir", "environment", "stdin"],
    required: &["cmd|argv"],
    free_form: Some("cmd"),
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare: prepare_command,
};

/// The declaration in the module table.
pub const SHELL_DECL: ModuleDecl = ModuleDecl {
    name: "shell",
    aliases: &[],
    args: &["cmd", "creates", "removes", "chdir", "environment", "executable", "stdin"],
    required: &["cmd"],
    free_form: Some("cmd"),
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare: prepare_shell,
};
