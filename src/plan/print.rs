//! `kubeforge plan` output: per host, its roles, components and every task that will
//! run there, in order.

use super::{Placement, Plan};
use crate::cluster::Cluster;
use serde_json::{json, Value};

fn status(p: &Placement) -> (&'static str, Option<&str>) {
    match p {
        Placement::Runs => ("runs", None),
        Placement::Conditional(why) => ("conditional", Some(why)),
        Placement::Skipped(why) => ("skipped", Some(why)),
    }
}

/// The plan as JSON (a documented contract).
pub fn plan_json(cluster: &Cluster, plan: &Plan) -> Value {
    let hosts: Vec<Value> = cluster
        .hosts
        .iter()
        .map(|h| {
            let plays: Vec<Value> = plan
                .plays
                .iter()
                .filter(|p| p.hosts.contains(&h.name))
                .map(|p| {
                    let tasks: Vec<Value> = p
                        .tasks
                        .iter()
                        .filter(|t| t.task.module != "meta")
                        // A run_once task runs on the play's first host only.
                        .filter(|t| !t.task.run_once || p.hosts.first() == Some(&h.name))
                        .filter_map(|t| {
                            let (st, why) = status(t.placement.get(&h.name)?);
                            (st != "skipped").then(|| {
                                json!({
                                    "name": t.task.name,
                                    "role": t.task.role,
                                    "module": t.task.module,
                                    "location": t.task.location.to_string(),
                                    "status": st,
                                    "condition": why,
                                    "needs": t.task.needs.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                                })
                            })
                        })
                        .collect();
                    json!({"play": p.play.name, "roles": p.play.roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), "tasks": tasks})
                })
                .collect();
            json!({
                "name": h.name,
                "roles": h.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "components": h.components.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "plays": plays,
            })
        })
        .collect();
    json!({"layout": cluster.layout.as_str(), "hosts": hosts})
}

/// The plan as text for people.
pub fn plan_text(cluster: &Cluster, plan: &Plan) -> String {
    let doc = plan_json(cluster, plan);
    let mut out = format!("layout: {}\n", cluster.layout.as_str());
    for h in doc["hosts"].as_array().into_iter().flatten() {
        let list = |k: &str| {
            let v: Vec<&str> = h[k]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        out.push_str(&format!(
            "\n{}\n  roles: {}\n  components: {}\n",
            h["name"].as_str().unwrap_or(""),
            list("roles"),
            list("components")
        ));
        let mut n = 0;
        for p in h["plays"].as_array().into_iter().flatten() {
            let roles: Vec<&str> = p["roles"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            out.push_str(&format!(
                "  play: {}{}\n",
                p["play"].as_str().unwrap_or(""),
                if roles.is_empty() {
                    String::new()
                } else {
                    format!(" (roles: {})", roles.join(", "))
                }
            ));
            for t in p["tasks"].as_array().into_iter().flatten() {
                n += 1;
                let role = t["role"]
                    .as_str()
                    .map(|r| format!("{r}: "))
                    .unwrap_or_default();
                let cond = t["condition"]
                    .as_str()
                    .map(|c| format!("  [if {c}]"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "    {n:>3}. {role}{}{cond}\n",
                    t["name"].as_str().unwrap_or("")
                ));
            }
        }
        if n == 0 {
            out.push_str("  (nothing runs here)\n");
        }
    }
    out
}
