//! Chooses and opens the transport for each host from its inventory variables:
//! `ansible_connection: local` runs on this machine, anything else goes over SSH
//! (through the bastion when the inventory has one).

use crate::cluster::{Cluster, ClusterHost};
use crate::run::Connector;
use crate::transport::{local::Local, Transport, TransportError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Settings from the command line.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--private-key`.
    pub private_key: Option<PathBuf>,
    /// `--known-hosts`.
    pub known_hosts: Option<PathBuf>,
    /// `--accept-new-host-keys`.
    pub accept_new_host_keys: bool,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// The jump host, from the inventory's bastion group.
    pub bastion: Option<ClusterHost>,
}

/// The first host of the `bastion` group, if any.
pub fn bastion_of(c: &Cluster) -> Option<ClusterHost> {
    c.hosts
        .iter()
        .find(|h| h.groups.contains("bastion"))
        .cloned()
}

/// A connector for the runner.
pub fn connector(opts: ConnectOptions) -> Connector {
    let opts = Arc::new(opts);
    Arc::new(move |host: ClusterHost| {
        let opts = opts.clone();
        Box::pin(async move { open(&host, &opts).await })
    })
}

async fn open(
    host: &ClusterHost,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Transport>, TransportError> {
    let conn = host
        .var("ansible_connection")
        .and_then(|v| v.as_str())
        .unwrap_or("ssh");
    match conn {
        "local" => Ok(Arc::new(Local)),
        "ssh" | "smart" | "paramiko" => ssh(host, opts).await,
        other => Err(TransportError::Other(format!(
            "ansible_connection '{other}' is not supported (ssh, local)"
        ))),
    }
}

async fn ssh(
    host: &ClusterHost,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Transport>, TransportError> {
    let _ = (host, opts);
    Err(TransportError::Unreachable(format!(
        "{}: the SSH transport is not wired in yet",
        host.name
    )))
}
