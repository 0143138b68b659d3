//! SSH transport on russh: one persistent connection per host, at most `max_channels`
//! channels at once (OpenSSH's MaxSessions is 10), keepalive instead of an inactivity
//! cutoff, host keys checked against known_hosts (unknown refused unless accepted; a
//! changed key always refused with the line to fix), key-file or ssh-agent auth, and an
//! optional jump host whose connection the hosts behind it share (see `dial`). Commands
//! run in one long-lived remote shell per host (see `channel`).
//!
//! russh's known_hosts reader has no wildcard, hashed-host or @cert-authority support.

use super::channel::{self, Input, Shell};
use super::dial::{Dialer, Tunnel};
use super::greeting::Greeting;
use super::{
    shell_command, upload_command, BoxFuture, ExecOutput, ExecRequest, Transport, TransportError,
};
use russh::client::{self, Handle};
use russh::keys::{self, PrivateKeyWithHashAlg};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Mutex as AsyncMutex, Semaphore};

/// How to reach one host.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Login user.
    pub user: String,
    /// TCP port.
    pub port: u16,
    /// Private keys tried in order; empty: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
    pub key_files: Vec<PathBuf>,
    /// known_hosts file.
    pub known_hosts: PathBuf,
    /// Record unknown host keys instead of refusing them.
    pub accept_new_host_keys: bool,
    /// Limit for TCP connect + handshake + auth.
    pub connect_timeout: Duration,
    /// Keepalive interval.
    pub keepalive: Duration,
    /// Concurrent channels on the connection.
    pub max_channels: usize,
    /// Jump host (bastion / ProxyJump).
    pub jump: Option<JumpHost>,
}

/// A jump host.
#[derive(Debug, Clone)]
pub struct JumpHost {
    /// Address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// User.
    pub user: String,
    /// Keys (same rules as SshOptions::key_files).
    pub key_files: Vec<PathBuf>,
}

impl SshOptions {
    /// Defaults for a user and port.
    pub fn new(user: &str, port: u16) -> SshOptions {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"));
        SshOptions {
            user: user.to_string(),
            port,
            key_files: Vec::new(),
            known_hosts: home.join(".ssh/known_hosts"),
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
            max_channels: 8,
            jump: None,
        }
    }
}

/// Checks host keys against known_hosts.
pub struct Checker {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    accept_new: bool,
    refusal: Arc<Mutex<Option<String>>>,
}

impl Checker {
    fn refuse(&self, why: String) -> Result<bool, russh::Error> {
        if let Ok(mut r) = self.refusal.lock() {
            *r = Some(why);
        }
        Ok(false)
    }
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let keys::PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return self.refuse(format!(
                "{}:{} offered a host certificate; kubeforge checks plain host keys only",
                self.host, self.port
            ));
        };
        let shown = if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        };
        match keys::check_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
            Ok(true) => Ok(true),
            Ok(false) if self.accept_new => match keys::known_hosts::learn_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
                Ok(()) => Ok(true),
                Err(e) => self.refuse(format!("cannot record {shown}'s key in {}: {e}", self.known_hosts.display())),
            },
            Ok(false) => self.refuse(format!(
                "{shown} is not in {}; verify its key and add it, or run with --accept-new-host-keys",
                self.known_hosts.display()
            )),
            Err(keys::Error::KeyChanged { line }) => self.refuse(format!(
                "{shown} presented a different key than line {line} of {}: possible man-in-the-middle; if the host was reinstalled, remove that line",
                self.known_hosts.display()
            )),
            Err(e) => self.refuse(format!("cannot read {}: {e}", self.known_hosts.display())),
        }
    }
}

/// A host-key checker for host:port and the slot where it leaves its refusal.
fn checker(
    host: impl Into<String>,
    port: u16,
    opts: &SshOptions,
) -> (Checker, Arc<Mutex<Option<String>>>) {
    let refusal = Arc::new(Mutex::new(None));
    let c = Checker {
        host: host.into(),
        port,
        known_hosts: opts.known_hosts.clone(),
        accept_new: opts.accept_new_host_keys,
        refusal: refusal.clone(),
    };
    (c, refusal)
}

fn config(opts_keepalive: Duration) -> Arc<client::Config> {
    Arc::new(client::Config {
        inactivity_timeout: None,
        keepalive_interval: Some(opts_keepalive),
        keepalive_max: 4,
        nodelay: true,
        ..Default::default()
    })
}

fn default_keys() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|k| home.join(".ssh").join(k))
        .filter(|p| p.is_file())
        .collect()
}

async fn authenticate(
    h: &mut Handle<Checker>,
    user: &str,
    key_files: &[PathBuf],
    who: &str,
) -> Result<(), TransportError> {
    let mut tried = Vec::new();
    let hash = h.best_supported_rsa_hash().await.ok().flatten().flatten();
    for path in key_files {
        tried.push(path.display().to_string());
        let key = match keys::load_secret_key(path, None) {
            Ok(k) => k,
            Err(keys::Error::KeyIsEncrypted) => {
                return Err(TransportError::Auth(format!("{user}@{who}: {} is encrypted; load it into ssh-agent (kubeforge never asks for passphrases)", path.display())))
            }
            Err(e) => return Err(TransportError::Auth(format!("{user}@{who}: cannot read {}: {e}", path.display()))),
        };
        let res = h
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(|e| TransportError::Unreachable(format!("{who}: {e}")))?;
        if res.success() {
            return Ok(());
        }
    }
    if key_files.is_empty() {
        if let Ok(mut agent) = keys::agent::client::AgentClient::connect_env().await {
            if let Ok(ids) = agent.request_identities().await {
                for id in ids {
                    tried.push(format!("agent key {}", id.comment()));
                    let res = h
                        .authenticate_publickey_with(
                            user,
                            id.public_key().into_owned(),
                            hash,
                            &mut agent,
                        )
                        .await;
                    if matches!(res, Ok(r) if r.success()) {
                        return Ok(());
                    }
                }
            }
        }
        for path in default_keys() {
            tried.push(path.display().to_string());
            if let Ok(key) = keys::load_secret_key(&path, None) {
                if let Ok(r) = h
                    .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
                    .await
                {
                    if r.success() {
                        return Ok(());
                    }
                }
            }
        }
    }
    Err(TransportError::Auth(format!(
        "{user}@{who}: no key accepted (tried: {})",
        if tried.is_empty() {
            "none found".to_string()
        } else {
            tried.join(", ")
        }
    )))
}

fn refused(refusal: &Arc<Mutex<Option<String>>>) -> Option<String> {
    refusal.lock().ok().and_then(|mut r| r.take())
}

async fn handshake<F>(
    fut: F,
    refusal: &Arc<Mutex<Option<String>>>,
    who: &str,
) -> Result<Handle<Checker>, TransportError>
where
    F: std::future::Future<Output = Result<Handle<Checker>, russh::Error>>,
{
    match fut.await {
        Ok(h) => Ok(h),
        Err(e) => Err(match refused(refusal) {
            Some(why) => TransportError::HostKey(why),
            None => TransportError::Unreachable(format!("{who}: {e}")),
        }),
    }
}

/// An authenticated connection and the name errors give it.
pub struct SshLink {
    pub(super) handle: Handle<Checker>,
    pub(super) name: String,
}

/// Opens an authenticated connection to a jump host (no handshake slot or time limit of
/// its own: it is part of reaching the first host behind it).
pub(super) async fn open_jump(j: &JumpHost, opts: &SshOptions) -> Result<SshLink, TransportError> {
    let name = format!("{}:{}", j.address, j.port);
    let who = format!("{name} (jump host)");
    let (checker, refusal) = checker(j.address.clone(), j.port, opts);
    let mut handle = handshake(
        client::connect(
            config(opts.keepalive),
            (j.address.as_str(), j.port),
            checker,
        ),
        &refusal,
        &who,
    )
    .await?;
    authenticate(&mut handle, &j.user, &j.key_files, &who).await?;
    Ok(SshLink { handle, name })
}

/// Connects (through the jump host when set), checks the host key and authenticates.
/// At most `dialer`'s limit of handshakes run at once; `opts.connect_timeout` counts
/// from the moment this one starts.
pub async fn connect(
    address: &str,
    opts: &SshOptions,
    dialer: &Dialer,
) -> Result<SshTransport, TransportError> {
    let who = format!("{address}:{}", opts.port);
    dialer
        .bounded(opts.connect_timeout, &who, |greeted| async {
            let (checker, refusal) = checker(address.to_string(), opts.port, opts);
            let cfg = config(opts.keepalive);
            let (mut handle, tunnel, name) = match &opts.jump {
                None => {
                    let tcp = tokio::net::TcpStream::connect((address, opts.port))
                        .await
                        .map_err(|e| TransportError::Unreachable(format!("{who}: {e}")))?;
                    // Steps are small request/answer exchanges: no Nagle delay.
                    let _ = tcp.set_nodelay(true);
                    let stream = Greeting::new(tcp, greeted);
                    let h = handshake(client::connect_stream(cfg, stream, checker), &refusal, &who)
                        .await?;
                    (h, None, who.clone())
                }
                Some(j) => {
                    let (stream, tunnel) = dialer.tunnel(j, opts, address, opts.port).await?;
                    let name = format!("{who} via jump host {}", tunnel.jump_name());
                    let stream = Greeting::new(stream, greeted);
                    let h = handshake(
                        client::connect_stream(cfg, stream, checker),
                        &refusal,
                        &name,
                    )
                    .await?;
                    (h, Some(tunnel), name)
                }
            };
            authenticate(&mut handle, &opts.user, &opts.key_files, &name).await?;
            Ok(SshTransport {
                handle,
                _tunnel: tunnel,
                channels: Arc::new(Semaphore::new(opts.max_channels.max(1))),
                shell: AsyncMutex::new(None),
                name,
            })
        })
        .await
}

/// A live SSH connection.
pub struct SshTransport {
    handle: Handle<Checker>,
    _tunnel: Option<Tunnel>,
    channels: Arc<Semaphore>,
    shell: AsyncMutex<Option<Shell>>,
    name: String,
}

impl SshTransport {
    /// Runs `command` with `input` on stdin: in the host's long-lived shell when it is
    /// free (a command must be one line there), else on a channel of its own.
    async fn run(
        &self,
        command: &str,
        input: Input<'_>,
        timeout: Duration,
    ) -> Result<ExecOutput, TransportError> {
        if !command.contains('\n') {
            let input = match &input {
                Input::Bytes(b) => Input::Bytes(b),
                Input::File(p) => Input::File(p),
            };
            let req = (command, input, timeout);
            let r = channel::in_shell(&self.shell, &self.handle, &self.channels, req, &self.name);
            if let Some(r) = r.await {
                return r;
            }
        }
        channel::once(
            &self.handle,
            &self.channels,
            (command, input, timeout),
            &self.name,
        )
        .await
    }
}

impl Transport for SshTransport {
    fn exec(&self, req: ExecRequest) -> BoxFuture<'_, Result<ExecOutput, TransportError>> {
        Box::pin(async move {
            let out = self
                .run(
                    &shell_command(req.become_),
                    Input::Bytes(req.script.as_bytes()),
                    req.timeout,
                )
                .await?;
            super::check_sudo(out, req.become_)
        })
    }

    fn upload<'a>(
        &'a self,
        local: &'a Path,
        remote: &'a str,
        mode: u32,
        become_: bool,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async move {
            let out = self
                .run(
                    &upload_command(remote, mode, become_),
                    Input::File(local),
                    Duration::from_secs(1800),
                )
                .await?;
            if out.exit_code == Some(0) {
                Ok(())
            } else {
                Err(TransportError::Other(format!(
                    "upload to {remote} failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )))
            }
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self
                .handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        })
    }
}
