//! What every SSH connection of a run shares: the handshake queue (see `admission`;
//! the connect timeout does not count a host's wait in it) and the
//! connections to jump hosts, each carrying many hosts as direct-tcpip channels the way
//! OpenSSH's ControlMaster does, so a bastion sees a few connections instead of one per
//! host (its sshd refuses handshakes beyond MaxStartups, 10 by default).

use super::admission::{Admission, Outcome};
use super::greeting::Greeted;
use super::ssh::{open_jump, JumpHost, SshLink, SshOptions};
use super::{BoxFuture, TransportError};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Mutex as AsyncMutex;

/// The most handshakes in flight unless told otherwise.
pub const DEFAULT_MAX_HANDSHAKES: usize = 64;
/// Hosts carried by one connection to a jump host before another is opened: a bastion's
/// sshd relays all of a connection's channels in one process (one core, and an
/// open-file limit of 1024 under systemd), so a thousand hosts take 16 connections,
/// opened one at a time (far below its MaxStartups).
pub const DEFAULT_HOSTS_PER_JUMP_CONNECTION: usize = 64;

/// Shared by all connections of a run.
pub struct Dialer {
    handshakes: Arc<Admission>,
    hosts_per_jump: usize,
    jumps: Mutex<HashMap<JumpKey, JumpSlot>>,
    jump_connections: AtomicUsize,
    connected: AtomicUsize,
}

/// The connections to one jump host.
type JumpSlot = Arc<AsyncMutex<Vec<Arc<JumpConn>>>>;

#[derive(Clone, PartialEq, Eq, Hash)]
struct JumpKey {
    address: String,
    port: u16,
    user: String,
    key_files: Vec<PathBuf>,
    /// The jump host it is reached through (the same host by another path is another
    /// connection).
    via: Option<Box<JumpKey>>,
}

impl JumpKey {
    fn of(j: &JumpHost) -> JumpKey {
        JumpKey {
            address: j.address.clone(),
            port: j.port,
            user: j.user.clone(),
            key_files: j.key_files.clone(),
            via: j.via.as_deref().map(|v| Box::new(JumpKey::of(v))),
        }
    }
}

/// One connection to a jump host and the tunnels it carries now.
struct JumpConn {
    link: SshLink,
    tunnels: AtomicUsize,
    /// For a jump host behind another: the tunnel it goes through (kept open with it).
    _via: Option<Tunnel>,
}

/// A tunnel's hold on its jump connection: keeps it open, and counts against its share.
pub struct Tunnel {
    conn: Arc<JumpConn>,
}

impl Tunnel {
    /// The jump host, as errors name it.
    pub fn jump_name(&self) -> &str {
        &self.conn.link.name
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.conn.tunnels.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Dialer {
    /// A dialer with at most `max_handshakes` handshakes in flight and `hosts_per_jump`
    /// hosts per jump-host connection (both at least 1).
    pub fn new(max_handshakes: usize, hosts_per_jump: usize) -> Dialer {
        raise_open_file_limit();
        Dialer {
            handshakes: Arc::new(Admission::new(max_handshakes)),
            hosts_per_jump: hosts_per_jump.max(1),
            jumps: Mutex::new(HashMap::new()),
            jump_connections: AtomicUsize::new(0),
            connected: AtomicUsize::new(0),
        }
    }

    /// The most handshakes allowed in flight.
    pub fn max_handshakes(&self) -> usize {
        self.handshakes.ceiling()
    }

    /// Connections to jump hosts opened so far (re-established ones included).
    pub fn jump_connections(&self) -> usize {
        self.jump_connections.load(Ordering::SeqCst)
    }

    /// Runs the handshake `start` makes once the queue lets it start. From then on the
    /// host has `limit` to accept the connection and greet (signalled through the
    /// `Greeted` given to `start`), then up to LOGIN_LIMIT in all for key exchange and
    /// login. The wait for a place counts for neither.
    pub async fn bounded<T, F, S>(
        &self,
        limit: Duration,
        who: &str,
        start: S,
    ) -> Result<T, TransportError>
    where
        S: FnOnce(Greeted) -> F,
        F: Future<Output = Result<T, TransportError>>,
    {
        let slot = self
            .handshakes
            .enter()
            .await
            .ok_or_else(|| TransportError::Other("the connection queue was closed".into()))?;
        let greeted = Greeted::default();
        // Made and boxed only now: a thousand hosts waiting for a place each hold a small
        // future instead of a handshake's whole state (about 15 KiB).
        let mut handshake = Box::pin(start(greeted.clone()));
        let started = tokio::time::Instant::now();
        let first = tokio::time::timeout(limit, async {
            tokio::select! {
                r = &mut handshake => Some(r),
                () = greeted.wait() => None,
            }
        })
        .await;
        let r = match first {
            Ok(Some(r)) => Ok(r),
            Ok(None) => tokio::time::timeout(LOGIN_LIMIT.saturating_sub(started.elapsed()), handshake)
                .await
                .map_err(|_| {
                    format!(
                        "{who}: it answered, but key exchange and login did not finish within {} s",
                        LOGIN_LIMIT.as_secs()
                    )
                }),
            Err(_) => Err(format!(
                "{who}: no TCP connection and SSH greeting within {} s (--connect-timeout; time waiting for a handshake slot is not counted)",
                limit.as_secs()
            )),
        };
        match r {
            Ok(r) => {
                let outcome = match &r {
                    Ok(_) => Outcome::Took(started.elapsed()),
                    Err(_) => Outcome::Failed,
                };
                slot.done(outcome, limit);
                if r.is_ok()
                    && self.connected.fetch_add(1, Ordering::SeqCst) % TRIM_EVERY == TRIM_EVERY - 1
                {
                    return_free_memory();
                }
                r
            }
            Err(why) => {
                slot.done(Outcome::TimedOut, limit);
                Err(TransportError::Unreachable(why))
            }
        }
    }

    /// A direct-tcpip channel to `address:port` through `jump`, on a shared connection
    /// with room left (opened when none has; a lost one is replaced).
    pub async fn tunnel(
        &self,
        jump: &JumpHost,
        opts: &SshOptions,
        address: &str,
        port: u16,
    ) -> Result<(russh::ChannelStream<russh::client::Msg>, Tunnel), TransportError> {
        let slot = self.slot(jump);
        let mut retried = false;
        loop {
            let conn = {
                let mut conns = slot.lock().await;
                conns.retain(|c| !c.link.handle.is_closed());
                let room = conns
                    .iter()
                    .find(|c| c.tunnels.load(Ordering::SeqCst) < self.hosts_per_jump)
                    .cloned();
                let conn = match room {
                    Some(c) => c,
                    None => {
                        let (link, via) = open_jump(jump, opts, self).await?;
                        let c = Arc::new(JumpConn {
                            link,
                            tunnels: AtomicUsize::new(0),
                            _via: via,
                        });
                        self.jump_connections.fetch_add(1, Ordering::SeqCst);
                        conns.push(c.clone());
                        c
                    }
                };
                conn.tunnels.fetch_add(1, Ordering::SeqCst);
                conn
            };
            let lease = Tunnel { conn };
            match lease
                .conn
                .link
                .handle
                .channel_open_direct_tcpip(address, u32::from(port), "127.0.0.1", 0)
                .await
            {
                Ok(ch) => return Ok((ch.into_stream(), lease)),
                // The jump connection was lost since it was last used: open another once.
                Err(_) if lease.conn.link.handle.is_closed() && !retried => retried = true,
                Err(e) => {
                    let lost = lease.conn.link.handle.is_closed();
                    return Err(TransportError::Unreachable(format!(
                        "{address}:{port} through jump host {}: {}",
                        lease.jump_name(),
                        if lost {
                            format!("the connection to the jump host was lost ({e})")
                        } else {
                            format!("the jump host could not open a channel to it ({e})")
                        }
                    )));
                }
            }
        }
    }

    /// `tunnel`, boxed: a jump host behind another opens its own connection through
    /// this (the chain is as long as the ssh config makes it).
    pub fn tunnel_boxed<'a>(
        &'a self,
        jump: &'a JumpHost,
        opts: &'a SshOptions,
        address: &'a str,
        port: u16,
    ) -> BoxFuture<'a, Result<(russh::ChannelStream<russh::client::Msg>, Tunnel), TransportError>>
    {
        Box::pin(self.tunnel(jump, opts, address, port))
    }

    fn slot(&self, jump: &JumpHost) -> JumpSlot {
        let key = JumpKey::of(jump);
        match self.jumps.lock() {
            Ok(mut m) => m.entry(key).or_default().clone(),
            // A poisoned map only means another task panicked while inserting; a fresh
            // slot still works (it is just not shared).
            Err(_) => Arc::default(),
        }
    }
}

/// How long a host that greeted has, in all, to finish key exchange and login: sshd's own
/// default limit (LoginGraceTime), after which it drops the connection anyway.
const LOGIN_LIMIT: Duration = Duration::from_secs(120);

/// New connections between two returns of free heap memory to the system.
const TRIM_EVERY: usize = 32;

/// Gives the heap's free pages back to the system (glibc keeps them otherwise). While
/// connections pile up, each host's steps are rendered, sent and freed between them:
/// the holes left would stay in RSS (about 30 MiB at 1000 hosts).
fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Raises this process's soft limit on open files to its hard limit (as Go programs do):
/// a thousand hosts are a thousand sockets, past the usual soft limit of 1024.
fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A simulated handshake: `took` long, with `inflight` counting handshakes at once.
    async fn handshake(
        took: Duration,
        inflight: &AtomicUsize,
        peak: &AtomicUsize,
    ) -> Result<(), TransportError> {
        let now = inflight.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(took).await;
        inflight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn queued_hosts_are_not_timed_out_while_they_wait() {
        // 40 hosts, handshakes of 2 s, 4 at a time, a 3 s limit: the last host waits
        // 18 s in the queue, yet every host connects.
        let dialer = Arc::new(Dialer::new(4, 1));
        let inflight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..40 {
            let (d, inf, pk) = (dialer.clone(), inflight.clone(), peak.clone());
            set.spawn(async move {
                d.bounded(Duration::from_secs(3), &format!("h{i}"), |_| async {
                    handshake(Duration::from_secs(2), &inf, &pk).await
                })
                .await
            });
        }
        let mut ok = 0;
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
            ok += 1;
        }
        assert_eq!(ok, 40);
        assert_eq!(
            peak.load(Ordering::SeqCst),
            4,
            "more handshakes than allowed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_host_that_does_not_greet_in_time_is_unreachable() {
        let dialer = Dialer::new(2, 1);
        let (inf, pk) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let e = dialer
            .bounded(Duration::from_secs(3), "h1:22", |_| async {
                handshake(Duration::from_secs(5), &inf, &pk).await
            })
            .await
            .unwrap_err();
        assert!(e.is_unreachable(), "{e}");
        assert!(e.to_string().contains("h1:22"), "{e}");
        assert!(e.to_string().contains("greeting within 3 s"), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_host_that_greeted_may_take_longer_to_log_in() {
        let dialer = Dialer::new(2, 1);
        let (inf, pk) = (AtomicUsize::new(0), AtomicUsize::new(0));
        // Greets after 1 s, logs in after 8 s in all: slow, not unreachable.
        dialer
            .bounded(Duration::from_secs(3), "h1:22", |greeted| async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                greeted.now();
                handshake(Duration::from_secs(7), &inf, &pk).await
            })
            .await
            .unwrap();
        // One that never finishes is cut at the login limit.
        let e = dialer
            .bounded(Duration::from_secs(3), "h2:22", |greeted| async move {
                greeted.now();
                std::future::pending::<Result<(), TransportError>>().await
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("did not finish within 120 s"), "{e}");
    }
}
