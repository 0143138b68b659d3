//! The inventory directory a lab writes for its layout: `hosts.yaml` (Kubespray groups,
//! addresses, user, key, strict host key checking against the lab's `known_hosts`),
//! `group_vars/all/lab.yml` (what a cluster on lab hosts needs), and `known_hosts` (every
//! host's key for its IPv4 and IPv6 address: nothing is accepted blindly).

use super::layout::{Groups, Layout};
use super::names::{LabName, Subnet};
use std::fmt::Write;
use std::path::Path;

/// What the inventory says about the lab.
pub struct InventorySpec<'a> {
    /// The lab's name.
    pub name: &'a LabName,
    /// Its subnet.
    pub subnet: Subnet,
    /// Number of hosts.
    pub hosts: usize,
    /// Layout.
    pub layout: Layout,
    /// The private key file.
    pub key: &'a Path,
    /// The known_hosts file.
    pub known_hosts: &'a Path,
    /// URL of the files repository served on the bridge, if any.
    pub files_repo: Option<&'a str>,
}

/// YAML double-quoted string.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The text of hosts.yaml.
pub fn hosts_yaml(spec: &InventorySpec, groups: &Groups) -> String {
    let mut y = String::new();
    let name = spec.name;
    let _ = writeln!(
        y,
        "# kubeforge lab '{}' ({} hosts, layout {}), written by `kubeforge lab up`.\n\
         # Rewritten by each `lab up`; removed by `kubeforge lab down {}`.",
        name.as_str(),
        spec.hosts,
        spec.layout.name(),
        name.as_str()
    );
    let ssh_args = format!(
        "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
        spec.known_hosts.display()
    );
    y.push_str("all:\n  hosts:\n");
    for k in 1..=spec.hosts {
        let ip = spec.subnet.host4(k);
        let _ = writeln!(y, "    {}:", name.host(k));
        let _ = writeln!(y, "      ansible_host: {ip}");
        let _ = writeln!(y, "      ip: {ip}");
        let _ = writeln!(y, "      ip6: {}", q(&spec.subnet.host6(k).to_string()));
        y.push_str("      ansible_user: root\n");
        let _ = writeln!(
            y,
            "      ansible_ssh_private_key_file: {}",
            q(&spec.key.display().to_string())
        );
        let _ = writeln!(y, "      ansible_ssh_common_args: {}", q(&ssh_args));
        if let Some(i) = groups.etcd.iter().position(|&e| e == k) {
            let _ = writeln!(y, "      etcd_member_name: etcd{}", i + 1);
        }
    }
    y.push_str("  children:\n");
    for (group, members) in [
        ("kube_control_plane", &groups.control_plane),
        ("kube_node", &groups.nodes),
        ("etcd", &groups.etcd),
    ] {
        let _ = writeln!(y, "    {group}:\n      hosts:");
        for k in members {
            let _ = writeln!(y, "        {}:", name.host(*k));
        }
    }
    y.push_str(
        "    k8s_cluster:\n      children:\n        kube_control_plane:\n        kube_node:\n",
    );
    y
}

/// The text of group_vars/all/lab.yml.
pub fn lab_vars(spec: &InventorySpec, groups: &Groups) -> String {
    let mut y = String::from(
        "# kubeforge lab: what a cluster on lab hosts needs (written by `kubeforge lab up`).\n\
         # A lab host's root is an overlayfs: containerd's overlayfs snapshotter cannot\n\
         # stack on it.\n\
         containerd_snapshotter: native\n",
    );
    if groups.etcd.len() == 1 {
        y.push_str("# one etcd member: a throwaway lab, on purpose\nkubeforge_single_etcd_intended: true\n");
    }
    if let Some(url) = spec.files_repo {
        let _ = writeln!(
            y,
            "# served from this machine on the lab bridge (`lab up --files-repo`)\nfiles_repo: {}",
            q(url)
        );
    }
    y
}

/// known_hosts lines for host K's public key line (`TYPE KEY [COMMENT]`).
pub fn known_hosts_lines(subnet: Subnet, k: usize, pubkey: &str) -> String {
    let mut words = pubkey.split_whitespace();
    let (Some(kind), Some(key)) = (words.next(), words.next()) else {
        return String::new();
    };
    format!(
        "{} {kind} {key}\n{} {kind} {key}\n",
        subnet.host4(k),
        subnet.host6(k)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    fn write(dir: &Path, layout: Layout, n: usize) -> Inventory {
        let name = LabName::parse("t1").unwrap();
        let key = dir.join("id_ed25519");
        let kh = dir.join("known_hosts");
        let spec = InventorySpec {
            name: &name,
            subnet: Subnet(4),
            hosts: n,
            layout,
            key: &key,
            known_hosts: &kh,
            files_repo: Some("http://10.214.4.1:8080"),
        };
        let groups = layout.groups(n).unwrap();
        let inv = dir.join("inventory");
        std::fs::create_dir_all(inv.join("group_vars/all")).unwrap();
        std::fs::write(inv.join("hosts.yaml"), hosts_yaml(&spec, &groups)).unwrap();
        std::fs::write(inv.join("group_vars/all/lab.yml"), lab_vars(&spec, &groups)).unwrap();
        Inventory::load(&inv, &[]).unwrap()
    }

    fn members(inv: &Inventory, group: &str) -> Vec<String> {
        let mut v: Vec<String> = inv.groups[group].hosts.to_vec();
        v.sort();
        v
    }

    #[test]
    fn separate_layout_loads_as_kubeforge_reads_it() {
        let d = tempfile::tempdir().unwrap();
        let inv = write(d.path(), Layout::Separate, 3);
        assert_eq!(members(&inv, "kube_control_plane"), ["t1-node1"]);
        assert_eq!(members(&inv, "kube_node"), ["t1-node2"]);
        assert_eq!(members(&inv, "etcd"), ["t1-node3"]);
        assert_eq!(inv.hosts.len(), 3);
        let text = std::fs::read_to_string(d.path().join("inventory/hosts.yaml")).unwrap();
        assert!(text.contains("ansible_host: 10.214.4.13"), "{text}");
        assert!(text.contains("ansible_user: root"));
        assert!(text.contains("StrictHostKeyChecking=yes"));
        assert!(text.contains("etcd_member_name: etcd1"));
    }

    #[test]
    fn ha_layout() {
        let d = tempfile::tempdir().unwrap();
        let inv = write(d.path(), Layout::Ha, 4);
        assert_eq!(
            members(&inv, "kube_control_plane"),
            ["t1-node1", "t1-node2"]
        );
        assert_eq!(members(&inv, "etcd"), ["t1-node1", "t1-node2", "t1-node3"]);
        assert_eq!(members(&inv, "kube_node"), ["t1-node3", "t1-node4"]);
        let vars =
            std::fs::read_to_string(d.path().join("inventory/group_vars/all/lab.yml")).unwrap();
        assert!(!vars.contains("single_etcd"), "{vars}");
        assert!(
            vars.contains("files_repo: \"http://10.214.4.1:8080\""),
            "{vars}"
        );
    }

    #[test]
    fn known_hosts_has_both_addresses() {
        let l = known_hosts_lines(Subnet(4), 2, "ssh-ed25519 AAAAC3Nz root@t1-node2\n");
        assert_eq!(
            l,
            "10.214.4.12 ssh-ed25519 AAAAC3Nz\nfd00:6b66:6c62:4::12 ssh-ed25519 AAAAC3Nz\n"
        );
        assert_eq!(known_hosts_lines(Subnet(4), 2, "garbage"), "");
    }
}
