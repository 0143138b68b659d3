//! `kubeforge offline list`: every file (URL and sha256) and container image the
//! cluster's hosts need, for an air-gapped files repository and registry mirror. Nothing
//! is contacted. `--files-only` / `--images-only` print the one-per-line lists Kubespray's
//! offline scripts read (files.list, images.list).

use super::{exit, OpError};
use crate::artifacts::images::ResolvedImage;
use crate::artifacts::Resolved;
use crate::cli::{CheckFormat, InventoryArgs};
use crate::topology::Component;
use serde::Serialize;

/// Which lists to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Select {
    /// Files (artifacts and Cilium's chart).
    pub files: bool,
    /// Container images.
    pub images: bool,
}

/// A file without a pinned checksum that a mirror must still hold (Cilium's Helm chart:
/// cilium-cli fetches it from helm.cilium.io unless given a repository).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chart {
    /// Upstream URL (the mirror keeps its path under `files_repo`).
    pub upstream_url: String,
    /// Why it is needed.
    pub what: String,
}

/// An image and the hosts that pull it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRow {
    /// The image as resolved.
    #[serde(flatten)]
    pub image: ResolvedImage,
    /// Hosts that pull it (natural order).
    pub hosts: Vec<String>,
}

/// The whole list.
#[derive(Debug, Default, Serialize)]
pub struct OfflineList {
    /// Files with pinned checksums.
    pub files: Vec<Resolved>,
    /// Charts (no pinned checksum).
    pub charts: Vec<Chart>,
    /// Container images.
    pub images: Vec<ImageRow>,
}

/// Builds the list for a cluster; problems (unpinned versions or tags) as messages.
pub fn build(cluster: &crate::cluster::Cluster) -> (OfflineList, Vec<String>) {
    let mut out = OfflineList::default();
    let mut errors = Vec::new();
    let mut error = |msg: String| {
        if !errors.contains(&msg) {
            errors.push(msg);
        }
    };
    for h in &cluster.hosts {
        let get = |n: &str| h.vars.get(n).map(|(v, _)| v.clone());
        for a in crate::artifacts::for_host(&h.components, &get) {
            match crate::artifacts::resolve(&a.name, &get) {
                Ok(r) => {
                    if !out.files.iter().any(|x| {
                        x.name == r.name
                            && x.version == r.version
                            && x.arch == r.arch
                            && x.url == r.url
                    }) {
                        out.files.push(r);
                    }
                }
                Err(e) => error(format!("{}: {e}", h.name)),
            }
        }
        match crate::artifacts::images::for_host(&h.components, &get) {
            Ok(images) => {
                for i in images {
                    match out
                        .images
                        .iter_mut()
                        .find(|x| x.image.reference == i.reference)
                    {
                        Some(row) => row.hosts.push(h.name.clone()),
                        None => out.images.push(ImageRow {
                            image: i,
                            hosts: vec![h.name.clone()],
                        }),
                    }
                }
            }
            Err(e) => error(format!("{}: {e}", h.name)),
        }
        if h.has(Component::Cilium) && h.has(Component::Kubectl) {
            let version = get("cilium_version")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            for (url, what) in [
                (
                    "https://helm.cilium.io/index.yaml".to_string(),
                    "Cilium's Helm repository index",
                ),
                (
                    format!("https://helm.cilium.io/cilium-{version}.tgz"),
                    "Cilium's Helm chart",
                ),
            ] {
                if !out.charts.iter().any(|c| c.upstream_url == url) {
                    out.charts.push(Chart {
                        upstream_url: url,
                        what: what.into(),
                    });
                }
            }
        }
    }
    (out, errors)
}

/// `kubeforge offline list`.
pub fn list(args: &InventoryArgs, format: CheckFormat, select: Select) -> Result<u8, OpError> {
    let cluster = super::inventory::load(args)?;
    let (mut list, errors) = build(&cluster);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if !select.files {
        list.files.clear();
        list.charts.clear();
    }
    if !select.images {
        list.images.clear();
    }
    let only = select.files != select.images;
    match format {
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        ),
        // Kubespray's files.list / images.list: one upstream name per line.
        CheckFormat::Text if only => {
            for r in &list.files {
                println!("{}", r.upstream_url);
            }
            for c in &list.charts {
                println!("{}", c.upstream_url);
            }
            for i in &list.images {
                println!("{}", i.image.upstream);
            }
        }
        CheckFormat::Text => {
            for r in &list.files {
                let via = if r.url != r.upstream_url {
                    format!("(fetched from {})", r.url)
                } else {
                    String::new()
                };
                println!("{} {} {via}", r.sha256, r.upstream_url);
            }
            for c in &list.charts {
                println!("{:64} {} ({})", "-", c.upstream_url, c.what);
            }
            for i in &list.images {
                let via = if i.image.reference != i.image.upstream {
                    format!("(pulled as {})", i.image.reference)
                } else {
                    String::new()
                };
                println!("image {} {via}", i.image.upstream);
            }
        }
    }
    Ok(if errors.is_empty() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    })
}
