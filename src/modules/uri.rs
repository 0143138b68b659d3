//! `uri`: an HTTP(S) request made from the host with curl (health checks): fails unless
//! the status is one of `status_code`; registers `status` and (with return_content)
//! `content`.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, ModuleError, RemoteStep, q};
use serde_json::Value;

/// Prepares a `uri` step.
fn prepare(a: &Args, _ctx: &Context) -> Result<Action, ModuleError> {
    let url = a.req("url")?;
    if url.starts_with('-') || !url.contains("://") {
        return Err(a.err("url", &format!("'{url}' is not a URL (scheme://host/path)")));
    }
    let method = a.str_or("method", "GET")?.to_ascii_uppercase();
    let codes: Vec<u64> = match a.raw("status_code") {
        None => vec![200],
        Some(Value::Array(v)) => v
            .iter()
            .filter_map(|x| {
                x.as_u64()
                    .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            })
            .collect(),
        Some(_) => vec![a.uint("status_code", 200)?],
    };
    if codes.is_empty() {
        return Err(a.err("status_code", "must list at least one status"));
    }
    let mut opts = vec![
        "-sS".to_string(),
        "-X".into(),
        q(&method),
        "--max-time".into(),
        a.uint("timeout", 30)?.to_string(),
    ];
    if let Some(ca) = a.str("ca_path")? {
        opts.push(format!("--cacert {}", q(&ca)));
    }
    if let Some(c) = a.str("client_cert")? {
        opts.push(format!("--cert {}", q(&c)));
    }
    if let Some(k) = a.str("client_key")? {
        opts.push(format!("--key {}", q(&k)));
    }
    if !a.bool("validate_certs", true)? {
        opts.push("-k".into());
    }
    if let Some(body) = a.raw("body") {
        let b = body
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| body.to_string());
        opts.push(format!("--data-binary {}", q(&b)));
    }
    if let Some(Value::Object(h)) = a.raw("headers") {
        for (k, v) in h {
            opts.push(format!(
                "-H {}",
                q(&format!(
                    "{k}: {}",
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                ))
            ));
        }
    }
    let want = codes
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let content = if a.bool("return_content", false)? {
        "echo \"KFVAR content_b64=$(base64 -w0 \"$KFS/body\")\"\n"
    } else {
        ""
    };
    let probe = format!(
        "code=$(curl {} -o \"$KFS/body\" -w '%{{http_code}}' {u}) || {}\n\
         echo \"KFVAR status=$code\"\n{content}\
         for c in {want}; do [ \"$code\" = \"$c\" ] && exit 0; done\n\
         printf '%s answered %s, expected one of: %s\\n' {u} \"$code\" {w} >&2; exit 1",
        opts.join(" "),
        crate::shell::fail(&format!("request to {url} failed")),
        u = q(&url),
        w = q(&want),
    );
    Ok(Action::Remote(RemoteStep {
        probe,
        apply: String::new(),
        probe_vars: true,
        ..RemoteStep::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "uri",
    aliases: &[],
    args: &["url", "status_code", "method", "ca_path", "client_cert", "client_key", "validate_certs", "return_content", "timeout", "body", "headers"],
    required: &["url"],
    free_form: None,
    any_args: false,
    runs: Runs::Host,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
