//! Chooses and opens the transport for each host from its inventory variables:
//! `ansible_connection: local` runs on this machine, anything else goes over SSH
//! (through the bastion when the inventory has one). All hosts of a run share one
//! dialer: a bound on handshakes in flight and the connections to jump hosts.

use crate::cluster::{Cluster, ClusterHost};
use crate::run::Connector;
use crate::transport::dial::{Dialer, DEFAULT_HOSTS_PER_JUMP_CONNECTION, DEFAULT_MAX_HANDSHAKES};
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
    /// SSH handshakes in flight at once.
    pub max_handshakes: usize,
    /// Hosts carried by one connection to a jump host.
    pub hosts_per_jump_connection: usize,
    /// A connection setting that could not be read: every host fails with it.
    pub invalid: Option<String>,
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
    let dialer = Arc::new(Dialer::new(
        opts.max_handshakes,
        opts.hosts_per_jump_connection,
    ));
    let opts = Arc::new(opts);
    Arc::new(move |host: ClusterHost| {
        let (opts, dialer) = (opts.clone(), dialer.clone());
        Box::pin(async move { open(&host, &opts, &dialer).await })
    })
}

async fn open(
    host: &ClusterHost,
    opts: &ConnectOptions,
    dialer: &Dialer,
) -> Result<Arc<dyn Transport>, TransportError> {
    if let Some(why) = &opts.invalid {
        return Err(TransportError::Other(why.clone()));
    }
    let conn = host
        .var("ansible_connection")
        .and_then(|v| v.as_str())
        .unwrap_or("ssh");
    match conn {
        "local" => Ok(Arc::new(Local)),
        "ssh" | "smart" | "paramiko" => ssh(host, opts, dialer).await,
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
    dialer: &Dialer,
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
    let t = connect(&host.ssh.address, &o, dialer)
        .await
        .map_err(|e| match e {
            TransportError::Unreachable(m) => {
                TransportError::Unreachable(format!("{}: {m}", host.name))
            }
            TransportError::HostKey(m) => TransportError::HostKey(format!("{}: {m}", host.name)),
            TransportError::Auth(m) => TransportError::Auth(format!("{}: {m}", host.name)),
            other => other,
        })?;
    Ok(Arc::new(t))
}

/// Connect options from the command line's SSH flags and the inventory's bastion and
/// connection settings (`kubeforge_max_handshakes`,
/// `kubeforge_bastion_hosts_per_connection`, read for the first host: set them for all).
pub fn options(ssh: &crate::cli::SshArgs, cluster: &Cluster) -> ConnectOptions {
    let mut invalid = None;
    let mut read = |name: &str, default: usize| -> usize {
        match cluster
            .hosts
            .first()
            .map(|h| setting(cluster, &h.name, name))
        {
            Some(Err(why)) => {
                invalid.get_or_insert(why);
                default
            }
            Some(Ok(Some(n))) => n,
            _ => default,
        }
    };
    let from_inventory = read("kubeforge_max_handshakes", DEFAULT_MAX_HANDSHAKES);
    let hosts_per_jump_connection = read(
        "kubeforge_bastion_hosts_per_connection",
        DEFAULT_HOSTS_PER_JUMP_CONNECTION,
    );
    ConnectOptions {
        private_key: ssh.private_key.clone(),
        known_hosts: ssh.known_hosts.clone(),
        accept_new_host_keys: ssh.accept_new_host_keys,
        connect_timeout: Duration::from_secs(ssh.connect_timeout.max(1)),
        bastion: bastion_of(cluster),
        max_handshakes: ssh.max_handshakes.map_or(from_inventory, |n| n as usize),
        hosts_per_jump_connection,
        invalid,
    }
}

/// A positive whole-number setting of `host`, if set.
fn setting(cluster: &Cluster, host: &str, name: &str) -> Result<Option<usize>, String> {
    let value = cluster
        .resolver
        .get(host, name)
        .map_err(|e| format!("{name}: {e}"))?;
    let n = match &value {
        None => return Ok(None),
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    match n.and_then(|n| usize::try_from(n).ok()).filter(|n| *n > 0) {
        Some(n) => Ok(Some(n)),
        None => Err(format!(
            "{name} must be a whole number of at least 1, got {}",
            value.map(|v| v.to_string()).unwrap_or_default()
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::cluster::{Cluster, Render};
    use crate::inventory::Inventory;

    fn cluster(vars: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.yaml");
        std::fs::write(
            &path,
            format!("all:\n  vars:\n{vars}  children:\n    kube_node:\n      hosts:\n        n1: {{ip: 10.0.0.1}}\n        n2: {{ip: 10.0.0.2}}\n"),
        )
        .unwrap();
        let inv = Inventory::load(&path, &[]).unwrap();
        Cluster::build_with(inv, &Default::default(), Render::Lazy)
    }

    #[test]
    fn connection_settings_come_from_flags_then_the_inventory_then_defaults() {
        let ssh = crate::cli::SshArgs::default();
        let o = super::options(&ssh, &cluster(""));
        assert_eq!((o.max_handshakes, o.hosts_per_jump_connection), (64, 64));
        assert!(o.invalid.is_none());
        let c = cluster("    kubeforge_max_handshakes: 16\n    kubeforge_bastion_hosts_per_connection: \"100\"\n");
        let o = super::options(&ssh, &c);
        assert_eq!((o.max_handshakes, o.hosts_per_jump_connection), (16, 100));
        let flag = crate::cli::SshArgs {
            max_handshakes: Some(4),
            ..Default::default()
        };
        assert_eq!(super::options(&flag, &c).max_handshakes, 4);
        let o = super::options(&ssh, &cluster("    kubeforge_max_handshakes: 0\n"));
        let why = o.invalid.unwrap_or_default();
        assert!(
            why.contains("kubeforge_max_handshakes must be a whole number of at least 1, got 0"),
            "{why}"
        );
    }
}
