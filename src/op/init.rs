//! `kubeforge inventory init DIR`: a Kubespray-compatible inventory directory from the
//! machines' addresses (what Kubespray's removed inventory builder did): hosts.yaml with
//! the groups, and group_vars with the documented defaults of inventory/sample. The
//! result is loaded and validated before anything is written: what init writes passes
//! `inventory check`, or init writes nothing.

mod addr;

use super::{exit, print_diagnostics, OpError};
use crate::cli::{InitArgs, InitLayout};
use addr::{parse_flag, stack_of};
pub use addr::{parse_item, Addr, Stack};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// inventory/sample's group_vars, written as they are but for the lines init sets.
const SAMPLE: &[(&str, &str)] = &[
    (
        "group_vars/all/all.yml",
        include_str!("../../inventory/sample/group_vars/all/all.yml"),
    ),
    (
        "group_vars/all/etcd.yml",
        include_str!("../../inventory/sample/group_vars/all/etcd.yml"),
    ),
    (
        "group_vars/all/offline.yml",
        include_str!("../../inventory/sample/group_vars/all/offline.yml"),
    ),
    (
        "group_vars/k8s_cluster/k8s-cluster.yml",
        include_str!("../../inventory/sample/group_vars/k8s_cluster/k8s-cluster.yml"),
    ),
    (
        "group_vars/k8s_cluster/k8s-net-cilium.yml",
        include_str!("../../inventory/sample/group_vars/k8s_cluster/k8s-net-cilium.yml"),
    ),
    (
        ".gitignore",
        include_str!("../../inventory/sample/.gitignore"),
    ),
];

/// A host to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHost {
    /// Its name (node1, node2, ...).
    pub name: String,
    /// Its address(es).
    pub addr: Addr,
    /// Control plane.
    pub control_plane: bool,
    /// Worker.
    pub worker: bool,
    /// etcd member name (etcd1, ...) when it is one.
    pub etcd: Option<String>,
}

/// What init will write, decided from the flags alone.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The hosts, control planes first, then workers, then separate etcd hosts.
    pub hosts: Vec<NewHost>,
    /// separate or stacked.
    pub layout: InitLayout,
    /// IP families.
    pub stack: Stack,
    /// ansible_user.
    pub user: String,
    /// ansible_ssh_private_key_file (absolute).
    pub key: Option<PathBuf>,
}

pub(super) fn usage(m: impl Into<String>) -> OpError {
    OpError::Usage(m.into())
}

/// Decides hosts, groups and families from the flags; refuses what cannot work.
pub fn spec(a: &InitArgs) -> Result<Spec, OpError> {
    let cps = parse_flag("control-plane", &a.control_plane)?;
    let workers = parse_flag("worker", &a.worker)?;
    let etcds = parse_flag("etcd", &a.etcd)?;
    if cps.is_empty() {
        return Err(usage("--control-plane: give at least one address"));
    }
    let layout = match (a.layout, etcds.is_empty()) {
        (Some(InitLayout::Separate), true) => {
            return Err(usage(
                "--layout separate needs its etcd hosts: --etcd ADDR... (1, 3 or 5 machines apart from the control planes)",
            ))
        }
        (Some(InitLayout::Stacked), false) => {
            return Err(usage(
                "--layout stacked runs etcd on the control planes: drop --etcd, or use --layout separate",
            ))
        }
        (Some(l), _) => l,
        (None, true) => InitLayout::Stacked,
        (None, false) => InitLayout::Separate,
    };
    let members = if layout == InitLayout::Stacked {
        cps.len()
    } else {
        etcds.len()
    };
    if members % 2 == 0 {
        let whose = if layout == InitLayout::Stacked {
            "the control planes (layout stacked)"
        } else {
            "--etcd"
        };
        return Err(usage(format!(
            "{members} etcd members from {whose}: etcd needs an odd number (an even count tolerates no more failures than one fewer); give {} or {}",
            members - 1,
            members + 1
        )));
    }
    for e in &etcds {
        if cps.contains(e) || workers.contains(e) {
            return Err(usage(format!(
                "--etcd {e} is also a control plane or worker: separate etcd hosts run etcd only (for etcd on the control planes, drop --etcd)"
            )));
        }
    }
    let stack = stack_of(a.ipv6, cps.iter().chain(&workers).chain(&etcds))?;
    let key = match &a.key {
        None => None,
        Some(k) => Some(std::fs::canonicalize(k).map_err(|e| {
            usage(format!(
                "--key {}: {e} (give the private key kubeforge logs in with)",
                k.display()
            ))
        })?),
    };
    if a.user.trim().is_empty() || a.user.contains(char::is_whitespace) {
        return Err(usage(format!(
            "--user '{}': give a login name without spaces",
            a.user
        )));
    }
    // Control planes first, then workers (a worker already a control plane is one host
    // in both groups), then the separate etcd hosts.
    let mut hosts: Vec<NewHost> = Vec::new();
    let mut etcd_n = 0;
    for (i, addr) in cps.iter().enumerate() {
        let etcd = (layout == InitLayout::Stacked).then(|| {
            etcd_n += 1;
            format!("etcd{etcd_n}")
        });
        hosts.push(NewHost {
            name: format!("node{}", i + 1),
            addr: *addr,
            control_plane: true,
            worker: workers.contains(addr),
            etcd,
        });
    }
    for addr in workers.iter().filter(|w| !cps.contains(w)) {
        hosts.push(NewHost {
            name: format!("node{}", hosts.len() + 1),
            addr: *addr,
            control_plane: false,
            worker: true,
            etcd: None,
        });
    }
    for addr in &etcds {
        etcd_n += 1;
        hosts.push(NewHost {
            name: format!("node{}", hosts.len() + 1),
            addr: *addr,
            control_plane: false,
            worker: false,
            etcd: Some(format!("etcd{etcd_n}")),
        });
    }
    Ok(Spec {
        hosts,
        layout,
        stack,
        user: a.user.trim().to_string(),
        key,
    })
}

/// The inventory's files (path relative to DIR, content).
pub fn files(s: &Spec, dir: &Path) -> Result<Vec<(String, String)>, OpError> {
    let mut out = vec![("hosts.yaml".to_string(), hosts_yaml(s, dir))];
    for (path, text) in SAMPLE {
        let text = match *path {
            "group_vars/all/all.yml" => {
                let mut value = yaml_str(&s.user);
                if let Some(k) = &s.key {
                    value.push_str(&format!(
                        "\n\n# SSH private key for every host (from `inventory init --key`).\nansible_ssh_private_key_file: {}",
                        yaml_str(&k.display().to_string())
                    ));
                }
                set_line(path, text, "ansible_user:", &value)?
            }
            "group_vars/k8s_cluster/k8s-cluster.yml" => {
                let (v4, v6) = match s.stack {
                    Stack::V4 => ("true", "false"),
                    Stack::V6 => ("false", "true"),
                    Stack::Dual => ("true", "true"),
                };
                let t = set_line(path, text, "ipv4_stack:", v4)?;
                set_line(path, &t, "ipv6_stack:", v6)?
            }
            _ => text.to_string(),
        };
        out.push((path.to_string(), text));
    }
    Ok(out)
}

/// Replaces the value of the line starting with `key` (the sample's documented line).
fn set_line(path: &str, text: &str, key: &str, value: &str) -> Result<String, OpError> {
    let mut found = false;
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        if !found && line.starts_with(key) {
            found = true;
            out.push_str(&format!("{key} {value}"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    if !found {
        // Only a changed inventory/sample can cause this; the unit tests catch it.
        return Err(usage(format!(
            "inventory/sample/{path} has no '{key}' line for init to set (a kubeforge build error: please report it)"
        )));
    }
    Ok(out)
}

/// A YAML scalar that stays a string (JSON's quoting is valid YAML).
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("'{s}'"))
}

/// Whether a host belongs to a group.
type Member = fn(&NewHost) -> bool;

/// An address as YAML: IPv4 plain, IPv6 quoted (its colons read better quoted).
fn scalar(a: IpAddr) -> String {
    match a {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(b) => yaml_str(&b.to_string()),
    }
}

fn hosts_yaml(s: &Spec, dir: &Path) -> String {
    let count = |f: fn(&NewHost) -> bool| s.hosts.iter().filter(|h| f(h)).count();
    let layout = match s.layout {
        InitLayout::Stacked => "stacked: etcd runs on the control planes",
        InitLayout::Separate => {
            "separate: etcd hosts apart, with etcd and nothing container-related"
        }
    };
    let mut y = format!(
        "# Written by `kubeforge inventory init`: {} control plane(s), {} worker(s), {} etcd member(s).\n# Layout {layout}.\n# Host names become Kubernetes node names: rename them before the first run if you like.\n# Check it: kubeforge inventory check -i {d}\n# See what runs where: kubeforge plan -i {d} playbooks/cluster.yml\nall:\n  hosts:\n",
        count(|h| h.control_plane),
        count(|h| h.worker),
        count(|h| h.etcd.is_some()),
        d = dir.display(),
    );
    for h in &s.hosts {
        y.push_str(&format!(
            "    {}:\n      ansible_host: {}\n",
            h.name,
            scalar(h.addr.ssh())
        ));
        match h.addr {
            Addr::V4(a) => y.push_str(&format!("      ip: {a}\n")),
            Addr::V6(b) => y.push_str(&format!("      ip6: {}\n", scalar(b.into()))),
            Addr::Dual(a, b) => {
                y.push_str(&format!("      ip: {a}\n      ip6: {}\n", scalar(b.into())))
            }
        }
        if let Some(e) = &h.etcd {
            y.push_str(&format!("      etcd_member_name: {e}\n"));
        }
    }
    y.push_str("  children:\n");
    let groups: [(&str, Member); 3] = [
        ("kube_control_plane", |h| h.control_plane),
        ("kube_node", |h| h.worker),
        ("etcd", |h| h.etcd.is_some()),
    ];
    for (group, member) in groups {
        let names: Vec<&str> = s
            .hosts
            .iter()
            .filter(|h| member(h))
            .map(|h| h.name.as_str())
            .collect();
        if names.is_empty() {
            y.push_str(&format!("    {group}:\n      hosts: {{}}\n"));
            continue;
        }
        y.push_str(&format!("    {group}:\n      hosts:\n"));
        for n in names {
            y.push_str(&format!("        {n}:\n"));
        }
    }
    y.push_str(
        "    k8s_cluster:\n      children:\n        kube_control_plane:\n        kube_node:\n",
    );
    y
}

/// `kubeforge inventory init`.
pub fn run(a: &InitArgs) -> Result<u8, OpError> {
    let dir = &a.dir;
    if dir.exists() && !dir.is_dir() {
        return Err(usage(format!(
            "{} exists and is not a directory: give a new or empty directory",
            dir.display()
        )));
    }
    let non_empty = dir.is_dir()
        && std::fs::read_dir(dir)
            .map_err(|source| OpError::Io {
                what: format!("cannot read {}", dir.display()),
                source,
            })?
            .next()
            .is_some();
    if non_empty && !a.force {
        return Err(usage(format!(
            "{} is not empty: give a new or empty directory, or --force to write init's files there (other files are kept)",
            dir.display()
        )));
    }
    let spec = spec(a)?;
    let files = files(&spec, dir)?;
    // Load and validate a copy first: init writes an inventory that passes
    // `inventory check`, or nothing.
    let scratch = tempfile::tempdir().map_err(|source| OpError::Io {
        what: "cannot create a temp dir".into(),
        source,
    })?;
    write_all(scratch.path(), &files)?;
    let inv = crate::inventory::Inventory::load(scratch.path(), &[])?;
    let diags = crate::validate::validate(&crate::cluster::Cluster::build(inv));
    if diags.iter().any(|d| d.is_error()) {
        return Err(OpError::Refused {
            diagnostics: diags,
            summary: "the inventory init would write has errors; nothing was written".into(),
            exit: exit::INVALID,
        });
    }
    write_all(dir, &files)?;
    // Warnings (a single etcd member...) as `inventory check` shows them, with the real paths.
    let cluster = crate::cluster::Cluster::build(crate::inventory::Inventory::load(dir, &[])?);
    print_diagnostics(&crate::validate::validate(&cluster));
    println!("{}", summary(dir, &spec, cluster.layout.as_str()));
    Ok(exit::OK)
}

fn summary(dir: &Path, s: &Spec, layout: &str) -> String {
    let stack = match s.stack {
        Stack::V4 => "IPv4",
        Stack::V6 => "IPv6 only",
        Stack::Dual => "dual stack",
    };
    let d = dir.display();
    let etcd = match s.layout {
        InitLayout::Stacked => "etcd on the control planes",
        InitLayout::Separate => "etcd on hosts of its own",
    };
    let mut t = format!(
        "wrote {d}: {} host(s), layout {layout} ({etcd}), {stack}\n",
        s.hosts.len()
    );
    for h in &s.hosts {
        let mut groups = Vec::new();
        if h.control_plane {
            groups.push("kube_control_plane");
        }
        if h.worker {
            groups.push("kube_node");
        }
        if h.etcd.is_some() {
            groups.push("etcd");
        }
        t.push_str(&format!(
            "  {:<8} {:<32} {}\n",
            h.name,
            h.addr.to_string(),
            groups.join(", ")
        ));
    }
    t.push_str(&format!(
        "next: kubeforge inventory check -i {d}\n      kubeforge plan -i {d} playbooks/cluster.yml"
    ));
    t
}

/// Writes each file through a temp file and a rename, creating directories.
fn write_all(dir: &Path, files: &[(String, String)]) -> Result<(), OpError> {
    for (rel, text) in files {
        let path = dir.join(rel);
        let io = |source| OpError::Io {
            what: format!("cannot write {}", path.display()),
            source,
        };
        let parent = path.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent).map_err(io)?;
        let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(io)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(io)?;
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
