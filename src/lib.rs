//! kubeforge: Kubernetes provisioning over SSH from Kubespray-compatible inventories.
pub mod artifacts;
pub mod cluster;
pub mod connect;
pub mod diagnostic;
pub mod inventory;
pub mod modules;
pub mod network;
pub mod plan;
pub mod playbook;
pub mod report;
pub mod run;
pub mod shell;
pub mod template;
pub mod topology;
pub mod transport;
pub mod validate;
pub mod yaml;
