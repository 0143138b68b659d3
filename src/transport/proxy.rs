//! ProxyCommand: a child process whose stdin and stdout carry the SSH connection, as
//! OpenSSH runs it (`exec COMMAND` through /bin/sh). It starts in a session of its own,
//! so it has no controlling terminal and nothing it runs can prompt (an `ssh -W` inside
//! fails instead of asking about a host key or a password); its stdin is the
//! connection, never kubeforge's. What it writes on stderr is kept (the last few KiB)
//! for the message when the connection fails. When the connection ends, the stream is
//! dropped and the whole process group is killed.

use super::TransportError;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// The most of its stderr kept for messages.
const STDERR_KEPT: usize = 4096;

/// What a ProxyCommand wrote on stderr (its tail).
#[derive(Debug, Clone, Default)]
pub struct ProxyStderr(Arc<Mutex<Vec<u8>>>);

impl ProxyStderr {
    /// The text so far, trimmed.
    pub fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default()
    }
}

/// The connection through a ProxyCommand.
pub struct ProxyStream {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl ProxyStream {
    /// Starts `command` (tokens already expanded) with `sh -c "exec COMMAND"`.
    pub fn spawn(command: &str) -> Result<(ProxyStream, ProxyStderr), TransportError> {
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // ssh inside must never ask: no terminal (below) and no askpass program.
            .env("SSH_ASKPASS_REQUIRE", "never")
            .kill_on_drop(true);
        // SAFETY: setsid is async-signal-safe and touches only the new process.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| {
            TransportError::Unreachable(format!("cannot start ProxyCommand '{command}': {e}"))
        })?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(TransportError::Unreachable(format!(
                "ProxyCommand '{command}': no pipes to it"
            )));
        };
        let kept = ProxyStderr::default();
        let sink = kept.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut b) = sink.0.lock() {
                    b.extend_from_slice(&buf[..n]);
                    let over = b.len().saturating_sub(STDERR_KEPT);
                    b.drain(..over);
                }
            }
        });
        Ok((
            ProxyStream {
                child,
                stdin,
                stdout,
            },
            kept,
        ))
    }
}

impl Drop for ProxyStream {
    fn drop(&mut self) {
        // The child leads its own session and process group; while it is not reaped its
        // id cannot be reused, so this signals exactly what it started.
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            if pid > 1 {
                // SAFETY: kill(2) on a process group we created.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
        }
        let _ = self.child.start_kill();
    }
}

impl AsyncRead for ProxyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for ProxyStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn the_command_carries_bytes_both_ways_and_dies_with_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        // `cat` echoes the connection back; its pid is recorded; stdin is not a tty.
        let cmd = format!(
            "sh -c 'echo $$ > {}; [ -t 0 ] && echo tty >&2; echo started >&2; exec cat'",
            pidfile.display()
        );
        let (mut s, stderr) = ProxyStream::spawn(&cmd).unwrap();
        s.write_all(b"hello\n").await.unwrap();
        let mut buf = [0u8; 6];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello\n");
        for _ in 0..100 {
            if !stderr.text().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(stderr.text(), "started");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // It has no controlling terminal: it leads a session of its own.
        // SAFETY: getsid only reads.
        assert_eq!(unsafe { libc::getsid(pid) }, pid);
        drop(s);
        let mut gone = false;
        for _ in 0..200 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting to be reaped.
            if stat.is_empty() || stat.split_whitespace().nth(2) == Some("Z") {
                gone = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(gone, "the ProxyCommand outlived its connection");
    }

    #[tokio::test]
    async fn a_command_that_exits_ends_the_stream_and_leaves_its_words() {
        let (mut s, stderr) =
            ProxyStream::spawn("sh -c 'echo no route to host >&2; exit 1'").unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        assert!(buf.is_empty());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(stderr.text(), "no route to host");
    }
}
