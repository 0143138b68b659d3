//! Commands over SSH channels. A host's requests go one after another through one
//! long-lived remote shell (one SSH session per host for the whole run: the login shell
//! and its start-up files are paid once, and a request costs no channel set-up round
//! trips); a request that comes while that shell is busy gets a channel of its own.
//!
//! The remote loop reads a header (request id, payload length, command: one line each),
//! pipes exactly that many bytes into the command, and ends the command's stdout and
//! stderr with a line naming the request (stdout's also carries the exit status).

use super::{ExecOutput, TransportError};
use rand::Rng;
use russh::client::{Handle, Handler, Msg};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::OwnedSemaphorePermit;

/// What a command reads on stdin.
pub(super) enum Input<'a> {
    /// These bytes.
    Bytes(&'a [u8]),
    /// These bytes (the become password, see `as_root`), then the contents of this file.
    File(&'a [u8], &'a Path),
}

impl Input<'_> {
    /// The same input again (it is only borrowed).
    pub(super) fn again(&self) -> Input<'_> {
        match self {
            Input::Bytes(b) => Input::Bytes(b),
            Input::File(pre, p) => Input::File(pre, p),
        }
    }
}

/// The remote loop. The command runs in a subshell (its `exec` replaces only that), and
/// whatever of its payload it leaves unread is drained so the next header starts clean.
const LOOP: &str = r#"while IFS= read -r kf_id && IFS= read -r kf_n && IFS= read -r kf_c; do head -c "$kf_n" | { (eval "$kf_c"); kf_rc=$?; cat >/dev/null; exit $kf_rc; }; kf_rc=$?; printf '\n%s %s\n' "$kf_id" "$kf_rc"; printf '\n%s\n' "$kf_id" >&2; done"#;

/// Why a request on the shell did not give a result.
enum ShellError {
    /// The shell had ended before the request was sent: nothing ran.
    Gone,
    /// Anything after the request was sent.
    Failed(TransportError),
}

/// A host's long-lived remote shell.
pub(super) struct Shell {
    read: ChannelReadHalf,
    write: ChannelWriteHalf<Msg>,
    _permit: OwnedSemaphorePermit,
}

impl Shell {
    /// Starts the loop on a new session channel (which keeps `permit` while it lives).
    pub(super) async fn open<H: Handler>(
        handle: &Handle<H>,
        permit: OwnedSemaphorePermit,
        name: &str,
    ) -> Result<Shell, TransportError> {
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| TransportError::Unreachable(format!("{name}: {e}")))?;
        channel
            .exec(true, format!("exec sh -c {}", crate::shell::quote(LOOP)))
            .await
            .map_err(|e| TransportError::Unreachable(format!("{name}: {e}")))?;
        let (read, write) = channel.split();
        Ok(Shell {
            read,
            write,
            _permit: permit,
        })
    }

    /// True while the shell has not ended (checked between requests; output a request
    /// left behind, from a process it put in the background, is dropped).
    async fn alive(&mut self) -> bool {
        loop {
            match tokio::time::timeout(Duration::ZERO, self.read.wait()).await {
                Err(_) => return true,
                Ok(None | Some(ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::Failure)) => {
                    return false
                }
                Ok(Some(ChannelMsg::ExitStatus { .. } | ChannelMsg::ExitSignal { .. })) => {
                    return false
                }
                Ok(Some(_)) => {}
            }
        }
    }

    /// Runs `command` with `input` on stdin. On an error the shell must be dropped.
    async fn run(
        &mut self,
        command: &str,
        input: Input<'_>,
        timeout: Duration,
        name: &str,
    ) -> Result<ExecOutput, ShellError> {
        if !self.alive().await {
            return Err(ShellError::Gone);
        }
        let len = match &input {
            Input::Bytes(b) => b.len() as u64,
            Input::File(pre, p) => {
                pre.len() as u64
                    + tokio::fs::metadata(p)
                        .await
                        .map_err(|e| {
                            ShellError::Failed(TransportError::Other(format!(
                                "cannot read {}: {e}",
                                p.display()
                            )))
                        })?
                        .len()
            }
        };
        let id = format!("kf-{:032x}", rand::rng().random::<u128>());
        let Shell { read, write, .. } = self;
        let feed = async {
            write
                .data_bytes(format!("{id}\n{len}\n{command}\n").into_bytes())
                .await
                .map_err(|e| TransportError::Unreachable(format!("{name}: {e}")))?;
            send_exactly(write, input, len).await
        };
        let drain = collect(read, &id);
        let body = async {
            let (fed, got) = tokio::join!(feed, drain);
            fed?;
            got.map_err(|why| TransportError::Unreachable(format!("{name}: {why}")))
        };
        match tokio::time::timeout(timeout, body).await {
            Ok(r) => r.map_err(ShellError::Failed),
            Err(_) => {
                // The whole shell goes: its command is killed with it (steps also carry
                // their own `timeout`).
                let _ = self.write.signal(Sig::KILL).await;
                let _ = self.write.close().await;
                Err(ShellError::Failed(TransportError::Timeout(
                    timeout.as_secs(),
                )))
            }
        }
    }
}

/// Sends exactly `len` bytes of `input` (a file that shrank meanwhile is an error: the
/// remote side waits for the bytes promised).
async fn send_exactly(
    write: &ChannelWriteHalf<Msg>,
    input: Input<'_>,
    len: u64,
) -> Result<(), TransportError> {
    let sent = |e: russh::Error| TransportError::Unreachable(format!("sending input: {e}"));
    match input {
        Input::Bytes(b) => send_small(write, b).await.map_err(sent)?,
        Input::File(pre, path) => {
            let mut f = tokio::fs::File::open(path).await.map_err(|e| {
                TransportError::Other(format!("cannot read {}: {e}", path.display()))
            })?;
            send_small(write, pre).await.map_err(sent)?;
            let mut left = len.saturating_sub(pre.len() as u64);
            let mut buf = vec![0u8; 64 * 1024];
            while left > 0 {
                let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
                let n = f.read(&mut buf[..want]).await.map_err(|e| {
                    TransportError::Other(format!("cannot read {}: {e}", path.display()))
                })?;
                if n == 0 {
                    return Err(TransportError::Other(format!(
                        "{} shrank while it was being sent",
                        path.display()
                    )));
                }
                write.data_bytes(buf[..n].to_vec()).await.map_err(sent)?;
                left -= n as u64;
            }
        }
    }
    Ok(())
}

/// Bytes per message to the connection: russh keeps its send buffer as large as the
/// largest message it was given, for the life of the connection (a thousand hosts
/// holding a 24 KiB script each is 24 MiB that stays).
const PIECE: usize = 4096;

/// Sends `data` in pieces of at most PIECE bytes, letting the connection write each.
async fn send_small(write: &ChannelWriteHalf<Msg>, data: &[u8]) -> Result<(), russh::Error> {
    for piece in data.chunks(PIECE) {
        write.data_bytes(piece.to_vec()).await?;
        tokio::task::yield_now().await;
    }
    Ok(())
}

/// Reads stdout and stderr up to the request's end lines.
async fn collect(read: &mut ChannelReadHalf, id: &str) -> Result<ExecOutput, String> {
    let mut out = ExecOutput::default();
    let (mut out_end, mut err_end) = (None, None);
    while out_end.is_none() || err_end.is_none() {
        match read.wait().await {
            Some(ChannelMsg::Data { data }) if out_end.is_none() => {
                let from = out.stdout.len().saturating_sub(id.len() + 16);
                out.stdout.extend_from_slice(&data);
                out_end = status_line(&out.stdout, from, id);
            }
            Some(ChannelMsg::ExtendedData { data, ext: 1 }) if err_end.is_none() => {
                let from = out.stderr.len().saturating_sub(id.len() + 2);
                out.stderr.extend_from_slice(&data);
                err_end = end_line(&out.stderr, from, id);
            }
            None | Some(ChannelMsg::Eof | ChannelMsg::Close) => {
                return Err("the remote shell ended before the command finished".into())
            }
            Some(ChannelMsg::Failure) => {
                return Err("the server refused to start the remote shell".into())
            }
            Some(_) => {}
        }
    }
    if let (Some((pos, rc)), Some(epos)) = (out_end, err_end) {
        out.stdout.truncate(pos);
        out.stderr.truncate(epos);
        out.exit_code = Some(rc);
    }
    Ok(out)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Where stdout's end line (`\n<id> <status>\n`) starts, and the status.
fn status_line(buf: &[u8], from: usize, id: &str) -> Option<(usize, u32)> {
    let mark = format!("\n{id} ");
    let pos = find(buf, from, mark.as_bytes())?;
    let rest = buf.get(pos + mark.len()..)?;
    let nl = rest.iter().position(|b| *b == b'\n')?;
    let rc = std::str::from_utf8(rest.get(..nl)?).ok()?.parse().ok()?;
    Some((pos, rc))
}

/// Where stderr's end line (`\n<id>\n`) starts.
fn end_line(buf: &[u8], from: usize, id: &str) -> Option<usize> {
    find(buf, from, format!("\n{id}\n").as_bytes())
}

/// Runs a request on the host's shell (opened on first use, reopened once if it had
/// ended); None when the shell is busy with another request.
pub(super) async fn in_shell<H: Handler>(
    slot: &tokio::sync::Mutex<Option<Shell>>,
    handle: &Handle<H>,
    permits: &std::sync::Arc<tokio::sync::Semaphore>,
    req: (&str, Input<'_>, Duration),
    name: &str,
) -> Option<Result<ExecOutput, TransportError>> {
    let mut shell = slot.try_lock().ok()?;
    let (command, input, timeout) = req;
    for _ in 0..2 {
        if shell.is_none() {
            let permit = match permits.clone().acquire_owned().await {
                Ok(p) => p,
                Err(_) => return Some(Err(TransportError::Other("transport closed".into()))),
            };
            match Shell::open(handle, permit, name).await {
                Ok(s) => *shell = Some(s),
                Err(e) => return Some(Err(e)),
            }
        }
        let s = shell.as_mut()?;
        match s.run(command, input.again(), timeout, name).await {
            Ok(out) => return Some(Ok(out)),
            Err(ShellError::Gone) => *shell = None,
            Err(ShellError::Failed(e)) => {
                *shell = None;
                let e = match e {
                    TransportError::Unreachable(_) if !closing(handle).await => {
                        TransportError::Other(format!(
                            "{name}: the remote shell ended before the command finished"
                        ))
                    }
                    TransportError::Unreachable(_) => {
                        TransportError::Unreachable(format!("{name}: the connection dropped"))
                    }
                    other => other,
                };
                return Some(Err(e));
            }
        }
    }
    Some(Err(TransportError::Other(format!(
        "{name}: the remote shell ended twice before a command could start"
    ))))
}

/// True when the connection has closed or closes within a second: a shell's channel can
/// end a moment before its connection's task notices the connection went.
async fn closing<H: Handler>(handle: &Handle<H>) -> bool {
    for _ in 0..20 {
        if handle.is_closed() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.is_closed()
}

/// Runs a request on a session channel of its own.
pub(super) async fn once<H: Handler>(
    handle: &Handle<H>,
    permits: &tokio::sync::Semaphore,
    req: (&str, Input<'_>, Duration),
    name: &str,
) -> Result<ExecOutput, TransportError> {
    let (command, input, timeout) = req;
    let _permit = permits
        .acquire()
        .await
        .map_err(|_| TransportError::Other("transport closed".into()))?;
    let channel = handle
        .channel_open_session()
        .await
        .map_err(|e| TransportError::Unreachable(format!("{name}: {e}")))?;
    channel
        .exec(true, command)
        .await
        .map_err(|e| TransportError::Unreachable(format!("{name}: {e}")))?;
    let (mut read, write) = channel.split();
    let body = async {
        // Feed stdin while reading: an unread channel would stall the connection.
        let feed = async {
            match input {
                Input::Bytes(b) => send_small(&write, b).await,
                Input::File(pre, path) => match tokio::fs::File::open(path).await {
                    Ok(mut f) => {
                        send_small(&write, pre).await?;
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match f.read(&mut buf).await {
                                Ok(n) => n,
                                Err(_) => break Ok(()),
                            };
                            if n == 0 {
                                break Ok(());
                            }
                            write.data_bytes(buf[..n].to_vec()).await?;
                        }
                    }
                    Err(_) => Ok(()),
                },
            }?;
            write.eof().await
        };
        let drain = async {
            let mut out = ExecOutput::default();
            while let Some(msg) = read.wait().await {
                match msg {
                    ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        out.stderr.extend_from_slice(&data)
                    }
                    ChannelMsg::ExitStatus { exit_status } => out.exit_code = Some(exit_status),
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        out.signal = Some(format!("SIG{signal_name:?}"))
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            out
        };
        let (fed, out) = tokio::join!(feed, drain);
        if out.exit_code.is_none() && (fed.is_err() || handle.is_closed()) {
            return Err(TransportError::Unreachable(format!(
                "{name}: the connection dropped"
            )));
        }
        Ok(out)
    };
    match tokio::time::timeout(timeout, body).await {
        Ok(r) => r,
        Err(_) => {
            // Kill the remote process (servers that honour signal requests) and close the
            // channel; remote steps also carry their own `timeout`.
            let _ = write.signal(Sig::KILL).await;
            let _ = write.close().await;
            drop(read);
            Err(TransportError::Timeout(timeout.as_secs()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_lines_are_found_across_chunks_and_cut_off() {
        let id = "kf-00ff";
        let buf = b"hello\nworld\nkf-00ff 3\n";
        assert_eq!(status_line(buf, 0, id), Some((11, 3)));
        // Not complete yet: the status has no newline.
        assert_eq!(status_line(b"x\nkf-00ff 12", 0, id), None);
        assert_eq!(status_line(b"x\nkf-00ff 12\n", 0, id), Some((1, 12)));
        // Output without a final newline keeps every byte.
        assert_eq!(
            status_line(b"no newline\nkf-00ff 0\n", 0, id),
            Some((10, 0))
        );
        assert_eq!(end_line(b"err\n\nkf-00ff\n", 0, id), Some(4));
        assert_eq!(end_line(b"\nkf-00ff", 0, id), None);
    }

    #[test]
    fn the_loop_runs_requests_in_turn_with_their_status_and_streams() {
        // The remote loop itself, on this machine's sh: two requests, the first exits
        // early without reading all its payload, the second reads its payload.
        let first = "echo one; exit 3\necho never\n";
        let input = format!("r1\n{}\nsh -s\n{first}r2\n4\ncat\nabcd", first.len());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(LOOP)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(input.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout, "one\n\nr1 3\nabcd\nr2 0\n");
        assert_eq!(String::from_utf8(out.stderr).unwrap(), "\nr1\n\nr2\n");
        assert_eq!(status_line(stdout.as_bytes(), 0, "r1"), Some((4, 3)));
    }
}
