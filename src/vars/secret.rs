//! Which variables hold secrets, and how a secret is shown: the one masking policy for
//! `inventory show`, diffs, messages and events.

/// True for variable names whose values are secrets (masked unless asked).
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    if [
        "_dir", "_file", "_path", "_url", "_mode", "_size", "_usages",
    ]
    .iter()
    .any(|s| n.ends_with(s))
    {
        return false;
    }
    n.split('_').any(|w| {
        [
            "password",
            "passwd",
            "pass",
            "token",
            "secret",
            "key",
            "cert",
            "passphrase",
        ]
        .contains(&w)
    })
}

/// The mask shown instead of a secret value.
pub const MASK: &str = "********";

/// Replaces every secret value (of 4 characters or more) in `text` with the mask.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if s.len() >= 4 {
            out = out.replace(s.as_str(), MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_and_masking() {
        for (name, secret) in [
            ("kube_token", true),
            ("etcd_cert_dir", false),
            ("ssh_key", true),
            ("registry_password", true),
            ("keyring_url", false),
            ("monkey", false),
            ("ansible_become_pass", true),
            ("ansible_ssh_pass", true),
            ("bypass_proxy", false),
        ] {
            assert_eq!(is_secret_name(name), secret, "{name}");
        }
        assert_eq!(
            mask("token abcd12 and abc", &["abcd12".into(), "abc".into()]),
            "token ******** and abc"
        );
    }
}
