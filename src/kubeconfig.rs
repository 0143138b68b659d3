//! `kubeforge kubeconfig`: the admin kubeconfig with the API server address rewritten to
//! one this machine reaches. It fetches a file and returns; it never starts a proxy or
//! any process that outlives it.

use crate::cluster::ClusterHost;
use std::path::Path;

/// The API endpoint the controller uses, as kubeadm's controlPlaneEndpoint does: the
/// external load balancer (`loadbalancer_apiserver.address` and `.port`) if set, else the
/// control plane's ansible_host (what SSH reaches; in the certificate's names) and
/// `kube_apiserver_port`. IPv6 in brackets.
pub fn api_endpoint(cp: &ClusterHost) -> (String, u64) {
    let port_of = |v: &serde_json::Value| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    };
    let api_port = cp
        .var("kube_apiserver_port")
        .and_then(port_of)
        .unwrap_or(6443);
    let lb = cp.var("loadbalancer_apiserver").filter(|v| v.is_object());
    let (address, port) = match lb.and_then(|v| v.get("address")).and_then(|v| v.as_str()) {
        Some(a) => (
            a.to_string(),
            lb.and_then(|v| v.get("port"))
                .and_then(port_of)
                .unwrap_or(api_port),
        ),
        None => (cp.ssh.address.clone(), api_port),
    };
    if address.parse::<std::net::Ipv6Addr>().is_ok() {
        (format!("[{address}]"), port)
    } else {
        (address, port)
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
