//! Controller-side downloads for `download_once`: fetched once into the cache (checked
//! against the pinned sha256 before it is kept), then pushed to hosts.

use crate::modules::Fetch;
use sha2::Digest;
use std::io::Read;

/// Makes sure `f.cache_path` holds the artifact; downloads it when missing.
pub async fn ensure(f: &Fetch) -> Result<(), String> {
    if f.cache_path.is_file()
        && sha256_file(&f.cache_path).ok().as_deref() == Some(f.sha256.as_str())
    {
        return Ok(());
    }
    let dir = f.cache_path.parent().ok_or("cache path has no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("cannot create a temp file in {}: {e}", dir.display()))?;
    let url = f.url.clone();
    if let Some(path) = url.strip_prefix("file://") {
        std::fs::copy(path, tmp.path()).map_err(|e| format!("cannot copy {path}: {e}"))?;
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
            .map_err(|e| format!("cannot run curl on the controller: {e}"))?;
        if !status.success() {
            return Err(format!(
                "download of {url} failed on the controller ({status})"
            ));
        }
    }
    let got = sha256_file(tmp.path()).map_err(|e| format!("cannot read the download: {e}"))?;
    if got != f.sha256 {
        return Err(format!(
            "checksum mismatch for {url}: expected {}, got {got}; nothing was installed",
            f.sha256
        ));
    }
    tmp.persist(&f.cache_path)
        .map_err(|e| format!("cannot store {}: {e}", f.cache_path.display()))?;
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
