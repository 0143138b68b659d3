//! known_hosts kinds, one case each, with keys and certificates made by ssh-keygen.

use super::*;
use std::process::Command;

struct Keys {
    dir: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) {
        let out = Command::new("ssh-keygen")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("ssh-keygen (openssh-client) is needed by these tests");
        assert!(
            out.status.success(),
            "ssh-keygen {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new ed25519 key pair `name`: its public line ("ssh-ed25519 AAAA...").
    fn key(&self, name: &str) -> String {
        self.run(&["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", name]);
        let text = std::fs::read_to_string(self.path(&format!("{name}.pub"))).unwrap();
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn public(&self, name: &str) -> PublicKeyOrCertificate {
        let text = std::fs::read_to_string(self.path(&format!("{name}.pub"))).unwrap();
        PublicKey::from_openssh(text.trim()).unwrap().into()
    }

    /// Signs `name`.pub with the CA key `ca` (a host certificate unless `user`).
    fn sign(&self, ca: &str, name: &str, principals: &str, validity: &str, user: bool) {
        let mut args = vec!["-q", "-s", ca, "-I", "test-id", "-V", validity];
        if !user {
            args.push("-h");
        }
        if !principals.is_empty() {
            args.extend(["-n", principals]);
        }
        let pubfile = format!("{name}.pub");
        args.push(&pubfile);
        self.run(&args);
    }

    fn cert(&self, name: &str) -> Certificate {
        Certificate::read_file(&self.path(&format!("{name}-cert.pub"))).unwrap()
    }

    fn known_hosts(&self, text: &str) -> KnownHosts {
        let p = self.path("known_hosts");
        std::fs::write(&p, text).unwrap();
        KnownHosts::new(vec![self.path("missing_known_hosts"), p])
    }
}

fn kind(v: &Verdict) -> &'static str {
    match v {
        Verdict::Known(_) => "known",
        Verdict::Certified(_) => "certified",
        Verdict::Unknown => "unknown",
        Verdict::Changed(_) => "changed",
        Verdict::Revoked(_) => "revoked",
        Verdict::BadCertificate(_) => "bad-certificate",
    }
}

#[test]
fn plain_wildcard_negated_and_port_entries() {
    let k = Keys::new();
    let host = k.key("host");
    let other = k.key("other");
    let key = k.public("host");
    // (known_hosts text, lookup name, expected verdict)
    let cases = [
        (format!("node1 {host}\n"), "node1", "known"),
        (format!("NODE1,10.0.0.1 {host}\n"), "10.0.0.1", "known"),
        (format!("node1 {host}\n"), "node2", "unknown"),
        (format!("node? {host}\n"), "node7", "known"),
        (format!("*.example.com {host}\n"), "a.example.com", "known"),
        (format!("*.example.com {host}\n"), "example.com", "unknown"),
        // A negated pattern that matches excludes the line.
        (
            format!("*.example.com,!bad.example.com {host}\n"),
            "bad.example.com",
            "unknown",
        ),
        (
            format!("*.example.com,!bad.example.com {host}\n"),
            "good.example.com",
            "known",
        ),
        // [host]:port for a port other than 22; the bare name does not match it.
        (format!("[node1]:2222 {host}\n"), "[node1]:2222", "known"),
        (format!("node1 {host}\n"), "[node1]:2222", "unknown"),
        (format!("[node1]:2222 {host}\n"), "node1", "unknown"),
        (format!("[node*]:2222 {host}\n"), "[node5]:2222", "known"),
        // Another key of the same type for the host: changed, with the line named.
        (format!("# comment\n\nnode1 {other}\n"), "node1", "changed"),
        // Several spaces or tabs between fields, and an unreadable line, are fine.
        (
            format!("garbage line\nnode1\t {host} comment\n"),
            "node1",
            "known",
        ),
    ];
    for (text, name, want) in cases {
        let kh = k.known_hosts(&text);
        let v = kh.check(name, name, &key, now()).unwrap();
        assert_eq!(kind(&v), want, "{name} in {text:?}: {v:?}");
    }
    let kh = k.known_hosts(&format!("# x\nnode1 {other}\n"));
    let v = kh.check("node1", "node1", &key, now()).unwrap();
    assert_eq!(
        v,
        Verdict::Changed(format!("{}:2", k.path("known_hosts").display()))
    );
}

#[test]
fn hashed_entries_as_ssh_keygen_writes_them() {
    let k = Keys::new();
    let host = k.key("host");
    let kh = k.known_hosts(&format!("node1 {host}\n[node2]:2200 {host}\n"));
    k.run(&["-q", "-H", "-f", "known_hosts"]);
    let text = std::fs::read_to_string(k.path("known_hosts")).unwrap();
    assert!(text.starts_with("|1|"), "{text}");
    let key = k.public("host");
    for (name, want) in [
        ("node1", "known"),
        ("[node2]:2200", "known"),
        ("node3", "unknown"),
    ] {
        assert_eq!(
            kind(&kh.check(name, name, &key, now()).unwrap()),
            want,
            "{name}"
        );
    }
}

#[test]
fn host_certificates_are_checked_against_the_cert_authority() {
    let k = Keys::new();
    let ca = k.key("ca");
    let other_ca = k.key("other_ca");
    k.key("host");
    k.sign("ca", "host", "node1,*.nodes.example", "-5m:+1h", false);
    let cert = k.cert("host");
    k.key("expired");
    k.sign("ca", "expired", "node1", "20200101:20200201", false);
    k.key("user");
    k.sign("ca", "user", "node1", "-5m:+1h", true);
    k.key("nobody");
    k.sign("ca", "nobody", "", "-5m:+1h", false);
    let t = now();
    let cases: [(String, &str, &str, Certificate, &str); 11] = [
        // (known_hosts, name, principal, certificate, expected)
        (
            format!("@cert-authority * {ca}\n"),
            "node1",
            "node1",
            cert.clone(),
            "certified",
        ),
        (
            format!("@cert-authority *.nodes.example {ca}\n"),
            "a.nodes.example",
            "a.nodes.example",
            cert.clone(),
            "certified",
        ),
        (
            format!("@cert-authority [node1]:2222 {ca}\n"),
            "[node1]:2222",
            "node1",
            cert.clone(),
            "certified",
        ),
        // A CA trusted for other hosts only: the certificate's key as a plain key.
        (
            format!("@cert-authority other* {ca}\n"),
            "node1",
            "node1",
            cert.clone(),
            "unknown",
        ),
        (
            format!("@cert-authority * {other_ca}\n"),
            "node1",
            "node1",
            cert.clone(),
            "unknown",
        ),
        // The principal must be listed.
        (
            format!("@cert-authority * {ca}\n"),
            "node2",
            "node2",
            cert.clone(),
            "bad-certificate",
        ),
        (
            format!("@cert-authority * {ca}\n"),
            "node1",
            "node1",
            k.cert("expired"),
            "bad-certificate",
        ),
        (
            format!("@cert-authority * {ca}\n"),
            "node1",
            "node1",
            k.cert("user"),
            "bad-certificate",
        ),
        // No principals: any host (as OpenSSH).
        (
            format!("@cert-authority * {ca}\n"),
            "node9",
            "node9",
            k.cert("nobody"),
            "certified",
        ),
        // A revoked CA, or a revoked host key inside a certificate.
        (
            format!("@cert-authority * {ca}\n@revoked * {ca}\n"),
            "node1",
            "node1",
            cert.clone(),
            "revoked",
        ),
        (
            format!(
                "@cert-authority * {ca}\n@revoked node1 {}\n",
                k.key_line("host")
            ),
            "node1",
            "node1",
            cert.clone(),
            "revoked",
        ),
    ];
    for (text, name, principal, key, want) in cases {
        let kh = k.known_hosts(&text);
        let v = kh
            .check(
                name,
                principal,
                &PublicKeyOrCertificate::Certificate(key),
                t,
            )
            .unwrap();
        assert_eq!(kind(&v), want, "{name} in {text:?}: {v:?}");
    }
    assert!(!k
        .known_hosts(&format!("node1 {ca}\n"))
        .has_authority("node1"));
    let kh = k.known_hosts(&format!("@cert-authority * {ca}\n"));
    assert!(kh.has_authority("anything"));
    let cert = PublicKeyOrCertificate::Certificate(cert);
    let Verdict::BadCertificate(why) = kh.check("node2", "node2", &cert, t).unwrap() else {
        panic!()
    };
    assert!(
        why.contains("does not name node2 among its principals (node1, *.nodes.example)"),
        "{why}"
    );
    let Verdict::BadCertificate(why) = kh
        .check(
            "node1",
            "node1",
            &PublicKeyOrCertificate::Certificate(k.cert("expired")),
            t,
        )
        .unwrap()
    else {
        panic!()
    };
    assert!(why.contains("has expired"), "{why}");
}

#[test]
fn revoked_plain_keys_are_refused_even_when_recorded() {
    let k = Keys::new();
    let host = k.key("host");
    let kh = k.known_hosts(&format!("node1 {host}\n@revoked * {host}\n"));
    let v = kh
        .check("node1", "node1", &k.public("host"), now())
        .unwrap();
    assert_eq!(
        v,
        Verdict::Revoked(format!("{}:2", k.path("known_hosts").display()))
    );
}

#[test]
fn new_keys_are_recorded_in_the_first_file() {
    let k = Keys::new();
    k.key("host");
    let first = k.path("sub/dir/known_hosts");
    let kh = KnownHosts::new(vec![first.clone(), k.path("known_hosts")]);
    let PublicKeyOrCertificate::PublicKey { key, .. } = k.public("host") else {
        panic!()
    };
    assert_eq!(kh.learn("[node1]:2222", key.key_data()).unwrap(), first);
    assert_eq!(
        kind(
            &kh.check("[node1]:2222", "node1", &k.public("host"), now())
                .unwrap()
        ),
        "known"
    );
    let text = std::fs::read_to_string(&first).unwrap();
    assert!(text.starts_with("[node1]:2222 ssh-ed25519 "), "{text}");
    assert_eq!(lookup_name("n", 22, None), "n");
    assert_eq!(lookup_name("n", 2222, None), "[n]:2222");
    assert_eq!(lookup_name("n", 2222, Some("alias")), "alias");
}

impl Keys {
    /// The public line of an existing key.
    fn key_line(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.path(&format!("{name}.pub"))).unwrap();
        text.split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    }
}
