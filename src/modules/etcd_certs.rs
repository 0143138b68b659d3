//! `etcd_certs`: makes etcd's PKI on the controller (see `pki`), for the `members`
//! (hostnames; their ip/ip6/access_ip and names become SANs) and `clients`. Runs on the
//! controller only, never on a host; in check mode it reports what it would create.

use super::decl::{ModuleDecl, Runs, Timeout};
use super::{Action, Args, Context, LocalResult, ModuleError};
use serde_json::Value;
use std::net::IpAddr;

fn names(a: &Args, k: &str) -> Result<Vec<String>, ModuleError> {
    match a.raw(k) {
        None => Ok(Vec::new()),
        Some(Value::Array(v)) => v
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .map(|n| {
                // The name becomes a file name in `dir` and a certificate's subject:
                // a host name, never a path.
                let ok = !n.is_empty()
                    && n.len() <= 253
                    && !n.starts_with(['.', '-'])
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
                if ok {
                    Ok(n)
                } else {
                    Err(a.err(k, &format!("'{n}' is not a host name")))
                }
            })
            .collect(),
        Some(_) => Err(a.err(k, "must be a list of hostnames")),
    }
}

fn host_ips(ctx: &Context, host: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let Ok(hv) = ctx.scope.get_attr("hostvars") else {
        return out;
    };
    let Ok(h) = hv.get_item(&minijinja::Value::from(host)) else {
        return out;
    };
    for var in ["ip", "access_ip", "ip6", "access_ip6", "ansible_host"] {
        if let Ok(v) = h.get_attr(var) {
            if let Some(ip) = v.as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

/// Prepares (and, outside check mode, performs) the PKI step.
fn prepare(a: &Args, ctx: &Context) -> Result<Action, ModuleError> {
    let dir = a.req("dir")?;
    let members: Vec<crate::pki::Member> = names(a, "members")?
        .into_iter()
        .map(|n| crate::pki::Member {
            ips: host_ips(ctx, &n),
            dns: vec![n.clone()],
            name: n,
        })
        .collect();
    let clients = names(a, "clients")?;
    let made = crate::pki::ensure(std::path::Path::new(&dir), &members, &clients, ctx.check)
        .map_err(|e| ModuleError(e.to_string()))?;
    Ok(Action::Local(LocalResult {
        changed: !made.is_empty(),
        msg: (!made.is_empty()).then(|| {
            format!(
                "{} {}",
                if ctx.check { "would create" } else { "created" },
                made.join(", ")
            )
        }),
        ..LocalResult::default()
    }))
}

/// The declaration in the module table.
pub const DECL: ModuleDecl = ModuleDecl {
    name: "etcd_certs",
    aliases: &[],
    args: &["dir", "members", "clients"],
    required: &["dir"],
    free_form: None,
    any_args: false,
    runs: Runs::Controller,
    timeout: Timeout::Task,
    expressions: &[],
    prepare,
};
