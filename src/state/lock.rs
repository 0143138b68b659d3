//! One run at a time per inventory: an exclusive lock file beside the record
//! (`.kubeforge/lock`: pid, machine, start time, operation). A second run fails fast
//! naming the holder. A lock left by a process that no longer exists (killed run) is
//! reported and taken over, never silently broken; a lock from another machine is never
//! broken (kubeforge cannot tell whether that run is alive).

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Machine name.
    pub machine: String,
    /// Start (seconds since the epoch).
    pub started_at: u64,
    /// The operation (install, reset, scale...).
    pub operation: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let ago = now.saturating_sub(self.started_at);
        let at = i64::try_from(self.started_at)
            .ok()
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .map(|t| {
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            })
            .unwrap_or_else(|| format!("{} s after the epoch", self.started_at));
        write!(
            f,
            "{} (pid {} on {}, started {at}, {ago} s ago)",
            self.operation, self.pid, self.machine
        )
    }
}

/// The lock cannot be taken.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockHeld {
    /// Another run holds it.
    #[error("another kubeforge run holds {path}: {holder}")]
    #[diagnostic(
        code(locked),
        help("wait for it to finish; if that run is gone (another machine, a crash), check and delete {path}")
    )]
    Held {
        /// The lock file.
        path: String,
        /// Who.
        holder: Holder,
    },
    /// The lock file cannot be created or read.
    #[error("cannot take the lock {path}: {reason}")]
    #[diagnostic(code(lock_error), help("check the inventory directory's permissions"))]
    Io {
        /// The lock file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// A held lock; released (file removed) when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    /// Set when a stale lock was taken over: what it said (for the operator).
    pub took_over: Option<Holder>,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn machine() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn alive(pid: u32) -> bool {
    // Signal 0 checks existence; EPERM means it exists under another user.
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 sends nothing; it only checks the pid.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Takes the lock of the inventory directory for `operation`.
pub fn acquire(inventory_dir: &Path, operation: &str) -> Result<Lock, LockHeld> {
    let dir = super::dir_for(inventory_dir);
    let path = dir.join("lock");
    let shown = crate::diagnostic::display_path(&path);
    let io = |e: std::io::Error| LockHeld::Io {
        path: shown.clone(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let me = Holder {
        pid: std::process::id(),
        machine: machine(),
        started_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        operation: operation.to_string(),
    };
    let text = serde_json::to_string(&me).map_err(|e| io(std::io::Error::other(e)))?;
    let mut took_over = None;
    // Two attempts: the second after removing a stale lock.
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(text.as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                return Ok(Lock { path, took_over });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let held = std::fs::read_to_string(&path).unwrap_or_default();
                let holder: Holder = match serde_json::from_str(&held) {
                    Ok(h) => h,
                    Err(_) => {
                        return Err(LockHeld::Io {
                            path: shown.clone(),
                            reason: format!(
                                "it exists but does not say who holds it ({:?}); delete it if no kubeforge run is active",
                                held.chars().take(80).collect::<String>()
                            ),
                        })
                    }
                };
                if holder.machine == me.machine && !alive(holder.pid) && took_over.is_none() {
                    std::fs::remove_file(&path).map_err(io)?;
                    took_over = Some(holder);
                    continue;
                }
                return Err(LockHeld::Held {
                    path: shown.clone(),
                    holder,
                });
            }
            Err(e) => return Err(io(e)),
        }
    }
    Err(LockHeld::Io {
        path: shown,
        reason: "another run took it at the same moment".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_taker_is_refused_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "install").unwrap();
        let e = acquire(dir.path(), "reset").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("install"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        assert!(acquire(dir.path(), "reset").is_ok(), "released on drop");
    }

    #[test]
    fn stale_lock_of_a_dead_process_is_taken_over_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        // A process that has exited: its pid no longer exists.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let stale = Holder {
            pid,
            machine: machine(),
            started_at: 1,
            operation: "install".into(),
        };
        std::fs::create_dir_all(super::super::dir_for(dir.path())).unwrap();
        std::fs::write(
            super::super::dir_for(dir.path()).join("lock"),
            serde_json::to_string(&stale).unwrap(),
        )
        .unwrap();
        let lock = acquire(dir.path(), "reset").unwrap();
        assert_eq!(lock.took_over, Some(stale));
    }

    #[test]
    fn a_lock_from_another_machine_is_never_broken() {
        let dir = tempfile::tempdir().unwrap();
        let other = Holder {
            pid: 1,
            machine: "elsewhere.example".into(),
            started_at: 1,
            operation: "upgrade".into(),
        };
        std::fs::create_dir_all(super::super::dir_for(dir.path())).unwrap();
        std::fs::write(
            super::super::dir_for(dir.path()).join("lock"),
            serde_json::to_string(&other).unwrap(),
        )
        .unwrap();
        let e = acquire(dir.path(), "reset").unwrap_err();
        assert!(e.to_string().contains("elsewhere.example"), "{e}");
    }
}
