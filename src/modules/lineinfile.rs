//! `lineinfile`: one line present (replacing the last line matching `regexp`, a POSIX
//! ERE) or absent. The new content is computed on the host, compared, and written
//! atomically only when it differs.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, q};

/// Shell that writes the file's new content to "$KFS/new" (the file may not exist); it
/// exits 1, saying why, when it cannot.
pub fn compute(path: &str, line: &str, regexp: &str, state: &str, create: bool) -> String {
    let words = [path, line, regexp, state, if create { "1" } else { "0" }].map(q);
    format!("kf_line_new {} || exit 1", words.join(" "))
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
    let line = line.unwrap_or_default();
    let create = a.bool("create", false)?;
    let (m, o, g) = (a.mode("mode")?, a.account("owner")?, a.account("group")?);
    // Without a regexp, a line that is one line (no newline in it) is looked up with
    // one grep: present (or absent) already, nothing to compute.
    let plain = regexp.is_empty() && !line.contains('\n');
    let flag = |b: bool| if b { "1" } else { "0" };
    let args = [
        path.as_str(),
        &line,
        &regexp,
        &state,
        flag(create),
        flag(plain),
        &m,
        &o,
        &g,
    ]
    .map(q)
    .join(" ");
    let (p, mq, oq, gq) = (q(&path), q(&m), q(&o), q(&g));
    Ok(Action::Remote(RemoteStep {
        probe: format!("kf_line {args}"),
        apply: format!("kf_line_put {p} {mq} {oq} {gq}"),
        creates: vec![path.clone()],
        calls: true,
        probe_quick: true,
        apply_quick: true,
        ..RemoteStep::default()
    }))
}
/// The module's shell functions (sent once per batch, see `shell_lib`).
pub(crate) const LIB: &str = r#"
# lineinfile: kf_line PATH LINE REGEXP STATE CREATE(0|1) PLAIN(0|1) MODE OWNER GROUP, the
# probe: leaves the new content in $KFS/new (and kf_same=1 when only attributes differ).
kf_line() {
  kf_same=
  if [ "$6" = 1 ] && [ -f "$1" ]; then
    if grep -qxF -- "$2" "$1"; then kf_g=present; else kf_g=absent; fi
    if [ "$kf_g" = "$4" ]; then kf_same=1; kf_attrs "$1" "$7" "$8" "$9"; return; fi
  fi
  kf_line_new "$1" "$2" "$3" "$4" "$5" || return 1
  if [ -f "$1" ] && cmp -s -- "$1" "$KFS/new"; then kf_same=1; kf_attrs "$1" "$7" "$8" "$9"; return; fi
  if [ ! -f "$1" ] && [ ! -s "$KFS/new" ]; then return 0; fi
  kf_diff_files "$1" "$KFS/new"; echo 'content differs'; return $KF_CHANGE
}
# kf_line_new PATH LINE REGEXP STATE CREATE(0|1): the new content in $KFS/new.
kf_line_new() {
  if [ -f "$1" ]; then kf_src=$1; elif [ -e "$1" ]; then printf '%s\n' "$1 is not a regular file" >&2; return 1
  elif [ "$5" = 1 ] || [ "$4" = absent ]; then : > "$KFS/cur"; kf_src="$KFS/cur"
  else printf '%s\n' "$1 does not exist (set create: true to create it)" >&2; return 1; fi
  KL=$2 KR=$3 KS=$4 awk "$KF_LINE_AWK" "$kf_src" > "$KFS/new" || { echo 'lineinfile: awk could not apply the regexp argument (a POSIX extended regular expression)' >&2; return 1; }
}
# kf_line_put PATH MODE OWNER GROUP: the apply, from what the probe left.
kf_line_put() { if [ -n "$kf_same" ]; then kf_fix_attrs "$@"; else kf_put "$@" < "$KFS/new"; fi; }
KF_LINE_AWK='BEGIN { L = ENVIRON["KL"]; R = ENVIRON["KR"]; S = ENVIRON["KS"]; n = 0; last = 0 }
{ lines[++n] = $0; if (R != "" && $0 ~ R) last = n; if (R == "" && $0 == L) last = n }
END {
if (S == "absent") { for (i = 1; i <= n; i++) if (!((R != "" && lines[i] ~ R) || (R == "" && lines[i] == L))) print lines[i]; exit }
for (i = 1; i <= n; i++) { if (i == last) print L; else print lines[i] }
if (last == 0) print L
}'
"#;

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
