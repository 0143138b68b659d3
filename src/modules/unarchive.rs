//! `unarchive`: a tar archive (any compression GNU tar reads) extracted into `dest`,
//! from the host (`remote_src: true`) or pushed from the controller. Done when
//! `creates` exists, or else when every member of the archive exists under `dest`.

use super::copy::find_src;
use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, STAGE_DIR, q};
use crate::shell::say;

/// Prepares an `unarchive` step.
fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    let src = a.req("src")?;
    let dest = a.req("dest")?;
    let (d, m, o, g) = (
        q(&dest),
        q(&a.mode("mode")?),
        q(&a.account("owner")?),
        q(&a.account("group")?),
    );
    let extra = match a.raw("extra_opts") {
        Some(serde_json::Value::Array(v)) => v
            .iter()
            .map(|x| {
                q(&x.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| x.to_string()))
            })
            .collect::<Vec<_>>()
            .join(" "),
        Some(_) => q(&a.str_or("extra_opts", "")?),
        None => String::new(),
    };
    let include = match a.raw("include") {
        Some(serde_json::Value::Array(v)) => v
            .iter()
            .filter_map(|x| x.as_str())
            .map(q)
            .collect::<Vec<_>>()
            .join(" "),
        Some(_) => q(&a.str_or("include", "")?),
        None => String::new(),
    };
    let remote = a.bool("remote_src", false)?;
    let (archive, uploads, stage_check) = if remote {
        (
            src.clone(),
            Vec::new(),
            format!(
                "if [ ! -f {s} ]; then if [ \"${{KF_CHECK:-0}}\" = 1 ] && kf_would {s}; then {}; exit $KF_CHANGE; fi; {}; fi\n",
                say(&format!("would extract {src} (an earlier step would download it)")),
                crate::shell::fail(&format!("{src}: no such file on the host")),
                s = q(&src)
            ),
        )
    } else {
        let local = find_src(&src, "files", ctx)?;
        let bytes = std::fs::read(&local)
            .map_err(|e| ModuleError(format!("unarchive: cannot read {}: {e}", local.display())))?;
        let sha = super::sha256_hex(&bytes);
        let staged = format!("{STAGE_DIR}/{sha}");
        let check = format!(
            "if ! kf_same_content {} {sha}; then {}; exit $KF_UPLOAD; fi\n",
            q(&staged),
            say(&format!("push {src} from the controller"))
        );
        (staged.clone(), vec![(local, staged, 0o600)], check)
    };
    let s = q(&archive);
    let mut probe = String::new();
    if let Some(c) = a.str("creates")? {
        probe.push_str(&format!("if [ -e {} ]; then exit 0; fi\n", q(&c)));
    }
    probe.push_str(&stage_check);
    probe.push_str(&format!(
        "[ -d {d} ] || {{ {}; exit $KF_CHANGE; }}\n\
         tar --no-unquote -tf {s} -- {include} | while IFS= read -r m; do [ -e {d}/\"$m\" ] || {{ printf 'extract: %s missing\\n' \"$m\"; exit $KF_CHANGE; }}; done; rc=$?\n\
         [ $rc = 0 ] || exit $rc\nkf_attrs {d} {m} {o} {g}",
        say(&format!("extract into new {dest}"))
    ));
    let cleanup = if remote {
        String::new()
    } else {
        format!(" && rm -f {s}")
    };
    let apply = format!("mkdir -p -- {d} && tar --no-unquote -xf {s} -C {d} --no-same-owner {extra} -- {include} && kf_fix_attrs {d} {m} {o} {g}{cleanup}");
    Ok(Action::Remote(RemoteStep {
        probe,
        apply,
        uploads,
        creates: vec![dest],
        probe_quick: true,
        ..RemoteStep::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "unarchive",
    aliases: &[],
    args: &["src", "dest", "remote_src", "creates", "extra_opts", "mode", "owner", "group", "include"],
    required: &["src", "dest"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
