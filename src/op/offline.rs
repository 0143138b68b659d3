//! `kubeforge offline list`: every artifact URL and sha256 the cluster's hosts download,
//! for an air-gapped mirror. Nothing is contacted.

use super::{exit, OpError};
use crate::artifacts::Resolved;
use crate::cli::{CheckFormat, InventoryArgs};

/// `kubeforge offline list`.
pub fn list(args: &InventoryArgs, format: CheckFormat) -> Result<u8, OpError> {
    let cluster = super::inventory::load(args)?;
    let mut rows: Vec<Resolved> = Vec::new();
    let mut errors = Vec::new();
    for h in &cluster.hosts {
        let get = |n: &str| h.vars.get(n).map(|(v, _)| v.clone());
        for a in crate::artifacts::for_components(&h.components) {
            match crate::artifacts::resolve(&a.name, &get) {
                Ok(r) => {
                    if !rows.iter().any(|x| {
                        x.name == r.name
                            && x.version == r.version
                            && x.arch == r.arch
                            && x.url == r.url
                    }) {
                        rows.push(r);
                    }
                }
                Err(e) => {
                    let msg = format!("{}: {e}", h.name);
                    if !errors.contains(&msg) {
                        errors.push(msg);
                    }
                }
            }
        }
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    match format {
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        ),
        CheckFormat::Text => {
            for r in &rows {
                let via = if r.url != r.upstream_url {
                    format!("(fetched from {})", r.url)
                } else {
                    String::new()
                };
                println!("{} {} {via}", r.sha256, r.upstream_url);
            }
        }
    }
    Ok(if errors.is_empty() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}
