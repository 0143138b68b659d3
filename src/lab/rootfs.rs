//! The Debian 12 root filesystem every lab host boots from (read-only lower layer of each
//! host's overlay): built once with debootstrap, prepared, cached, reused.

use super::error::LabError;
use super::exec;
use super::record::write_atomic;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Bumped when [`prepare`] changes: an older cache is prepared again in place.
pub const STAMP: &str = "kubeforge lab rootfs v1";

/// The packages on top of debootstrap's minbase.
pub const INCLUDE: &str = "systemd,systemd-sysv,dbus,openssh-server,python3,iproute2,ca-certificates,curl,procps,kmod,iptables,sudo";

/// Where the cached rootfs lives (`KUBEFORGE_LAB_CACHE`, default
/// `/var/cache/kubeforge/lab/rootfs-bookworm`).
pub fn path() -> PathBuf {
    std::env::var_os("KUBEFORGE_LAB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/kubeforge/lab/rootfs-bookworm"))
}

/// How the rootfs was found.
#[derive(Debug, Clone, PartialEq)]
pub enum Built {
    /// Cached and ready.
    Cached,
    /// Built now; debootstrap took this long.
    Now(Duration),
    /// Prepared again (an older stamp).
    Reprepared,
}

fn ready(r: &Path) -> bool {
    std::fs::read_to_string(r.join("etc/kubeforge-lab-rootfs"))
        .map(|s| s.trim() == STAMP)
        .unwrap_or(false)
}

/// The rootfs, built when missing (debootstrap, up to 20 minutes), one build at a time.
pub fn ensure(r: &Path) -> Result<Built, LabError> {
    if ready(r) {
        return Ok(Built::Cached);
    }
    let parent = r.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).map_err(LabError::io("creating", parent))?;
    let _lock = super::record::LabLock::take(parent, "rootfs-build", Duration::from_secs(1200))?;
    if ready(r) {
        return Ok(Built::Cached);
    }
    if r.join("etc/kubeforge-lab-rootfs").exists() {
        prepare(r)?;
        return Ok(Built::Reprepared);
    }
    if r.exists() {
        return Err(LabError::Usage(format!(
            "{} exists but is not a kubeforge lab rootfs; remove it or set KUBEFORGE_LAB_CACHE",
            r.display()
        )));
    }
    let tmp = parent.join(format!(
        "{}.tmp",
        r.file_name().and_then(|n| n.to_str()).unwrap_or("rootfs")
    ));
    if tmp.exists() {
        // a half-built rootfs from an interrupted build is never used
        exec::run_ok(
            "rm",
            &[
                std::ffi::OsStr::new("-rf"),
                "--one-file-system".as_ref(),
                tmp.as_os_str(),
            ],
            Duration::from_secs(300),
        )?;
    }
    let mirror = mirror();
    eprintln!(
        "lab: building the Debian 12 rootfs with debootstrap from {mirror} into {} (once; a few minutes)",
        r.display()
    );
    let t0 = Instant::now();
    let include = format!("--include={INCLUDE}");
    let args: Vec<&std::ffi::OsStr> = vec![
        "--variant=minbase".as_ref(),
        include.as_ref(),
        "bookworm".as_ref(),
        tmp.as_os_str(),
        mirror.as_ref(),
    ];
    if let Err(e) = exec::run_ok("debootstrap", &args, Duration::from_secs(1200)) {
        let log =
            std::fs::read_to_string(tmp.join("debootstrap/debootstrap.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        let _ = exec::run(
            "rm",
            &[
                std::ffi::OsStr::new("-rf"),
                "--one-file-system".as_ref(),
                tmp.as_os_str(),
            ],
            Duration::from_secs(300),
        );
        return Err(LabError::Host {
            host: "rootfs".into(),
            message: format!("{e}\n{tail}"),
        });
    }
    let took = t0.elapsed();
    eprintln!("lab: debootstrap took {:.1} s", took.as_secs_f64());
    prepare(&tmp)?;
    std::fs::rename(&tmp, r).map_err(LabError::io("renaming into place", r))?;
    Ok(Built::Now(took))
}

/// The Debian mirror: `KUBEFORGE_LAB_MIRROR`, else the one this machine's apt uses for
/// bookworm, else deb.debian.org.
pub fn mirror() -> String {
    if let Some(m) = std::env::var_os("KUBEFORGE_LAB_MIRROR") {
        return m.to_string_lossy().into_owned();
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        if let Some(m) = mirror_in(&text) {
            return m;
        }
    }
    "http://deb.debian.org/debian".into()
}

/// The bookworm mirror named in a sources.list or deb822 .sources text.
pub fn mirror_in(text: &str) -> Option<String> {
    // one-line format: deb [opts] URI bookworm ...
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.first() != Some(&"deb") {
            continue;
        }
        let mut i = 1;
        if w.get(1).is_some_and(|s| s.starts_with('[')) {
            while i < w.len() && !w[i].ends_with(']') {
                i += 1;
            }
            i += 1;
        }
        if w.get(i + 1) == Some(&"bookworm") {
            return w.get(i).map(|s| s.to_string());
        }
    }
    // deb822 stanzas
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        };
        let suites = field("Suites").unwrap_or_default();
        let types = field("Types").unwrap_or_default();
        if suites.split_whitespace().any(|s| s == "bookworm")
            && types.split_whitespace().any(|t| t == "deb")
        {
            if let Some(u) = field("URIs") {
                return u.split_whitespace().next().map(str::to_string);
            }
        }
    }
    None
}

const SSHD: &str = "# kubeforge lab host\nHostKey /etc/ssh/ssh_host_ed25519_key\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n";

const CGROUP_RW: &str = r#"[Unit]
Description=kubeforge lab: make this host's cgroup v1 controllers writable
DefaultDependencies=no
ConditionPathExists=/etc/kubeforge-lab/cgroup-v1-rw
Before=sysinit.target containerd.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'for d in /sys/fs/cgroup/*; do case $${d##*/} in unified|systemd) continue;; esac; [ -L "$$d" ] && continue; mountpoint -q "$$d" && mount -o remount,bind,rw "$$d"; done; true'
[Install]
WantedBy=sysinit.target
"#;

/// Units a test host does not need (boot time, CPU, or this machine's clock).
const MASKED: &[&str] = &[
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "fstrim.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "systemd-timesyncd.service",
    "console-getty.service",
    "getty@.service",
    "systemd-networkd-wait-online.service",
    "systemd-journald-audit.socket",
];

/// Makes a debootstrapped tree a lab image: no host keys or machine-id of its own (each
/// host gets its own in its overlay), sshd for root by key only, units a test host does
/// not need masked, volatile journal, the cgroup v1 unit.
pub fn prepare(r: &Path) -> Result<(), LabError> {
    let w = |rel: &str, text: &str| write_atomic(&r.join(rel), text.as_bytes(), 0o644);
    if let Ok(rd) = std::fs::read_dir(r.join("etc/ssh")) {
        for e in rd.filter_map(|e| e.ok()) {
            if e.file_name().to_string_lossy().starts_with("ssh_host_") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    w("etc/machine-id", "")?;
    let dbus_id = r.join("var/lib/dbus/machine-id");
    let _ = std::fs::remove_file(&dbus_id);
    if let Some(p) = dbus_id.parent() {
        std::fs::create_dir_all(p).map_err(LabError::io("creating", p))?;
    }
    std::os::unix::fs::symlink("/etc/machine-id", &dbus_id)
        .map_err(LabError::io("linking", &dbus_id))?;
    w("etc/hostname", "localhost\n")?;
    w(
        "etc/hosts",
        "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n",
    )?;
    let resolv = r.join("etc/resolv.conf");
    let _ = std::fs::remove_file(&resolv);
    w("etc/resolv.conf", "# kubeforge lab: each host's own resolv.conf is in its overlay\noptions timeout:1 attempts:1\n")?;
    w("etc/ssh/sshd_config.d/kubeforge-lab.conf", SSHD)?;
    w(
        "etc/systemd/system/kubeforge-lab-cgroup-rw.service",
        CGROUP_RW,
    )?;
    w(
        "etc/systemd/journald.conf.d/kubeforge-lab.conf",
        "[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n",
    )?;
    let root = format!("--root={}", r.display());
    exec::run_ok(
        "systemctl",
        &[
            root.as_str(),
            "--quiet",
            "enable",
            "ssh.service",
            "kubeforge-lab-cgroup-rw.service",
        ],
        exec::QUICK,
    )?;
    let mut mask = vec![root.as_str(), "--quiet", "mask"];
    mask.extend(MASKED.iter().copied());
    exec::run_ok("systemctl", &mask, exec::QUICK)?;
    for d in ["var/cache/apt/archives", "var/log/apt"] {
        if let Ok(rd) = std::fs::read_dir(r.join(d)) {
            for e in rd.filter_map(|e| e.ok()) {
                if e.path().is_file() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    w("etc/kubeforge-lab-rootfs", &format!("{STAMP}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_from_apt_sources() {
        assert_eq!(
            mirror_in("deb [arch=amd64 signed-by=/x] http://m.example/debian bookworm main\n")
                .as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(
            mirror_in("deb http://security.debian.org/ bookworm-security main\n"),
            None
        );
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://security\nSuites: bookworm-security\n";
        assert_eq!(
            mirror_in(deb822).as_deref(),
            Some("http://deb.debian.org/debian")
        );
    }
}
