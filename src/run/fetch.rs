//! Controller-side downloads for `download_once`: fetched once into the cache (checked
//! against the pinned sha256 before it is kept), then pushed to hosts.

use crate::modules::Fetch;

/// A controller-side download that failed; nothing was installed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A local file or directory.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// curl failed.
    #[error("download of {url} failed on the controller ({status})")]
    Download {
        /// The URL.
        url: String,
        /// curl's exit status.
        status: String,
    },
    /// The file is not the pinned one.
    #[error("checksum mismatch for {url}: expected {want}, got {got}; nothing was installed")]
    Checksum {
        /// The URL.
        url: String,
        /// Pinned.
        want: String,
        /// Downloaded.
        got: String,
    },
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> FetchError {
    move |source| FetchError::Io { what, source }
}
use sha2::Digest;
use std::io::Read;

/// Makes sure `f.cache_path` holds the artifact; downloads it when missing.
pub async fn ensure(f: &Fetch) -> Result<(), FetchError> {
    if f.cache_path.is_file()
        && sha256_file(&f.cache_path).ok().as_deref() == Some(f.sha256.as_str())
    {
        return Ok(());
    }
    let dir = f.cache_path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(format!(
        "cannot create a temp file in {}",
        dir.display()
    )))?;
    let url = f.url.clone();
    if let Some(path) = url.strip_prefix("file://") {
        std::fs::copy(path, tmp.path()).map_err(io(format!("cannot copy {path}")))?;
    } else {
        // curl on the controller: bounded in time, never interactive.
        let status = tokio::process::Command::new("curl")
            .args([
                "-fsSL",
                "--connect-timeout",
                "20",
                "--max-time",
                "1800",
                "-o",
            ])
            .arg(tmp.path())
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .status()
            .await
            .map_err(io("cannot run curl on the controller".into()))?;
        if !status.success() {
            return Err(FetchError::Download {
                url,
                status: status.to_string(),
            });
        }
    }
    let got = sha256_file(tmp.path()).map_err(io("cannot read the download".into()))?;
    if got != f.sha256 {
        return Err(FetchError::Checksum {
            url,
            want: f.sha256.clone(),
            got,
        });
    }
    tmp.persist(&f.cache_path)
        .map_err(|e| e.error)
        .map_err(io(format!("cannot store {}", f.cache_path.display())))?;
    Ok(())
}

/// sha256 of a file, streamed.
pub fn sha256_file(p: &std::path::Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(p)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
