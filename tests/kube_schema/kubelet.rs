// kubelet.config.k8s.io/v1beta1 KubeletConfiguration mirrored field by field with the JSON names
// of the Go tags (facts only, no Go code copied):
//   staging/src/k8s.io/kubelet/config/v1beta1/types.go @ 001332b0422071acf4860769f18e34b5e9b7c1bc
// That snapshot is a recent main-branch one: it already has fields newer than some releases
// (for example draManagerReconcilePeriod, mergeDefaultEvictionSettings,
// imagePullCredentialsVerificationPolicy, memoryReservationPolicy); the schema is therefore a
// superset for Kubernetes 1.34-1.36 and kubeforge must not rely on those newest fields.
// Every field is Option<..> (the kubelet defaults them) except members of list items that the
// kubelet requires (ShutdownGracePeriodByPodPriority, MemoryReservation).

use super::component_base::{LoggingConfiguration, TracingConfiguration};
use super::corev1::Taint;
use super::metav1::{Bool, Duration, Float64, Int32, Int64, Quantity};
use serde::Deserialize;
use std::collections::BTreeMap;

pub const API_VERSION: &str = "kubelet.config.k8s.io/v1beta1";

/// v1beta1 KubeletConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeletConfiguration {
    pub apiVersion: String,
    pub kind: String,
    pub enableServer: Option<Bool>,
    pub staticPodPath: Option<String>,
    pub podLogsDir: Option<String>,
    pub syncFrequency: Option<Duration>,
    pub fileCheckFrequency: Option<Duration>,
    pub httpCheckFrequency: Option<Duration>,
    pub staticPodURL: Option<String>,
    pub staticPodURLHeader: Option<BTreeMap<String, Vec<String>>>,
    pub address: Option<String>,
    pub port: Option<Int32>,
    pub readOnlyPort: Option<Int32>,
    pub tlsCertFile: Option<String>,
    pub tlsPrivateKeyFile: Option<String>,
    pub tlsCipherSuites: Option<Vec<String>>,
    pub tlsCurvePreferences: Option<Vec<Int32>>,
    pub tlsMinVersion: Option<String>,
    pub rotateCertificates: Option<Bool>,
    pub serverTLSBootstrap: Option<Bool>,
    pub authentication: Option<KubeletAuthentication>,
    pub authorization: Option<KubeletAuthorization>,
    pub registryPullQPS: Option<Int32>,
    pub registryBurst: Option<Int32>,
    /// NeverVerify | NeverVerifyPreloadedImages | NeverVerifyAllowlistedImages | AlwaysVerify
    pub imagePullCredentialsVerificationPolicy: Option<String>,
    pub preloadedImagesVerificationAllowlist: Option<Vec<String>>,
    pub eventRecordQPS: Option<Int32>,
    pub eventBurst: Option<Int32>,
    pub enableDebuggingHandlers: Option<Bool>,
    pub enableContentionProfiling: Option<Bool>,
    pub healthzPort: Option<Int32>,
    pub healthzBindAddress: Option<String>,
    pub oomScoreAdj: Option<Int32>,
    pub clusterDomain: Option<String>,
    pub clusterDNS: Option<Vec<String>>,
    pub streamingConnectionIdleTimeout: Option<Duration>,
    pub nodeStatusUpdateFrequency: Option<Duration>,
    pub nodeStatusReportFrequency: Option<Duration>,
    pub nodeLeaseDurationSeconds: Option<Int32>,
    pub imageMinimumGCAge: Option<Duration>,
    pub imageMaximumGCAge: Option<Duration>,
    pub imageGCHighThresholdPercent: Option<Int32>,
    pub imageGCLowThresholdPercent: Option<Int32>,
    pub volumeStatsAggPeriod: Option<Duration>,
    pub kubeletCgroups: Option<String>,
    pub systemCgroups: Option<String>,
    pub cgroupRoot: Option<String>,
    pub cgroupsPerQOS: Option<Bool>,
    /// "cgroupfs" (default) | "systemd"
    pub cgroupDriver: Option<String>,
    pub cpuManagerPolicy: Option<String>,
    pub singleProcessOOMKill: Option<Bool>,
    pub cpuManagerPolicyOptions: Option<BTreeMap<String, String>>,
    pub cpuManagerReconcilePeriod: Option<Duration>,
    pub draManagerReconcilePeriod: Option<Duration>,
    pub memoryManagerPolicy: Option<String>,
    pub topologyManagerPolicy: Option<String>,
    pub topologyManagerScope: Option<String>,
    pub topologyManagerPolicyOptions: Option<BTreeMap<String, String>>,
    pub qosReserved: Option<BTreeMap<String, String>>,
    pub runtimeRequestTimeout: Option<Duration>,
    pub hairpinMode: Option<String>,
    pub maxPods: Option<Int32>,
    pub podCIDR: Option<String>,
    pub podPidsLimit: Option<Int64>,
    /// Go field ResolverConfig *string
    pub resolvConf: Option<String>,
    pub runOnce: Option<Bool>,
    pub cpuCFSQuota: Option<Bool>,
    pub cpuCFSQuotaPeriod: Option<Duration>,
    pub nodeStatusMaxImages: Option<Int32>,
    pub maxOpenFiles: Option<Int64>,
    pub contentType: Option<String>,
    pub kubeAPIQPS: Option<Int32>,
    pub kubeAPIBurst: Option<Int32>,
    pub serializeImagePulls: Option<Bool>,
    pub maxParallelImagePulls: Option<Int32>,
    pub evictionHard: Option<BTreeMap<String, String>>,
    pub evictionSoft: Option<BTreeMap<String, String>>,
    pub evictionSoftGracePeriod: Option<BTreeMap<String, String>>,
    pub evictionPressureTransitionPeriod: Option<Duration>,
    pub evictionMaxPodGracePeriod: Option<Int32>,
    pub evictionMinimumReclaim: Option<BTreeMap<String, String>>,
    pub mergeDefaultEvictionSettings: Option<Bool>,
    pub podsPerCore: Option<Int32>,
    pub enableControllerAttachDetach: Option<Bool>,
    pub protectKernelDefaults: Option<Bool>,
    pub makeIPTablesUtilChains: Option<Bool>,
    pub iptablesMasqueradeBit: Option<Int32>,
    pub iptablesDropBit: Option<Int32>,
    pub featureGates: Option<BTreeMap<String, Bool>>,
    pub failSwapOn: Option<Bool>,
    pub memorySwap: Option<MemorySwapConfiguration>,
    pub containerLogMaxSize: Option<String>,
    pub containerLogMaxFiles: Option<Int32>,
    pub containerLogMaxWorkers: Option<Int32>,
    pub containerLogMonitorInterval: Option<Duration>,
    /// Get | Cache | Watch
    pub configMapAndSecretChangeDetectionStrategy: Option<String>,
    pub systemReserved: Option<BTreeMap<String, String>>,
    pub kubeReserved: Option<BTreeMap<String, String>>,
    pub reservedSystemCPUs: Option<String>,
    pub showHiddenMetricsForVersion: Option<String>,
    pub systemReservedCgroup: Option<String>,
    pub kubeReservedCgroup: Option<String>,
    pub enforceNodeAllocatable: Option<Vec<String>>,
    pub allowedUnsafeSysctls: Option<Vec<String>>,
    pub volumePluginDir: Option<String>,
    pub providerID: Option<String>,
    pub kernelMemcgNotification: Option<Bool>,
    pub logging: Option<LoggingConfiguration>,
    pub enableSystemLogHandler: Option<Bool>,
    pub enableSystemLogQuery: Option<Bool>,
    pub shutdownGracePeriod: Option<Duration>,
    pub shutdownGracePeriodCriticalPods: Option<Duration>,
    pub shutdownGracePeriodByPodPriority: Option<Vec<ShutdownGracePeriodByPodPriority>>,
    pub crashLoopBackOff: Option<CrashLoopBackOffConfig>,
    pub reservedMemory: Option<Vec<MemoryReservation>>,
    pub enableProfilingHandler: Option<Bool>,
    pub enableDebugFlagsHandler: Option<Bool>,
    pub seccompDefault: Option<Bool>,
    pub memoryThrottlingFactor: Option<Float64>,
    /// None | TieredReservation
    pub memoryReservationPolicy: Option<String>,
    pub registerWithTaints: Option<Vec<Taint>>,
    pub registerNode: Option<Bool>,
    pub tracing: Option<TracingConfiguration>,
    pub localStorageCapacityIsolation: Option<Bool>,
    /// Go tag `json:"containerRuntimeEndpoint"` (no omitempty); defaulted by the kubelet.
    pub containerRuntimeEndpoint: Option<String>,
    pub imageServiceEndpoint: Option<String>,
    pub failCgroupV1: Option<Bool>,
    pub userNamespaces: Option<UserNamespaces>,
}

/// v1beta1 KubeletAuthentication
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeletAuthentication {
    pub x509: Option<KubeletX509Authentication>,
    pub webhook: Option<KubeletWebhookAuthentication>,
    pub anonymous: Option<KubeletAnonymousAuthentication>,
}

/// v1beta1 KubeletX509Authentication
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeletX509Authentication {
    pub clientCAFile: Option<String>,
}

/// v1beta1 KubeletWebhookAuthentication
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeletWebhookAuthentication {
    pub enabled: Option<Bool>,
    pub cacheTTL: Option<Duration>,
}

/// v1beta1 KubeletAnonymousAuthentication
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeletAnonymousAuthentication {
    pub enabled: Option<Bool>,
}

/// v1beta1 KubeletAuthorization
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeletAuthorization {
    /// AlwaysAllow | Webhook
    pub mode: Option<String>,
    pub webhook: Option<KubeletWebhookAuthorization>,
}

/// v1beta1 KubeletWebhookAuthorization
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeletWebhookAuthorization {
    pub cacheAuthorizedTTL: Option<Duration>,
    pub cacheUnauthorizedTTL: Option<Duration>,
}

/// v1beta1 MemoryReservation
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryReservation {
    pub numaNode: Int32,
    /// corev1.ResourceList: resource name -> resource.Quantity
    pub limits: BTreeMap<String, Quantity>,
}

/// v1beta1 ShutdownGracePeriodByPodPriority
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownGracePeriodByPodPriority {
    pub priority: Int32,
    pub shutdownGracePeriodSeconds: Int64,
}

/// v1beta1 MemorySwapConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySwapConfiguration {
    /// "" | NoSwap | LimitedSwap
    pub swapBehavior: Option<String>,
}

/// v1beta1 CrashLoopBackOffConfig
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashLoopBackOffConfig {
    pub maxContainerRestartPeriod: Option<Duration>,
}

/// v1beta1 UserNamespaces
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserNamespaces {
    pub idsPerPod: Option<Int64>,
}
