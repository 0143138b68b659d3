// kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration mirrored field by field with the JSON
// names of the Go tags (facts only, no Go code copied):
//   staging/src/k8s.io/kube-proxy/config/v1alpha1/types.go @ 052d2d84f95e90aa94868b51a48b1ae7a1c91152
// That snapshot is a recent main-branch one (it has iptables.snatNodeInternalIP); the schema is a
// superset for Kubernetes 1.34-1.36.
// Almost no kube-proxy field carries omitempty, yet all are defaulted, so all are Option<..>.
// A YAML null (`kubeconfig:` with nothing after it, as Kubespray renders empty strings) is
// accepted as absent, as Go's decoder leaves the zero value for null.

use super::component_base::{ClientConnectionConfiguration, LoggingConfiguration};
use super::metav1::{Bool, Duration, Int32};
use serde::Deserialize;
use std::collections::BTreeMap;

pub const API_VERSION: &str = "kubeproxy.config.k8s.io/v1alpha1";

/// v1alpha1 KubeProxyConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeProxyConfiguration {
    pub apiVersion: String,
    pub kind: String,
    pub featureGates: Option<BTreeMap<String, Bool>>,
    pub clientConnection: Option<ClientConnectionConfiguration>,
    pub logging: Option<LoggingConfiguration>,
    pub hostnameOverride: Option<String>,
    pub bindAddress: Option<String>,
    pub healthzBindAddress: Option<String>,
    pub metricsBindAddress: Option<String>,
    pub bindAddressHardFail: Option<Bool>,
    pub enableProfiling: Option<Bool>,
    pub showHiddenMetricsForVersion: Option<String>,
    /// ProxyMode: "" | iptables | ipvs | nftables (Linux), kernelspace (Windows)
    pub mode: Option<String>,
    pub iptables: Option<KubeProxyIPTablesConfiguration>,
    pub ipvs: Option<KubeProxyIPVSConfiguration>,
    pub nftables: Option<KubeProxyNFTablesConfiguration>,
    pub winkernel: Option<KubeProxyWinkernelConfiguration>,
    /// LocalMode: ClusterCIDR (default) | NodeCIDR | BridgeInterface | InterfaceNamePrefix
    pub detectLocalMode: Option<String>,
    pub detectLocal: Option<DetectLocalConfiguration>,
    /// comma-separated dual-stack pair allowed
    pub clusterCIDR: Option<String>,
    pub nodePortAddresses: Option<Vec<String>>,
    pub oomScoreAdj: Option<Int32>,
    pub conntrack: Option<KubeProxyConntrackConfiguration>,
    pub configSyncPeriod: Option<Duration>,
    pub portRange: Option<String>,
    pub windowsRunAsService: Option<Bool>,
}

/// v1alpha1 KubeProxyIPTablesConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeProxyIPTablesConfiguration {
    pub masqueradeBit: Option<Int32>,
    pub masqueradeAll: Option<Bool>,
    pub localhostNodePorts: Option<Bool>,
    pub snatNodeInternalIP: Option<Bool>,
    pub syncPeriod: Option<Duration>,
    pub minSyncPeriod: Option<Duration>,
}

/// v1alpha1 KubeProxyIPVSConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeProxyIPVSConfiguration {
    pub syncPeriod: Option<Duration>,
    pub minSyncPeriod: Option<Duration>,
    pub scheduler: Option<String>,
    pub excludeCIDRs: Option<Vec<String>>,
    pub strictARP: Option<Bool>,
    pub tcpTimeout: Option<Duration>,
    pub tcpFinTimeout: Option<Duration>,
    pub udpTimeout: Option<Duration>,
}

/// v1alpha1 KubeProxyNFTablesConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeProxyNFTablesConfiguration {
    pub masqueradeBit: Option<Int32>,
    pub masqueradeAll: Option<Bool>,
    pub syncPeriod: Option<Duration>,
    pub minSyncPeriod: Option<Duration>,
}

/// v1alpha1 KubeProxyConntrackConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeProxyConntrackConfiguration {
    pub maxPerCore: Option<Int32>,
    pub min: Option<Int32>,
    pub tcpEstablishedTimeout: Option<Duration>,
    pub tcpCloseWaitTimeout: Option<Duration>,
    pub tcpBeLiberal: Option<Bool>,
    pub udpTimeout: Option<Duration>,
    pub udpStreamTimeout: Option<Duration>,
}

/// v1alpha1 KubeProxyWinkernelConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeProxyWinkernelConfiguration {
    pub networkName: Option<String>,
    pub sourceVip: Option<String>,
    pub enableDSR: Option<Bool>,
    pub rootHnsEndpointName: Option<String>,
    pub forwardHealthCheckVip: Option<Bool>,
}

/// v1alpha1 DetectLocalConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectLocalConfiguration {
    pub bridgeInterface: Option<String>,
    pub interfaceNamePrefix: Option<String>,
}
