// k8s.io/component-base types embedded in the kubelet and kube-proxy configurations,
// mirrored field by field with their JSON names (facts only, no Go code copied):
//   staging/src/k8s.io/component-base/config/v1alpha1/types.go  @ 01e8d0dd52a81f98898fe05a813c38e2bf6022d7
//     ClientConnectionConfiguration, LeaderElectionConfiguration, DebuggingConfiguration
//   staging/src/k8s.io/component-base/logs/api/v1/types.go      @ 008b3652959ca58af8be3fb5b6ecfe9ae7638282
//     LoggingConfiguration, FormatOptions, TextOptions/JSONOptions (OutputRoutingOptions inlined),
//     VModuleItem; VerbosityLevel is uint32
//   staging/src/k8s.io/component-base/tracing/api/v1/types.go   @ 47e7d8034ff3be8e198dde6a671d05a11c30e333
//     TracingConfiguration
//
// None of these fields carries omitempty on every member, but all are defaulted by the
// components, so every one is optional here except VModuleItem's two members.

use super::metav1::{Bool, Duration, Float32, Int32, Quantity, TimeOrMetaDuration, Uint32};
use serde::Deserialize;

/// config/v1alpha1 ClientConnectionConfiguration (kube-proxy `clientConnection`)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConnectionConfiguration {
    pub kubeconfig: Option<String>,
    pub acceptContentTypes: Option<String>,
    pub contentType: Option<String>,
    /// float32
    pub qps: Option<Float32>,
    pub burst: Option<Int32>,
}

/// config/v1alpha1 LeaderElectionConfiguration (not used by the kinds checked here; kept for
/// the kube-scheduler/controller-manager configs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderElectionConfiguration {
    pub leaderElect: Option<Bool>,
    pub leaseDuration: Option<Duration>,
    pub renewDeadline: Option<Duration>,
    pub retryPeriod: Option<Duration>,
    pub resourceLock: Option<String>,
    pub resourceName: Option<String>,
    pub resourceNamespace: Option<String>,
}

/// config/v1alpha1 DebuggingConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebuggingConfiguration {
    pub enableProfiling: Option<Bool>,
    pub enableContentionProfiling: Option<Bool>,
}

/// logs/api/v1 LoggingConfiguration (`logging` in kubelet and kube-proxy)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfiguration {
    /// "text" (default) or "json"
    pub format: Option<String>,
    pub flushFrequency: Option<TimeOrMetaDuration>,
    /// VerbosityLevel = uint32
    pub verbosity: Option<Uint32>,
    pub vmodule: Option<Vec<VModuleItem>>,
    pub options: Option<FormatOptions>,
}

/// logs/api/v1 VModuleItem
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VModuleItem {
    pub filePattern: String,
    pub verbosity: Uint32,
}

/// logs/api/v1 FormatOptions
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatOptions {
    pub text: Option<OutputRoutingOptions>,
    pub json: Option<OutputRoutingOptions>,
}

/// logs/api/v1 TextOptions / JSONOptions: both only inline OutputRoutingOptions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputRoutingOptions {
    pub splitStream: Option<Bool>,
    /// resource.QuantityValue
    pub infoBufferSize: Option<Quantity>,
}

/// tracing/api/v1 TracingConfiguration
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingConfiguration {
    pub endpoint: Option<String>,
    pub samplingRatePerMillion: Option<Int32>,
}
