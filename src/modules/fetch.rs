//! `fetch`: copies a file from the host to the controller (`dest`, an exact path, as
//! Ansible's `flat: yes`), checked by sha256; nothing is copied when the controller
//! already holds the same file. The copy is made by the runner after the probe, in
//! bounded chunks (run::pull), so large files (etcd snapshots) are fine.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{q, Action, Args, Context, ModuleError, Pull, RemoteStep};

fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    let src = a.req("src")?;
    let dest = a.req("dest")?;
    let local = std::path::PathBuf::from(&dest);
    let have = std::fs::read(&local)
        .ok()
        .map(|b| super::sha256_hex(&b))
        .unwrap_or_default();
    let s = q(&src);
    let probe = format!(
        "[ -f {s} ] || {missing}\n\
         h=$(sha256sum < {s}) || exit 1; h=${{h%% *}}; echo \"KFVAR sha256=$h\"\n\
         if [ \"$h\" = {have} ]; then exit 0; fi\n\
         {copy}; exit $KF_CHANGE",
        have = q(if have.is_empty() { "-" } else { &have }),
        missing = crate::shell::fail(&format!("{src}: no such file on the host")),
        copy = crate::shell::say(&format!("copy {src} to the controller:{dest}")),
    );
    let _ = ctx;
    Ok(Action::Remote(RemoteStep {
        probe,
        probe_quick: true,
        probe_vars: true,
        pull: Some(Pull {
            remote: src,
            local,
        }),
        ..RemoteStep::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "fetch",
    aliases: &[],
    args: &["src", "dest", "flat"],
    required: &["src", "dest"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
