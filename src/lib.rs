//! kubeforge: Kubernetes provisioning over SSH from Kubespray-compatible inventories.
// Errors carry their location and fix (a few hundred bytes) and travel only on the
// failure path: boxing them would buy nothing measurable.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]
pub mod artifacts;
pub mod cli;
pub mod cluster;
pub mod defaults;
pub mod diagnostic;
pub mod inventory;
pub mod kubeconfig;
pub mod lab;
pub mod modules;
pub mod network;
pub mod op;
pub mod pki;
pub mod plan;
pub mod playbook;
pub mod report;
pub mod run;
pub mod shell;
pub mod state;
pub mod topology;
pub mod transport;
pub mod validate;
pub mod value;
pub mod vars;
pub mod yaml;
