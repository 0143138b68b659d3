//! The resolved cluster: every host with its roles, components, addresses and rendered
//! variables, plus the layout and network settings. Built from the inventory alone.

use crate::diagnostic::{Diagnostic, Location};
use crate::inventory::{Inventory, VarMap};
use crate::network::{self, NetworkSettings};
use crate::topology::{self, Component, Facts, Layout, Role, Settings};
use crate::vars::{Derived, Resolver};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

mod derived;
mod render;
use derived::derived_vars;
use render::{failure_diagnostics, render_vars, Deferrals, Failures, Report};
pub use render::{Deferred, RUNTIME_CODE};

/// Variables that must be real booleans (Kubespray's "booleans must be booleans").
pub const BOOLEAN_VARS: [&str; 26] = [
    "download_always_pull",
    "helm_enabled",
    "openstack_lbaas_enabled",
    "ipv4_stack",
    "ipv6_stack",
    "enable_dual_stack_networks",
    "download_run_once",
    "download_localhost",
    "install_os_packages",
    "allow_unsupported_distribution_setup",
    "kube_network_plugin_multus",
    "kube_proxy_strict_arp",
    "kube_encrypt_secret_data",
    "kube_api_anonymous_auth",
    "kube_webhook_token_auth",
    "enable_nodelocaldns",
    "enable_nodelocaldns_secondary",
    "deploy_netchecker",
    "persistent_volumes_enabled",
    "auto_renew_certificates",
    "kubernetes_audit",
    "kata_containers_enabled",
    "metallb_enabled",
    "unsafe_show_logs",
    "remove_anonymous_access",
    "kubeforge_single_etcd_intended",
];

/// The hosts day-2 work starts from: the control plane that bootstrapped the cluster
/// (kubeadm init, join tokens, kubectl) and an etcd member to act on the cluster's
/// membership. A stable choice kept in the last-applied record, never "the first by
/// name" of today's inventory, so adding a host that sorts first changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anchors {
    /// The first control plane.
    pub first_control_plane: Option<String>,
    /// The etcd member that acts for the cluster.
    pub first_etcd: Option<String>,
}

/// How much of each host's variables to render while building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// Every variable (inventory show/check): every failure is reported.
    All,
    /// Only what kubeforge itself reads; the rest when a task uses it, as in Ansible
    /// (a template with a side effect, such as a password lookup, runs only then).
    Lazy,
}

/// How to reach a host over SSH (from ansible_host, ansible_port, ansible_user, key file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SshTarget {
    /// Address or DNS name to connect to.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// Login user.
    pub user: String,
    /// Private key file, when set.
    pub key_file: Option<String>,
    /// True when the inventory sets the user (else the ssh config's User, else root).
    #[serde(skip)]
    pub user_given: bool,
    /// True when the inventory sets the port (else the ssh config's Port, else 22).
    #[serde(skip)]
    pub port_given: bool,
}

/// One host, resolved.
#[derive(Debug, Clone)]
pub struct ClusterHost {
    /// Inventory hostname.
    pub name: String,
    /// Roles from its groups.
    pub roles: BTreeSet<Role>,
    /// Components from the topology table.
    pub components: Vec<Component>,
    /// Every group it belongs to (sorted, `all` included).
    pub groups: BTreeSet<String>,
    /// Node IPs in family order (IPv4 first).
    pub ips: Vec<IpAddr>,
    /// Families for which no address could be found.
    pub missing_families: Vec<String>,
    /// SSH target.
    pub ssh: SshTarget,
    /// The etcd member name (`etcd_member_name`, else the hostname), for etcd members.
    pub etcd_member_name: Option<String>,
    /// Rendered variables with where each was set (empty if rendering failed).
    pub vars: BTreeMap<String, (Value, Location)>,
    /// Variables that can only be rendered at run time (facts, names defined later, a
    /// vault value without the password): shown unresolved by `inventory show`.
    pub deferred: BTreeMap<String, Deferred>,
    /// Settings used for the topology table.
    pub settings: Settings,
}

impl ClusterHost {
    /// True when the host has the role.
    pub fn has_role(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }
    /// True when the host has the component.
    pub fn has(&self, c: Component) -> bool {
        self.components.contains(&c)
    }
    /// An etcd member outside k8s_cluster.
    pub fn is_etcd_only(&self) -> bool {
        self.has_role(Role::Etcd)
            && !self.has_role(Role::ControlPlane)
            && !self.has_role(Role::Worker)
    }
    /// The address etcd uses (first family).
    pub fn main_ip(&self) -> Option<&IpAddr> {
        self.ips.first()
    }
    /// etcd peer URL (IPv6 in brackets).
    pub fn etcd_peer_url(&self) -> Option<String> {
        self.main_ip().map(|ip| network::url("https", ip, 2380))
    }
    /// etcd client URL (IPv6 in brackets).
    pub fn etcd_client_url(&self) -> Option<String> {
        self.main_ip().map(|ip| network::url("https", ip, 2379))
    }
    /// A rendered variable.
    pub fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name).map(|(v, _)| v)
    }
}

/// The whole cluster as the inventory describes it.
#[derive(Clone)]
pub struct Cluster {
    /// The inventory it was built from.
    pub inventory: Arc<Inventory>,
    /// The first control plane and acting etcd member.
    pub anchors: Anchors,
    /// Layout.
    pub layout: Layout,
    /// Families and CIDRs (from the first control-plane host's variables).
    pub network: NetworkSettings,
    /// Hosts in natural name order.
    pub hosts: Vec<ClusterHost>,
    /// Problems found while building (rendering, addresses, network).
    pub diagnostics: Vec<Diagnostic>,
    /// The variable resolver (for tasks and templates).
    pub resolver: Resolver,
}

/// The variables kubeforge itself reads when planning (everything else is rendered when
/// a task needs it).
fn kubeforge_reads() -> Vec<String> {
    let mut v: Vec<String> = [
        "container_manager",
        "kube_network_plugin",
        "etcd_deployment_type",
        "cilium_identity_allocation_mode",
        "ansible_host",
        "ansible_port",
        "ansible_user",
        "ansible_ssh_host",
        "ansible_ssh_port",
        "ansible_ssh_user",
        "ansible_ssh_private_key_file",
        "ansible_connection",
        "ansible_ssh_common_args",
        "ansible_ssh_extra_args",
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_ssh_password",
        "ansible_become_password",
        "ansible_become_pass",
        "ip",
        "ip6",
        "access_ip",
        "access_ip6",
        "etcd_member_name",
        "ipv4_stack",
        "ipv6_stack",
        "enable_dual_stack_networks",
        "kube_service_addresses",
        "kube_pods_subnet",
        "kube_network_node_prefix",
        "kube_service_addresses_ipv6",
        "kube_pods_subnet_ipv6",
        "kube_network_node_prefix_ipv6",
        "files_repo",
        "image_arch",
        "artifact_checksums",
        "artifacts_built_locally",
        "download_run_once",
        "kube_apiserver_port",
        "kube_config_dir",
        "loadbalancer_apiserver",
        "loadbalancer_apiserver_localhost",
        "loadbalancer_apiserver_type",
        "apiserver_loadbalancer_domain_name",
        "supplementary_addresses_in_ssl_keys",
        "cilium_kube_proxy_replacement",
        "cluster_name",
        "dns_domain",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(BOOLEAN_VARS.iter().map(|s| s.to_string()));
    for a in crate::artifacts::all() {
        v.push(a.version_var.clone());
        v.push(a.url_var.clone());
    }
    v.extend(crate::artifacts::images::variables());
    v.extend(crate::artifacts::condition_vars());
    v.sort();
    v.dedup();
    v
}

fn str_var(vars: &BTreeMap<String, (Value, Location)>, name: &str) -> Option<String> {
    vars.get(name).and_then(|(v, _)| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn resolve_host(
    inv: &Inventory,
    name: &str,
    vars: BTreeMap<String, (Value, Location)>,
    groups: (&[String], &[String], &[String]),
) -> ClusterHost {
    let (cp, workers, etcd) = groups;
    let mut roles = BTreeSet::new();
    if cp.iter().any(|h| h == name) {
        roles.insert(Role::ControlPlane);
    }
    if workers.iter().any(|h| h == name) {
        roles.insert(Role::Worker);
    }
    if etcd.iter().any(|h| h == name) {
        roles.insert(Role::Etcd);
    }
    let defaults = Settings::default();
    let settings = Settings {
        container_manager: str_var(&vars, "container_manager")
            .unwrap_or(defaults.container_manager),
        kube_network_plugin: str_var(&vars, "kube_network_plugin")
            .unwrap_or(defaults.kube_network_plugin),
        etcd_deployment_type: str_var(&vars, "etcd_deployment_type")
            .unwrap_or(defaults.etcd_deployment_type),
        cni_uses_etcd: str_var(&vars, "cilium_identity_allocation_mode").as_deref()
            == Some("kvstore"),
        kube_proxy_replaced: vars
            .get("cilium_kube_proxy_replacement")
            .is_some_and(|(v, _)| crate::vars::truthy_setting(v)),
        // Kubespray: the local load balancer unless an external one is given.
        local_apiserver_lb: match vars.get("loadbalancer_apiserver_localhost") {
            Some((v, _)) => crate::vars::truthy_setting(v),
            None => vars
                .get("loadbalancer_apiserver")
                .is_none_or(|(v, _)| v.is_null()),
        },
    };
    let components = topology::components(&Facts {
        roles: roles.clone(),
        settings: settings.clone(),
    });
    // As the ssh connection plugin: of its variables the last one defined wins, so
    // ansible_ssh_host beats ansible_host when both are set.
    let last = |names: [&str; 2]| {
        names.iter().rev().find_map(|n| {
            vars.get(*n)
                .filter(|(v, _)| !v.is_null())
                .map(|(v, _)| v.clone())
        })
    };
    let as_text = |v: Value| match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let ssh = SshTarget {
        address: last(["ansible_host", "ansible_ssh_host"])
            .and_then(as_text)
            .unwrap_or_else(|| name.to_string()),
        port: last(["ansible_port", "ansible_ssh_port"])
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            })
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(22),
        user: last(["ansible_user", "ansible_ssh_user"])
            .and_then(as_text)
            .unwrap_or_else(|| "root".into()),
        key_file: str_var(&vars, "ansible_ssh_private_key_file"),
        user_given: last(["ansible_user", "ansible_ssh_user"])
            .and_then(as_text)
            .is_some(),
        port_given: last(["ansible_port", "ansible_ssh_port"]).is_some(),
    };
    let etcd_member_name = roles.contains(&Role::Etcd).then(|| {
        str_var(&vars, "etcd_member_name")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| name.to_string())
    });
    ClusterHost {
        name: name.to_string(),
        roles,
        components,
        groups: inv.groups_of(name),
        ips: Vec::new(),
        missing_families: Vec::new(),
        ssh,
        etcd_member_name,
        vars,
        deferred: BTreeMap::new(),
        settings,
    }
}

impl Cluster {
    /// Resolves every host with kubeforge's built-in defaults, rendering every variable
    /// (what `inventory show` and `inventory check` need). Failures become diagnostics.
    pub fn build(inv: Inventory) -> Cluster {
        // The shipped defaults are parsed in a unit test; an error here is a build bug,
        // and the inventory is still shown (without defaults) rather than nothing.
        let defaults = crate::defaults::builtin().unwrap_or_default();
        Cluster::build_with(inv, &defaults, Render::All)
    }

    /// Resolves every host over `defaults` (the lowest layer, chosen by the operation).
    /// Roles, components, addresses and network settings are decided first, from the
    /// variables kubeforge reads; then the resolver that tasks use is built with those
    /// decisions as derived variables (never written back afterwards).
    pub fn build_with(inv: Inventory, defaults: &VarMap, render: Render) -> Cluster {
        Cluster::build_anchored(inv, defaults, render, &Anchors::default())
    }

    /// As `build_with`, with the anchors an operation prefers (from the record); a
    /// preferred host that is no longer in the group falls back to the first by name.
    pub fn build_anchored(
        inv: Inventory,
        defaults: &VarMap,
        render: Render,
        preferred: &Anchors,
    ) -> Cluster {
        let layers = inv.layers(defaults);
        let first = Resolver::new(layers.clone(), Derived::new());
        let mut diagnostics = inv.warnings.clone();
        let cp = inv.members("kube_control_plane");
        let workers = inv.members("kube_node");
        let etcd = inv.members("etcd");
        let k8s = inv.members("k8s_cluster");
        let wanted = kubeforge_reads();
        let mut failures = Failures::new();
        let mut hosts = Vec::new();
        for h in &inv.hosts {
            let names: Vec<String> = first
                .names(&h.name)
                .into_iter()
                .filter(|n| wanted.iter().any(|w| w == n))
                .collect();
            let vars = render_vars(&first, &inv, &h.name, names, &mut failures, None);
            hosts.push(resolve_host(&inv, &h.name, vars, (&cp, &workers, &etcd)));
        }
        // Cluster-wide network settings come from one deterministic host: the first
        // control plane (natural order), else the first k8s host, else the first host.
        let reference = cp
            .first()
            .or(k8s.first())
            .and_then(|n| hosts.iter().find(|h| &h.name == n))
            .or(hosts.first());
        let empty = BTreeMap::new();
        let ref_vars = reference.map(|h| &h.vars).unwrap_or(&empty);
        let get = |n: &str| ref_vars.get(n).cloned();
        let network = NetworkSettings::from_vars(&get, &mut diagnostics);
        for h in &mut hosts {
            let vars = &h.vars;
            let get = |n: &str| vars.get(n).cloned();
            let (ips, missing) = network::node_ips(network.ipv4, network.ipv6, &get);
            h.ips = ips;
            h.missing_families = missing;
        }
        let layout = topology::layout(&cp, &k8s, &etcd);
        let pick = |want: &Option<String>, group: &[String]| {
            want.clone()
                .filter(|w| group.contains(w))
                .or_else(|| group.first().cloned())
        };
        let anchors = Anchors {
            first_control_plane: pick(&preferred.first_control_plane, &cp),
            first_etcd: pick(&preferred.first_etcd, &etcd),
        };
        let resolver = Resolver::new(layers, derived_vars(&hosts, layout, &network, &anchors));
        let mut warned = Failures::new();
        let mut needed = Failures::new();
        if render == Render::All {
            let mut all_failures = Failures::new();
            for h in &mut hosts {
                let names = resolver.names(&h.name);
                let mut deferred = BTreeMap::new();
                h.vars = render_vars(
                    &resolver,
                    &inv,
                    &h.name,
                    names,
                    &mut all_failures,
                    Some(Deferrals {
                        wanted: &wanted,
                        out: &mut deferred,
                        warned: &mut warned,
                        needed: &mut needed,
                    }),
                );
                h.deferred = deferred;
            }
            failures = all_failures;
        }
        failure_diagnostics(failures, &mut diagnostics, Report::Error);
        failure_diagnostics(needed, &mut diagnostics, Report::Needed);
        failure_diagnostics(warned, &mut diagnostics, Report::Deferred);
        Cluster {
            inventory: Arc::new(inv),
            anchors,
            layout,
            network,
            hosts,
            diagnostics,
            resolver,
        }
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&ClusterHost> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Hosts with a role, in natural order.
    pub fn with_role(&self, r: Role) -> Vec<&ClusterHost> {
        self.hosts.iter().filter(|h| h.has_role(r)).collect()
    }

    /// etcd's `initial-cluster` string: `name=peer_url,...` in natural order.
    pub fn etcd_initial_cluster(&self) -> String {
        self.with_role(Role::Etcd)
            .iter()
            .filter_map(|h| {
                Some(format!(
                    "{}={}",
                    h.etcd_member_name.as_ref()?,
                    h.etcd_peer_url()?
                ))
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// etcd client endpoints, comma-separated, natural order.
    pub fn etcd_endpoints(&self) -> String {
        self.with_role(Role::Etcd)
            .iter()
            .filter_map(|h| h.etcd_client_url())
            .collect::<Vec<_>>()
            .join(",")
    }
}
