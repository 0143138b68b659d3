//! `sysctl`: a kernel setting applied now and persisted in a file under /etc/sysctl.d.

use super::lineinfile::compute;
use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, q};

/// Prepares a `sysctl` step.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let name = a.req("name")?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
    {
        return Err(a.err("name", &format!("'{name}' is not a sysctl name")));
    }
    let state = a.choice("state", "present", &["present", "absent"])?;
    let file = a.str_or("sysctl_file", "/etc/sysctl.d/99-kubeforge.conf")?;
    let reload = a.bool("reload", true)?;
    let value = a.str("value")?;
    if state == "present" && value.is_none() {
        return Err(a.err("value", "is required with state: present"));
    }
    let value = value.unwrap_or_default();
    let line = format!("{name} = {value}");
    let regexp = format!("^[[:space:]]*{}[[:space:]]*=", name.replace('.', "[.]"));
    let c = compute(&file, &line, &regexp, &state, true);
    let (f, n, v) = (q(&file), q(&name), q(&value));
    let live_probe = if state == "present" && reload {
        format!(
            "cur=$(sysctl -n {n} 2>/dev/null) || {}\nif [ \"$(kf_words \"$cur\")\" != \"$(kf_words {v})\" ]; then printf '%s: %s -> %s\\n' {n} \"$cur\" {v}; d=1; fi\n",
            crate::shell::fail(&format!("sysctl {name} does not exist on this kernel"))
        )
    } else {
        String::new()
    };
    let live_apply = if state == "present" && reload {
        format!(
            "[ \"$(kf_words \"$(sysctl -n {n} 2>/dev/null)\")\" = \"$(kf_words {v})\" ] || sysctl -q -w {nv} >/dev/null 2>\"$KFS/serr\" || {{\n\
             printf 'cannot set %s to %s (it is %s): %s\\n' {n} {v} \"$(sysctl -n {n} 2>/dev/null)\" \"$(cat \"$KFS/serr\")\" >&2\n\
             if awk '$2 == \"/proc/sys\" && $4 ~ /^ro/ {{ f = 1 }} END {{ exit !f }}' /proc/mounts; then {ro}; fi\n\
             exit 1; }}\n",
            nv = q(&format!("{name}={value}")),
            ro = crate::shell::say_err("/proc/sys is read-only on this host (a container?): set it on the machine that runs the host, or boot the host so it can set it")
        )
    } else {
        String::new()
    };
    Ok(Action::Remote(RemoteStep {
        probe: format!(
            "d=0\n{c}\nif ! {{ [ -f {f} ] && cmp -s -- {f} \"$KFS/new\"; }}; then {}; kf_diff_files {f} \"$KFS/new\"; d=1; fi\n{live_probe}[ $d = 0 ] || exit $KF_CHANGE",
            crate::shell::say(&format!("persist in {file}"))
        ),
        apply: format!(
            "{c}\nif ! {{ [ -f {f} ] && cmp -s -- {f} \"$KFS/new\"; }}; then kf_put {f} '' '' '' < \"$KFS/new\" || exit 1; fi\n{live_apply}"
        ),
        probe_quick: true,
        ..RemoteStep::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "sysctl",
    aliases: &[],
    args: &["name", "value", "state", "sysctl_file", "reload"],
    required: &["name"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
