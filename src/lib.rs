//! kubeforge: Kubernetes provisioning over SSH from Kubespray-compatible inventories.
pub mod diagnostic;
pub mod inventory;
pub mod shell;
pub mod template;
pub mod yaml;
pub mod network;
pub mod topology;
pub mod artifacts;
pub mod cluster;
pub mod validate;
pub mod report;
pub mod modules;
pub mod playbook;
pub mod plan;
pub mod transport;
