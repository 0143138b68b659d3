//! SSH transport on russh: one persistent connection per host, at most `max_channels`
//! channels at once (OpenSSH's MaxSessions is 10), keepalive instead of an inactivity
//! cutoff, host keys checked against known_hosts as OpenSSH reads it (see
//! `known_hosts`: patterns, `@cert-authority`, `@revoked`; unknown keys refused unless
//! accepted, a changed key always refused with the line to fix), login with key files
//! (and their certificates), ssh-agent or a password, and an optional jump host (or a
//! ProxyJump chain, each hop reached through the one before) whose connection the hosts
//! behind it share (see `dial`), or a ProxyCommand (see `proxy`).
//! Commands run in one long-lived remote shell per host (see `channel`).

use super::channel::{self, Input, Shell};
use super::dial::{Dialer, Tunnel};
use super::greeting::Greeting;
use super::known_hosts::{self, KnownHosts, Verdict};
use super::proxy::{ProxyStderr, ProxyStream};
use super::{
    shell_command, upload_command, Become, BoxFuture, ExecOutput, ExecRequest, Secret, Transport,
    TransportError,
};
use russh::client::{self, Handle};
use russh::keys::{self, Certificate, PrivateKey, PrivateKeyWithHashAlg};
use russh::{MethodKind, MethodSet};
use std::borrow::Cow;
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
    /// Private keys tried in order (each with its `-cert.pub` when there is one); none:
    /// ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa.
    pub key_files: Vec<PathBuf>,
    /// Certificates (CertificateFile) offered with the key they certify.
    pub certificate_files: Vec<PathBuf>,
    /// Only the key files, never the agent's keys (IdentitiesOnly).
    pub identities_only: bool,
    /// Password for password or keyboard-interactive login (ansible_password).
    pub password: Option<Secret>,
    /// known_hosts files (the first is where new keys are recorded).
    pub known_hosts: KnownHosts,
    /// The name the host's key is recorded under, instead of its address (HostKeyAlias).
    pub host_key_alias: Option<String>,
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
    /// A command whose stdin/stdout carry the connection (ProxyCommand, tokens expanded).
    pub proxy_command: Option<String>,
    /// Password for sudo (ansible_become_password).
    pub become_password: Option<Secret>,
    /// Said with every failure to connect.
    pub notes: Vec<String>,
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
    /// Certificates (CertificateFile).
    pub certificate_files: Vec<PathBuf>,
    /// IdentitiesOnly.
    pub identities_only: bool,
    /// HostKeyAlias.
    pub host_key_alias: Option<String>,
    /// The jump host this one is reached through (a ProxyJump chain `a,b`: b's `via`
    /// is a), its connection shared the same way.
    pub via: Option<Box<JumpHost>>,
}

impl JumpHost {
    /// `address:port`, then the hops before it ("b:22 via a:22").
    pub fn shown(&self) -> String {
        let me = format!("{}:{}", self.address, self.port);
        match &self.via {
            Some(v) => format!("{me} via {}", v.shown()),
            None => me,
        }
    }
}

impl SshOptions {
    /// Defaults for a user and port.
    pub fn new(user: &str, port: u16) -> SshOptions {
        SshOptions {
            user: user.to_string(),
            port,
            key_files: Vec::new(),
            certificate_files: Vec::new(),
            identities_only: false,
            password: None,
            known_hosts: KnownHosts::new(default_known_hosts()),
            host_key_alias: None,
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
            max_channels: 8,
            jump: None,
            proxy_command: None,
            become_password: None,
            notes: Vec::new(),
        }
    }
}

/// OpenSSH's known_hosts files: ~/.ssh/known_hosts (then ~/.ssh/known_hosts2), then the
/// system's /etc/ssh/ssh_known_hosts (and ssh_known_hosts2).
pub fn default_known_hosts() -> Vec<PathBuf> {
    let home = super::ssh_config::home();
    vec![
        home.join(".ssh/known_hosts"),
        home.join(".ssh/known_hosts2"),
        PathBuf::from("/etc/ssh/ssh_known_hosts"),
        PathBuf::from("/etc/ssh/ssh_known_hosts2"),
    ]
}

/// Checks host keys against known_hosts.
pub struct Checker {
    /// The name looked up ("host", "[host]:port" or the alias).
    name: String,
    /// The name a host certificate must list.
    principal: String,
    known_hosts: KnownHosts,
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
        let shown = &self.name;
        let files = self.known_hosts.shown();
        match self
            .known_hosts
            .check(&self.name, &self.principal, key, known_hosts::now())
        {
            Ok(Verdict::Known(_) | Verdict::Certified(_)) => Ok(true),
            Ok(Verdict::Unknown) if self.accept_new => {
                let plain = match key {
                    keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data().clone(),
                    keys::PublicKeyOrCertificate::Certificate(c) => c.public_key().clone(),
                };
                match self.known_hosts.learn(&self.name, &plain) {
                    Ok(_) => Ok(true),
                    Err(e) => self.refuse(format!("{shown}: {e}")),
                }
            }
            Ok(Verdict::Unknown) => self.refuse(format!(
                "{shown} is not in {files}; verify its key and add it, or run with --accept-new-host-keys (or set StrictHostKeyChecking accept-new for it in the ssh config)"
            )),
            Ok(Verdict::Changed(at)) => self.refuse(format!(
                "{shown} presented a different key than line {at}: possible man-in-the-middle; if the host was reinstalled, remove that line"
            )),
            Ok(Verdict::Revoked(at)) => self.refuse(format!(
                "{shown} presented a key that is marked @revoked at {at}"
            )),
            Ok(Verdict::BadCertificate(why)) => self.refuse(format!("{shown}: {why}")),
            Err(e) => self.refuse(e),
        }
    }
}

/// A host-key checker for host:port and the slot where it leaves its refusal.
fn checker(
    host: &str,
    port: u16,
    alias: Option<&str>,
    opts: &SshOptions,
) -> (Checker, Arc<Mutex<Option<String>>>) {
    let refusal = Arc::new(Mutex::new(None));
    let c = Checker {
        name: known_hosts::lookup_name(host, port, alias),
        principal: alias.unwrap_or(host).to_string(),
        known_hosts: opts.known_hosts.clone(),
        accept_new: opts.accept_new_host_keys,
        refusal: refusal.clone(),
    };
    (c, refusal)
}

/// Host key algorithms in OpenSSH's order, used for certificates too.
const HOST_KEY_CERTIFICATES: [keys::Algorithm; 6] = [
    keys::Algorithm::Ed25519,
    keys::Algorithm::Ecdsa {
        curve: keys::EcdsaCurve::NistP256,
    },
    keys::Algorithm::Ecdsa {
        curve: keys::EcdsaCurve::NistP384,
    },
    keys::Algorithm::Ecdsa {
        curve: keys::EcdsaCurve::NistP521,
    },
    keys::Algorithm::Rsa {
        hash: Some(keys::HashAlg::Sha512),
    },
    keys::Algorithm::Rsa {
        hash: Some(keys::HashAlg::Sha256),
    },
];

/// The client configuration; host certificates are asked for when a `@cert-authority`
/// line applies to the host (as OpenSSH orders its host key algorithms).
fn config(keepalive: Duration, certificates: bool) -> Arc<client::Config> {
    let mut preferred = russh::Preferred::default();
    if certificates {
        preferred.host_key_certificates = Cow::Borrowed(&HOST_KEY_CERTIFICATES);
    }
    Arc::new(client::Config {
        inactivity_timeout: None,
        keepalive_interval: Some(keepalive),
        keepalive_max: 4,
        nodelay: true,
        preferred,
        ..Default::default()
    })
}

fn default_keys() -> Vec<PathBuf> {
    let home = super::ssh_config::home();
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|k| home.join(".ssh").join(k))
        .filter(|p| p.is_file())
        .collect()
}

/// What to log in with.
struct Credentials<'a> {
    user: &'a str,
    key_files: &'a [PathBuf],
    certificate_files: &'a [PathBuf],
    identities_only: bool,
    password: Option<&'a Secret>,
}

/// The certificates to offer with `key`: its `-cert.pub` beside it, then the
/// CertificateFiles that certify it.
fn certificates_for(
    path: &Path,
    key: &PrivateKey,
    files: &[PathBuf],
) -> Vec<(PathBuf, Certificate)> {
    let mut beside = path.as_os_str().to_owned();
    beside.push("-cert.pub");
    let mut out = Vec::new();
    for p in std::iter::once(PathBuf::from(beside)).chain(files.iter().cloned()) {
        if let Ok(c) = Certificate::read_file(&p) {
            if c.public_key() == key.public_key().key_data()
                && !out.iter().any(|(q, _): &(PathBuf, Certificate)| q == &p)
            {
                out.push((p, c));
            }
        }
    }
    out
}

/// Logs in: key files (each certificate first, then the plain key), the agent's keys
/// (unless IdentitiesOnly), the default key files (when none were given), then the
/// password; with a password and no key files, the password first.
async fn authenticate(
    h: &mut Handle<Checker>,
    c: &Credentials<'_>,
    who: &str,
) -> Result<(), TransportError> {
    let user = c.user;
    let mut tried = Vec::new();
    let mut methods: Option<MethodSet> = None;
    let hash = h.best_supported_rsa_hash().await.ok().flatten().flatten();
    let lost = |e: russh::Error| TransportError::Unreachable(format!("{who}: {e}"));
    let note = |r: &client::AuthResult, methods: &mut Option<MethodSet>| {
        if let client::AuthResult::Failure {
            remaining_methods, ..
        } = r
        {
            *methods = Some(remaining_methods.clone());
        }
        r.success()
    };
    if let (Some(pw), true) = (c.password, c.key_files.is_empty()) {
        tried.push("password (ansible_password)".to_string());
        if password_login(h, user, pw, &mut methods)
            .await
            .map_err(lost)?
        {
            return Ok(());
        }
    }
    for path in c.key_files {
        let key = match keys::load_secret_key(path, None) {
            Ok(k) => Arc::new(k),
            Err(keys::Error::KeyIsEncrypted) => {
                return Err(TransportError::Auth(format!("{user}@{who}: {} is encrypted; load it into ssh-agent (kubeforge never asks for passphrases)", path.display())))
            }
            Err(e) if !path.exists() => {
                tried.push(format!("{} (missing: {e})", path.display()));
                continue;
            }
            Err(e) => return Err(TransportError::Auth(format!("{user}@{who}: cannot read {}: {e}", path.display()))),
        };
        for (cert_path, cert) in certificates_for(path, &key, c.certificate_files) {
            tried.push(format!("{} (certificate)", cert_path.display()));
            let r = h
                .authenticate_openssh_cert(user, key.clone(), cert)
                .await
                .map_err(lost)?;
            if note(&r, &mut methods) {
                return Ok(());
            }
        }
        tried.push(path.display().to_string());
        let r = h
            .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash))
            .await
            .map_err(lost)?;
        if note(&r, &mut methods) {
            return Ok(());
        }
    }
    if !c.identities_only {
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
                    if let Ok(r) = res {
                        if note(&r, &mut methods) {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
    if c.key_files.is_empty() {
        for path in default_keys() {
            let Ok(key) = keys::load_secret_key(&path, None) else {
                continue;
            };
            let key = Arc::new(key);
            for (cert_path, cert) in certificates_for(&path, &key, c.certificate_files) {
                tried.push(format!("{} (certificate)", cert_path.display()));
                if let Ok(r) = h.authenticate_openssh_cert(user, key.clone(), cert).await {
                    if note(&r, &mut methods) {
                        return Ok(());
                    }
                }
            }
            tried.push(path.display().to_string());
            if let Ok(r) = h
                .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash))
                .await
            {
                if note(&r, &mut methods) {
                    return Ok(());
                }
            }
        }
    }
    if let (Some(pw), false) = (c.password, c.key_files.is_empty()) {
        tried.push("password (ansible_password)".to_string());
        if password_login(h, user, pw, &mut methods)
            .await
            .map_err(lost)?
        {
            return Ok(());
        }
    }
    if methods.is_none() {
        // Nothing was tried: ask the server what it would take, for the message.
        if let Ok(r) = h.authenticate_none(user).await {
            if note(&r, &mut methods) {
                return Ok(());
            }
        }
    }
    let takes_password = methods.as_ref().is_some_and(|m| {
        m.contains(&MethodKind::Password) || m.contains(&MethodKind::KeyboardInteractive)
    });
    let hint = match (c.password.is_some(), takes_password) {
        (true, _) => "; the password in ansible_password was refused too: fix it (a vault variable, most often)".to_string(),
        (false, true) => "; the server also takes a password: set ansible_password (e.g. from a vault) if this host is reached with one".to_string(),
        (false, false) => String::new(),
    };
    Err(TransportError::Auth(format!(
        "{user}@{who}: no key accepted (tried: {}){hint}",
        if tried.is_empty() {
            "none found".to_string()
        } else {
            tried.join(", ")
        }
    )))
}

/// Password login: the `password` method, then keyboard-interactive answering each
/// password prompt with it (sshds with PAM ask that way). True when accepted.
async fn password_login(
    h: &mut Handle<Checker>,
    user: &str,
    pw: &Secret,
    methods: &mut Option<MethodSet>,
) -> Result<bool, russh::Error> {
    let allows = |m: &Option<MethodSet>, k: MethodKind| m.as_ref().is_none_or(|m| m.contains(&k));
    if allows(methods, MethodKind::Password) {
        match h.authenticate_password(user, pw.expose()).await? {
            client::AuthResult::Success => return Ok(true),
            client::AuthResult::Failure {
                remaining_methods, ..
            } => *methods = Some(remaining_methods),
        }
    }
    if !allows(methods, MethodKind::KeyboardInteractive) {
        return Ok(false);
    }
    use client::KeyboardInteractiveAuthResponse as K;
    let mut r = h
        .authenticate_keyboard_interactive_start(user, None::<String>)
        .await?;
    // A server may ask several rounds (an empty one, then the password).
    for _ in 0..4 {
        match r {
            K::Success => return Ok(true),
            K::Failure {
                remaining_methods, ..
            } => {
                *methods = Some(remaining_methods);
                return Ok(false);
            }
            K::InfoRequest { prompts, .. } => {
                let answers = prompts
                    .iter()
                    .map(|p| {
                        if p.echo {
                            String::new()
                        } else {
                            pw.expose().to_string()
                        }
                    })
                    .collect();
                r = h.authenticate_keyboard_interactive_respond(answers).await?;
            }
        }
    }
    Ok(false)
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

/// A handshake through a ProxyCommand: a failure says what the command wrote on stderr.
async fn proxied_handshake<F>(
    fut: F,
    refusal: &Arc<Mutex<Option<String>>>,
    who: &str,
    said: &ProxyStderr,
) -> Result<Handle<Checker>, TransportError>
where
    F: std::future::Future<Output = Result<Handle<Checker>, russh::Error>>,
{
    match fut.await {
        Ok(h) => Ok(h),
        Err(e) => {
            if let Some(why) = refused(refusal) {
                return Err(TransportError::HostKey(why));
            }
            // A ProxyCommand that failed may still be writing why.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let said = said.text();
            Err(TransportError::Unreachable(if said.is_empty() {
                format!("{who}: {e} (the ProxyCommand wrote nothing on stderr)")
            } else {
                format!("{who}: {e}; the ProxyCommand said: {said}")
            }))
        }
    }
}

/// An authenticated connection and the name errors give it.
pub struct SshLink {
    pub(super) handle: Handle<Checker>,
    pub(super) name: String,
}

/// Opens an authenticated connection to a jump host (no handshake slot or time limit of
/// its own: it is part of reaching the first host behind it): directly, or through the
/// jump host before it in a chain, whose tunnel is returned to be kept with it. Its key
/// is checked against known_hosts as every host's is.
pub(super) async fn open_jump(
    j: &JumpHost,
    opts: &SshOptions,
    dialer: &Dialer,
) -> Result<(SshLink, Option<Tunnel>), TransportError> {
    let name = j.shown();
    let who = format!("{name} (jump host)");
    let (checker, refusal) = checker(&j.address, j.port, j.host_key_alias.as_deref(), opts);
    let cfg = config(
        opts.keepalive,
        opts.known_hosts.has_authority(&checker.name),
    );
    let (mut handle, via) = match &j.via {
        None => {
            let h = handshake(
                client::connect(cfg, (j.address.as_str(), j.port), checker),
                &refusal,
                &who,
            )
            .await?;
            (h, None)
        }
        Some(v) => {
            let (stream, tunnel) = dialer.tunnel_boxed(v, opts, &j.address, j.port).await?;
            let h = handshake(client::connect_stream(cfg, stream, checker), &refusal, &who).await?;
            (h, Some(tunnel))
        }
    };
    let creds = Credentials {
        user: &j.user,
        key_files: &j.key_files,
        certificate_files: &j.certificate_files,
        identities_only: j.identities_only,
        password: None,
    };
    authenticate(&mut handle, &creds, &who).await?;
    Ok((SshLink { handle, name }, via))
}

/// Adds the notes to a failure's message.
fn with_notes(e: TransportError, notes: &[String]) -> TransportError {
    if notes.is_empty() {
        return e;
    }
    let n = format!(" ({})", notes.join("; "));
    match e {
        TransportError::Unreachable(m) => TransportError::Unreachable(m + &n),
        TransportError::HostKey(m) => TransportError::HostKey(m + &n),
        TransportError::Auth(m) => TransportError::Auth(m + &n),
        other => other,
    }
}

/// Connects (through the jump host or ProxyCommand when set), checks the host key and
/// authenticates. At most `dialer`'s limit of handshakes run at once;
/// `opts.connect_timeout` counts from the moment this one starts.
pub async fn connect(
    address: &str,
    opts: &SshOptions,
    dialer: &Dialer,
) -> Result<SshTransport, TransportError> {
    connect_inner(address, opts, dialer)
        .await
        .map_err(|e| with_notes(e, &opts.notes))
}

async fn connect_inner(
    address: &str,
    opts: &SshOptions,
    dialer: &Dialer,
) -> Result<SshTransport, TransportError> {
    let who = format!("{address}:{}", opts.port);
    dialer
        .bounded(opts.connect_timeout, &who, |greeted| async {
            let (checker, refusal) =
                checker(address, opts.port, opts.host_key_alias.as_deref(), opts);
            let cfg = config(
                opts.keepalive,
                opts.known_hosts.has_authority(&checker.name),
            );
            let (mut handle, tunnel, name) = match (&opts.proxy_command, &opts.jump) {
                (Some(cmd), _) => {
                    let name = format!("{who} via ProxyCommand");
                    let (stream, said) = ProxyStream::spawn(cmd)?;
                    let stream = Greeting::new(stream, greeted);
                    let h = proxied_handshake(
                        client::connect_stream(cfg, stream, checker),
                        &refusal,
                        &name,
                        &said,
                    )
                    .await?;
                    (h, None, name)
                }
                (None, None) => {
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
                (None, Some(j)) => {
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
            let creds = Credentials {
                user: &opts.user,
                key_files: &opts.key_files,
                certificate_files: &opts.certificate_files,
                identities_only: opts.identities_only,
                password: opts.password.as_ref(),
            };
            authenticate(&mut handle, &creds, &name).await?;
            Ok(SshTransport {
                handle,
                _tunnel: tunnel,
                channels: Arc::new(Semaphore::new(opts.max_channels.max(1))),
                shell: AsyncMutex::new(None),
                name,
                become_password: opts.become_password.clone(),
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
    become_password: Option<Secret>,
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
            let req = (command, input.again(), timeout);
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
            let pw = self.become_password.as_ref();
            let w = shell_command(&req.become_, pw);
            let input = if w.prefix.is_empty() {
                Cow::Borrowed(req.script.as_bytes())
            } else {
                let mut v = w.prefix;
                v.extend_from_slice(req.script.as_bytes());
                Cow::Owned(v)
            };
            let out = self
                .run(&w.command, Input::Bytes(&input), req.timeout)
                .await?;
            super::check_sudo(out, &req.become_, pw)
        })
    }

    fn upload<'a>(
        &'a self,
        local: &'a Path,
        remote: &'a str,
        mode: u32,
        become_: &'a Become,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async move {
            let pw = self.become_password.as_ref();
            let w = upload_command(remote, mode, become_, pw);
            let out = self
                .run(
                    &w.command,
                    Input::File(&w.prefix, local),
                    Duration::from_secs(1800),
                )
                .await?;
            let out = super::check_sudo(out, become_, pw)?;
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
