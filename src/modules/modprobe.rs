//! `modprobe`: a kernel module loaded now and (with `persistent: present`) at boot.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, q};
use crate::shell::say;

/// Prepares a `modprobe` step.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let name = a.req("name")?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(a.err("name", &format!("'{name}' is not a module name")));
    }
    let state = a.choice("state", "present", &["present", "absent"])?;
    let persistent = a.choice("persistent", "disabled", &["present", "absent", "disabled"])?;
    // Parameters are words (`name=value ...`), each passed as one argument.
    let params = crate::shell::words(&crate::shell::split_words(&a.str_or("params", "")?));
    let kname = name.replace('-', "_");
    let conf = format!("/etc/modules-load.d/{name}.conf");
    let (n, c) = (q(&name), q(&conf));
    // Loaded as a module, built into the kernel, or (for the two Kubernetes needs, whose
    // effect is visible) working already.
    let functional = match kname.as_str() {
        "overlay" => " || grep -qw overlay /proc/filesystems",
        "br_netfilter" => " || [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]",
        _ => "",
    };
    let loaded = format!(
        "grep -q '^{kname} ' /proc/modules 2>/dev/null || [ -d /sys/module/{kname} ] || grep -q '/{kname}.ko' /lib/modules/$(uname -r)/modules.builtin 2>/dev/null{functional}"
    );
    let mut probe = String::from("d=0\n");
    let mut apply = String::from("set -e\n");
    if state == "present" {
        probe.push_str(&format!(
            "if ! {{ {loaded}; }}; then {}; d=1; fi\n",
            say(&format!("load {name}"))
        ));
        apply.push_str(&format!("{loaded} || modprobe {n} {params}\n"));
    } else {
        probe.push_str(&format!(
            "if {loaded}; then {}; d=1; fi\n",
            say(&format!("unload {name}"))
        ));
        apply.push_str(&format!("! {{ {loaded}; }} || modprobe -r {n}\n"));
    }
    match persistent.as_str() {
        "present" => {
            probe.push_str(&format!(
                "if ! grep -qxF -e {n} -- {c} 2>/dev/null; then {}; d=1; fi\n",
                say(&format!("persist in {conf}"))
            ));
            apply.push_str(&format!("grep -qxF -e {n} -- {c} 2>/dev/null || {{ mkdir -p /etc/modules-load.d; printf '%s\\n' {n} | kf_put {c} 0644 '' ''; }}\n"));
        }
        "absent" => {
            probe.push_str(&format!(
                "if [ -e {c} ]; then {}; d=1; fi\n",
                say(&format!("remove {conf}"))
            ));
            apply.push_str(&format!("rm -f {c}\n"));
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
    name: "modprobe",
    aliases: &[],
    args: &["name", "state", "persistent", "params"],
    required: &["name"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
