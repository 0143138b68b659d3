// kubeadm.k8s.io/v1beta4 mirrored field by field with the JSON names of the Go tags
// (facts only, no Go code copied):
//   cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go  @ 1329935739c3aa007d23cb9a4dadfee9d59ff79b
//   cmd/kubeadm/app/apis/bootstraptoken/v1/types.go @ 2d350a359e7b251ffa047415af6bf64350f41888
//   UpgradeApplyConfiguration/UpgradeNodeConfiguration imagePullPolicy + imagePullSerial: present in
//   the internal type cmd/kubeadm/app/apis/kubeadm/types.go (stored copy, id 203713782) and rendered by
//   Kubespray 46dbdd3994b32640bcd806b0097f50e8fdf1d514 (kubeadm-config.v1beta4.yaml.j2); the v1beta4
//   snapshot above predates them, so they are accepted here as in current kubeadm.
//   UpgradeApplyConfiguration.SkipPhases has no json tag in that snapshot (Go key "SkipPhases");
//   later kubeadm and Kubespray write "skipPhases": both spellings are accepted.
//
// Go `json:",inline"` embeddings (TypeMeta, ImageMeta, ControlPlaneComponent, corev1.EnvVar) are
// written out as plain fields, because serde's deny_unknown_fields does not work with flatten.
// Every field is Option<..> (kubeadm decodes absent fields as zero values) except the ones whose
// JSON tag lacks omitempty and that kubeadm requires: TypeMeta (needed to pick the type),
// Arg.name/value, HostPathMount.name/hostPath/mountPath, ExternalEtcd.endpoints,
// JoinConfiguration.discovery, BootstrapTokenDiscovery.token, FileDiscovery.kubeConfigPath.
// nodeRegistration.taints keeps Go's nil-vs-empty distinction: absent = None (kubeadm adds the
// control-plane taint), `taints: []` = Some(empty) (no taint).

use super::corev1::{EnvVar, Taint};
use super::metav1::{Bool, BootstrapTokenString, Duration, Int32, Int64, Time};
use serde::Deserialize;
use std::collections::BTreeMap;

pub const API_VERSION: &str = "kubeadm.k8s.io/v1beta4";

/// v1beta4 InitConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitConfiguration {
    pub apiVersion: String,
    pub kind: String,
    pub bootstrapTokens: Option<Vec<BootstrapToken>>,
    pub dryRun: Option<Bool>,
    pub nodeRegistration: Option<NodeRegistrationOptions>,
    pub localAPIEndpoint: Option<APIEndpoint>,
    pub certificateKey: Option<String>,
    pub skipPhases: Option<Vec<String>>,
    pub patches: Option<Patches>,
    pub timeouts: Option<Timeouts>,
}

/// v1beta4 ClusterConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfiguration {
    pub apiVersion: String,
    pub kind: String,
    pub etcd: Option<Etcd>,
    pub networking: Option<Networking>,
    pub kubernetesVersion: Option<String>,
    pub controlPlaneEndpoint: Option<String>,
    pub apiServer: Option<APIServer>,
    pub controllerManager: Option<ControlPlaneComponent>,
    pub scheduler: Option<ControlPlaneComponent>,
    pub dns: Option<DNS>,
    pub proxy: Option<Proxy>,
    pub certificatesDir: Option<String>,
    pub imageRepository: Option<String>,
    pub featureGates: Option<BTreeMap<String, Bool>>,
    pub clusterName: Option<String>,
    /// EncryptionAlgorithmType: "RSA-2048" (default) | "RSA-3072" | "RSA-4096" | "ECDSA-P256"
    pub encryptionAlgorithm: Option<String>,
    pub certificateValidityPeriod: Option<Duration>,
    pub caCertificateValidityPeriod: Option<Duration>,
}

/// v1beta4 ControlPlaneComponent (controllerManager, scheduler)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlaneComponent {
    pub extraArgs: Option<Vec<Arg>>,
    pub extraVolumes: Option<Vec<HostPathMount>>,
    pub extraEnvs: Option<Vec<EnvVar>>,
}

/// v1beta4 APIServer (ControlPlaneComponent inlined)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct APIServer {
    pub extraArgs: Option<Vec<Arg>>,
    pub extraVolumes: Option<Vec<HostPathMount>>,
    pub extraEnvs: Option<Vec<EnvVar>>,
    pub certSANs: Option<Vec<String>>,
}

/// v1beta4 DNS (ImageMeta inlined)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DNS {
    pub imageRepository: Option<String>,
    pub imageTag: Option<String>,
    pub disabled: Option<Bool>,
}

/// v1beta4 Proxy
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    pub disabled: Option<Bool>,
}

/// v1beta4 APIEndpoint
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct APIEndpoint {
    pub advertiseAddress: Option<String>,
    pub bindPort: Option<Int32>,
}

/// v1beta4 NodeRegistrationOptions
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRegistrationOptions {
    pub name: Option<String>,
    pub criSocket: Option<String>,
    /// Go tag `json:"taints"` (no omitempty): nil = default control-plane taint, [] = none.
    pub taints: Option<Vec<Taint>>,
    pub kubeletExtraArgs: Option<Vec<Arg>>,
    pub ignorePreflightErrors: Option<Vec<String>>,
    /// corev1.PullPolicy: Always | IfNotPresent | Never
    pub imagePullPolicy: Option<String>,
    pub imagePullSerial: Option<Bool>,
}

/// v1beta4 Networking
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Networking {
    pub serviceSubnet: Option<String>,
    pub podSubnet: Option<String>,
    pub dnsDomain: Option<String>,
}

/// v1beta4 Etcd
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Etcd {
    pub local: Option<LocalEtcd>,
    pub external: Option<ExternalEtcd>,
}

/// v1beta4 LocalEtcd (ImageMeta inlined)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalEtcd {
    pub imageRepository: Option<String>,
    pub imageTag: Option<String>,
    /// Go tag `json:"dataDir"`; defaulted to /var/lib/etcd
    pub dataDir: Option<String>,
    pub extraArgs: Option<Vec<Arg>>,
    pub extraEnvs: Option<Vec<EnvVar>>,
    pub serverCertSANs: Option<Vec<String>>,
    pub peerCertSANs: Option<Vec<String>>,
}

/// v1beta4 ExternalEtcd
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalEtcd {
    pub endpoints: Vec<String>,
    /// Required for TLS endpoints (Go tag without omitempty).
    pub caFile: Option<String>,
    pub certFile: Option<String>,
    pub keyFile: Option<String>,
}

/// v1beta4 JoinConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinConfiguration {
    pub apiVersion: String,
    pub kind: String,
    pub dryRun: Option<Bool>,
    pub nodeRegistration: Option<NodeRegistrationOptions>,
    pub caCertPath: Option<String>,
    pub discovery: Discovery,
    pub controlPlane: Option<JoinControlPlane>,
    pub skipPhases: Option<Vec<String>>,
    pub patches: Option<Patches>,
    pub timeouts: Option<Timeouts>,
}

/// v1beta4 JoinControlPlane
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinControlPlane {
    pub localAPIEndpoint: Option<APIEndpoint>,
    pub certificateKey: Option<String>,
}

/// v1beta4 Discovery
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discovery {
    pub bootstrapToken: Option<BootstrapTokenDiscovery>,
    pub file: Option<FileDiscovery>,
    pub tlsBootstrapToken: Option<String>,
}

/// v1beta4 BootstrapTokenDiscovery
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapTokenDiscovery {
    pub token: String,
    pub apiServerEndpoint: Option<String>,
    pub caCertHashes: Option<Vec<String>>,
    pub unsafeSkipCAVerification: Option<Bool>,
}

/// v1beta4 FileDiscovery
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDiscovery {
    pub kubeConfigPath: String,
}

/// v1beta4 HostPathMount
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPathMount {
    pub name: String,
    pub hostPath: String,
    pub mountPath: String,
    pub readOnly: Option<Bool>,
    /// corev1.HostPathType
    pub pathType: Option<String>,
}

/// v1beta4 Patches
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patches {
    pub directory: Option<String>,
}

/// v1beta4 ResetConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetConfiguration {
    pub apiVersion: String,
    pub kind: String,
    pub cleanupTmpDir: Option<Bool>,
    pub certificatesDir: Option<String>,
    pub criSocket: Option<String>,
    pub dryRun: Option<Bool>,
    pub force: Option<Bool>,
    pub ignorePreflightErrors: Option<Vec<String>>,
    pub skipPhases: Option<Vec<String>>,
    pub unmountFlags: Option<Vec<String>>,
    pub timeouts: Option<Timeouts>,
}

/// v1beta4 Arg: one entry of extraArgs / kubeletExtraArgs (a list, not a map, in v1beta4).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arg {
    pub name: String,
    pub value: String,
}

/// v1beta4 Timeouts
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    pub controlPlaneComponentHealthCheck: Option<Duration>,
    pub kubeletHealthCheck: Option<Duration>,
    pub kubernetesAPICall: Option<Duration>,
    pub etcdAPICall: Option<Duration>,
    pub tlsBootstrap: Option<Duration>,
    pub discovery: Option<Duration>,
    pub upgradeManifests: Option<Duration>,
}

/// v1beta4 UpgradeConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeConfiguration {
    pub apiVersion: String,
    pub kind: String,
    pub apply: Option<UpgradeApplyConfiguration>,
    pub diff: Option<UpgradeDiffConfiguration>,
    pub node: Option<UpgradeNodeConfiguration>,
    pub plan: Option<UpgradePlanConfiguration>,
    pub timeouts: Option<Timeouts>,
}

/// v1beta4 UpgradeApplyConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeApplyConfiguration {
    pub kubernetesVersion: Option<String>,
    pub allowExperimentalUpgrades: Option<Bool>,
    pub allowRCUpgrades: Option<Bool>,
    pub certificateRenewal: Option<Bool>,
    pub dryRun: Option<Bool>,
    pub etcdUpgrade: Option<Bool>,
    pub forceUpgrade: Option<Bool>,
    pub ignorePreflightErrors: Option<Vec<String>>,
    pub patches: Option<Patches>,
    pub printConfig: Option<Bool>,
    #[serde(alias = "SkipPhases")]
    pub skipPhases: Option<Vec<String>>,
    pub imagePullPolicy: Option<String>,
    pub imagePullSerial: Option<Bool>,
}

/// v1beta4 UpgradeDiffConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeDiffConfiguration {
    pub kubernetesVersion: Option<String>,
    /// Go field DiffContextLines int, tag "contextLines"
    pub contextLines: Option<Int64>,
}

/// v1beta4 UpgradeNodeConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeNodeConfiguration {
    pub certificateRenewal: Option<Bool>,
    pub dryRun: Option<Bool>,
    pub etcdUpgrade: Option<Bool>,
    pub ignorePreflightErrors: Option<Vec<String>>,
    pub skipPhases: Option<Vec<String>>,
    pub patches: Option<Patches>,
    pub imagePullPolicy: Option<String>,
    pub imagePullSerial: Option<Bool>,
}

/// v1beta4 UpgradePlanConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradePlanConfiguration {
    pub kubernetesVersion: Option<String>,
    pub allowExperimentalUpgrades: Option<Bool>,
    pub allowRCUpgrades: Option<Bool>,
    pub dryRun: Option<Bool>,
    pub ignorePreflightErrors: Option<Vec<String>>,
    pub printConfig: Option<Bool>,
}

/// bootstraptoken/v1 BootstrapToken (InitConfiguration.bootstrapTokens[])
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapToken {
    /// Go tag `json:"token"`; kubeadm generates one when absent.
    pub token: Option<BootstrapTokenString>,
    pub description: Option<String>,
    pub ttl: Option<Duration>,
    pub expires: Option<Time>,
    pub usages: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
}
