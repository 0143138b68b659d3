//! The lab's SSH: its key pair, its known_hosts, waiting for hosts to answer and running
//! commands on them, through kubeforge's own transport (russh) with strict host key
//! checking against the lab's known_hosts.

use super::error::LabError;
use super::exec;
use crate::transport::dial::Dialer;
use crate::transport::known_hosts::KnownHosts;
use crate::transport::ssh::{connect, SshOptions};
use crate::transport::{Become, ExecOutput, ExecRequest, Transport};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Makes the lab's ed25519 key pair (`DIR/id_ed25519`) when missing; returns the public
/// key line.
pub fn ensure_key(key: &Path) -> Result<String, LabError> {
    let public = key.with_extension("pub");
    if !key.exists() || !public.exists() {
        let _ = std::fs::remove_file(key);
        let _ = std::fs::remove_file(&public);
        exec::run_ok(
            "ssh-keygen",
            &[
                "-q".as_ref(),
                "-t".as_ref(),
                "ed25519".as_ref(),
                "-N".as_ref(),
                "".as_ref(),
                "-C".as_ref(),
                "kubeforge-lab".as_ref(),
                "-f".as_ref(),
                key.as_os_str(),
            ],
            exec::QUICK,
        )?;
    }
    std::fs::read_to_string(&public).map_err(LabError::io("reading", public))
}

/// A host's name and its time to answer SSH, or why it did not.
pub type Readiness = (String, Result<Duration, String>);

/// Where and how to reach one host.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host name (messages).
    pub name: String,
    /// IPv4 address.
    pub address: String,
}

fn options(key: &Path, known_hosts: &Path, connect_timeout: Duration) -> SshOptions {
    let mut o = SshOptions::new("root", 22);
    o.key_files = vec![key.to_path_buf()];
    o.identities_only = true;
    o.known_hosts = KnownHosts::new(vec![known_hosts.to_path_buf()]);
    o.accept_new_host_keys = false;
    o.connect_timeout = connect_timeout;
    o
}

fn runtime() -> Result<tokio::runtime::Runtime, LabError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(LabError::io("starting the runtime", PathBuf::from("tokio")))
}

/// Waits until every target answers `true` over SSH (at most `timeout` each, all at
/// once). `alive(name)` says whether the host's nspawn still runs (a dead one fails at
/// once). Returns each host's time to answer.
pub fn wait_ready(
    targets: &[Target],
    key: &Path,
    known_hosts: &Path,
    timeout: Duration,
    alive: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Vec<Readiness>, LabError> {
    let rt = runtime()?;
    let dialer = Dialer::new(16, 1);
    let opts = options(key, known_hosts, Duration::from_secs(3));
    let out = rt.block_on(async {
        let waits = targets.iter().map(|t| {
            let (dialer, opts) = (&dialer, &opts);
            async move {
                let start = Instant::now();
                let mut last;
                loop {
                    match connect(&t.address, opts, dialer).await {
                        Ok(conn) => {
                            let r = conn
                                .exec(ExecRequest {
                                    script: "true".into(),
                                    become_: Become::No,
                                    timeout: Duration::from_secs(10),
                                })
                                .await;
                            conn.close().await;
                            match r {
                                Ok(o) if o.exit_code == Some(0) => {
                                    return (t.name.clone(), Ok(start.elapsed()))
                                }
                                Ok(o) => last = format!("`true` exited {:?}", o.exit_code),
                                Err(e) => last = e.to_string(),
                            }
                        }
                        Err(e) => {
                            last = e.to_string();
                            // a wrong host key never gets better by waiting
                            if matches!(e, crate::transport::TransportError::HostKey(_)) {
                                return (t.name.clone(), Err(last));
                            }
                        }
                    }
                    if !alive(&t.name) {
                        return (
                            t.name.clone(),
                            Err(format!("systemd-nspawn exited ({last})")),
                        );
                    }
                    if start.elapsed() >= timeout {
                        return (
                            t.name.clone(),
                            Err(format!("no SSH within {} s: {last}", timeout.as_secs())),
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
        futures_join(waits).await
    });
    Ok(out)
}

async fn futures_join<F: std::future::Future>(fs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = fs.collect();
    let mut out = Vec::with_capacity(handles.len());
    // the futures borrow local state: run them concurrently on this task
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = handles.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_some() {
                continue;
            }
            match f.as_mut().poll(cx) {
                std::task::Poll::Ready(v) => done[i] = Some(v),
                std::task::Poll::Pending => pending = true,
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(done.into_iter().flatten());
    out
}

/// Runs `script` (a shell command line) on one host as root; its output and status.
pub fn run(
    target: &Target,
    key: &Path,
    known_hosts: &Path,
    script: &str,
    timeout: Duration,
) -> Result<ExecOutput, LabError> {
    let rt = runtime()?;
    let dialer = Dialer::new(1, 1);
    let opts = options(key, known_hosts, Duration::from_secs(10));
    rt.block_on(async {
        let conn = connect(&target.address, &opts, &dialer)
            .await
            .map_err(|e| LabError::Host {
                host: target.name.clone(),
                message: e.to_string(),
            })?;
        let r = conn
            .exec(ExecRequest {
                script: script.to_string(),
                become_: Become::No,
                timeout,
            })
            .await
            .map_err(|e| LabError::Host {
                host: target.name.clone(),
                message: e.to_string(),
            });
        conn.close().await;
        r
    })
}
