//! `inventory show` and `inventory check` output: a table for people, JSON/YAML as a
//! documented contract for scripts (see README "JSON output").

use crate::cluster::{Cluster, ClusterHost};
use crate::diagnostic::Diagnostic;
use crate::vars::secret::{is_secret_name, MASK};
use serde_json::{json, Value};

/// How tagged values (integers beyond 64 bits, inf/nan) are written: JSON text gets
/// exact number tokens (see `show_json_text`), the table and YAML their text.
type Placeholder = dyn Fn(&str) -> Value;

fn shown(v: &Value, placeholder: &Placeholder) -> Value {
    crate::value::for_output(v, &Value::from(MASK), placeholder)
}

/// What `inventory show` prints beyond the hosts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShowOptions {
    /// Secret-looking values in clear.
    pub show_secrets: bool,
    /// Ansible's magic variables among each host's variables (source "magic").
    pub magic: bool,
}

fn host_json(c: &Cluster, h: &ClusterHost, opts: ShowOptions, placeholder: &Placeholder) -> Value {
    let show_secrets = opts.show_secrets;
    let mut vars: serde_json::Map<String, Value> = h
        .vars
        .iter()
        .map(|(k, (v, loc))| {
            let value =
                if !show_secrets && is_secret_name(k) && !v.is_null() && !v.is_boolean() && v != ""
                {
                    Value::from(MASK)
                } else {
                    shown(v, placeholder)
                };
            (
                k.clone(),
                json!({"value": value, "source": loc.to_string()}),
            )
        })
        .collect();
    // Left for run time: the text as written (a vault value stays masked).
    for (k, d) in &h.deferred {
        let value = if d.locked || (!show_secrets && is_secret_name(k)) {
            Value::from(MASK)
        } else {
            match shown(&d.raw, placeholder) {
                Value::String(s) => Value::String(s),
                other => Value::String(other.to_string()),
            }
        };
        vars.insert(
            k.clone(),
            json!({"value": value, "source": d.origin.to_string(), "resolved": false,
                   "reason": d.reason}),
        );
    }
    // Ansible's magic variables, as templates see them.
    let (inventory_dir, inventory_file) = c.inventory.source_of(&h.name);
    let magic = [
        ("inventory_hostname", json!(h.name)),
        ("inventory_dir", json!(inventory_dir)),
        ("inventory_file", json!(inventory_file)),
        (
            "group_names",
            json!(h.groups.iter().filter(|g| *g != "all").collect::<Vec<_>>()),
        ),
    ];
    for (k, v) in magic.into_iter().filter(|_| opts.magic) {
        vars.entry(k.to_string())
            .or_insert_with(|| json!({"value": v, "source": "magic"}));
    }
    let mut obj = json!({
        "name": h.name,
        "roles": h.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "components": h.components.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "ips": h.ips.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        "groups": h.groups.iter().filter(|g| *g != "all").collect::<Vec<_>>(),
        "etcd_only": h.is_etcd_only(),
        "ssh": h.ssh,
    });
    if let Some(name) = &h.etcd_member_name {
        obj["etcd"] = json!({
            "member_name": name,
            "peer_url": h.etcd_peer_url(),
            "client_url": h.etcd_client_url(),
        });
    }
    obj["vars"] = Value::Object(vars);
    obj
}

const TOKEN: &str = "\u{0}kubeforge-number:";

/// `inventory show --format json` as text: integers beyond 64 bits written exactly, and
/// inf/-inf as `1e999`/`-1e999` (valid JSON that parsers read as infinity); nan, which
/// JSON cannot express, is `null`.
pub fn show_json_text(c: &Cluster, host: Option<&str>, opts: ShowOptions) -> String {
    let doc = show_json_with(c, host, opts, &|t: &str| {
        Value::String(format!("{TOKEN}{t}\u{0}"))
    });
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let open = "\"\\u0000kubeforge-number:";
    while let Some(i) = rest.find(open) {
        out.push_str(&rest[..i]);
        let after = &rest[i + open.len()..];
        let Some(end) = after.find("\\u0000\"") else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        out.push_str(match &after[..end] {
            "inf" => "1e999",
            "-inf" => "-1e999",
            "nan" => "null",
            digits => digits,
        });
        rest = &after[end + "\\u0000\"".len()..];
    }
    out.push_str(rest);
    out
}

/// The JSON document of `inventory show --format json` (numbers JSON cannot hold as
/// strings: `1e40`, `.inf`).
pub fn show_json(c: &Cluster, host: Option<&str>, show_secrets: bool) -> Value {
    let opts = ShowOptions {
        show_secrets,
        magic: false,
    };
    show_json_with_options(c, host, opts)
}

/// `show_json` with all options.
pub fn show_json_with_options(c: &Cluster, host: Option<&str>, opts: ShowOptions) -> Value {
    show_json_with(c, host, opts, &|t: &str| match t {
        "inf" => Value::from(".inf"),
        "-inf" => Value::from("-.inf"),
        "nan" => Value::from(".nan"),
        digits => Value::from(digits),
    })
}

fn show_json_with(
    c: &Cluster,
    host: Option<&str>,
    opts: ShowOptions,
    placeholder: &Placeholder,
) -> Value {
    let hosts: Vec<Value> = c
        .hosts
        .iter()
        .filter(|h| host.is_none_or(|n| n == h.name))
        .map(|h| host_json(c, h, opts, placeholder))
        .collect();
    let n = &c.network;
    let families: Vec<&str> = [(n.ipv4, "ipv4"), (n.ipv6, "ipv6")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| *f)
        .collect();
    json!({
        "layout": c.layout.as_str(),
        "network": {
            "families": families,
            "service_subnet": n.service_subnet(),
            "pod_subnet": n.pod_subnet(),
            "apiserver_service_ip": n.apiserver_service_ip().map(|i| i.to_string()),
            "etcd_initial_cluster": c.etcd_initial_cluster(),
            "etcd_endpoints": c.etcd_endpoints(),
        },
        "hosts": hosts,
    })
}

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The table of `inventory show` (with `--host`, the host's variables too).
pub fn show_table(c: &Cluster, host: Option<&str>, show_secrets: bool) -> String {
    let opts = ShowOptions {
        show_secrets,
        magic: false,
    };
    show_table_with_options(c, host, opts)
}

/// `show_table` with all options.
pub fn show_table_with_options(c: &Cluster, host: Option<&str>, opts: ShowOptions) -> String {
    let doc = show_json_with_options(c, host, opts);
    let mut out = String::new();
    let n = &doc["network"];
    out.push_str(&format!(
        "layout: {}   families: {}   services: {}   pods: {}   apiserver service IP: {}\n\n",
        c.layout.as_str(),
        n["families"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("+"))
            .unwrap_or_default(),
        n["service_subnet"].as_str().unwrap_or(""),
        n["pod_subnet"].as_str().unwrap_or(""),
        n["apiserver_service_ip"].as_str().unwrap_or("-"),
    ));
    let mut rows = vec![vec![
        "HOST".to_string(),
        "ROLES".into(),
        "IPS".into(),
        "COMPONENTS".into(),
    ]];
    for h in &c.hosts {
        if host.is_some_and(|n| n != h.name) {
            continue;
        }
        rows.push(vec![
            h.name.clone(),
            join_or_dash(h.roles.iter().map(|r| r.as_str().to_string())),
            join_or_dash(h.ips.iter().map(|i| i.to_string())),
            join_or_dash(h.components.iter().map(|c| c.as_str().to_string())),
        ]);
    }
    out.push_str(&table(&rows));
    if let Some(name) = host {
        if let Some(h) = doc["hosts"].as_array().and_then(|a| a.first()) {
            out.push_str(&format!("\nvariables of {name}:\n"));
            let mut rows = vec![vec!["NAME".to_string(), "VALUE".into(), "SOURCE".into()]];
            if let Some(vars) = h["vars"].as_object() {
                for (k, v) in vars {
                    let value = match &v["value"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let value = value.replace('\n', "\\n");
                    let value = if v.get("resolved") == Some(&Value::Bool(false)) {
                        format!("{value} (at run time)")
                    } else {
                        value
                    };
                    let value = if value.chars().count() > 80 {
                        format!("{}...", value.chars().take(77).collect::<String>())
                    } else {
                        value
                    };
                    rows.push(vec![
                        k.clone(),
                        value,
                        v["source"].as_str().unwrap_or("").to_string(),
                    ]);
                }
            }
            out.push_str(&table(&rows));
        }
    }
    out
}

fn join_or_dash(it: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = it.collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

/// `inventory check --format json`: the diagnostics and counts.
pub fn check_json(diags: &[Diagnostic]) -> Value {
    json!({
        "errors": diags.iter().filter(|d| d.is_error()).count(),
        "warnings": diags.iter().filter(|d| !d.is_error()).count(),
        "diagnostics": diags.iter().map(|d| json!({
            "severity": d.severity,
            "code": d.code,
            "message": d.message,
            "location": d.location.as_ref().map(|l| l.to_string()),
            "help": d.help,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::is_secret_name;

    #[test]
    fn secret_names() {
        for n in [
            "kubeadm_certificate_key",
            "kube_token",
            "registry_password",
            "etcd_secret",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "kube_cert_dir",
            "ansible_ssh_private_key_file",
            "kube_version",
            "keyboard",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }
}
