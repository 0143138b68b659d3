//! kubeforge: Kubernetes provisioning over SSH from Kubespray-compatible inventories.
pub mod shell;
pub mod template;
pub mod yaml;
