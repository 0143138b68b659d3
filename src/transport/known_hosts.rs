//! known_hosts as OpenSSH reads it (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"): host
//! patterns with `*`/`?` wildcards and `!` negation, hashed names (`|1|salt|hash`),
//! `[host]:port` for ports other than 22, `@cert-authority` lines whose key signs host
//! certificates, and `@revoked` lines whose key is never accepted. Lines ssh_key's parser
//! cannot read are skipped, as OpenSSH skips them.
//!
//! A host that shows a certificate is checked against the CAs trusted for it: the CA's
//! signature, the validity window, that it is a host certificate, that its principals
//! (when it lists any) name the host, and that it carries no critical options. A
//! certificate whose CA is not trusted for the host is checked as its plain key (as
//! OpenSSH retries with the plain key).

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::certificate::CertType;
use russh::keys::ssh_key::known_hosts::{Entry, HostPatterns, Marker};
use russh::keys::ssh_key::public::KeyData;
use russh::keys::{Certificate, PublicKey, PublicKeyOrCertificate};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The name a host is looked up by: `host`, or `[host]:port` when the port is not 22;
/// HostKeyAlias, when set, instead of either.
pub fn lookup_name(host: &str, port: u16, alias: Option<&str>) -> String {
    match alias {
        Some(a) => a.to_string(),
        None if port == 22 => host.to_string(),
        None => format!("[{host}]:{port}"),
    }
}

/// What known_hosts says about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The key is recorded for the host, at "file:line".
    Known(String),
    /// A host certificate signed by a CA trusted for the host at "file:line".
    Certified(String),
    /// Nothing is recorded for the host with this key's type.
    Unknown,
    /// Another key of the same type is recorded for the host, at "file:line".
    Changed(String),
    /// The key, or the CA that signed it, is `@revoked` at "file:line".
    Revoked(String),
    /// A certificate from a trusted CA that is not acceptable, and why.
    BadCertificate(String),
}

/// One usable line.
struct Line {
    entry: Entry,
    at: String,
}

/// The known_hosts files, in order of precedence; a missing file is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownHosts {
    files: Vec<PathBuf>,
}

type HmacSha1 = Hmac<sha1::Sha1>;

fn pattern_matches(patterns: &HostPatterns, name: &str) -> bool {
    match patterns {
        HostPatterns::HashedName { salt, hash } => match HmacSha1::new_from_slice(salt) {
            Ok(mac) => mac.chain_update(name.as_bytes()).verify_slice(hash).is_ok(),
            Err(_) => false,
        },
        HostPatterns::Patterns(list) => super::ssh_config::host_matches(name, list),
    }
}

impl KnownHosts {
    /// The files, in order (the first is where new keys are recorded).
    pub fn new(files: Vec<PathBuf>) -> KnownHosts {
        KnownHosts { files }
    }

    /// The files.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The files' names for messages.
    pub fn shown(&self) -> String {
        self.files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn lines_for(&self, name: &str) -> Result<Vec<Line>, String> {
        let mut out = Vec::new();
        for f in &self.files {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("cannot read {}: {e}", f.display())),
            };
            for (i, raw) in text.lines().enumerate() {
                let line = raw.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                // The host patterns first (cheap): only a matching line's key is read.
                let mut words = line.split_whitespace();
                let Some(first) = words.next() else { continue };
                let (marker, patterns) = if first.starts_with('@') {
                    (Some(first), words.next().unwrap_or_default())
                } else {
                    (None, first)
                };
                let Ok(hp) = patterns.parse::<HostPatterns>() else {
                    continue;
                };
                if !pattern_matches(&hp, name) {
                    continue;
                }
                let rest: Vec<&str> = words.collect();
                let text = match marker {
                    Some(m) => format!("{m} {patterns} {}", rest.join(" ")),
                    None => format!("{patterns} {}", rest.join(" ")),
                };
                let Ok(entry) = text.parse::<Entry>() else {
                    continue;
                };
                out.push(Line {
                    entry,
                    at: format!("{}:{}", f.display(), i + 1),
                });
            }
        }
        Ok(out)
    }

    /// True when a `@cert-authority` line applies to the host (then kubeforge asks the
    /// host for its certificate).
    pub fn has_authority(&self, name: &str) -> bool {
        self.lines_for(name).is_ok_and(|lines| {
            lines
                .iter()
                .any(|l| l.entry.marker() == Some(&Marker::CertAuthority))
        })
    }

    /// Checks the key a host showed. `name` is its lookup name, `principal` the name its
    /// certificate must list (HostKeyAlias or the host name), `now` seconds since 1970.
    pub fn check(
        &self,
        name: &str,
        principal: &str,
        key: &PublicKeyOrCertificate,
        now: u64,
    ) -> Result<Verdict, String> {
        let lines = self.lines_for(name)?;
        let revoked = |k: &KeyData| {
            lines
                .iter()
                .find(|l| {
                    l.entry.marker() == Some(&Marker::Revoked)
                        && l.entry.public_key().key_data() == k
                })
                .map(|l| l.at.clone())
        };
        let plain = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data().clone(),
            PublicKeyOrCertificate::Certificate(cert) => {
                for k in [cert.public_key(), cert.signature_key()] {
                    if let Some(at) = revoked(k) {
                        return Ok(Verdict::Revoked(at));
                    }
                }
                let ca = lines.iter().find(|l| {
                    l.entry.marker() == Some(&Marker::CertAuthority)
                        && l.entry.public_key().key_data() == cert.signature_key()
                });
                if let Some(ca) = ca {
                    return Ok(match certificate_problem(cert, principal, now) {
                        None => Verdict::Certified(ca.at.clone()),
                        Some(why) => Verdict::BadCertificate(format!(
                            "its certificate (key id \"{}\", signed by the CA at {}) {why}",
                            cert.key_id(),
                            ca.at
                        )),
                    });
                }
                // No trusted CA: the certificate's key as a plain key.
                cert.public_key().clone()
            }
        };
        if let Some(at) = revoked(&plain) {
            return Ok(Verdict::Revoked(at));
        }
        let mut changed = None;
        for l in lines.iter().filter(|l| l.entry.marker().is_none()) {
            let recorded = l.entry.public_key().key_data();
            if recorded == &plain {
                return Ok(Verdict::Known(l.at.clone()));
            }
            if recorded.algorithm() == plain.algorithm() && changed.is_none() {
                changed = Some(l.at.clone());
            }
        }
        Ok(changed.map_or(Verdict::Unknown, Verdict::Changed))
    }

    /// Records `key` for `name` in the first file (created with its directory if need
    /// be), as one appended line.
    pub fn learn(&self, name: &str, key: &KeyData) -> Result<PathBuf, String> {
        let Some(path) = self.files.first() else {
            return Err("no known_hosts file to record the key in".into());
        };
        learn_in(path, name, key)
            .map_err(|e| format!("cannot record the key in {}: {e}", path.display()))?;
        Ok(path.clone())
    }
}

fn learn_in(path: &Path, name: &str, key: &KeyData) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    let mut last = [0u8; 1];
    let needs_newline =
        f.seek(SeekFrom::End(-1)).is_ok() && f.read_exact(&mut last).is_ok() && last[0] != b'\n';
    let text = PublicKey::new(key.clone(), "")
        .to_openssh()
        .map_err(std::io::Error::other)?;
    let line = format!(
        "{}{name} {}\n",
        if needs_newline { "\n" } else { "" },
        text.trim_end()
    );
    f.write_all(line.as_bytes())
}

/// Why a certificate from a trusted CA is not acceptable for `principal`, if it is not.
fn certificate_problem(cert: &Certificate, principal: &str, now: u64) -> Option<String> {
    if cert.cert_type() != CertType::Host {
        return Some("is a user certificate, not a host certificate".into());
    }
    let fp = cert
        .signature_key()
        .fingerprint(russh::keys::HashAlg::Sha256);
    if cert.verify_signature().is_err() || cert.validate_at(now, [&fp]).is_err() {
        if now < cert.valid_after() {
            return Some(format!(
                "is not valid yet (valid from {} s since 1970, now {now})",
                cert.valid_after()
            ));
        }
        if now >= cert.valid_before() {
            return Some(format!(
                "has expired (valid until {} s since 1970, now {now})",
                cert.valid_before()
            ));
        }
        return Some("does not carry a valid signature of that CA".into());
    }
    let principals = cert.valid_principals();
    if !principals.is_empty()
        && !principals
            .iter()
            .any(|p| super::ssh_config::wildcard(p, principal))
    {
        return Some(format!(
            "does not name {principal} among its principals ({})",
            principals.join(", ")
        ));
    }
    if !cert.critical_options().is_empty() {
        return Some("carries critical options, which host certificates may not".into());
    }
    None
}

/// Seconds since 1970 now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
#[path = "known_hosts_tests.rs"]
mod tests;
