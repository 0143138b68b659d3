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

/// ProxyJump from `ansible_ssh_common_args` / `ansible_ssh_extra_args`: `-o ProxyJump=[user@]host[:port]`.
fn proxy_jump(host: &ClusterHost) -> Option<(String, String, u16)> {
    for var in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        let Some(args) = host.var(var).and_then(|v| v.as_str()) else {
            continue;
        };
        let Some(idx) = args.find("ProxyJump=") else {
            continue;
        };
        let spec = args[idx + "ProxyJump=".len()..]
            .split_whitespace()
            .next()?
            .trim_matches(|c| c == '"' || c == '\'');
        let (user, rest) = match spec.split_once('@') {
            Some((u, r)) => (u.to_string(), r),
            None => (String::new(), spec),
        };
        let (addr, port) = match rest.rsplit_once(':') {
            Some((a, p)) if p.parse::<u16>().is_ok() && !a.contains(':') => {
                (a.to_string(), p.parse().unwrap_or(22))
            }
            _ => (
                rest.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                22,
            ),
        };
        return Some((user, addr, port));
    }
    None
}

async fn ssh(
    host: &ClusterHost,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Transport>, TransportError> {
    use crate::transport::ssh::{connect, JumpHost, SshOptions};
    let mut o = SshOptions::new(&host.ssh.user, host.ssh.port);
    o.key_files = host
        .ssh
        .key_file
        .as_ref()
        .map(PathBuf::from)
        .or_else(|| opts.private_key.clone())
        .into_iter()
        .collect();
    if let Some(k) = &opts.known_hosts {
        o.known_hosts = k.clone();
    }
    o.accept_new_host_keys = opts.accept_new_host_keys;
    o.connect_timeout = opts.connect_timeout;
    if let Some((user, address, port)) = proxy_jump(host) {
        o.jump = Some(JumpHost {
            user: if user.is_empty() {
                host.ssh.user.clone()
            } else {
                user
            },
            address,
            port,
            key_files: o.key_files.clone(),
        });
    } else if let Some(b) = opts.bastion.as_ref().filter(|b| b.name != host.name) {
        o.jump = Some(JumpHost {
            address: b.ssh.address.clone(),
            port: b.ssh.port,
            user: b.ssh.user.clone(),
            key_files: b
                .ssh
                .key_file
                .as_ref()
                .map(PathBuf::from)
                .or_else(|| opts.private_key.clone())
                .into_iter()
                .collect(),
        });
    }
    let t = connect(&host.ssh.address, &o).await.map_err(|e| match e {
        TransportError::Unreachable(m) => {
            TransportError::Unreachable(format!("{}: {m}", host.name))
        }
        TransportError::HostKey(m) => TransportError::HostKey(format!("{}: {m}", host.name)),
        TransportError::Auth(m) => TransportError::Auth(format!("{}: {m}", host.name)),
        other => other,
    })?;
    Ok(Arc::new(t))
}

/// Connect options from the command line's SSH flags and the inventory's bastion.
pub fn options(ssh: &crate::cli::SshArgs, cluster: &Cluster) -> ConnectOptions {
    ConnectOptions {
        private_key: ssh.private_key.clone(),
        known_hosts: ssh.known_hosts.clone(),
        accept_new_host_keys: ssh.accept_new_host_keys,
        connect_timeout: Duration::from_secs(ssh.connect_timeout.max(1)),
        bastion: bastion_of(cluster),
    }
}
