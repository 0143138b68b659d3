//! SSH transport on russh: one persistent connection per host, at most `max_channels`
//! channels at once (OpenSSH's MaxSessions is 10), keepalive instead of an inactivity
//! cutoff, host keys checked against known_hosts (unknown refused unless accepted; a
//! changed key always refused with the line to fix), key-file or ssh-agent auth, and an
//! optional jump host reached through one tunnelled connection.
//!
//! russh's known_hosts reader has no wildcard, hashed-host or @cert-authority support.

use super::{
    shell_command, upload_command, BoxFuture, ExecOutput, ExecRequest, Transport, TransportError,
};
use russh::client::{self, Handle};
use russh::keys::{self, PrivateKeyWithHashAlg};
use russh::{ChannelMsg, Sig};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

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

struct Checker {
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

/// A live SSH connection.
pub struct SshTransport {
    handle: Arc<Handle<Checker>>,
    _jump: Option<Arc<Handle<Checker>>>,
    channels: Semaphore,
    name: String,
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

/// Connects (through the jump host when set), checks the host key and authenticates.
pub async fn connect(address: &str, opts: &SshOptions) -> Result<SshTransport, TransportError> {
    let who = format!("{address}:{}", opts.port);
    let work = async {
        let cfg = config(opts.keepalive);
        let (mut handle, jump) = match &opts.jump {
            None => {
                let (checker, refusal) = checker(address.to_string(), opts.port, opts);
                let h = handshake(
                    client::connect(cfg, (address, opts.port), checker),
                    &refusal,
                    &who,
                )
                .await?;
                (h, None)
            }
            Some(j) => {
                let jwho = format!("{}:{} (jump host)", j.address, j.port);
                let (jchecker, jrefusal) = checker(j.address.clone(), j.port, opts);
                let mut jh = handshake(
                    client::connect(cfg.clone(), (j.address.as_str(), j.port), jchecker),
                    &jrefusal,
                    &jwho,
                )
                .await?;
                authenticate(&mut jh, &j.user, &j.key_files, &jwho).await?;
                let ch = jh
                    .channel_open_direct_tcpip(address, u32::from(opts.port), "127.0.0.1", 0)
                    .await
                    .map_err(|e| {
                        TransportError::Unreachable(format!("{who} through {jwho}: {e}"))
                    })?;
                let (checker, refusal) = checker(address.to_string(), opts.port, opts);
                let h = handshake(
                    client::connect_stream(cfg, ch.into_stream(), checker),
                    &refusal,
                    &who,
                )
                .await?;
                (h, Some(Arc::new(jh)))
            }
        };
        authenticate(&mut handle, &opts.user, &opts.key_files, &who).await?;
        Ok::<_, TransportError>(SshTransport {
            handle: Arc::new(handle),
            _jump: jump,
            channels: Semaphore::new(opts.max_channels.max(1)),
            name: who.clone(),
        })
    };
    match tokio::time::timeout(opts.connect_timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(TransportError::Unreachable(format!(
            "{who}: no SSH connection within {} s",
            opts.connect_timeout.as_secs()
        ))),
    }
}

impl SshTransport {
    async fn run(
        &self,
        command: &str,
        input: Input<'_>,
        timeout: Duration,
    ) -> Result<ExecOutput, TransportError> {
        let _permit = self
            .channels
            .acquire()
            .await
            .map_err(|_| TransportError::Other("transport closed".into()))?;
        let channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| TransportError::Unreachable(format!("{}: {e}", self.name)))?;
        channel
            .exec(true, command)
            .await
            .map_err(|e| TransportError::Unreachable(format!("{}: {e}", self.name)))?;
        let (mut read, write) = channel.split();
        let name = self.name.clone();
        let body = async {
            // Feed stdin while reading: an unread channel would stall the connection.
            let feed = async {
                match input {
                    Input::Bytes(b) => write.data_bytes(b.to_vec()).await,
                    Input::File(path) => match tokio::fs::File::open(path).await {
                        Ok(mut f) => {
                            let mut buf = vec![0u8; 64 * 1024];
                            loop {
                                let n = match f.read(&mut buf).await {
                                    Ok(n) => n,
                                    Err(_) => break Ok(()),
                                };
                                if n == 0 {
                                    break Ok(());
                                }
                                write.data_bytes(buf[..n].to_vec()).await?;
                            }
                        }
                        Err(_) => Ok(()),
                    },
                }?;
                write.eof().await
            };
            let drain = async {
                let mut out = ExecOutput::default();
                while let Some(msg) = read.wait().await {
                    match msg {
                        ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                        ChannelMsg::ExtendedData { data, ext: 1 } => {
                            out.stderr.extend_from_slice(&data)
                        }
                        ChannelMsg::ExitStatus { exit_status } => out.exit_code = Some(exit_status),
                        ChannelMsg::Close => break,
                        _ => {}
                    }
                }
                out
            };
            let (fed, out) = tokio::join!(feed, drain);
            if fed.is_err() && out.exit_code.is_none() {
                return Err(TransportError::Unreachable(format!(
                    "{name}: the connection dropped"
                )));
            }
            if out.exit_code.is_none() && self.handle.is_closed() {
                return Err(TransportError::Unreachable(format!(
                    "{name}: the connection dropped"
                )));
            }
            Ok(out)
        };
        match tokio::time::timeout(timeout, body).await {
            Ok(r) => r,
            Err(_) => {
                // Kill the remote process (servers that honour signal requests) and
                // close the channel; remote steps also carry their own `timeout`.
                let _ = write.signal(Sig::KILL).await;
                let _ = write.close().await;
                drop(read);
                Err(TransportError::Timeout(timeout.as_secs()))
            }
        }
    }
}

enum Input<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
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
