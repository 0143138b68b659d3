//! `lineinfile`: one line present (replacing the last line matching `regexp`, a POSIX
//! ERE) or absent. The new content is computed on the host, compared, and written
//! atomically only when it differs.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, q};
use crate::shell::fail;

/// awk program: env L (line), R (regexp, may be empty), S (present|absent).
const AWK: &str = r#"BEGIN { L = ENVIRON["KL"]; R = ENVIRON["KR"]; S = ENVIRON["KS"]; n = 0; last = 0 }
{ lines[++n] = $0; if (R != "" && $0 ~ R) last = n; if (R == "" && $0 == L) last = n }
END {
  if (S == "absent") { for (i = 1; i <= n; i++) if (!((R != "" && lines[i] ~ R) || (R == "" && lines[i] == L))) print lines[i]; exit }
  for (i = 1; i <= n; i++) { if (i == last) print L; else print lines[i] }
  if (last == 0) print L
}"#;

/// Shell that writes the file's new content to "$KFS/new" (the file may not exist).
pub fn compute(path: &str, line: &str, regexp: &str, state: &str, create: bool) -> String {
    let p = q(path);
    let missing = if create || state == "absent" {
        ": > \"$KFS/cur\"".to_string()
    } else {
        fail(&format!("{path} does not exist (set create: true to create it)"))
    };
    format!(
        "if [ -f {p} ]; then kf_src={p}; elif [ -e {p} ]; then {notreg}; else {missing}; kf_src=\"$KFS/cur\"; fi\n\
         KL={l} KR={r} KS={s} awk {awk} \"$kf_src\" > \"$KFS/new\" || {{ echo 'lineinfile: awk could not apply the regexp argument (a POSIX extended regular expression)' >&2; exit 1; }}",
        l = q(line),
        r = q(regexp),
        s = q(state),
        awk = q(AWK),
        notreg = fail(&format!("{path} is not a regular file")),
    )
}

/// Probe/apply around a compute snippet that leaves "$KFS/new".
pub fn edit_step(path: &str, compute: &str, mode: &str, owner: &str, group: &str) -> RemoteStep {
    let (p, m, o, g) = (q(path), q(mode), q(owner), q(group));
    RemoteStep {
        probe: format!(
            "{compute}\nif [ -f {p} ] && cmp -s -- {p} \"$KFS/new\"; then kf_attrs {p} {m} {o} {g}; exit $?; fi\n\
             if [ ! -f {p} ] && [ ! -s \"$KFS/new\" ]; then exit 0; fi\n\
             kf_diff_files {p} \"$KFS/new\"; echo 'content differs'; exit $KF_CHANGE"
        ),
        apply: format!(
            "{compute}\nif [ -f {p} ] && cmp -s -- {p} \"$KFS/new\"; then kf_fix_attrs {p} {m} {o} {g}; else kf_put {p} {m} {o} {g} < \"$KFS/new\"; fi"
        ),
        creates: vec![path.to_string()],
        probe_quick: true,
        apply_quick: true,
        ..RemoteStep::default()
    }
}

/// Prepares a `lineinfile` step.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let path = a.req("path")?;
    let state = a.choice("state", "present", &["present", "absent"])?;
    let regexp = a.str_or("regexp", "")?;
    let line = a.str("line")?;
    if state == "present" && line.is_none() {
        return Err(a.err("line", "is required with state: present"));
    }
    if state == "absent" && regexp.is_empty() && line.is_none() {
        return Err(a.err("regexp", "or line is required with state: absent"));
    }
    for k in ["insertafter", "insertbefore"] {
        if a.raw(k).is_some() {
            return Err(a.err(
                k,
                "is not supported yet: lines are replaced in place or appended",
            ));
        }
    }
    let c = compute(
        &path,
        &line.unwrap_or_default(),
        &regexp,
        &state,
        a.bool("create", false)?,
    );
    Ok(Action::Remote(edit_step(
        &path,
        &c,
        &a.mode("mode")?,
        &a.account("owner")?,
        &a.account("group")?,
    )))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "lineinfile",
    aliases: &[],
    args: &["path", "line", "regexp", "state", "create", "mode", "owner", "group", "insertafter", "insertbefore"],
    required: &["path"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
