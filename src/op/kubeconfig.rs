//! `kubeforge kubeconfig`: fetches the admin kubeconfig from the first control plane and
//! points it at an address this machine reaches. One command over SSH; no proxy, no
//! process left behind.

use super::{exit, OpError};
use crate::cli::KubeconfigArgs;
use crate::topology::Role;

/// `kubeforge kubeconfig`.
pub fn run(a: &KubeconfigArgs) -> Result<u8, OpError> {
    let cluster = super::inventory::load(&a.inv)?;
    let Some(cp) = cluster
        .with_role(Role::ControlPlane)
        .first()
        .map(|h| (*h).clone())
    else {
        return Err(OpError::Usage("no host in kube_control_plane".into()));
    };
    let connector = super::connect::connector(super::connect::options(&a.ssh, &cluster));
    let config_dir = cp
        .var("kube_config_dir")
        .and_then(|v| v.as_str())
        .unwrap_or("/etc/kubernetes")
        .to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| OpError::Io {
            what: "cannot start the runtime".into(),
            source,
        })?;
    let name = cp.name.clone();
    let shown_dir = config_dir.clone();
    let (address, port) = crate::kubeconfig::api_endpoint(&cp);
    let fetched = runtime.block_on(async move {
        let conn = connector(cp).await?;
        let out = conn
            .exec(crate::transport::ExecRequest {
                script: format!("cat {}/admin.conf", crate::shell::quote(&config_dir)),
                become_: crate::transport::Become::Root,
                timeout: std::time::Duration::from_secs(30),
            })
            .await;
        conn.close().await;
        out
    });
    let out = fetched.map_err(|e| OpError::Host {
        host: name.clone(),
        message: e.to_string(),
        unreachable: e.is_unreachable(),
    })?;
    if out.exit_code != Some(0) {
        return Err(OpError::Host {
            host: name,
            message: format!(
                "cannot read {shown_dir}/admin.conf ({}); has the cluster been bootstrapped (kubeadm init)?",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            unreachable: false,
        });
    }
    let text =
        crate::kubeconfig::rewrite_server(&String::from_utf8_lossy(&out.stdout), &address, port);
    match &a.output {
        Some(path) => {
            crate::kubeconfig::write_private(path, &text).map_err(|source| OpError::Io {
                what: format!("cannot write {}", path.display()),
                source,
            })?;
            eprintln!(
                "wrote {} (API server https://{}:{port})",
                path.display(),
                address
            );
        }
        None => print!("{text}"),
    }
    Ok(exit::OK)
}
