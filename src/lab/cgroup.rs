//! One cgroup per host. With `--keep-unit` systemd-nspawn builds the container's tree in
//! the cgroup it starts in, so hosts must not share one. With systemd as PID 1 each host
//! gets a scope (`systemd-run --scope -p Delegate=yes`); without (containers, CI VMs with
//! their own init) a directory under the caller's cgroup in every hierarchy.

use std::path::{Path, PathBuf};

/// True when this machine's PID 1 is systemd.
pub fn machine_uses_systemd() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The caller's cgroup in each hierarchy: (mount dir, path inside), from /proc/self/cgroup.
fn own_cgroups() -> Vec<(PathBuf, String)> {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        // cgroup v2 only
        return text
            .lines()
            .filter_map(|l| l.strip_prefix("0::"))
            .map(|rel| (root.to_path_buf(), rel.to_string()))
            .collect();
    }
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs {
        let is_link = d
            .symlink_metadata()
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(true);
        if is_link || !d.join("cgroup.procs").exists() {
            continue;
        }
        let base = d
            .file_name()
            .and_then(|b| b.to_str())
            .unwrap_or("")
            .to_string();
        let rel = text.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctl, rel) = (parts.next()?, parts.next()?, parts.next()?);
            let hit = match base.as_str() {
                "unified" => ctl.is_empty(),
                "systemd" => ctl == "name=systemd",
                b => ctl.split(',').any(|c| c == b),
            };
            hit.then(|| rel.to_string())
        });
        if let Some(rel) = rel {
            out.push((d, rel));
        }
    }
    out
}

/// Makes the host's cgroup `name` in every hierarchy. Returns the directories made and
/// whether every cgroup v1 controller got one (then the host may remount them writable).
pub fn make(name: &str) -> (Vec<PathBuf>, bool) {
    let v2_only = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let mut all_v1 = !v2_only;
    let mut made = Vec::new();
    for (mount, rel) in own_cgroups() {
        let d = mount.join(rel.trim_start_matches('/')).join(name);
        if std::fs::create_dir_all(&d).is_err() {
            all_v1 = false;
            continue;
        }
        // a new v1 cpuset has no cpus or mems: take the parent's
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let file = d.join(f);
            if file.exists()
                && std::fs::read_to_string(&file)
                    .unwrap_or_default()
                    .trim()
                    .is_empty()
            {
                let parent = d.parent().map(|p| p.join(f));
                let value = parent.and_then(|p| std::fs::read_to_string(p).ok());
                if value.and_then(|v| std::fs::write(&file, v).ok()).is_none() {
                    all_v1 = false;
                }
            }
        }
        made.push(d);
    }
    (made, all_v1)
}

/// Removes cgroup directories (children first; only empty ones can go, so it tries for up
/// to 5 s while the host's last processes exit). Returns those that are still there.
pub fn remove(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let start = std::time::Instant::now();
    loop {
        let mut left = Vec::new();
        for d in dirs {
            remove_tree(d);
            if d.exists() {
                left.push(d.clone());
            }
        }
        if left.is_empty() || start.elapsed() >= std::time::Duration::from_secs(5) {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn remove_tree(d: &Path) {
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.filter_map(|e| e.ok()) {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(d);
}
