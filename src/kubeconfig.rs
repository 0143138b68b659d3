//! `kubeforge kubeconfig`: the admin kubeconfig with the API server address rewritten to
//! one this machine reaches. It fetches a file and returns; it never starts a proxy or
//! any process that outlives it.

use crate::cluster::ClusterHost;
use std::path::Path;

/// The API address the controller uses: `loadbalancer_apiserver.address` if set, else
/// the control plane's ansible_host (what SSH reaches), IPv6 in brackets.
pub fn api_address(cp: &ClusterHost) -> String {
    let lb = cp
        .var("loadbalancer_apiserver")
        .and_then(|v| v.get("address"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let a = lb.unwrap_or_else(|| cp.ssh.address.clone());
    if a.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{a}]")
    } else {
        a
    }
}

/// Replaces every `server:` URL in a kubeconfig with https://ADDRESS:PORT.
pub fn rewrite_server(text: &str, address: &str, port: u64) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("server:") {
            if rest.trim().starts_with("https://") {
                let indent = &line[..line.len() - trimmed.len()];
                out.push_str(&format!("{indent}server: https://{address}:{port}\n"));
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

/// Writes a file readable by its owner only (atomic).
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_server_lines() {
        let k = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: AAA\n    server: https://10.0.0.1:6443\n  name: k\n";
        let r = rewrite_server(k, "[fd00::1]", 6443);
        assert!(r.contains("    server: https://[fd00::1]:6443\n"));
        assert!(r.contains("certificate-authority-data: AAA"));
        assert_eq!(r.lines().count(), k.lines().count());
    }

    #[test]
    fn writes_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("admin.conf");
        write_private(&p, "x").unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
