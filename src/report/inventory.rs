//! `inventory show` and `inventory check` output: a table for people, JSON/YAML as a
//! documented contract for scripts (see README "JSON output").

use crate::cluster::{Cluster, ClusterHost};
use crate::diagnostic::Diagnostic;
use crate::vars::secret::{is_secret_name, MASK};
use serde_json::{json, Value};

fn host_json(h: &ClusterHost, show_secrets: bool) -> Value {
    let vars: serde_json::Map<String, Value> = h
        .vars
        .iter()
        .map(|(k, (v, loc))| {
            let value =
                if !show_secrets && is_secret_name(k) && !v.is_null() && !v.is_boolean() && v != ""
                {
                    Value::from(MASK)
                } else {
                    v.clone()
                };
            (
                k.clone(),
                json!({"value": value, "source": loc.to_string()}),
            )
        })
        .collect();
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

/// The JSON document of `inventory show --format json`.
pub fn show_json(c: &Cluster, host: Option<&str>, show_secrets: bool) -> Value {
    let hosts: Vec<Value> = c
        .hosts
        .iter()
        .filter(|h| host.is_none_or(|n| n == h.name))
        .map(|h| host_json(h, show_secrets))
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
    let doc = show_json(c, host, show_secrets);
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
