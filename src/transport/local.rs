//! Runs scripts on this machine (tests, `ansible_connection: local`).

use super::{
    shell_command, upload_command, Become, BoxFuture, ExecOutput, ExecRequest, Secret, Transport,
    TransportError,
};
use std::path::Path;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// The local machine.
#[derive(Debug, Default, Clone)]
pub struct Local;

/// The local machine, with a password for sudo (`become`).
#[derive(Debug, Clone)]
pub struct LocalSudo(pub Secret);

async fn run(
    cmd: String,
    stdin: Vec<u8>,
    timeout: std::time::Duration,
) -> Result<ExecOutput, TransportError> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| TransportError::Other(format!("cannot start sh: {e}")))?;
    let pid = child.id();
    let mut input = child.stdin.take();
    let writer = async move {
        if let Some(w) = input.as_mut() {
            // The script may exit before reading all of stdin; that is not an error.
            let _ = w.write_all(&stdin).await;
            let _ = w.shutdown().await;
        }
        drop(input);
    };
    let waited = async {
        let (_, out) = tokio::join!(writer, child.wait_with_output());
        out
    };
    tokio::pin!(waited);
    tokio::select! {
        out = &mut waited => match out {
            Ok(out) => Ok(ExecOutput {
                exit_code: out.status.code().and_then(|c| u32::try_from(c).ok()),
                signal: std::os::unix::process::ExitStatusExt::signal(&out.status)
                    .map(super::signal_name),
                stdout: out.stdout,
                stderr: out.stderr,
            }),
            Err(e) => Err(TransportError::Other(format!("local command failed: {e}"))),
        },
        _ = tokio::time::sleep(timeout) => {
            // Kill the process group we started (its leader, our child, is still
            // unreaped here, so the group id cannot have been reused), then reap it.
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 1) {
                // SAFETY: kill(2) with a negative pid signals exactly that one group.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = waited.await;
            Err(TransportError::Timeout(timeout.as_secs()))
        }
    }
}

async fn exec(req: ExecRequest, password: Option<&Secret>) -> Result<ExecOutput, TransportError> {
    let w = shell_command(&req.become_, password);
    let mut input = w.prefix;
    input.extend_from_slice(req.script.as_bytes());
    let out = run(w.command, input, req.timeout).await?;
    super::check_sudo(out, &req.become_, password)
}

async fn upload(
    local: &Path,
    remote: &str,
    mode: u32,
    become_: &Become,
    password: Option<&Secret>,
) -> Result<(), TransportError> {
    let data = tokio::fs::read(local)
        .await
        .map_err(|e| TransportError::Other(format!("cannot read {}: {e}", local.display())))?;
    let w = upload_command(remote, mode, become_, password);
    let mut input = w.prefix;
    input.extend_from_slice(&data);
    let out = run(w.command, input, std::time::Duration::from_secs(600)).await?;
    let out = super::check_sudo(out, become_, password)?;
    if out.exit_code == Some(0) {
        Ok(())
    } else {
        Err(TransportError::Other(format!(
            "upload to {remote} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl Transport for Local {
    fn exec(&self, req: ExecRequest) -> BoxFuture<'_, Result<ExecOutput, TransportError>> {
        Box::pin(exec(req, None))
    }

    fn upload<'a>(
        &'a self,
        local: &'a Path,
        remote: &'a str,
        mode: u32,
        become_: &'a Become,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(upload(local, remote, mode, become_, None))
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

impl Transport for LocalSudo {
    fn exec(&self, req: ExecRequest) -> BoxFuture<'_, Result<ExecOutput, TransportError>> {
        Box::pin(exec(req, Some(&self.0)))
    }

    fn upload<'a>(
        &'a self,
        local: &'a Path,
        remote: &'a str,
        mode: u32,
        become_: &'a Become,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(upload(local, remote, mode, become_, Some(&self.0)))
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn req(script: &str, secs: u64) -> ExecRequest {
        ExecRequest {
            script: script.into(),
            become_: Become::No,
            timeout: Duration::from_secs(secs),
        }
    }

    #[tokio::test]
    async fn runs_scripts_from_stdin() {
        let out = Local
            .exec(req("echo hi; echo err >&2; exit 3", 10))
            .await
            .unwrap();
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.exit_code, Some(3));
    }

    #[tokio::test]
    async fn kills_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        let script = format!("sleep 5; touch {}", marker.display());
        let started = std::time::Instant::now();
        let e = Local.exec(req(&script, 1)).await.unwrap_err();
        assert_eq!(e, TransportError::Timeout(1));
        assert!(started.elapsed() < Duration::from_secs(3));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!marker.exists(), "the timed-out script kept running");
    }

    #[tokio::test]
    async fn uploads_atomically_with_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"payload").unwrap();
        let dest = dir.path().join("sub/dest");
        Local
            .upload(&src, dest.to_str().unwrap(), 0o640, &Become::No)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"payload");
        assert_eq!(
            std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let leftovers: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temp file left behind");
    }
}
