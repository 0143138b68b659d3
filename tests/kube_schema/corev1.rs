// The k8s.io/api core/v1 types that the kubeadm and kubelet config APIs embed, mirrored
// field by field with their JSON names (facts only, no Go code copied):
//   staging/src/k8s.io/api/core/v1/types.go @ 001a778fa11f78082f945366a80e46d518b21309
//     Taint, EnvVar, EnvVarSource, ObjectFieldSelector, ResourceFieldSelector,
//     ConfigMapKeySelector, SecretKeySelector (LocalObjectReference inlined: name)
//   EnvVarSource.fileKeyRef / FileKeySelector (EnvFiles feature gate, Kubernetes 1.34+) are taken
//   from the upstream change to the same file (PR #132626): volumeName, path, key, optional.
//
// Required (non-Option) here = a JSON tag without omitempty that upstream validation requires.

use super::metav1::{Bool, Quantity, Time};
use serde::Deserialize;

/// corev1.Taint
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    /// NoSchedule | PreferNoSchedule | NoExecute
    pub effect: String,
    pub timeAdded: Option<Time>,
}

/// corev1.EnvVar (kubeadm v1beta4 EnvVar inlines it)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVar {
    pub name: String,
    pub value: Option<String>,
    pub valueFrom: Option<EnvVarSource>,
}

/// corev1.EnvVarSource
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvVarSource {
    pub fieldRef: Option<ObjectFieldSelector>,
    pub resourceFieldRef: Option<ResourceFieldSelector>,
    pub configMapKeyRef: Option<ConfigMapKeySelector>,
    pub secretKeyRef: Option<SecretKeySelector>,
    pub fileKeyRef: Option<FileKeySelector>,
}

/// corev1.ObjectFieldSelector
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectFieldSelector {
    pub apiVersion: Option<String>,
    pub fieldPath: String,
}

/// corev1.ResourceFieldSelector
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceFieldSelector {
    pub containerName: Option<String>,
    pub resource: String,
    pub divisor: Option<Quantity>,
}

/// corev1.ConfigMapKeySelector (LocalObjectReference inline: name)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigMapKeySelector {
    pub name: Option<String>,
    pub key: String,
    pub optional: Option<Bool>,
}

/// corev1.SecretKeySelector (LocalObjectReference inline: name)
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeySelector {
    pub name: Option<String>,
    pub key: String,
    pub optional: Option<Bool>,
}

/// corev1.FileKeySelector
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileKeySelector {
    pub volumeName: String,
    pub path: String,
    pub key: String,
    pub optional: Option<Bool>,
}
