//! External commands with a deadline: stdin closed, output captured, killed when late.

use super::error::LabError;
use std::ffi::OsStr;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished command printed and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// True when it exited 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// The command line as a person would type it (for messages).
pub fn shown<S: AsRef<OsStr>>(program: &str, args: &[S]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        s.push_str(&a.as_ref().to_string_lossy());
    }
    s
}

/// Runs `program args` with stdin from /dev/null and `LC_ALL=C`; kills it after `timeout`.
/// Any exit status is returned (see [`run_ok`] for "must succeed").
pub fn run<S: AsRef<OsStr>>(
    program: &str,
    args: &[S],
    timeout: Duration,
) -> Result<Output, LabError> {
    let line = shown(program, args);
    let mut child = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Command {
            command: line.clone(),
            code: "could not start".into(),
            stderr: e.to_string(),
        })?;
    let out = child.stdout.take().map(reader);
    let err = child.stderr.take().map(reader);
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => {
                return Err(LabError::Command {
                    command: line,
                    code: "wait failed".into(),
                    stderr: e.to_string(),
                })
            }
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LabError::Timeout {
                command: line,
                secs: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let join = |h: Option<std::thread::JoinHandle<String>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    Ok(Output {
        code: status.code(),
        stdout: join(out),
        stderr: join(err),
    })
}

/// Runs a command that must exit 0; otherwise an error with the end of its stderr.
pub fn run_ok<S: AsRef<OsStr>>(
    program: &str,
    args: &[S],
    timeout: Duration,
) -> Result<Output, LabError> {
    let o = run(program, args, timeout)?;
    if o.ok() {
        return Ok(o);
    }
    let lines: Vec<&str> = o.stderr.lines().collect();
    let from = lines.len().saturating_sub(15);
    Err(LabError::Command {
        command: shown(program, args),
        code: o
            .code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "a signal".into()),
        stderr: lines[from..].join("\n"),
    })
}

fn reader<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// The usual deadline for a quick command (ip, sysctl, ssh-keygen).
pub const QUICK: Duration = Duration::from_secs(20);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_status() {
        let o = run("sh", &["-c", "echo out; echo err >&2; exit 3"], QUICK).unwrap();
        assert_eq!(o.code, Some(3));
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "err\n");
        let e = run_ok("sh", &["-c", "echo bad >&2; exit 1"], QUICK).unwrap_err();
        assert_eq!(
            e.to_string(),
            "sh -c echo bad >&2; exit 1: exited with 1: bad"
        );
    }

    #[test]
    fn deadline_kills() {
        let t = Instant::now();
        let e = run("sleep", &["5"], Duration::from_millis(200)).unwrap_err();
        assert!(matches!(e, LabError::Timeout { .. }), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn stdin_is_closed() {
        let o = run("cat", &[] as &[&str], QUICK).unwrap();
        assert!(o.ok());
        assert_eq!(o.stdout, "");
    }
}
