//! Roles and components per host, decided in one table. This is the only place that
//! says what a host needs: the planner refuses tasks whose `needs` a host's components
//! do not cover, so an etcd-only host can never be sent a container-runtime task.

use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;

/// What a host is for, from its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// In kube_control_plane.
    ControlPlane,
    /// In kube_node.
    Worker,
    /// In etcd.
    Etcd,
}

impl Role {
    /// The role's name as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ControlPlane => "control_plane",
            Role::Worker => "worker",
            Role::Etcd => "etcd",
        }
    }
}

/// Something installed on a host. Order here is the order printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// etcd server binaries and service.
    Etcd,
    /// Client certificates for talking to an external etcd.
    EtcdClientCerts,
    /// containerd.
    Containerd,
    /// runc.
    Runc,
    /// nerdctl.
    Nerdctl,
    /// crictl.
    Crictl,
    /// CNI plugins in /opt/cni/bin.
    CniPlugins,
    /// kubelet.
    Kubelet,
    /// kubeadm.
    Kubeadm,
    /// kubectl.
    Kubectl,
    /// Cilium prerequisites (and cilium-cli on the control plane).
    Cilium,
    /// kube-apiserver, -controller-manager and -scheduler static pods (their images).
    ControlPlane,
    /// kube-proxy (a DaemonSet on every node unless Cilium replaces it).
    KubeProxy,
    /// The local API load balancer (nginx or haproxy static pod) on a node that runs no
    /// API server, with `loadbalancer_apiserver_localhost`.
    ApiserverLb,
}

/// Every component, in printing order.
pub const ALL_COMPONENTS: [Component; 14] = [
    Component::Etcd,
    Component::EtcdClientCerts,
    Component::Containerd,
    Component::Runc,
    Component::Nerdctl,
    Component::Crictl,
    Component::CniPlugins,
    Component::Kubelet,
    Component::Kubeadm,
    Component::Kubectl,
    Component::Cilium,
    Component::ControlPlane,
    Component::KubeProxy,
    Component::ApiserverLb,
];

impl Component {
    /// The component's name as used in `needs:` and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::EtcdClientCerts => "etcd_client_certs",
            Component::Containerd => "containerd",
            Component::Runc => "runc",
            Component::Nerdctl => "nerdctl",
            Component::Crictl => "crictl",
            Component::CniPlugins => "cni_plugins",
            Component::Kubelet => "kubelet",
            Component::Kubeadm => "kubeadm",
            Component::Kubectl => "kubectl",
            Component::Cilium => "cilium",
            Component::ControlPlane => "control_plane",
            Component::KubeProxy => "kube_proxy",
            Component::ApiserverLb => "apiserver_lb",
        }
    }

    /// Parses a component name (as written in `needs:`).
    pub fn parse(s: &str) -> Option<Component> {
        ALL_COMPONENTS.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The settings that change what a host gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `container_manager` (containerd).
    pub container_manager: String,
    /// `kube_network_plugin` (cilium, cni).
    pub kube_network_plugin: String,
    /// `etcd_deployment_type` (host, kubeadm).
    pub etcd_deployment_type: String,
    /// True when the CNI keeps its state in etcd (cilium with `cilium_identity_allocation_mode: kvstore`).
    pub cni_uses_etcd: bool,
    /// True when Cilium replaces kube-proxy (`cilium_kube_proxy_replacement`).
    pub kube_proxy_replaced: bool,
    /// `loadbalancer_apiserver_localhost`: nodes without an API server reach the API
    /// through a local load balancer (Kubespray's default when no external one is set).
    pub local_apiserver_lb: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            container_manager: "containerd".into(),
            kube_network_plugin: "cilium".into(),
            etcd_deployment_type: "host".into(),
            cni_uses_etcd: false,
            kube_proxy_replaced: false,
            local_apiserver_lb: true,
        }
    }
}

/// Supported values of the settings, for validation messages.
pub const SUPPORTED_CONTAINER_MANAGERS: [&str; 1] = ["containerd"];
/// Supported `kube_network_plugin` values (`cni`: bring your own CNI).
pub const SUPPORTED_NETWORK_PLUGINS: [&str; 2] = ["cilium", "cni"];
/// Supported `etcd_deployment_type` values.
pub const SUPPORTED_ETCD_DEPLOYMENT_TYPES: [&str; 2] = ["host", "kubeadm"];

/// What the table looks at for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The host's roles.
    pub roles: BTreeSet<Role>,
    /// The host's settings.
    pub settings: Settings,
}

impl Facts {
    fn has(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }
    /// In k8s_cluster: runs kubelet.
    pub fn is_k8s(&self) -> bool {
        self.has(Role::ControlPlane) || self.has(Role::Worker)
    }
    /// An etcd member outside k8s_cluster.
    pub fn is_etcd_only(&self) -> bool {
        self.has(Role::Etcd) && !self.is_k8s()
    }
}

/// One row: a component, when a host gets it, and why (printed by `plan`).
pub struct Row {
    /// The component.
    pub component: Component,
    /// The condition.
    pub when: fn(&Facts) -> bool,
    /// The reason, in words.
    pub why: &'static str,
}

fn containerd_runtime(f: &Facts) -> bool {
    f.is_k8s() && f.settings.container_manager == "containerd"
}

/// THE table: every component and the roles/settings that call for it.
pub const TABLE: [Row; 14] = [
    Row {
        component: Component::Etcd,
        when: |f| f.has(Role::Etcd) && f.settings.etcd_deployment_type == "host",
        why: "etcd member with etcd_deployment_type: host",
    },
    Row {
        component: Component::EtcdClientCerts,
        when: |f| {
            f.settings.etcd_deployment_type == "host"
                && (f.has(Role::ControlPlane) || (f.is_k8s() && f.settings.cni_uses_etcd))
        },
        why: "talks to the host-deployed etcd as a client (the API server on every control plane, or a CNI that stores state in etcd)",
    },
    Row {
        component: Component::Containerd,
        when: containerd_runtime,
        why: "k8s_cluster host with container_manager: containerd",
    },
    Row {
        component: Component::Runc,
        when: containerd_runtime,
        why: "containerd's runtime",
    },
    Row {
        component: Component::Nerdctl,
        when: containerd_runtime,
        why: "containerd's CLI",
    },
    Row {
        component: Component::Crictl,
        when: Facts::is_k8s,
        why: "CRI debugging on every kubelet host",
    },
    Row {
        component: Component::CniPlugins,
        when: Facts::is_k8s,
        why: "pod networking on every kubelet host",
    },
    Row {
        component: Component::Kubelet,
        when: Facts::is_k8s,
        why: "k8s_cluster host",
    },
    Row {
        component: Component::Kubeadm,
        when: Facts::is_k8s,
        why: "joins or initialises the node",
    },
    Row {
        component: Component::Kubectl,
        when: |f| f.has(Role::ControlPlane),
        why: "control plane administration",
    },
    Row {
        component: Component::Cilium,
        when: |f| f.is_k8s() && f.settings.kube_network_plugin == "cilium",
        why: "k8s_cluster host with kube_network_plugin: cilium",
    },
    Row {
        component: Component::ControlPlane,
        when: |f| f.has(Role::ControlPlane),
        why: "runs kube-apiserver, kube-controller-manager and kube-scheduler (their images)",
    },
    Row {
        component: Component::KubeProxy,
        when: |f| f.is_k8s() && !(f.settings.kube_network_plugin == "cilium" && f.settings.kube_proxy_replaced),
        why: "kube-proxy runs on every node unless Cilium replaces it",
    },
    Row {
        component: Component::ApiserverLb,
        when: |f| f.is_k8s() && !f.has(Role::ControlPlane) && f.settings.local_apiserver_lb,
        why: "a node without an API server reaches all of them through a local load balancer (loadbalancer_apiserver_localhost)",
    },
];

/// The components a host gets, in printing order.
pub fn components(facts: &Facts) -> Vec<Component> {
    TABLE
        .iter()
        .filter(|row| (row.when)(facts))
        .map(|row| row.component)
        .collect()
}

/// How etcd and the control plane are laid out across the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One host does everything.
    AllInOne,
    /// One control plane, stacked etcd, workers.
    Default,
    /// Several control planes.
    Ha,
    /// etcd hosts disjoint from k8s_cluster.
    Separate,
}

impl Layout {
    /// The layout's name as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::AllInOne => "all-in-one",
            Layout::Default => "default",
            Layout::Ha => "ha",
            Layout::Separate => "separate",
        }
    }
}

/// Decides the layout from the host sets.
pub fn layout(control_plane: &[String], k8s: &[String], etcd: &[String]) -> Layout {
    let mut everyone: BTreeSet<&String> = k8s.iter().collect();
    everyone.extend(etcd.iter());
    if !etcd.is_empty() && etcd.iter().all(|e| !k8s.contains(e)) {
        Layout::Separate
    } else if everyone.len() == 1 {
        Layout::AllInOne
    } else if control_plane.len() > 1 {
        Layout::Ha
    } else {
        Layout::Default
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Component::*;

    fn facts(roles: &[Role], s: Settings) -> Facts {
        Facts {
            roles: roles.iter().copied().collect(),
            settings: s,
        }
    }

    fn with(f: impl FnOnce(&mut Settings)) -> Settings {
        let mut s = Settings::default();
        f(&mut s);
        s
    }

    /// One case per row of TABLE (and the etcd-only guarantee).
    #[test]
    fn table_rows() {
        use Role::*;
        let k8s = [
            Containerd, Runc, Nerdctl, Crictl, CniPlugins, Kubelet, Kubeadm,
        ];
        let cases: Vec<(&str, Facts, Vec<Component>)> = vec![
            (
                "etcd-only host mode: etcd and nothing container-related",
                facts(&[Etcd], Settings::default()),
                vec![Component::Etcd],
            ),
            (
                "etcd-only kubeadm mode: nothing",
                facts(&[Etcd], with(|s| s.etcd_deployment_type = "kubeadm".into())),
                vec![],
            ),
            (
                "worker: kube-proxy and the local API load balancer",
                facts(&[Worker], Settings::default()),
                [&k8s[..], &[Cilium, KubeProxy, ApiserverLb]].concat(),
            ),
            (
                "worker with an external load balancer: no local one",
                facts(&[Worker], with(|s| s.local_apiserver_lb = false)),
                [&k8s[..], &[Cilium, KubeProxy]].concat(),
            ),
            (
                "separate control plane gets client certs, kubectl, the control-plane images, no local LB",
                facts(&[ControlPlane], Settings::default()),
                [
                    &[EtcdClientCerts][..],
                    &k8s[..],
                    &[Kubectl, Cilium, Component::ControlPlane, KubeProxy],
                ]
                .concat(),
            ),
            (
                "stacked control plane: the API server is an etcd client too",
                facts(&[ControlPlane, Etcd, Worker], Settings::default()),
                [
                    &[Component::Etcd, EtcdClientCerts][..],
                    &k8s[..],
                    &[Kubectl, Cilium, Component::ControlPlane, KubeProxy],
                ]
                .concat(),
            ),
            (
                "stacked control plane, kubeadm-managed etcd: no client certs",
                facts(
                    &[ControlPlane, Etcd],
                    with(|s| s.etcd_deployment_type = "kubeadm".into()),
                ),
                [&k8s[..], &[Kubectl, Cilium, Component::ControlPlane, KubeProxy]].concat(),
            ),
            (
                "cni plugin: no cilium",
                facts(&[Worker], with(|s| s.kube_network_plugin = "cni".into())),
                [&k8s[..], &[KubeProxy, ApiserverLb]].concat(),
            ),
            (
                "cilium replaces kube-proxy",
                facts(&[Worker], with(|s| s.kube_proxy_replaced = true)),
                [&k8s[..], &[Cilium, ApiserverLb]].concat(),
            ),
            (
                "cilium kvstore: workers get etcd client certs",
                facts(&[Worker], with(|s| s.cni_uses_etcd = true)),
                [&[EtcdClientCerts][..], &k8s[..], &[Cilium, KubeProxy, ApiserverLb]].concat(),
            ),
            (
                "another container manager: no containerd/runc/nerdctl",
                facts(&[Worker], with(|s| s.container_manager = "crio".into())),
                vec![Crictl, CniPlugins, Kubelet, Kubeadm, Cilium, KubeProxy, ApiserverLb],
            ),
            ("no roles: nothing", facts(&[], Settings::default()), vec![]),
        ];
        for (name, f, want) in cases {
            assert_eq!(components(&f), want, "{name}");
        }
    }

    #[test]
    fn etcd_only_never_gets_container_components() {
        for etcd_type in SUPPORTED_ETCD_DEPLOYMENT_TYPES {
            for plugin in SUPPORTED_NETWORK_PLUGINS {
                for cni_uses_etcd in [false, true] {
                    let s = Settings {
                        container_manager: "containerd".into(),
                        kube_network_plugin: plugin.into(),
                        etcd_deployment_type: etcd_type.into(),
                        cni_uses_etcd,
                        ..Settings::default()
                    };
                    let c = components(&facts(&[Role::Etcd], s));
                    assert!(c.iter().all(|c| *c == Component::Etcd), "{c:?}");
                }
            }
        }
    }

    #[test]
    fn layouts() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(layout(&v(&["a"]), &v(&["a"]), &v(&["a"])), Layout::AllInOne);
        assert_eq!(
            layout(&v(&["a"]), &v(&["a", "b"]), &v(&["a"])),
            Layout::Default
        );
        assert_eq!(
            layout(
                &v(&["a", "b", "c"]),
                &v(&["a", "b", "c", "d"]),
                &v(&["a", "b", "c"])
            ),
            Layout::Ha
        );
        assert_eq!(
            layout(&v(&["a"]), &v(&["a", "b"]), &v(&["c"])),
            Layout::Separate
        );
    }

    #[test]
    fn component_names_round_trip() {
        for c in ALL_COMPONENTS {
            assert_eq!(Component::parse(c.as_str()), Some(c));
        }
        assert_eq!(Component::parse("docker"), None);
    }
}
