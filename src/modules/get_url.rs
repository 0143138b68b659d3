//! `get_url`: a file from a URL, installed only if its sha256 matches. Either the host
//! fetches it (curl or wget), or (`download_once: true`) the controller downloads it once
//! to its cache and pushes it. A mismatch installs nothing and says expected vs got.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, Fetch, ModuleError, RemoteStep, STAGE_DIR, q};
use crate::shell::say;

/// Reads `sha256:HEX` (or bare hex) into lowercase hex.
pub fn parse_checksum(a: &Args, s: &str) -> Result<String, ModuleError> {
    let hexpart = s
        .strip_prefix("sha256:")
        .unwrap_or(s)
        .trim()
        .to_ascii_lowercase();
    if s.contains(':') && !s.starts_with("sha256:") {
        return Err(a.err(
            "checksum",
            &format!("'{s}': only sha256 is accepted (sha256:HEX)"),
        ));
    }
    if hexpart.len() != 64 || !hexpart.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(a.err(
            "checksum",
            &format!("'{s}' is not a sha256 (64 hex digits)"),
        ));
    }
    Ok(hexpart)
}

/// Prepares a `get_url` step.
pub(super) fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    let url = a.req("url")?;
    if url.starts_with('-') || !url.contains("://") {
        return Err(a.err("url", &format!("'{url}' is not a URL (scheme://host/path)")));
    }
    let dest = a.req("dest")?;
    let sha = parse_checksum(a, &a.req("checksum")?)?;
    let timeout = a.uint("timeout", 60)?;
    let (d, m, o, g) = (
        q(&dest),
        q(&a.mode("mode")?),
        q(&a.account("owner")?),
        q(&a.account("group")?),
    );
    let installed =
        format!("if kf_same_content {d} {sha}; then kf_attrs {d} {m} {o} {g}; exit $?; fi\n");
    let verify = |file: &str| {
        format!(
            "got=$(sha256sum < {file} | cut -d' ' -f1); if [ \"$got\" != {sha} ]; then rm -f {file}; printf 'checksum mismatch for %s: expected %s, got %s; nothing was installed\\n' {u} {sha} \"$got\" >&2; exit 1; fi",
            u = q(&url)
        )
    };
    let insecure = !a.bool("validate_certs", true)?;
    if a.bool("download_once", false)? {
        if insecure {
            return Err(a.err(
                "validate_certs",
                "false cannot be used with download_once: the controller always checks certificates",
            ));
        }
        let staged = format!("{STAGE_DIR}/{sha}");
        let s = q(&staged);
        return Ok(Action::Remote(RemoteStep {
            probe: format!(
                "{installed}if ! kf_same_content {s} {sha}; then {}; exit $KF_UPLOAD; fi\n{}; exit $KF_CHANGE",
                say(&format!("push {url} from the controller")),
                say(&format!("install from {staged}"))
            ),
            apply: format!(
                "kf_dir {d} && mkdir -p -- \"$kf_d\" && t=$(mktemp \"$kf_d/.kubeforge.XXXXXX\") && cp -- {s} \"$t\" || exit 1\n{}\n\
                 kf_fix_attrs \"$t\" {m} {o} {g} && mv -f -- \"$t\" {d} && rm -f {s}",
                verify("\"$t\"")
            ),
            uploads: vec![(ctx.cache_dir.join(&sha), staged, 0o600)],
            fetch: Some(Fetch {
                url,
                sha256: sha.clone(),
                cache_path: ctx.cache_dir.join(&sha),
            }),
            probe_quick: true,
            creates: vec![dest.clone()],
            ..RemoteStep::default()
        }));
    }
    let u = q(&url);
    Ok(Action::Remote(RemoteStep {
        probe: format!("{installed}{}; exit $KF_CHANGE", say(&format!("download {url}"))),
        apply: format!(
            "kf_dir {d} && mkdir -p -- \"$kf_d\" && t=$(mktemp \"$kf_d/.kubeforge.XXXXXX\") || exit 1\n\
             if command -v curl >/dev/null 2>&1; then curl -fsSL{k} --connect-timeout 20 --max-time {timeout} -o \"$t\" {u}; \
             else wget -q{w} -T {timeout} -O \"$t\" {u}; fi || {{ rm -f \"$t\"; {failed}; }}\n{}\n\
             kf_fix_attrs \"$t\" {m} {o} {g} && mv -f -- \"$t\" {d}",
            verify("\"$t\""),
            failed = crate::shell::fail(&format!("download of {url} failed")),
            k = if insecure { " -k" } else { "" },
            w = if insecure { " --no-check-certificate" } else { "" },
        ),
        probe_quick: true,
        creates: vec![dest],
        ..RemoteStep::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "get_url",
    aliases: &[],
    args: &["url", "dest", "checksum", "mode", "owner", "group", "timeout", "validate_certs", "download_once"],
    required: &["url", "dest", "checksum"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
