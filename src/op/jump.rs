//! ProxyJump chains as OpenSSH follows them. `ProxyJump a,b,c` reaches `a` first, `b`
//! through `a`, `c` through `b`, and the host through `c` (OpenSSH runs it as
//! `ssh -J a,b -W %h:%p c`): so only the first hop's own ProxyJump from the ssh config
//! applies (it makes the chain longer), while the later hops' own ProxyJump or
//! ProxyCommand are overridden by the chain. Each hop is looked up in the same ssh
//! config (its HostName, User, Port, IdentityFile...), its key checked against
//! known_hosts, and its connection shared by every host behind it.

use crate::cluster::ClusterHost;
use crate::op::connect::ConnectOptions;
use crate::transport::ssh::JumpHost;
use crate::transport::ssh_config::{
    self, ConfigError, Found, Hop, Origin, Proxy, Setting, SshConfig, Tokens,
};
use crate::transport::TransportError;
use std::path::PathBuf;

/// The longest chain followed (a loop between jump hosts' configs ends here).
const MAX_HOPS: usize = 16;

fn cfg_err(e: ConfigError) -> TransportError {
    TransportError::Other(format!("ssh configuration: {e}"))
}

/// The last hop of `hops` (set at `at`), each hop's `via` the one before it.
/// `user` is the login user when a hop's config names none; a hop with no key file
/// gets the host's own (its inventory key, else --private-key).
pub fn chain(
    hops: &[Hop],
    at: &Origin,
    config: &SshConfig,
    user: &str,
    host: &ClusterHost,
    opts: &ConnectOptions,
) -> Result<JumpHost, TransportError> {
    chain_from(hops, at, config, user, host, opts, 0)
}

/// `chain`, `depth` hops into a longer one.
fn chain_from(
    hops: &[Hop],
    at: &Origin,
    config: &SshConfig,
    user: &str,
    host: &ClusterHost,
    opts: &ConnectOptions,
    depth: usize,
) -> Result<JumpHost, TransportError> {
    let mut via: Option<Box<JumpHost>> = None;
    for (i, hop) in hops.iter().enumerate() {
        if depth + i >= MAX_HOPS {
            return Err(TransportError::Other(format!(
                "ssh configuration: {at}: the ProxyJump chain is longer than {MAX_HOPS} hops: the jump hosts' own ProxyJump settings loop; give the first one `ProxyJump none`"
            )));
        }
        let mut first = Vec::new();
        if let Some(u) = &hop.user {
            first.push(Setting::var("User", u, &at.to_string()));
        }
        if let Some(n) = hop.port {
            first.push(Setting::var("Port", &n.to_string(), &at.to_string()));
        }
        let jc = config
            .resolve_as(&hop.host, &first, user)
            .map_err(cfg_err)?;
        if i == 0 {
            match jc.proxy.as_ref().map(|p| (&p.value, &p.at)) {
                Some((Proxy::Jump(own), own_at)) if !own.iter().any(|h| h.host == hop.host) => {
                    via = Some(Box::new(chain_from(
                        own,
                        own_at,
                        config,
                        user,
                        host,
                        opts,
                        depth + hops.len(),
                    )?));
                }
                Some((Proxy::Command(_), own_at)) => {
                    return Err(TransportError::Other(format!(
                        "ssh configuration: {own_at}: the jump host {} (ProxyJump at {at}) is reached through a ProxyCommand; kubeforge reaches jump hosts over SSH only: give it a ProxyJump instead, or `ProxyCommand none`",
                        hop.host
                    )))
                }
                _ => {}
            }
        }
        let address = match &jc.hostname {
            Some(h) => Tokens {
                name: hop.host.clone(),
                hostname: hop.host.clone(),
                ..Default::default()
            }
            .expand(&h.value, "h", false, &h.at)
            .map_err(cfg_err)?,
            None => hop.host.clone(),
        };
        let port = jc.port.as_ref().map_or(22, |p| p.value);
        let juser = jc
            .user
            .as_ref()
            .map_or_else(|| user.to_string(), |u| u.value.clone());
        let tokens = Tokens {
            name: hop.host.clone(),
            hostname: address.clone(),
            port,
            user: juser.clone(),
            key_alias: jc
                .host_key_alias
                .as_ref()
                .map_or_else(|| address.clone(), |a| a.value.clone()),
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
        let mut key_files = paths(&jc.identity_files)?;
        if key_files.is_empty() {
            // As before ssh configs were read: the host's own key.
            key_files = host
                .ssh
                .key_file
                .as_ref()
                .map(PathBuf::from)
                .or_else(|| opts.private_key.clone())
                .into_iter()
                .collect();
        }
        via = Some(Box::new(JumpHost {
            address,
            port,
            user: juser,
            key_files,
            certificate_files: paths(&jc.certificate_files)?,
            identities_only: jc.identities_only.unwrap_or(false),
            host_key_alias: jc.host_key_alias.map(|a| a.value),
            via,
        }));
    }
    via.map(|v| *v).ok_or_else(|| {
        TransportError::Other(format!("ssh configuration: {at}: ProxyJump names no host"))
    })
}
