//! The lab's own record of everything it made (bridge, rules, namespaces, veths, cgroups,
//! pids, NAT table, file server): `lab down` removes exactly what is written here, never
//! what merely looks like a lab by its name.
//!
//! Records live in the labs home (`/var/lib/kubeforge/labs`, or `KUBEFORGE_LAB_HOME`), one
//! `NAME.json` per lab, beside `NAME.lock` (held by every command that changes the lab).

use super::error::LabError;
use super::layout::Layout;
use super::names::{LabName, Subnet};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Where lab records live.
pub fn home() -> PathBuf {
    std::env::var_os("KUBEFORGE_LAB_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/kubeforge/labs"))
}

/// One lab, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabRecord {
    /// The lab's name.
    pub name: String,
    /// Its directory (key, inventory, hosts' overlays, logs).
    pub dir: PathBuf,
    /// Subnet number (10.214.S.0/24).
    pub subnet: u8,
    /// Layout of the inventory last written.
    pub layout: Layout,
    /// The bridge, once made.
    pub bridge: Option<String>,
    /// Policy-routing rule priority (= table) added for isolation, once added.
    pub rule: Option<u32>,
    /// --nat: what was set up for it.
    pub nat: Option<Nat>,
    /// --files-repo: the HTTP server.
    pub files_server: Option<Server>,
    /// The hosts, by number.
    pub hosts: Vec<HostRecord>,
    /// Hosts boot with a directory of their own at /var/lib/containerd.
    #[serde(default)]
    pub bind_containerd: bool,
}

/// Outbound NAT for a lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nat {
    /// The nftables table (family ip) holding the masquerade rule.
    pub nft_table: String,
    /// net.ipv4.ip_forward before the lab set it to 1 (restored by the last NAT lab down).
    pub ip_forward_before: String,
}

/// A server process the lab started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// Its pid.
    pub pid: u32,
    /// A word its command line holds (checked before it is signalled).
    pub marker: String,
    /// Its URL as the hosts see it.
    pub url: String,
    /// What it serves.
    pub dir: PathBuf,
}

/// One host, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    /// Host number K.
    pub index: usize,
    /// Name (inventory, hostname, machine).
    pub name: String,
    /// Network namespace, once made.
    pub netns: Option<String>,
    /// veth on the bridge, once made.
    pub veth: Option<String>,
    /// cgroup directories made for it.
    pub cgroups: Vec<PathBuf>,
    /// systemd-nspawn's pid while it runs.
    pub pid: Option<u32>,
    /// Hash of the nspawn command line it was booted with.
    pub flags: Option<String>,
}

impl LabRecord {
    /// A fresh record.
    pub fn new(name: &LabName, dir: PathBuf, subnet: Subnet, layout: Layout) -> LabRecord {
        LabRecord {
            name: name.as_str().to_string(),
            dir,
            subnet: subnet.0,
            layout,
            bridge: None,
            rule: None,
            nat: None,
            files_server: None,
            hosts: Vec::new(),
            bind_containerd: false,
        }
    }

    /// The record file of lab `name` under `home`.
    pub fn path(home: &Path, name: &str) -> PathBuf {
        home.join(format!("{name}.json"))
    }

    /// Reads lab `name`'s record; None when there is none.
    pub fn load(home: &Path, name: &str) -> Result<Option<LabRecord>, LabError> {
        let path = LabRecord::path(home, name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LabError::io("reading", &path)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| LabError::Record {
                path,
                message: e.to_string(),
            })
    }

    /// Every recorded lab, by name.
    pub fn all(home: &Path) -> Result<Vec<LabRecord>, LabError> {
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(home) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(LabError::io("listing", home)(e)),
        };
        let mut names: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        for n in names {
            if let Some(r) = LabRecord::load(home, &n)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Writes the record (atomically: temp file, fsync, rename).
    pub fn save(&self, home: &Path) -> Result<(), LabError> {
        let path = LabRecord::path(home, &self.name);
        let text = serde_json::to_string_pretty(self).map_err(|e| LabError::Record {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&path, format!("{text}\n").as_bytes(), 0o644)
    }

    /// Deletes the record.
    pub fn remove(home: &Path, name: &str) -> Result<(), LabError> {
        let path = LabRecord::path(home, name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(LabError::io("removing", path)(e)),
        }
    }

    /// Host K's record, made when missing.
    pub fn host_mut(&mut self, k: usize, name: &str) -> &mut HostRecord {
        let at = match self.hosts.iter().position(|h| h.index == k) {
            Some(i) => i,
            None => {
                self.hosts.push(HostRecord {
                    index: k,
                    name: name.to_string(),
                    netns: None,
                    veth: None,
                    cgroups: Vec::new(),
                    pid: None,
                    flags: None,
                });
                self.hosts.sort_by_key(|h| h.index);
                self.hosts.iter().position(|h| h.index == k).unwrap_or(0)
            }
        };
        &mut self.hosts[at]
    }

    /// The subnet.
    pub fn subnet(&self) -> Subnet {
        Subnet(self.subnet)
    }
}

/// The lowest subnet number no recorded lab uses and no address on this machine is in.
pub fn free_subnet(labs: &[LabRecord], machine_addrs: &str) -> Result<Subnet, LabError> {
    Subnet::RANGE
        .map(Subnet)
        .find(|s| {
            let prefix = format!("10.214.{}.", s.0);
            !labs.iter().any(|l| l.subnet == s.0) && !machine_addrs.contains(&prefix)
        })
        .ok_or_else(|| LabError::Usage("no free lab subnet left in 10.214.0.0/16".into()))
}

/// Writes `path` atomically when its content differs; true when it was written.
pub fn write_if_changed(path: &Path, content: &[u8], mode: u32) -> Result<bool, LabError> {
    if std::fs::read(path).ok().as_deref() == Some(content) {
        return Ok(false);
    }
    write_atomic(path, content, mode)?;
    Ok(true)
}

/// Writes `path` through a temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32) -> Result<(), LabError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(LabError::io("creating", dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(LabError::io("writing in", dir))?;
    tmp.write_all(content)
        .and_then(|_| tmp.as_file().sync_all())
        .and_then(|_| {
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
        })
        .map_err(LabError::io("writing", path))?;
    tmp.persist(path)
        .map_err(|e| LabError::io("writing", path)(e.error))?;
    Ok(())
}

/// An exclusive lock on one lab, released when dropped.
pub struct LabLock {
    _file: std::fs::File,
}

impl LabLock {
    /// Takes lab `name`'s lock, waiting up to `wait` for another command to finish.
    pub fn take(home: &Path, name: &str, wait: std::time::Duration) -> Result<LabLock, LabError> {
        std::fs::create_dir_all(home).map_err(LabError::io("creating", home))?;
        let path = home.join(format!("{name}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(LabError::io("opening", &path))?;
        let start = std::time::Instant::now();
        loop {
            // SAFETY: flock on a descriptor this function owns; no memory is shared.
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r == 0 {
                return Ok(LabLock { _file: file });
            }
            if start.elapsed() >= wait {
                return Err(LabError::Busy(name.to_string()));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_listing() {
        let home = tempfile::tempdir().unwrap();
        let name = LabName::parse("t1").unwrap();
        let mut r = LabRecord::new(&name, home.path().join("t1"), Subnet(3), Layout::Separate);
        r.bridge = Some(name.bridge());
        r.host_mut(2, "t1-node2").pid = Some(42);
        r.host_mut(1, "t1-node1").netns = Some(name.netns(1));
        assert_eq!(
            r.hosts.iter().map(|h| h.index).collect::<Vec<_>>(),
            vec![1, 2]
        );
        r.save(home.path()).unwrap();
        let back = LabRecord::load(home.path(), "t1").unwrap().unwrap();
        assert_eq!(back, r);
        assert!(LabRecord::load(home.path(), "t2").unwrap().is_none());
        assert_eq!(LabRecord::all(home.path()).unwrap().len(), 1);
        LabRecord::remove(home.path(), "t1").unwrap();
        assert!(LabRecord::all(home.path()).unwrap().is_empty());
    }

    #[test]
    fn subnets_are_never_shared() {
        let name = LabName::parse("a").unwrap();
        let one = LabRecord::new(&name, "/x".into(), Subnet(1), Layout::Default);
        let s = free_subnet(std::slice::from_ref(&one), "").unwrap();
        assert_eq!(s, Subnet(2));
        // an address on this machine in 10.214.2.0/24 (someone else's) skips it too
        let s = free_subnet(&[one], "inet 10.214.2.1/24 scope global x").unwrap();
        assert_eq!(s, Subnet(3));
    }

    #[test]
    fn write_if_changed_writes_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        assert!(write_if_changed(&p, b"a", 0o600).unwrap());
        assert!(!write_if_changed(&p, b"a", 0o600).unwrap());
        assert!(write_if_changed(&p, b"b", 0o600).unwrap());
    }

    #[test]
    fn lock_is_exclusive() {
        let home = tempfile::tempdir().unwrap();
        let held = LabLock::take(home.path(), "t1", std::time::Duration::ZERO).unwrap();
        let e = LabLock::take(home.path(), "t1", std::time::Duration::from_millis(150));
        assert!(matches!(e, Err(LabError::Busy(_))));
        drop(held);
        LabLock::take(home.path(), "t1", std::time::Duration::ZERO).unwrap();
    }
}
