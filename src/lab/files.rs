//! `--files-repo DIR`: DIR served over HTTP on the lab bridge (port 8080), for
//! kubeforge's offline `files_repo`. The server is `python3 -m http.server`, started in
//! its own session and recorded by pid; `lab down` stops that pid after checking it is
//! still that server.

use super::error::LabError;
use super::record::Server;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The port the files repository is served on (bridge address only).
pub const PORT: u16 = 8080;

/// True when `pid` is alive and its command line holds `marker` and `bind`.
pub fn is_server(s: &Server) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{}/cmdline", s.pid)) else {
        return false;
    };
    let text = String::from_utf8_lossy(&raw).replace('\0', " ");
    text.contains(&s.marker) && text.contains(&s.dir.display().to_string())
}

/// Starts the server for `dir` on `bind`:8080, its output to `log`.
pub fn start(dir: &Path, bind: Ipv4Addr, log: &Path) -> Result<Server, LabError> {
    if !dir.is_dir() {
        return Err(LabError::Usage(format!(
            "--files-repo {}: not a directory",
            dir.display()
        )));
    }
    let dir = dir.canonicalize().map_err(LabError::io("resolving", dir))?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(LabError::io("opening", log))?;
    let err = out.try_clone().map_err(LabError::io("opening", log))?;
    let child = Command::new("setsid")
        .args([
            "python3",
            "-m",
            "http.server",
            &PORT.to_string(),
            "--bind",
            &bind.to_string(),
            "--directory",
        ])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .map_err(|e| LabError::Host {
            host: "files server".into(),
            message: format!("cannot start python3 -m http.server: {e}"),
        })?;
    let server = Server {
        pid: child.id(),
        marker: "http.server".into(),
        url: format!("http://{bind}:{PORT}"),
        dir,
    };
    drop(child);
    let start = Instant::now();
    let addr = SocketAddr::from((bind, PORT));
    while start.elapsed() < Duration::from_secs(10) {
        if is_server(&server)
            && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop(&server);
    let text = std::fs::read_to_string(log).unwrap_or_default();
    Err(LabError::Host {
        host: "files server".into(),
        message: format!(
            "python3 -m http.server did not answer on {addr} within 10 s; its log:\n{text}"
        ),
    })
}

/// Stops the server (only when its pid is still that server).
pub fn stop(s: &Server) {
    if !is_server(s) {
        return;
    }
    if let Ok(p) = i32::try_from(s.pid) {
        // SAFETY: kill(2) on a pid just checked to be our server; no memory is shared.
        unsafe {
            libc::kill(p, libc::SIGTERM);
        }
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) && is_server(s) {
        std::thread::sleep(Duration::from_millis(50));
    }
}
