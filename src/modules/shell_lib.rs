//! The shell functions every step snippet can use, the probe exit codes as shell
//! variables (so no snippet writes a bare number), and the modules' own functions.
//!
//! Module code travels once per batch script, whatever the number of steps: a step
//! whose snippets only call these functions (`RemoteStep::calls`) is a line of quoted
//! words, and runs in the batch shell itself (no subshell). Such functions `return`,
//! never `exit`, set only `kf_`-prefixed variables, and print short messages.

/// The helpers.
const LIB_BODY: &str = r#"
kf_norm_mode() { kf_m=${1#"${1%%[!0]*}"}; [ -n "$kf_m" ] || kf_m=0; }
# kf_attrs PATH MODE OWNER GROUP: prints what differs; exit $KF_CHANGE if anything does.
kf_attrs() {
  [ -n "$2$3$4" ] || return 0
  kf_st=$(stat -c '%a|%U|%G' -- "$1") || return 1
  kf_cm=${kf_st%%|*}; kf_r=${kf_st#*|}; kf_cu=${kf_r%%|*}; kf_cg=${kf_r#*|}; kf_df=0
  if [ -n "$2" ]; then kf_norm_mode "$2"; kf_want=$kf_m; kf_norm_mode "$kf_cm"; if [ "$kf_want" != "$kf_m" ]; then echo "mode $kf_cm -> $2"; kf_df=1; fi; fi
  if [ -n "$3" ] && [ "$3" != "$kf_cu" ]; then echo "owner $kf_cu -> $3"; kf_df=1; fi
  if [ -n "$4" ] && [ "$4" != "$kf_cg" ]; then echo "group $kf_cg -> $4"; kf_df=1; fi
  [ $kf_df = 0 ] || return $KF_CHANGE
}
# kf_fix_attrs PATH MODE OWNER GROUP
kf_fix_attrs() {
  if [ -n "$2" ]; then chmod "$2" -- "$1" || return 1; fi
  if [ -n "$3" ]; then chown "$3" -- "$1" || return 1; fi
  if [ -n "$4" ]; then chgrp "$4" -- "$1" || return 1; fi
}
# kf_put DEST MODE OWNER GROUP < content: atomic write (temp file in the same dir,
# rename), with mode/owner/group set on the temp file first.
kf_put() {
  kf_tmp "$1" || return 1
  if ! cat > "$kf_t"; then rm -f "$kf_t"; return 1; fi
  kf_put_done "$@"
}
# kf_put_text DEST MODE OWNER GROUP: kf_put of the text in $kf_c (printf is a builtin).
kf_put_text() {
  kf_tmp "$1" || return 1
  if ! printf '%s' "$kf_c" > "$kf_t"; then rm -f "$kf_t"; return 1; fi
  kf_put_done "$@"
}
# kf_tmp DEST: kf_t, a temp file name beside DEST (its directory made if missing).
kf_tmp() {
  kf_dir "$1"
  [ -d "$kf_d" ] || mkdir -p -- "$kf_d" || return 1
  kf_t="$kf_d/.kubeforge.$$.${KFN:-0}"
}
# kf_put_done DEST MODE OWNER GROUP: attributes on the temp file kf_t, then the rename.
# A new file without a mode keeps the 0644 the script's umask gave it.
kf_put_done() {
  if [ -n "$2" ]; then chmod "$2" "$kf_t"; elif [ -e "$1" ]; then chmod "$(stat -c %a -- "$1")" "$kf_t"; fi || { rm -f "$kf_t"; return 1; }
  if [ -n "$3" ]; then chown "$3" "$kf_t" || { rm -f "$kf_t"; return 1; }; fi
  if [ -n "$4" ]; then chgrp "$4" "$kf_t" || { rm -f "$kf_t"; return 1; }; fi
  mv -f -- "$kf_t" "$1"
}
# kf_dir PATH: sets kf_d to PATH's parent directory (. for a bare name, / for /name).
kf_dir() { case $1 in */*) kf_d=${1%/*}; [ -n "$kf_d" ] || kf_d=/;; *) kf_d=.;; esac; }
# kf_parent PATH: fails, saying so, when PATH's parent directory does not exist
# (Ansible's file, touch and link never create parents).
kf_parent() { kf_dir "$1"; [ -d "$kf_d" ] || { printf '%s\n' "parent directory $kf_d does not exist" >&2; return 1; }; }
# kf_words TEXT: TEXT's words joined by one space (whitespace normalised, no globbing).
kf_words() { ( set -f; set -- $1; printf '%s' "$*" ); }
# kf_would PATH: in check mode, an earlier step of this run would create PATH.
kf_would() { [ -n "${KF_WOULD:-}" ] && [ -f "$KF_WOULD" ] && grep -Fxq -- "$1" "$KF_WOULD"; }
# kf_would_unit NAME: an earlier step would write the unit file of NAME.
kf_would_unit() {
  [ -n "${KF_WOULD:-}" ] && [ -f "$KF_WOULD" ] || return 1
  while IFS= read -r kf_l; do case $kf_l in */systemd/system/"$1"|*/systemd/system/"$1".service) return 0;; esac; done < "$KF_WOULD"
  return 1
}
# kf_same_content PATH SHA256: exit 0 when PATH holds exactly that content.
kf_same_content() { [ -f "$1" ] || return 1; kf_h=$(sha256sum < "$1"); [ "${kf_h%% *}" = "$2" ]; }
# kf_diff_files BEFORE AFTER: keeps both for the controller's diff when asked.
kf_diff_files() { if [ "${KF_DIFF:-0}" = 1 ]; then cp -- "$1" "$KFS/before" 2>/dev/null || : > "$KFS/before"; cp -- "$2" "$KFS/after"; fi; }
# kf_backup DEST: before DEST is replaced, a copy beside it as DEST.PID.YYYY-MM-DD@HH:MM:SS~.
kf_backup() { if [ -f "$1" ]; then cp -p -- "$1" "$1.$$.$(date +%Y-%m-%d@%H:%M:%S)~" || return 1; fi; }
# File contents (copy, template): the content is in $kf_c, as text (FORM t) or base64 (b).
# kf_content DEST SHA256 MODE OWNER GROUP FORM: the probe.
kf_content() {
  if [ -d "$1" ]; then printf '%s\n' "$1 is a directory" >&2; return 1; fi
  if kf_same_content "$1" "$2"; then kf_attrs "$1" "$3" "$4" "$5"; return; fi
  echo 'content differs'
  if [ "${KF_DIFF:-0}" = 1 ]; then kf_content_feed "$6" > "$KFS/new"; kf_diff_files "$1" "$KFS/new"; fi
  return $KF_CHANGE
}
kf_content_feed() { if [ "$1" = b ]; then printf '%s' "$kf_c" | base64 -d; else printf '%s' "$kf_c"; fi; }
# kf_content_put DEST MODE OWNER GROUP FORM: the apply.
kf_content_put() {
  if [ "$5" = t ]; then kf_put_text "$1" "$2" "$3" "$4"; else kf_content_feed b | kf_put "$1" "$2" "$3" "$4"; fi
}
"#;

/// The whole library: probe codes first, then the helpers and the modules' functions.
pub fn shell_lib() -> String {
    format!(
        "{}\n{LIB_BODY}{}{}{}",
        super::probe::shell_codes(),
        super::file::LIB,
        super::lineinfile::LIB,
        super::command::LIB
    )
}

/// The library as a batch script carries it: comment lines and indentation dropped
/// (fewer bytes per batch; the text is the same shell).
pub fn shell_lib_compact() -> &'static str {
    static COMPACT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COMPACT.get_or_init(|| {
        shell_lib()
            .lines()
            .map(str::trim_start)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// The helpers alone (tests and documentation; scripts use `shell_lib`).
pub const SHELL_LIB: &str = LIB_BODY;

#[cfg(test)]
mod tests {
    #[test]
    fn the_compact_library_is_valid_shell_with_every_function() {
        let lib = super::shell_lib_compact();
        for f in [
            "kf_attrs",
            "kf_content",
            "kf_file_dir",
            "kf_line",
            "kf_cmd_probe",
        ] {
            assert!(lib.contains(&format!("{f}() {{")), "{f} missing");
        }
        let out = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(lib)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
