//! `systemd`: unit state, enablement, masking, daemon-reload.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, q};
use crate::shell::say;

/// Prepares a `systemd` step.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let name = a.str("name")?;
    let state = a.str("state")?;
    if let Some(s) = &state {
        if !["started", "stopped", "restarted", "reloaded"].contains(&s.as_str()) {
            return Err(a.err(
                "state",
                &format!("'{s}' is not one of started, stopped, restarted, reloaded"),
            ));
        }
    }
    let enabled = match a.raw("enabled") {
        Some(_) => Some(a.bool("enabled", false)?),
        None => None,
    };
    let masked = match a.raw("masked") {
        Some(_) => Some(a.bool("masked", false)?),
        None => None,
    };
    let reload = a.bool("daemon_reload", false)?;
    if name.is_none() && (state.is_some() || enabled.is_some() || masked.is_some()) {
        return Err(a.err("name", "is required with state, enabled or masked"));
    }
    let u = name.as_deref().unwrap_or("");
    // A unit name is one word; `--` keeps one that starts with a dash from being read
    // as an option.
    let n = format!("-- {}", q(u));
    let nq = q(u);
    // In check mode a unit whose file an earlier step would write is "to be created":
    // its changes are predicted instead of failing on a unit that is not there yet.
    let mut probe = format!(
        "d=0; new=0\nif [ \"${{KF_CHECK:-0}}\" = 1 ] && [ -n {nq} ] && ! systemctl cat {n} >/dev/null 2>&1 && kf_would_unit {nq}; then new=1; fi\n"
    );
    let mut apply = String::from("set -e\n");
    if reload {
        probe.push_str(&format!(
            "if [ -n {nq} ] && [ \"$(systemctl show -p NeedDaemonReload --value {n} 2>/dev/null)\" = yes ]; then echo 'daemon-reload'; d=1; fi\n"
        ));
        apply.push_str("systemctl daemon-reload\n");
    }
    if let Some(m) = masked {
        let cond = if m { "!=" } else { "=" };
        probe.push_str(&format!(
            "if [ \"$(systemctl is-enabled {n} 2>/dev/null)\" {cond} masked ]; then {}; d=1; fi\n",
            say(&format!("{} {u}", if m { "mask" } else { "unmask" }))
        ));
        apply.push_str(&format!(
            "systemctl {} {n}\n",
            if m { "mask" } else { "unmask" }
        ));
    }
    if let Some(e) = enabled {
        let verb = if e { "enable" } else { "disable" };
        probe.push_str(&format!(
            "if [ $new = 1 ]; then {created}; d=1; else\n\
             st=$(systemctl is-enabled {n} 2>/dev/null || true); if [ -z \"$st\" ] && ! systemctl cat {n} >/dev/null 2>&1; then {missing}; fi\n\
             case \"$st\" in enabled|enabled-runtime|static|alias|indirect|generated) cur=1;; *) cur=0;; esac\n\
             if [ $cur != {want} ]; then {change}; d=1; fi\nfi\n",
            want = u8::from(e),
            created = say(&format!("{verb} {u}: unit created by an earlier step")),
            missing = crate::shell::fail(&format!("unit {u} not found")),
            change = say(&format!("{verb} {u}")),
        ));
        apply.push_str(&format!(
            "systemctl {} {n}\n",
            if e { "enable" } else { "disable" }
        ));
    }
    match state.as_deref() {
        Some("started") => {
            probe.push_str(&format!(
                "if [ $new = 1 ]; then echo 'would start: unit created by an earlier step'; d=1; elif ! systemctl is-active --quiet {n}; then echo 'start'; d=1; fi\n"
            ));
            apply.push_str(&format!(
                "systemctl is-active --quiet {n} || systemctl start {n}\n"
            ));
        }
        Some("stopped") => {
            probe.push_str(&format!(
                "if systemctl is-active --quiet {n}; then echo 'stop'; d=1; fi\n"
            ));
            apply.push_str(&format!(
                "! systemctl is-active --quiet {n} || systemctl stop {n}\n"
            ));
        }
        Some(verb @ ("restarted" | "reloaded")) => {
            let cmd = if verb == "restarted" {
                "restart"
            } else {
                "reload"
            };
            probe.push_str(&format!("echo '{cmd}'; d=1\n"));
            apply.push_str(&format!("systemctl {cmd} {n}\n"));
        }
        _ => {}
    }
    probe.push_str("[ $d = 0 ] || exit $KF_CHANGE");
    Ok(Action::Remote(RemoteStep {
        probe,
        apply,
        ..RemoteStep::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "systemd",
    aliases: &["systemd_service", "service"],
    args: &["name", "state", "enabled", "daemon_reload", "masked"],
    required: &[],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
