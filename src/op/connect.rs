//! Chooses and opens the transport for each host from its inventory variables:
//! `ansible_connection: local` runs on this machine, anything else goes over SSH, set up
//! as OpenSSH would be by Ansible's ssh connection plugin: the inventory's variables
//! (ansible_user, ansible_port, ansible_ssh_private_key_file) first, then the `-o`, `-F`,
//! `-J`... of ansible_ssh_common_args / ansible_ssh_extra_args, then the inventory's
//! bastion group, then the ssh config (`-F FILE`, else ~/.ssh/config and
//! /etc/ssh/ssh_config). Passwords (ansible_password, ansible_become_password) come from
//! the inventory only, usually a vault. All hosts of a run share one dialer (a bound on
//! handshakes in flight and the connections to jump hosts) and the parsed ssh configs.

use crate::cluster::{Cluster, ClusterHost};
use crate::run::Connector;
use crate::transport::dial::{Dialer, DEFAULT_HOSTS_PER_JUMP_CONNECTION, DEFAULT_MAX_HANDSHAKES};
use crate::transport::known_hosts::KnownHosts;
use crate::transport::ssh::{default_known_hosts, JumpHost, SshOptions};
use crate::transport::ssh_config::{
    self, ConfigError, Found, HostConfig, Proxy, Setting, SshArgs, SshConfig, Strict, Tokens,
};
use crate::transport::{local::Local, local::LocalSudo, Secret, Transport, TransportError};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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
    /// `--connect-timeout` (None: the ssh config's ConnectTimeout, else 10 s).
    pub connect_timeout: Option<Duration>,
    /// The jump host, from the inventory's bastion group.
    pub bastion: Option<ClusterHost>,
    /// SSH handshakes in flight at once.
    pub max_handshakes: usize,
    /// Hosts carried by one connection to a jump host.
    pub hosts_per_jump_connection: usize,
    /// A connection setting that could not be read: every host fails with it.
    pub invalid: Option<String>,
    /// The ssh configs read so far (by `-F` file; None: the default files).
    pub configs: Arc<Configs>,
}

/// Parsed ssh config files, read once per run.
#[derive(Debug, Default)]
pub struct Configs(Mutex<HashMap<Option<PathBuf>, Read>>);

/// One configuration as read (an error is kept: every host that needs it says it).
type Read = Result<Arc<SshConfig>, ConfigError>;

impl Configs {
    /// The configuration for `-F file`, or the default files.
    pub fn get(&self, file: Option<&Path>) -> Result<Arc<SshConfig>, ConfigError> {
        let key = file.map(Path::to_path_buf);
        if let Ok(m) = self.0.lock() {
            if let Some(c) = m.get(&key) {
                return c.clone();
            }
        }
        let ssh_dir = ssh_config::home().join(".ssh");
        let c = match file {
            Some(f) if f == Path::new("none") => Ok(SshConfig::default()),
            Some(f) => SshConfig::load(f, true, &ssh_dir),
            None => SshConfig::load(&ssh_dir.join("config"), false, &ssh_dir).and_then(|user| {
                let system = SshConfig::load(
                    Path::new("/etc/ssh/ssh_config"),
                    false,
                    Path::new("/etc/ssh"),
                )?;
                Ok(user.then(system))
            }),
        }
        .map(Arc::new);
        if let Ok(mut m) = self.0.lock() {
            m.insert(key, c.clone());
        }
        c
    }
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
        "local" => match become_password(host)? {
            Some(pw) => Ok(Arc::new(LocalSudo(pw))),
            None => Ok(Arc::new(Local)),
        },
        "ssh" | "smart" | "paramiko" => ssh(host, opts, dialer).await,
        other => Err(TransportError::Other(format!(
            "ansible_connection '{other}' is not supported (ssh, local)"
        ))),
    }
}

/// Ansible's names for the SSH login password (the last one set wins).
pub const PASSWORD_VARS: [&str; 3] = [
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_ssh_password",
];
/// Ansible's names for sudo's password (the last one set wins).
pub const BECOME_PASSWORD_VARS: [&str; 2] = ["ansible_become_password", "ansible_become_pass"];

/// A password variable of the host: the last of `names` that is set.
fn password_var(host: &ClusterHost, names: &[&str]) -> Result<Option<Secret>, TransportError> {
    for name in names.iter().rev() {
        if let Some(d) = host.deferred.get(*name) {
            return Err(TransportError::Other(if d.locked {
                format!(
                    "{name} is vault-encrypted and no vault password was given: {}",
                    crate::value::VAULT_HOW
                )
            } else {
                format!("{name} cannot be rendered: {}", d.reason)
            }));
        }
        let Some(mut v) = host.var(name) else {
            continue;
        };
        if let Some(crate::value::Special::Unsafe(inner)) = crate::value::special(v) {
            v = inner;
        }
        let text = match v {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ if matches!(
                crate::value::special(v),
                Some(crate::value::Special::Vault(_))
            ) =>
            {
                return Err(TransportError::Other(format!(
                    "{name} is vault-encrypted and no vault password was given: {}",
                    crate::value::VAULT_HOW
                )))
            }
            _ => {
                return Err(TransportError::Other(format!(
                    "{name} must be text (a password)"
                )))
            }
        };
        if text.contains('\n') || text.contains('\r') {
            return Err(TransportError::Other(format!(
                "{name} contains a line break, which sudo and SSH cannot take: remove it (a vault file's trailing newline, often)"
            )));
        }
        return Ok(Some(Secret::new(&text)));
    }
    Ok(None)
}

/// The host's sudo password, if the inventory gives one.
pub fn become_password(host: &ClusterHost) -> Result<Option<Secret>, TransportError> {
    password_var(host, &BECOME_PASSWORD_VARS)
}

fn cfg_err(e: ConfigError) -> TransportError {
    TransportError::Other(format!("ssh configuration: {e}"))
}

/// Text of an inventory variable.
fn text_var(host: &ClusterHost, name: &str) -> Option<String> {
    match host.var(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Everything ssh's command line would say for the host, from its inventory variables.
fn command_line(host: &ClusterHost, opts: &ConnectOptions) -> Result<SshArgs, TransportError> {
    let mut args = SshArgs::default();
    if host.ssh.port_given {
        args.settings.push(Setting::var(
            "Port",
            &host.ssh.port.to_string(),
            "ansible_port",
        ));
    }
    if host.ssh.user_given {
        args.settings
            .push(Setting::var("User", &host.ssh.user, "ansible_user"));
    }
    match (&host.ssh.key_file, &opts.private_key) {
        (Some(k), _) => args.settings.push(Setting::var(
            "IdentityFile",
            k,
            "ansible_ssh_private_key_file",
        )),
        (None, Some(k)) => args.settings.push(Setting::var(
            "IdentityFile",
            &k.display().to_string(),
            "--private-key",
        )),
        (None, None) => {}
    }
    for var in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        let Some(text) = text_var(host, var) else {
            continue;
        };
        let words = crate::inventory::shlex::split_args(&text)
            .map_err(|e| TransportError::Other(format!("{var}: {e}")))?;
        args.add(&words, var).map_err(cfg_err)?;
    }
    Ok(args)
}

/// The address to connect to and how, for one host.
pub fn ssh_options(
    host: &ClusterHost,
    opts: &ConnectOptions,
) -> Result<(String, SshOptions), TransportError> {
    let args = command_line(host, opts)?;
    let config = opts
        .configs
        .get(args.config_file.as_ref().map(|(p, _)| p.as_path()))
        .map_err(|e| match &args.config_file {
            Some((_, at)) => TransportError::Other(format!("{e} (the -F file of {at})")),
            None => cfg_err(e),
        })?;
    let given = &host.ssh.address;
    let hc = config
        .resolve_as(given, &args.settings, &host.ssh.user)
        .map_err(cfg_err)?;
    let hostname = match &hc.hostname {
        Some(h) => {
            let t = Tokens {
                name: given.clone(),
                hostname: given.clone(),
                ..Default::default()
            };
            t.expand(&h.value, "h", false, &h.at).map_err(cfg_err)?
        }
        None => given.clone(),
    };
    let port = hc.port.as_ref().map_or(22, |p| p.value);
    let user = hc
        .user
        .as_ref()
        .map_or_else(|| host.ssh.user.clone(), |u| u.value.clone());
    let alias = hc.host_key_alias.as_ref().map(|a| a.value.clone());
    let tokens = Tokens {
        name: given.clone(),
        hostname: hostname.clone(),
        port,
        user: user.clone(),
        key_alias: alias.clone().unwrap_or_else(|| hostname.clone()),
    };
    let paths = |list: &[Found<String>]| -> Result<Vec<PathBuf>, TransportError> {
        list.iter()
            .map(|f| {
                tokens
                    .expand(&f.value, ssh_config::PATH_TOKENS, true, &f.at)
                    .map(PathBuf::from)
                    .map_err(cfg_err)
            })
            .collect()
    };
    let mut o = SshOptions::new(&user, port);
    o.key_files = paths(&hc.identity_files)?;
    o.certificate_files = paths(&hc.certificate_files)?;
    o.identities_only = hc.identities_only.unwrap_or(false);
    o.host_key_alias = alias;
    o.known_hosts = known_hosts(&hc, &tokens, opts)?;
    o.accept_new_host_keys = opts.accept_new_host_keys
        || matches!(
            hc.strict.as_ref().map(|s| s.value),
            Some(Strict::AcceptNew | Strict::No)
        );
    o.connect_timeout = opts
        .connect_timeout
        .or_else(|| {
            hc.connect_timeout
                .as_ref()
                // `none`: as long as a TCP connect may take.
                .map(|t| t.value.unwrap_or(Duration::from_secs(120)))
        })
        .unwrap_or(Duration::from_secs(10));
    o.password = match hc.password_authentication {
        Some(false) => None,
        _ => password_var(host, &PASSWORD_VARS)?,
    };
    o.become_password = become_password(host)?;
    // Through what: ansible_ssh_*_args, then the inventory's bastion, then the file.
    let from_args = hc
        .proxy
        .as_ref()
        .filter(|p| matches!(p.at, ssh_config::Origin::Var(_)));
    let bastion = opts.bastion.as_ref().filter(|b| b.name != host.name);
    match (from_args, bastion, &hc.proxy) {
        (Some(p), _, _) => route(&mut o, p, &config, &tokens, host, opts)?,
        (None, Some(b), _) => o.jump = Some(bastion_jump(b, opts)?),
        (None, None, Some(p)) => route(&mut o, p, &config, &tokens, host, opts)?,
        (None, None, None) => {}
    }
    Ok((hostname, o))
}

/// known_hosts files: --known-hosts, else UserKnownHostsFile, else ~/.ssh/known_hosts;
/// then GlobalKnownHostsFile, else /etc/ssh/ssh_known_hosts.
fn known_hosts(
    hc: &HostConfig,
    tokens: &Tokens,
    opts: &ConnectOptions,
) -> Result<KnownHosts, TransportError> {
    let expand = |f: &Found<Vec<String>>| -> Result<Vec<PathBuf>, TransportError> {
        f.value
            .iter()
            .map(|v| {
                tokens
                    .expand(v, ssh_config::PATH_TOKENS, true, &f.at)
                    .map(PathBuf::from)
                    .map_err(cfg_err)
            })
            .collect()
    };
    let defaults = default_known_hosts();
    let (user_defaults, global_defaults) = defaults.split_at(2);
    let mut files = match (&opts.known_hosts, &hc.user_known_hosts) {
        (Some(k), _) => vec![k.clone()],
        (None, Some(f)) => expand(f)?,
        (None, None) => user_defaults.to_vec(),
    };
    match &hc.global_known_hosts {
        Some(f) => files.extend(expand(f)?),
        None => files.extend(global_defaults.iter().cloned()),
    }
    Ok(KnownHosts::new(files))
}

/// Sets the route from a ProxyJump or ProxyCommand.
fn route(
    o: &mut SshOptions,
    p: &Found<Proxy>,
    config: &SshConfig,
    tokens: &Tokens,
    host: &ClusterHost,
    opts: &ConnectOptions,
) -> Result<(), TransportError> {
    match &p.value {
        Proxy::Direct => {}
        Proxy::Command(raw) => {
            o.proxy_command = Some(
                tokens
                    .expand(raw, ssh_config::PROXY_TOKENS, false, &p.at)
                    .map_err(cfg_err)?,
            )
        }
        Proxy::Jump(hops) => {
            o.jump = Some(super::jump::chain(
                hops, &p.at, config, &o.user, host, opts,
            )?)
        }
    }
    Ok(())
}

/// The inventory's bastion host as the jump host, set up as any host is (its inventory
/// variables, then the ssh config; a ProxyJump of its own puts jump hosts before it).
fn bastion_jump(b: &ClusterHost, opts: &ConnectOptions) -> Result<JumpHost, TransportError> {
    let own = ConnectOptions {
        bastion: None,
        ..opts.clone()
    };
    let (address, bo) = ssh_options(b, &own)?;
    if bo.proxy_command.is_some() {
        return Err(TransportError::Other(format!(
            "the bastion {} is itself reached through a ProxyCommand (ssh config or ansible_ssh_common_args); kubeforge reaches jump hosts over SSH only: give it a ProxyJump instead, or `ProxyCommand none`",
            b.name
        )));
    }
    Ok(JumpHost {
        address,
        port: bo.port,
        user: bo.user,
        key_files: bo.key_files,
        certificate_files: bo.certificate_files,
        identities_only: bo.identities_only,
        host_key_alias: bo.host_key_alias,
        via: bo.jump.map(Box::new),
    })
}

async fn ssh(
    host: &ClusterHost,
    opts: &ConnectOptions,
    dialer: &Dialer,
) -> Result<Arc<dyn Transport>, TransportError> {
    let (address, o) = ssh_options(host, opts)?;
    let t = crate::transport::ssh::connect(&address, &o, dialer)
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
        connect_timeout: ssh.connect_timeout.map(|s| Duration::from_secs(s.max(1))),
        bastion: bastion_of(cluster),
        max_handshakes: ssh.max_handshakes.map_or(from_inventory, |n| n as usize),
        hosts_per_jump_connection,
        invalid,
        configs: Arc::default(),
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
    use super::*;
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

    fn cluster_of(yaml: &str) -> (tempfile::TempDir, Cluster) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.yaml");
        std::fs::write(
            &path,
            yaml.replace("DIR", &dir.path().display().to_string()),
        )
        .unwrap();
        let inv = Inventory::load(&path, &[]).unwrap();
        (
            dir,
            Cluster::build_with(inv, &Default::default(), Render::Lazy),
        )
    }

    #[test]
    fn inventory_then_ssh_args_then_bastion_then_the_ssh_config() {
        let (dir, c) = cluster_of(
            "all:\n  vars:\n    ansible_ssh_common_args: -F DIR/ssh.conf\n  hosts:\n    a: {ip: 10.0.0.1, ansible_user: inv}\n    b: {ip: 10.0.0.2, ansible_ssh_common_args: '-F DIR/ssh.conf -o ProxyJump=j@gw:2200 -o Port=2201'}\n    c: {ip: 10.0.0.3, ansible_port: 2202, ansible_ssh_private_key_file: /inv/key}\n  children:\n    kube_node: {hosts: {a: , b: , c: }}\n",
        );
        std::fs::write(
            dir.path().join("ssh.conf"),
            "Host a b c\n  HostName %h.example\n  User file\n  Port 2222\n  IdentityFile /file/%r-key\n  ProxyCommand nc %h %p\n  UserKnownHostsFile /file/kh\n  StrictHostKeyChecking accept-new\n  ConnectTimeout 7\n",
        )
        .unwrap();
        let opts = ConnectOptions::default();
        let host = |n: &str| c.host(n).unwrap().clone();
        let (addr, o) = ssh_options(&host("a"), &opts).unwrap();
        assert_eq!(
            (addr.as_str(), o.user.as_str(), o.port),
            ("a.example", "inv", 2222)
        );
        assert_eq!(o.key_files, [PathBuf::from("/file/inv-key")]);
        assert_eq!(o.proxy_command.as_deref(), Some("nc a.example 2222"));
        assert_eq!(o.known_hosts.files()[0], PathBuf::from("/file/kh"));
        assert!(o.accept_new_host_keys);
        assert_eq!(o.connect_timeout, Duration::from_secs(7));
        // -o in the args beats the file; ProxyJump's host is looked up in the file too.
        let (_, o) = ssh_options(&host("b"), &opts).unwrap();
        assert_eq!(o.port, 2201);
        let j = o.jump.unwrap();
        assert_eq!(
            (j.address.as_str(), j.user.as_str(), j.port),
            ("gw", "j", 2200)
        );
        assert!(o.proxy_command.is_none());
        // The inventory's key comes first; its port wins.
        let (_, o) = ssh_options(&host("c"), &opts).unwrap();
        assert_eq!(o.port, 2202);
        assert_eq!(
            o.key_files,
            [PathBuf::from("/inv/key"), PathBuf::from("/file/file-key")]
        );
        // The bastion group beats the file's ProxyCommand; flags beat the file.
        let bastion = ClusterHost {
            name: "bastion".into(),
            ..host("a")
        };
        let flags = ConnectOptions {
            bastion: Some(ClusterHost {
                ssh: crate::cluster::SshTarget {
                    address: "10.9.9.9".into(),
                    port: 22,
                    user: "jump".into(),
                    key_file: None,
                    user_given: true,
                    port_given: false,
                },
                ..bastion
            }),
            known_hosts: Some(PathBuf::from("/flag/kh")),
            connect_timeout: Some(Duration::from_secs(3)),
            ..Default::default()
        };
        let (_, o) = ssh_options(&host("a"), &flags).unwrap();
        assert!(o.proxy_command.is_none());
        let j = o.jump.unwrap();
        assert_eq!((j.address.as_str(), j.user.as_str()), ("10.9.9.9", "jump"));
        assert_eq!(o.known_hosts.files()[0], PathBuf::from("/flag/kh"));
        assert_eq!(o.connect_timeout, Duration::from_secs(3));
    }

    #[test]
    fn proxyjump_chains_reach_each_hop_through_the_one_before() {
        let (dir, c) = cluster_of(
            "all:\n  vars:\n    ansible_ssh_common_args: -F DIR/ssh.conf\n  hosts:\n    a: {ip: 10.0.0.1}\n    b: {ip: 10.0.0.2}\n    c: {ip: 10.0.0.3}\n    d: {ip: 10.0.0.4}\n    e: {ip: 10.0.0.5}\n  children:\n    kube_node: {hosts: {a: , b: , c: , d: , e: }}\n",
        );
        std::fs::write(
            dir.path().join("ssh.conf"),
            "Host a\n  ProxyJump u1@j1,j2:2202\nHost b\n  ProxyJump j3,j2\nHost c\n  ProxyJump pc\nHost d\n  ProxyJump l1\nHost e\n  ProxyJump gw\n\
             Host j1\n  HostName 192.0.2.1\n  IdentityFile /k/j1\n  ProxyJump none\nHost j2\n  User u2\n  ProxyCommand never-used %h\n\
             Host j3\n  ProxyJump j1\nHost pc\n  ProxyCommand nc %h %p\nHost l1\n  ProxyJump l2\nHost l2\n  ProxyJump l1\n\
             Host *\n  ProxyJump gw\n",
        )
        .unwrap();
        let opts = ConnectOptions::default();
        let chain = |n: &str| -> Result<Vec<(String, u16, String)>, String> {
            let (_, o) = ssh_options(c.host(n).unwrap(), &opts).map_err(|e| e.to_string())?;
            let mut hops = Vec::new();
            let mut j = o.jump.map(Box::new);
            while let Some(h) = j {
                hops.insert(0, (h.address.clone(), h.port, h.user.clone()));
                j = h.via;
            }
            Ok(hops)
        };
        type Hops = Vec<(String, u16, String)>;
        let hop = |a: &str, p: u16, u: &str| (a.to_string(), p, u.to_string());
        // (host, the hops from first to last, or the refusal)
        let cases: Vec<(&str, Result<Hops, &str>)> = vec![
            // j1 first (its own HostName, the user given in the chain), then j2 through it;
            // j2's own ProxyCommand is overridden by the chain, as with `ssh -J j1 j2`.
            (
                "a",
                Ok(vec![hop("192.0.2.1", 22, "u1"), hop("j2", 2202, "u2")]),
            ),
            // The first hop's own ProxyJump makes the chain longer.
            (
                "b",
                Ok(vec![
                    hop("192.0.2.1", 22, "root"),
                    hop("j3", 22, "root"),
                    hop("j2", 22, "u2"),
                ]),
            ),
            ("c", Err("/ssh.conf:21: the jump host pc (ProxyJump at ")),
            ("d", Err("the ProxyJump chain is longer than 16 hops")),
            // `Host *` gives gw a ProxyJump to itself: ignored, as before.
            ("e", Ok(vec![hop("gw", 22, "root")])),
        ];
        for (n, want) in cases {
            match (chain(n), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{n}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{n}: {got}"),
                (got, want) => panic!("{n}: got {got:?}, want {want:?}"),
            }
        }
        // The first hop's key file is its own; the others fall back to none given.
        let (_, o) = ssh_options(c.host("a").unwrap(), &opts).unwrap();
        let j2 = o.jump.unwrap();
        assert_eq!(j2.via.unwrap().key_files, [PathBuf::from("/k/j1")]);
    }

    #[test]
    fn refusals_name_the_file_or_the_variable() {
        let (dir, c) = cluster_of(
            "all:\n  hosts:\n    a: {ip: 10.0.0.1, ansible_ssh_common_args: '-F DIR/missing.conf'}\n    b: {ip: 10.0.0.2, ansible_ssh_extra_args: '-F DIR/bad.conf'}\n    c: {ip: 10.0.0.3, ansible_ssh_common_args: '-o \"ProxyCommand=nc %x\"'}\n    d: {ip: 10.0.0.4, ansible_become_password: \"two\\nlines\"}\n  children:\n    kube_node: {hosts: {a: , b: , c: , d: }}\n",
        );
        std::fs::write(dir.path().join("bad.conf"), "Host *\n  Port ssh\n").unwrap();
        let opts = ConnectOptions::default();
        let why = |n: &str| {
            ssh_options(c.host(n).unwrap(), &opts)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let d = dir.path().display().to_string();
        assert_eq!(
            why("a"),
            format!("{d}/missing.conf: cannot read it: No such file or directory (os error 2) (the -F file of ansible_ssh_common_args)")
        );
        assert_eq!(
            why("b"),
            format!("ssh configuration: {d}/bad.conf:2: Port must be a port number (1-65535), not 'ssh'")
        );
        assert_eq!(
            why("c"),
            "ssh configuration: ansible_ssh_common_args (-o ProxyCommand=nc %x): 'nc %x': the token %x is not supported here"
        );
        assert!(
            why("d").starts_with("ansible_become_password contains a line break"),
            "{}",
            why("d")
        );
    }
}
