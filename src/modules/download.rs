//! `download`: an artifact from kubeforge's table (etcd, containerd, kubeadm, ...) for
//! this host: version from its variable, architecture from `image_arch`, URL from
//! `files_repo` or upstream, checksum pinned. Fetched like `get_url` (by the host, or
//! once by the controller with `download_run_once: true`), into `dest/<file name>`.
//! Registers `path` (the file), `url`, `sha256`, `version`, `filename`.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, get_url};
use serde_json::{json, Value};

fn var(ctx: &Context, name: &str) -> Option<Value> {
    let v = ctx.scope.get_attr(name).ok()?;
    if v.is_undefined() || v.is_none() {
        return None;
    }
    serde_json::to_value(&v).ok()
}

/// Prepares a `download` step.
fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    let name = a.req("artifact")?;
    let get = |n: &str| var(ctx, n);
    let r = crate::artifacts::resolve(&name, &get)
        .map_err(|e| ModuleError(format!("download: {e}")))?;
    let dir = match a.str("dest")? {
        Some(d) => d,
        None => var(ctx, "local_release_dir")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "/tmp/releases".into()),
    };
    let dest = format!("{}/{}", dir.trim_end_matches('/'), r.filename);
    let once = a.bool(
        "download_once",
        var(ctx, "download_run_once")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
    )?;
    let args = json!({
        "url": r.url,
        "dest": dest,
        "checksum": format!("sha256:{}", r.sha256),
        "mode": a.str("mode")?.unwrap_or_else(|| if r.archive == "binary" { "0755".into() } else { "0644".into() }),
        "download_once": once,
        "timeout": a.uint("timeout", 600)?,
    });
    let inner = Args::new("download", &args);
    let action = get_url::prepare(&inner, ctx)?;
    Ok(match action {
        Action::Remote(mut step) => {
            // Register where it went, whatever the probe printed.
            let vars = [
                ("path", dest.as_str()),
                ("url", r.url.as_str()),
                ("sha256", r.sha256.as_str()),
                ("version", r.version.as_str()),
                ("filename", r.filename.as_str()),
            ]
            .iter()
            .map(|(k, v)| crate::shell::kfvar(k, v))
            .collect::<Vec<_>>()
            .join("; ");
            step.probe = format!("{vars}\n{}", step.probe);
            step.probe_vars = true;
            Action::Remote(step)
        }
        other => other,
    })
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "download",
    aliases: &[],
    args: &["artifact", "dest", "mode", "download_once", "timeout"],
    required: &["artifact"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
