//! Bringing a file from a host to the controller (etcd snapshots, fetch): read in
//! bounded chunks over the host's connection, so memory stays small whatever the size,
//! written to a temporary file beside the target, checked against the host's sha256,
//! then renamed (mode 0600: snapshots hold every secret of the cluster).

use crate::modules::Pull;
use crate::transport::{Become, ExecRequest, Transport};
use sha2::Digest;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Bytes per round trip.
const CHUNK: u64 = 8 * 1024 * 1024;

/// A file that could not be brought back.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The host side.
    #[error("reading {remote} on the host: {message}")]
    Remote {
        /// The file.
        remote: String,
        /// Why.
        message: String,
    },
    /// The controller side.
    #[error("writing {local}: {source}")]
    Local {
        /// The file.
        local: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// What arrived is not what the host has.
    #[error("{remote}: the copy's sha256 {got} differs from the host's {want}; nothing was kept")]
    Checksum {
        /// The file.
        remote: String,
        /// The host's.
        want: String,
        /// The copy's.
        got: String,
    },
}

async fn run(
    conn: &Arc<dyn Transport>,
    script: String,
    become_: &Become,
    remote: &str,
) -> Result<Vec<u8>, PullError> {
    let out = conn
        .exec(ExecRequest {
            script,
            become_: become_.clone(),
            timeout: Duration::from_secs(600),
        })
        .await
        .map_err(|e| PullError::Remote {
            remote: remote.to_string(),
            message: e.to_string(),
        })?;
    if out.exit_code != Some(0) {
        return Err(PullError::Remote {
            remote: remote.to_string(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// Copies `pull.remote` to `pull.local`.
pub async fn pull(conn: &Arc<dyn Transport>, p: &Pull, become_: &Become) -> Result<(), PullError> {
    let q = crate::shell::quote(&p.remote);
    let head = run(
        conn,
        format!("stat -c %s -- {q} && sha256sum -- {q}"),
        become_,
        &p.remote,
    )
    .await?;
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.lines();
    let size: u64 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let want = lines
        .next()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("")
        .to_string();
    let local_err = |source| PullError::Local {
        local: p.local.display().to_string(),
        source,
    };
    let dir = p
        .local
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    std::fs::create_dir_all(&dir).map_err(local_err)?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(local_err)?;
    let mut hash = sha2::Sha256::new();
    let mut offset = 0;
    while offset < size {
        let block = offset / CHUNK;
        let data = run(
            conn,
            format!("dd if={q} bs={CHUNK} skip={block} count=1 2>/dev/null"),
            become_,
            &p.remote,
        )
        .await?;
        if data.is_empty() {
            break;
        }
        hash.update(&data);
        tmp.write_all(&data).map_err(local_err)?;
        offset += data.len() as u64;
    }
    let got = hex::encode(hash.finalize());
    if got != want {
        return Err(PullError::Checksum {
            remote: p.remote.clone(),
            want,
            got,
        });
    }
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(local_err)?;
    tmp.as_file().sync_all().map_err(local_err)?;
    tmp.persist(&p.local).map_err(|e| local_err(e.error))?;
    Ok(())
}
