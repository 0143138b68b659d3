//! OpenSSH's client configuration (ssh_config(5)) as kubeforge reads it: the file of
//! `-F FILE`, else ~/.ssh/config then /etc/ssh/ssh_config; `Include`d files in place.
//!
//! The rules are OpenSSH's: for each option the first value found wins (IdentityFile and
//! CertificateFile add up), options given before the files (the inventory's variables,
//! `-o` in ansible_ssh_common_args) come first, and a `Host` line's patterns are matched
//! against the name the host was given (ansible_host): `*` and `?` wildcards, a `!`
//! pattern that matches excludes the block. `Match` blocks are evaluated as OpenSSH
//! does, without running anything (see `ssh_match`). Options kubeforge does not use
//! are ignored; a bad value of one it uses is an error naming file and line.
//!
//! Options used: HostName, User, Port, IdentityFile, CertificateFile, IdentitiesOnly,
//! ProxyJump, ProxyCommand, UserKnownHostsFile, GlobalKnownHostsFile,
//! StrictHostKeyChecking, ConnectTimeout, HostKeyAlias, PasswordAuthentication, Tag
//! (for `Match tagged`). ProxyJump may be a chain (`a,b,c`).

use super::ssh_match::{self, Facts, MatchBlock};

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where an option was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of a file.
    File {
        /// The file.
        path: Arc<PathBuf>,
        /// Its line (from 1).
        line: usize,
    },
    /// An inventory variable (`ansible_user`, or `-o` in `ansible_ssh_common_args`).
    Var(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Var(v) => f.write_str(v),
        }
    }
}

/// A configuration that cannot be used, with where to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {msg}")]
pub struct ConfigError {
    /// File and line, or the variable.
    pub at: String,
    /// What is wrong.
    pub msg: String,
}

pub(super) fn bad(at: &Origin, msg: impl Into<String>) -> ConfigError {
    ConfigError {
        at: at.to_string(),
        msg: msg.into(),
    }
}

/// One option line: keyword (lower case), its words, and the raw text after the keyword
/// (ProxyCommand takes the rest of the line as written).
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Keyword, lower case.
    pub key: String,
    /// Arguments, unquoted.
    pub args: Vec<String>,
    /// The text after the keyword and its separator.
    pub raw: String,
    /// Where it was set.
    pub at: Origin,
}

impl Setting {
    /// A setting from an inventory variable (`key` any case, one argument).
    pub fn var(key: &str, value: &str, var: &str) -> Setting {
        Setting {
            key: key.to_ascii_lowercase(),
            args: vec![value.to_string()],
            raw: value.to_string(),
            at: Origin::Var(var.to_string()),
        }
    }

    /// Parses `Keyword value`, `Keyword=value` (as `-o` takes it).
    pub fn parse(text: &str, at: Origin) -> Result<Option<Setting>, ConfigError> {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return Ok(None);
        }
        let end = text
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(text.len());
        let key = text[..end].to_ascii_lowercase();
        let mut rest = text[end..].trim_start();
        if let Some(r) = rest.strip_prefix('=') {
            rest = r.trim_start();
        }
        let args = split_words(rest).map_err(|m| bad(&at, m))?;
        Ok(Some(Setting {
            key,
            args,
            raw: rest.to_string(),
            at,
        }))
    }
}

/// Splits an option's arguments as OpenSSH does: whitespace between words, double or
/// single quotes around one, a backslash escapes quotes and itself, a `#` that starts a
/// word starts a comment.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut word = String::new();
        let mut quote = None;
        while let Some(&c) = chars.peek() {
            match (quote, c) {
                (None, c) if c.is_whitespace() => break,
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (_, '\\') => {
                    chars.next();
                    match chars.peek() {
                        Some(&n @ ('\\' | '"' | '\'')) => word.push(n),
                        Some(&n) => {
                            word.push('\\');
                            word.push(n);
                        }
                        None => {
                            word.push('\\');
                            break;
                        }
                    }
                }
                (_, c) => word.push(c),
            }
            chars.next();
        }
        if let Some(q) = quote {
            return Err(format!("unclosed {q} quote"));
        }
        out.push(word);
    }
    Ok(out)
}

/// What a block applies to.
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    /// `Host` patterns.
    Host(Arc<Vec<String>>),
    /// A `Match` block, decided once per pass (shared by the options under it).
    Match(Arc<MatchBlock>),
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    conds: Vec<Cond>,
    setting: Setting,
}

/// A parsed configuration (one file with its includes, or several files in order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SshConfig {
    entries: Vec<Entry>,
    /// Some `Match final`: a second pass follows the first.
    final_pass: bool,
    /// The files read, for messages.
    files: Vec<PathBuf>,
}

/// How deep `Include` may nest (OpenSSH's limit).
const MAX_INCLUDE_DEPTH: usize = 16;

impl SshConfig {
    /// Reads `path`. A missing file is an error when `required` (a file named by `-F`),
    /// else an empty configuration. `base` is where relative `Include` paths start
    /// (~/.ssh for a user's file, /etc/ssh for the system's).
    pub fn load(path: &Path, required: bool, base: &Path) -> Result<SshConfig, ConfigError> {
        let mut c = SshConfig::default();
        match std::fs::read_to_string(path) {
            Ok(text) => c.read(&text, path, base, &[], 0)?,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConfigError {
                    at: path.display().to_string(),
                    msg: format!("cannot read it: {e}"),
                })
            }
        }
        Ok(c)
    }

    /// Parses `text` as the contents of `path`.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<SshConfig, ConfigError> {
        let mut c = SshConfig::default();
        c.read(text, path, base, &[], 0)?;
        Ok(c)
    }

    /// This configuration followed by `other` (OpenSSH reads the user's file, then the
    /// system's).
    pub fn then(mut self, other: SshConfig) -> SshConfig {
        self.entries.extend(other.entries);
        self.final_pass |= other.final_pass;
        self.files.extend(other.files);
        self
    }

    /// The files read (includes too).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn read(
        &mut self,
        text: &str,
        path: &Path,
        base: &Path,
        outer: &[Cond],
        depth: usize,
    ) -> Result<(), ConfigError> {
        let file = Arc::new(path.to_path_buf());
        self.files.push(path.to_path_buf());
        let mut conds = outer.to_vec();
        for (i, line) in text.lines().enumerate() {
            let at = Origin::File {
                path: file.clone(),
                line: i + 1,
            };
            let Some(s) = Setting::parse(line, at.clone())? else {
                continue;
            };
            match s.key.as_str() {
                "host" => {
                    if s.args.is_empty() {
                        return Err(bad(&at, "Host needs at least one pattern"));
                    }
                    conds = outer.to_vec();
                    conds.push(Cond::Host(Arc::new(s.args)));
                }
                "match" => {
                    let m = MatchBlock::parse(&s.args, &at)?;
                    self.final_pass |= m.wants_final_pass();
                    conds = outer.to_vec();
                    conds.push(Cond::Match(Arc::new(m)));
                }
                "include" => {
                    if depth >= MAX_INCLUDE_DEPTH {
                        return Err(bad(&at, "Include nested too deeply"));
                    }
                    if s.args.is_empty() {
                        return Err(bad(&at, "Include needs a file"));
                    }
                    for arg in &s.args {
                        let p = tilde(arg);
                        let p = if p.is_absolute() { p } else { base.join(p) };
                        for f in glob(&p) {
                            let text = std::fs::read_to_string(&f).map_err(|e| {
                                bad(&at, format!("cannot read {}: {e}", f.display()))
                            })?;
                            self.read(&text, &f, base, &conds, depth + 1)?;
                        }
                    }
                }
                _ => self.entries.push(Entry {
                    conds: conds.clone(),
                    setting: s,
                }),
            }
        }
        Ok(())
    }

    /// The options for `host` (the name given: ansible_host): `first` (inventory
    /// variables, `-o` options) before the file's; `Match user` tests root when no
    /// user is known.
    pub fn resolve(&self, host: &str, first: &[Setting]) -> Result<HostConfig, ConfigError> {
        self.resolve_as(host, first, "root")
    }

    /// As `resolve`, with the user `Match user` tests when none is set.
    pub fn resolve_as(
        &self,
        host: &str,
        first: &[Setting],
        default_user: &str,
    ) -> Result<HostConfig, ConfigError> {
        let mut hc = HostConfig {
            host: host.to_string(),
            ..Default::default()
        };
        for s in first {
            hc.take(s)?;
        }
        let local = ssh_match::local_login();
        self.pass(&mut hc, default_user, &local, false)?;
        if self.final_pass {
            self.pass(&mut hc, default_user, &local, true)?;
        }
        Ok(hc)
    }

    /// One reading of the entries in order: each block is decided at its first option,
    /// with the options obtained by then.
    fn pass(
        &self,
        hc: &mut HostConfig,
        default_user: &str,
        local_user: &str,
        final_pass: bool,
    ) -> Result<(), ConfigError> {
        let original = hc.host.clone();
        let mut decided: Vec<(*const MatchBlock, bool)> = Vec::new();
        for e in &self.entries {
            let mut on = true;
            for c in &e.conds {
                let ok = match c {
                    Cond::Host(p) if final_pass => host_matches(&hc.substituted(), p),
                    Cond::Host(p) => host_matches(&original, p),
                    Cond::Match(m) => {
                        let key = Arc::as_ptr(m);
                        match decided.iter().find(|(k, _)| *k == key) {
                            Some((_, b)) => *b,
                            None => {
                                let host = hc.substituted();
                                let user = hc.user.as_ref().map(|u| u.value.clone());
                                let facts = Facts {
                                    host: &host,
                                    original: &original,
                                    user: user.as_deref().unwrap_or(default_user),
                                    local_user,
                                    tag: hc.tag.as_deref().unwrap_or(""),
                                    final_pass,
                                };
                                let b = m.applies(&facts)?;
                                decided.push((key, b));
                                b
                            }
                        }
                    }
                };
                if !ok {
                    on = false;
                    break;
                }
            }
            if on {
                hc.take(&e.setting)?;
            }
        }
        Ok(())
    }
}

/// A value and where it was set.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<T> {
    /// The value (tokens not yet expanded).
    pub value: T,
    /// Where.
    pub at: Origin,
}

/// StrictHostKeyChecking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strict {
    /// `yes` (and `ask`: kubeforge never asks): unknown hosts are refused.
    Yes,
    /// `accept-new`: unknown hosts' keys are recorded.
    AcceptNew,
    /// `no` / `off`: as accept-new (a changed key is still refused).
    No,
}

/// How to reach the host through another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxy {
    /// ProxyJump `[user@]host[:port]`, or a chain of them (`a,b,c`: `a` is reached
    /// first, the host through the last).
    Jump(Vec<Hop>),
    /// ProxyCommand, as written (tokens not yet expanded).
    Command(String),
    /// `none`: directly.
    Direct,
}

/// One jump host of a ProxyJump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// User, when given.
    pub user: Option<String>,
    /// Host (a name the configuration may know).
    pub host: String,
    /// Port, when given.
    pub port: Option<u16>,
}

/// The options that apply to one host, before tokens are expanded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostConfig {
    /// The name looked up (%n).
    pub host: String,
    /// HostName.
    pub hostname: Option<Found<String>>,
    /// User.
    pub user: Option<Found<String>>,
    /// Port.
    pub port: Option<Found<u16>>,
    /// IdentityFile, in order.
    pub identity_files: Vec<Found<String>>,
    /// CertificateFile, in order.
    pub certificate_files: Vec<Found<String>>,
    /// IdentitiesOnly.
    pub identities_only: Option<bool>,
    /// ProxyJump or ProxyCommand, whichever came first.
    pub proxy: Option<Found<Proxy>>,
    /// UserKnownHostsFile.
    pub user_known_hosts: Option<Found<Vec<String>>>,
    /// GlobalKnownHostsFile.
    pub global_known_hosts: Option<Found<Vec<String>>>,
    /// StrictHostKeyChecking.
    pub strict: Option<Found<Strict>>,
    /// ConnectTimeout (None inside: `none`, the system's TCP timeout).
    pub connect_timeout: Option<Found<Option<Duration>>>,
    /// HostKeyAlias.
    pub host_key_alias: Option<Found<String>>,
    /// PasswordAuthentication.
    pub password_authentication: Option<bool>,
    /// Tag (for `Match tagged`).
    pub tag: Option<String>,
}

fn yes_no(s: &Setting) -> Result<bool, ConfigError> {
    match one(s)?.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        other => Err(bad(
            &s.at,
            format!("{} takes yes or no, not '{other}'", keyword(&s.key)),
        )),
    }
}

fn one(s: &Setting) -> Result<&str, ConfigError> {
    match s.args.as_slice() {
        [a] => Ok(a),
        [] => Err(bad(&s.at, format!("{} needs a value", keyword(&s.key)))),
        _ => Err(bad(&s.at, format!("{} takes one value", keyword(&s.key)))),
    }
}

/// An option's name as ssh_config(5) spells it.
fn keyword(key: &str) -> &str {
    const NAMES: [&str; 14] = [
        "HostName",
        "User",
        "Port",
        "IdentityFile",
        "CertificateFile",
        "IdentitiesOnly",
        "PasswordAuthentication",
        "ProxyJump",
        "ProxyCommand",
        "UserKnownHostsFile",
        "GlobalKnownHostsFile",
        "StrictHostKeyChecking",
        "ConnectTimeout",
        "HostKeyAlias",
    ];
    NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(key))
        .copied()
        .unwrap_or(key)
}

fn port_of(s: &str, at: &Origin, what: &str) -> Result<u16, ConfigError> {
    s.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
        bad(
            at,
            format!("{what} must be a port number (1-65535), not '{s}'"),
        )
    })
}

/// Parses a ProxyJump value: `none`, or a comma-separated chain of
/// `[user@]host[:port]` / `ssh://[user@]host[:port]`.
pub fn parse_jump(v: &str, at: &Origin) -> Result<Proxy, ConfigError> {
    if v.eq_ignore_ascii_case("none") {
        return Ok(Proxy::Direct);
    }
    let hops = v
        .split(',')
        .map(|h| {
            if h.is_empty() {
                Err(bad(
                    at,
                    format!("ProxyJump {v}: an empty jump host in the chain"),
                ))
            } else {
                parse_hop(h, at)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Proxy::Jump(hops))
}

fn parse_hop(v: &str, at: &Origin) -> Result<Hop, ConfigError> {
    let v = v.strip_prefix("ssh://").unwrap_or(v);
    let (user, rest) = match v.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
        _ => (None, v),
    };
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        match r.split_once(']') {
            Some((h, "")) => (h.to_string(), None),
            Some((h, p)) => match p.strip_prefix(':') {
                Some(p) => (h.to_string(), Some(port_of(p, at, "the ProxyJump port")?)),
                None => return Err(bad(at, format!("ProxyJump {v}: cannot read it"))),
            },
            None => return Err(bad(at, format!("ProxyJump {v}: no closing ]"))),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => {
                (h.to_string(), Some(port_of(p, at, "the ProxyJump port")?))
            }
            _ => (rest.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(bad(at, format!("ProxyJump {v}: no host")));
    }
    Ok(Hop { user, host, port })
}

impl HostConfig {
    /// The name after HostName substitution (HostName's `%h` is the name given), as
    /// `Match host` and the final pass's `Host` lines test it. Other `%` tokens are
    /// left as written here (the connection refuses them, naming the line).
    fn substituted(&self) -> String {
        let Some(h) = &self.hostname else {
            return self.host.clone();
        };
        let mut out = String::new();
        let mut chars = h.value.chars();
        while let Some(c) = chars.next() {
            match (c, chars.clone().next()) {
                ('%', Some('h')) => {
                    chars.next();
                    out.push_str(&self.host);
                }
                ('%', Some('%')) => {
                    chars.next();
                    out.push('%');
                }
                (c, _) => out.push(c),
            }
        }
        out
    }

    /// Takes a setting unless its option is already set (multi-valued ones add up).
    fn take(&mut self, s: &Setting) -> Result<(), ConfigError> {
        let found = |value| Found {
            value,
            at: s.at.clone(),
        };
        match s.key.as_str() {
            "hostname" if self.hostname.is_none() => self.hostname = Some(found(one(s)?.into())),
            "user" if self.user.is_none() => self.user = Some(found(one(s)?.into())),
            "port" if self.port.is_none() => {
                let p = port_of(one(s)?, &s.at, "Port")?;
                self.port = Some(Found {
                    value: p,
                    at: s.at.clone(),
                });
            }
            // Several add up; the same file twice is taken once (as OpenSSH does).
            "identityfile" => {
                let f = one(s)?;
                if !f.eq_ignore_ascii_case("none")
                    && !self.identity_files.iter().any(|x| x.value == f)
                {
                    self.identity_files.push(found(f.to_string()));
                }
            }
            "certificatefile" => {
                let f = one(s)?;
                if !f.eq_ignore_ascii_case("none")
                    && !self.certificate_files.iter().any(|x| x.value == f)
                {
                    self.certificate_files.push(found(f.to_string()));
                }
            }
            "tag" if self.tag.is_none() => self.tag = Some(one(s)?.to_string()),
            "identitiesonly" if self.identities_only.is_none() => {
                self.identities_only = Some(yes_no(s)?)
            }
            "passwordauthentication" if self.password_authentication.is_none() => {
                self.password_authentication = Some(yes_no(s)?)
            }
            "proxyjump" if self.proxy.is_none() => {
                let p = parse_jump(one(s)?, &s.at)?;
                self.proxy = Some(Found {
                    value: p,
                    at: s.at.clone(),
                });
            }
            "proxycommand" if self.proxy.is_none() => {
                let cmd = s.raw.trim();
                if cmd.is_empty() {
                    return Err(bad(&s.at, "ProxyCommand needs a command"));
                }
                let p = if cmd.eq_ignore_ascii_case("none") {
                    Proxy::Direct
                } else {
                    Proxy::Command(cmd.to_string())
                };
                self.proxy = Some(Found {
                    value: p,
                    at: s.at.clone(),
                });
            }
            "userknownhostsfile" if self.user_known_hosts.is_none() => {
                if s.args.is_empty() {
                    return Err(bad(&s.at, "UserKnownHostsFile needs a file"));
                }
                self.user_known_hosts = Some(found_list(s));
            }
            "globalknownhostsfile" if self.global_known_hosts.is_none() => {
                if s.args.is_empty() {
                    return Err(bad(&s.at, "GlobalKnownHostsFile needs a file"));
                }
                self.global_known_hosts = Some(found_list(s));
            }
            "stricthostkeychecking" if self.strict.is_none() => {
                let v = match one(s)?.to_ascii_lowercase().as_str() {
                    "yes" | "true" | "ask" => Strict::Yes,
                    "accept-new" => Strict::AcceptNew,
                    "no" | "off" | "false" => Strict::No,
                    other => {
                        return Err(bad(
                            &s.at,
                            format!(
                            "StrictHostKeyChecking takes yes, accept-new, no or ask, not '{other}'"
                        ),
                        ))
                    }
                };
                self.strict = Some(Found {
                    value: v,
                    at: s.at.clone(),
                });
            }
            "connecttimeout" if self.connect_timeout.is_none() => {
                let v = one(s)?;
                let t = if v.eq_ignore_ascii_case("none") {
                    None
                } else {
                    Some(Duration::from_secs(parse_seconds(v).ok_or_else(|| {
                        bad(&s.at, format!("ConnectTimeout must be seconds, not '{v}'"))
                    })?))
                };
                self.connect_timeout = Some(Found {
                    value: t,
                    at: s.at.clone(),
                });
            }
            "hostkeyalias" if self.host_key_alias.is_none() => {
                self.host_key_alias = Some(found(one(s)?.into()))
            }
            _ => {}
        }
        Ok(())
    }
}

fn found_list(s: &Setting) -> Found<Vec<String>> {
    Found {
        value: s.args.clone(),
        at: s.at.clone(),
    }
}

/// OpenSSH's time format: seconds, or numbers with s/m/h/d/w suffixes ("1m30s").
fn parse_seconds(v: &str) -> Option<u64> {
    if let Ok(n) = v.parse::<u64>() {
        return Some(n);
    }
    let (mut total, mut num) = (0u64, String::new());
    for c in v.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return None,
        };
        total = total.checked_add(num.parse::<u64>().ok()?.checked_mul(unit)?)?;
        num.clear();
    }
    if !num.is_empty() {
        total = total.checked_add(num.parse::<u64>().ok()?)?;
    }
    Some(total)
}

/// True when `host` matches a `Host` line's patterns: one positive pattern matches and
/// no negated one does.
pub fn host_matches(host: &str, patterns: &[String]) -> bool {
    let mut hit = false;
    for p in patterns {
        for p in p.split(',').filter(|p| !p.is_empty()) {
            match p.strip_prefix('!') {
                Some(neg) if wildcard(neg, host) => return false,
                Some(_) => {}
                None => hit |= wildcard(p, host),
            }
        }
    }
    hit
}

/// OpenSSH's `match_pattern`: `*` any run, `?` one character, ASCII case ignored.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    wildcard_case(pattern, text, true)
}

/// `match_pattern`, ignoring ASCII case when `fold` (host names) or not (user names).
pub fn wildcard_case(pattern: &str, text: &str, fold: bool) -> bool {
    let same = |a: u8, b: u8| {
        if fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || same(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// The files matching `path` whose last part may hold wildcards, sorted (glob(3) as
/// Include uses it); a path without wildcards is itself when it exists.
fn glob(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    if !name.contains(['*', '?']) {
        return if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| !n.starts_with('.') && wildcard(name, n))
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// The home directory (HOME, else /root).
pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// `~/x` -> HOME/x.
pub fn tilde(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None if p == "~" => home(),
        None => PathBuf::from(p),
    }
}

/// What `%` tokens stand for.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// %n: the name given.
    pub name: String,
    /// %h: the host name connected to.
    pub hostname: String,
    /// %p.
    pub port: u16,
    /// %r.
    pub user: String,
    /// %k: HostKeyAlias, else the host name.
    pub key_alias: String,
}

fn local_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| {
            // SAFETY: getuid cannot fail.
            let uid = unsafe { libc::getuid() };
            if uid == 0 {
                "root".into()
            } else {
                uid.to_string()
            }
        })
}

fn local_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl Tokens {
    /// Expands `%x` tokens in `s` (only those in `allowed`) and, for paths, `~` and
    /// `${VAR}`.
    pub fn expand(
        &self,
        s: &str,
        allowed: &str,
        path: bool,
        at: &Origin,
    ) -> Result<String, ConfigError> {
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let Some(t) = chars.next() else {
                        return Err(bad(at, format!("'{s}' ends with a lone %")));
                    };
                    if t != '%' && !allowed.contains(t) {
                        return Err(bad(
                            at,
                            format!("'{s}': the token %{t} is not supported here"),
                        ));
                    }
                    match t {
                        '%' => out.push('%'),
                        'h' => out.push_str(&self.hostname),
                        'n' => out.push_str(&self.name),
                        'p' => out.push_str(&self.port.to_string()),
                        'r' => out.push_str(&self.user),
                        'k' => out.push_str(&self.key_alias),
                        'd' => out.push_str(&home().display().to_string()),
                        'u' => out.push_str(&local_user()),
                        'i' => out.push_str(
                            &{
                                // SAFETY: getuid cannot fail.
                                unsafe { libc::getuid() }
                            }
                            .to_string(),
                        ),
                        'l' => out.push_str(&local_hostname()),
                        'L' => out.push_str(local_hostname().split('.').next().unwrap_or_default()),
                        _ => {
                            return Err(bad(at, format!("'{s}': the token %{t} is not supported")))
                        }
                    }
                }
                '$' if path && chars.peek() == Some(&'{') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '}').collect();
                    match std::env::var(&name) {
                        Ok(v) => out.push_str(&v),
                        Err(_) => {
                            return Err(bad(
                                at,
                                format!("'{s}': the environment variable {name} is not set"),
                            ))
                        }
                    }
                }
                c => out.push(c),
            }
        }
        if path {
            Ok(tilde(&out).display().to_string())
        } else {
            Ok(out)
        }
    }
}

/// Tokens allowed in file names (IdentityFile, CertificateFile, UserKnownHostsFile).
pub const PATH_TOKENS: &str = "dhiklLnpru";
/// Tokens allowed in ProxyCommand.
pub const PROXY_TOKENS: &str = "hnpr";

/// What `ansible_ssh_common_args` / `ansible_ssh_extra_args` say, as ssh's command line
/// would: `-F FILE`, `-o Option=value`, `-J`, `-i`, `-l`, `-p`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SshArgs {
    /// `-F`: the configuration file instead of ~/.ssh/config and /etc/ssh/ssh_config.
    pub config_file: Option<(PathBuf, Origin)>,
    /// Options in the order given.
    pub settings: Vec<Setting>,
}

/// ssh's flags that take an argument (the ones kubeforge does not use are skipped).
const FLAGS_WITH_ARGUMENT: &str = "BbcDEeFIiJLlmOopQRSWw";

impl SshArgs {
    /// Reads ssh command-line words from the variable `var`.
    pub fn add(&mut self, words: &[String], var: &str) -> Result<(), ConfigError> {
        let at = Origin::Var(var.to_string());
        let mut it = words.iter();
        while let Some(w) = it.next() {
            let Some(flags) = w.strip_prefix('-').filter(|f| !f.is_empty()) else {
                return Err(bad(
                    &at,
                    format!("'{w}' is not an ssh option (the host name is kubeforge's to give)"),
                ));
            };
            // Flags may be grouped (-4C); the first one that takes an argument takes the
            // rest of the word, or the next word.
            for (i, f) in flags.char_indices() {
                if !FLAGS_WITH_ARGUMENT.contains(f) {
                    continue;
                }
                let rest = &flags[i + f.len_utf8()..];
                let arg = if rest.is_empty() {
                    it.next()
                        .cloned()
                        .ok_or_else(|| bad(&at, format!("-{f} needs a value")))?
                } else {
                    rest.to_string()
                };
                let named = |key: &str| Setting {
                    key: key.into(),
                    args: vec![arg.clone()],
                    raw: arg.clone(),
                    at: Origin::Var(format!("{var} (-{f} {arg})")),
                };
                match f {
                    'F' if self.config_file.is_none() => {
                        self.config_file = Some((tilde(&arg), Origin::Var(var.to_string())))
                    }
                    'o' => {
                        let origin = Origin::Var(format!("{var} (-o {arg})"));
                        if let Some(s) = Setting::parse(&arg, origin)? {
                            self.settings.push(s);
                        }
                    }
                    'J' => self.settings.push(named("proxyjump")),
                    'i' => self.settings.push(named("identityfile")),
                    'l' => self.settings.push(named("user")),
                    'p' => self.settings.push(named("port")),
                    _ => {}
                }
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "ssh_config_tests.rs"]
mod tests;
