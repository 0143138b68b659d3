//! `copy`: a file's content from `content`, a controller file (`src`), or a file already
//! on the host (`remote_src: true`).

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, content_step, q, with_backup};
use crate::shell::{fail, say};
use std::path::PathBuf;

/// Largest controller file sent inside a step script (bigger ones: get_url/unarchive).
const MAX_INLINE: u64 = 16 * 1024 * 1024;

/// Finds a controller-side file: role files/, then the playbook directory.
pub fn find_src(src: &str, sub: &str, ctx: &Context) -> Result<PathBuf, ModuleError> {
    let p = PathBuf::from(src);
    if p.is_absolute() {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(ModuleError(format!(
                "{src}: no such file on the controller"
            )))
        };
    }
    let mut tried = Vec::new();
    if let Some(dir) = ctx.role_dir {
        tried.push(dir.join(sub).join(src));
    }
    tried.push(ctx.playbook_dir.join(sub).join(src));
    tried.push(ctx.playbook_dir.join(src));
    tried.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        ModuleError(format!(
            "{src}: not found on the controller (looked in {})",
            tried
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Prepares a `copy` step.
fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    let dest = a.req("dest")?;
    let (mode, owner, group) = (
        a.mode("mode")?,
        a.account("owner")?,
        a.account("group")?,
    );
    let backup = a.bool("backup", false)?;
    if let Some(content) = a.str("content")? {
        return Ok(Action::Remote(with_backup(
            content_step(&dest, content.as_bytes(), &mode, &owner, &group),
            &dest,
            backup,
        )));
    }
    let src = a.req("src")?;
    if a.bool("remote_src", false)? {
        let (s, d, m, o, g) = (q(&src), q(&dest), q(&mode), q(&owner), q(&group));
        let step = RemoteStep {
            probe: format!(
                "if [ ! -f {s} ]; then if [ \"${{KF_CHECK:-0}}\" = 1 ] && kf_would {s}; then {would}; exit $KF_CHANGE; fi; {missing}; fi\n\
                 if kf_same_content {d} \"$(sha256sum < {s} | cut -d' ' -f1)\"; then kf_attrs {d} {m} {o} {g}; exit $?; fi\n\
                 kf_diff_files {d} {s}; echo 'content differs'; exit $KF_CHANGE",
                would = say(&format!("would copy {src} (an earlier step would make it)")),
                missing = fail(&format!("{src}: no such file on the host")),
            ),
            apply: format!("kf_put {d} {m} {o} {g} < {s} && kf_fix_attrs {d} {m} {o} {g}"),
            creates: vec![dest.clone()],
            probe_quick: true,
            apply_quick: true,
            ..RemoteStep::default()
        };
        return Ok(Action::Remote(with_backup(step, &dest, backup)));
    }
    let path = match find_src(&src, "files", ctx) {
        Ok(p) => p,
        // In check mode a controller file made by an earlier task (etcd_certs) may not
        // exist yet: report the copy as a change to come.
        Err(_) if ctx.check && std::path::Path::new(&src).is_absolute() => {
            return Ok(Action::Remote(RemoteStep {
                probe: format!(
                    "{}; exit $KF_CHANGE",
                    say(&format!("would copy {src} (created earlier in a real run)"))
                ),
                apply: String::new(),
                creates: vec![dest.clone()],
                ..RemoteStep::default()
            }));
        }
        Err(e) => return Err(e),
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_INLINE {
        return Err(ModuleError(format!(
            "copy: {src} is {size} bytes; files over 16 MiB go through get_url (with a checksum) or unarchive"
        )));
    }
    let bytes = std::fs::read(&path)
        .map_err(|e| ModuleError(format!("copy: cannot read {}: {e}", path.display())))?;
    Ok(Action::Remote(with_backup(
        content_step(&dest, &bytes, &mode, &owner, &group),
        &dest,
        backup,
    )))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "copy",
    aliases: &[],
    args: &["dest", "content", "src", "mode", "owner", "group", "remote_src", "backup"],
    required: &["dest", "content|src"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
