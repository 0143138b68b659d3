//! etcd's PKI, made on the controller: a CA, one server/peer certificate per member
//! (its IPs and names as SANs), an admin client certificate, and client certificates
//! for hosts that talk to etcd. Kept in the credentials directory beside the inventory
//! (keys 0600), reused on later runs, never printed.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::net::IpAddr;
use std::path::Path;

/// A member's identity for its certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Inventory hostname (file names use it).
    pub name: String,
    /// Addresses for SANs.
    pub ips: Vec<IpAddr>,
    /// DNS names for SANs.
    pub dns: Vec<String>,
}

/// A PKI problem.
#[derive(Debug, thiserror::Error)]
#[error("etcd PKI in {dir}: {message}")]
pub struct PkiError {
    /// The directory.
    pub dir: String,
    /// What failed.
    pub message: String,
}

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "kubeforge etcd CA");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    p.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
    Ok(p)
}

fn leaf(
    cn: &str,
    ips: &[IpAddr],
    dns: &[String],
    server: bool,
) -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.subject_alt_names = dns
        .iter()
        .filter_map(|d| d.clone().try_into().ok().map(SanType::DnsName))
        .chain(ips.iter().map(|i| SanType::IpAddress(*i)))
        .collect();
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = if server {
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ]
    } else {
        vec![ExtendedKeyUsagePurpose::ClientAuth]
    };
    p.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    p.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
    Ok(p)
}

fn write_private(path: &Path, content: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(content.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Ensures the CA, member, admin and client certificates exist in `dir`; returns the
/// files it created (empty when everything was already there). `dry` reports without
/// writing.
pub fn ensure(
    dir: &Path,
    members: &[Member],
    clients: &[String],
    dry: bool,
) -> Result<Vec<String>, PkiError> {
    let err = |m: String| PkiError {
        dir: dir.display().to_string(),
        message: m,
    };
    // (file stem, None for the CA or Some((common name, IPs, DNS names, server?)))
    type Leaf = (String, Vec<IpAddr>, Vec<String>, bool);
    let mut wanted: Vec<(String, Option<Leaf>)> = vec![("ca".into(), None)];
    for m in members {
        let mut dns = m.dns.clone();
        dns.push("localhost".into());
        let mut ips = m.ips.clone();
        for lo in ["127.0.0.1", "::1"] {
            if let Ok(ip) = lo.parse() {
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
        }
        wanted.push((
            format!("member-{}", m.name),
            Some((m.name.clone(), ips, dns, true)),
        ));
    }
    wanted.push((
        "admin".into(),
        Some(("etcd-admin".into(), vec![], vec![], false)),
    ));
    for c in clients {
        wanted.push((
            format!("node-{c}"),
            Some((format!("etcd-client-{c}"), vec![], vec![], false)),
        ));
    }
    let missing: Vec<String> = wanted
        .iter()
        .filter(|(n, _)| {
            !dir.join(format!("{n}.pem")).is_file() || !dir.join(format!("{n}-key.pem")).is_file()
        })
        .map(|(n, _)| format!("{n}.pem"))
        .collect();
    if dry || missing.is_empty() {
        return Ok(missing);
    }
    std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create: {e}")))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let ca_key_path = dir.join("ca-key.pem");
    let ca_key = if ca_key_path.is_file() && dir.join("ca.pem").is_file() {
        let pem = std::fs::read_to_string(&ca_key_path)
            .map_err(|e| err(format!("cannot read ca-key.pem: {e}")))?;
        KeyPair::from_pem(&pem).map_err(|e| err(format!("ca-key.pem: {e}")))?
    } else {
        let key = KeyPair::generate().map_err(|e| err(e.to_string()))?;
        let cert = ca_params()
            .and_then(|p| p.self_signed(&key))
            .map_err(|e| err(e.to_string()))?;
        write_private(&ca_key_path, &key.serialize_pem(), 0o600)
            .map_err(|e| err(format!("ca-key.pem: {e}")))?;
        write_private(&dir.join("ca.pem"), &cert.pem(), 0o644)
            .map_err(|e| err(format!("ca.pem: {e}")))?;
        key
    };
    let issuer = Issuer::new(ca_params().map_err(|e| err(e.to_string()))?, ca_key);
    for (name, spec) in &wanted {
        let Some((cn, ips, dns, server)) = spec else {
            continue;
        };
        let (cert_path, key_path) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}-key.pem")),
        );
        if cert_path.is_file() && key_path.is_file() {
            continue;
        }
        let key = KeyPair::generate().map_err(|e| err(e.to_string()))?;
        let cert = leaf(cn, ips, dns, *server)
            .and_then(|p| p.signed_by(&key, &issuer))
            .map_err(|e| err(format!("{name}: {e}")))?;
        write_private(&key_path, &key.serialize_pem(), 0o600)
            .map_err(|e| err(format!("{name}-key.pem: {e}")))?;
        write_private(&cert_path, &cert.pem(), 0o644)
            .map_err(|e| err(format!("{name}.pem: {e}")))?;
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_once_with_private_keys_and_verifiable_chain() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("etcd");
        let members = vec![Member {
            name: "e1".into(),
            ips: vec!["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
            dns: vec!["e1".into()],
        }];
        let dry = ensure(&dir, &members, &["cp1".into()], true).unwrap();
        assert_eq!(
            dry,
            ["ca.pem", "member-e1.pem", "admin.pem", "node-cp1.pem"]
        );
        assert!(!dir.exists(), "a dry run wrote files");
        let made = ensure(&dir, &members, &["cp1".into()], false).unwrap();
        assert_eq!(made.len(), 4);
        for k in [
            "ca-key.pem",
            "member-e1-key.pem",
            "admin-key.pem",
            "node-cp1-key.pem",
        ] {
            let mode = std::fs::metadata(dir.join(k)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{k}");
        }
        let before = std::fs::read(dir.join("member-e1.pem")).unwrap();
        assert!(ensure(&dir, &members, &["cp1".into()], false)
            .unwrap()
            .is_empty());
        assert_eq!(
            std::fs::read(dir.join("member-e1.pem")).unwrap(),
            before,
            "reused, not regenerated"
        );
        // A new client is signed by the same CA: openssl verifies the chain.
        ensure(&dir, &members, &["cp1".into(), "w2".into()], false).unwrap();
        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_ok()
        {
            for c in ["member-e1.pem", "node-w2.pem", "admin.pem"] {
                let out = std::process::Command::new("openssl")
                    .args(["verify", "-CAfile"])
                    .arg(dir.join("ca.pem"))
                    .arg(dir.join(c))
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{c}: {}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
            let text = std::process::Command::new("openssl")
                .args(["x509", "-noout", "-text", "-in"])
                .arg(dir.join("member-e1.pem"))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&text.stdout);
            assert!(
                text.contains("IP Address:10.0.0.1")
                    && text.contains("IP Address:FD00:0:0:0:0:0:0:1")
                    && text.contains("DNS:e1"),
                "{text}"
            );
        }
    }
}
