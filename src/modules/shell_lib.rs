//! The shell functions every step snippet can use, and the probe exit codes as shell
//! variables (so no snippet writes a bare number).

/// The helpers (`. "$KF/lib.sh"` is prepended by the batch).
const LIB_BODY: &str = r#"
kf_norm_mode() { kf_m=${1#"${1%%[!0]*}"}; [ -n "$kf_m" ] || kf_m=0; }
# kf_attrs PATH MODE OWNER GROUP: prints what differs; exit $KF_CHANGE if anything does.
kf_attrs() {
  st=$(stat -c '%a|%U|%G' -- "$1") || return 1
  cm=${st%%|*}; r=${st#*|}; cu=${r%%|*}; cg=${r#*|}; d=0
  if [ -n "$2" ]; then kf_norm_mode "$2"; want=$kf_m; kf_norm_mode "$cm"; if [ "$want" != "$kf_m" ]; then echo "mode $cm -> $2"; d=1; fi; fi
  if [ -n "$3" ] && [ "$3" != "$cu" ]; then echo "owner $cu -> $3"; d=1; fi
  if [ -n "$4" ] && [ "$4" != "$cg" ]; then echo "group $cg -> $4"; d=1; fi
  [ $d = 0 ] || return $KF_CHANGE
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
  kf_dir "$1"
  [ -d "$kf_d" ] || mkdir -p -- "$kf_d" || return 1
  kf_t="$kf_d/.kubeforge.$$.${KFN:-0}"
  if ! cat > "$kf_t"; then rm -f "$kf_t"; return 1; fi
  if [ -n "$2" ]; then chmod "$2" "$kf_t"; elif [ -e "$1" ]; then chmod "$(stat -c %a -- "$1")" "$kf_t"; else chmod 644 "$kf_t"; fi || { rm -f "$kf_t"; return 1; }
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
"#;

/// The whole library: probe codes first, then the helpers.
pub fn shell_lib() -> String {
    format!("{}\n{LIB_BODY}", super::probe::shell_codes())
}

/// The helpers alone (tests and documentation; scripts use `shell_lib`).
pub const SHELL_LIB: &str = LIB_BODY;
