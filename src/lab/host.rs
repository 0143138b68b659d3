//! One lab host: its overlay upper dir (its own hostname, machine-id, SSH host key,
//! authorized key, resolv.conf), booting it with systemd-nspawn in its own namespace and
//! cgroup, and stopping it by its recorded pid.

use super::cgroup;
use super::error::LabError;
use super::exec;
use super::names::{LabName, Subnet};
use super::record::write_if_changed;
use sha2::Digest;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where host K's files are: DIR/hosts/NAME/{upper,console.log,nspawn.pid,containerd}.
#[derive(Debug, Clone)]
pub struct HostPaths {
    /// DIR/hosts/NAME.
    pub dir: PathBuf,
}

impl HostPaths {
    /// Host `name`'s paths in lab directory `lab_dir`.
    pub fn new(lab_dir: &Path, name: &str) -> HostPaths {
        HostPaths {
            dir: lab_dir.join("hosts").join(name),
        }
    }
    /// The overlay's upper dir: everything the host wrote.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    /// The console log (nspawn's output).
    pub fn log(&self) -> PathBuf {
        self.dir.join("console.log")
    }
    /// Where the wrapper writes nspawn's pid.
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("nspawn.pid")
    }
    /// The host's SSH public host key.
    pub fn host_key_pub(&self) -> PathBuf {
        self.upper().join("etc/ssh/ssh_host_ed25519_key.pub")
    }
}

/// How hosts are booted (shared by a lab's hosts).
#[derive(Debug, Clone)]
pub struct BootSpec<'a> {
    /// The cached rootfs (lower layer).
    pub rootfs: &'a Path,
    /// The lab's name.
    pub lab: &'a LabName,
    /// The lab's subnet.
    pub subnet: Subnet,
    /// The lab's public key (root's authorized_keys).
    pub authorized_key: &'a str,
    /// Bind DIR/hosts/NAME/containerd at /var/lib/containerd.
    pub bind_containerd: bool,
    /// Nameservers for the host's resolv.conf.
    pub nameservers: &'a [String],
}

/// Makes `rel` (e.g. `/etc/ssh`) in the upper dir with the owner and mode of the same
/// directory in the rootfs (overlayfs takes a merged directory's attributes from upper).
fn upper_mkdir(rootfs: &Path, upper: &Path, rel: &str, mode: u32) -> Result<(), LabError> {
    let mut path = PathBuf::new();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        path.push(part);
        let u = upper.join(&path);
        if u.is_dir() {
            continue;
        }
        std::fs::create_dir(&u).map_err(LabError::io("creating", &u))?;
        let (m, uid, gid) = match rootfs.join(&path).metadata() {
            Ok(md) if md.is_dir() => (md.mode() & 0o7777, md.uid(), md.gid()),
            _ => (mode, 0, 0),
        };
        std::fs::set_permissions(&u, std::fs::Permissions::from_mode(m))
            .map_err(LabError::io("chmod", &u))?;
        std::os::unix::fs::chown(&u, Some(uid), Some(gid)).map_err(LabError::io("chown", &u))?;
    }
    Ok(())
}

/// Writes host K's identity into its upper dir (idempotent: what exists is kept, so its
/// host key and machine-id survive restarts). `v1_rw`: drop the flag that makes its
/// cgroup v1 controllers writable at boot.
pub fn prepare_upper(
    spec: &BootSpec,
    paths: &HostPaths,
    k: usize,
    v1_rw: bool,
) -> Result<(), LabError> {
    let name = spec.lab.host(k);
    let upper = paths.upper();
    std::fs::create_dir_all(&paths.dir).map_err(LabError::io("creating", &paths.dir))?;
    if !upper.is_dir() {
        std::fs::create_dir(&upper).map_err(LabError::io("creating", &upper))?;
        let m = spec
            .rootfs
            .metadata()
            .map(|m| m.mode() & 0o7777)
            .unwrap_or(0o755);
        std::fs::set_permissions(&upper, std::fs::Permissions::from_mode(m))
            .map_err(LabError::io("chmod", &upper))?;
    }
    for (rel, mode) in [
        ("etc", 0o755),
        ("etc/ssh", 0o755),
        ("root", 0o700),
        ("root/.ssh", 0o700),
        ("etc/kubeforge-lab", 0o755),
    ] {
        upper_mkdir(spec.rootfs, &upper, rel, mode)?;
    }
    write_if_changed(
        &upper.join("etc/hostname"),
        format!("{name}\n").as_bytes(),
        0o644,
    )?;
    let base = std::fs::read_to_string(spec.rootfs.join("etc/hosts")).unwrap_or_default();
    let mut hosts: String = base
        .lines()
        .filter(|l| !l.starts_with("127.0.1.1"))
        .map(|l| format!("{l}\n"))
        .collect();
    hosts.push_str(&format!("127.0.1.1\t{name}\n"));
    write_if_changed(&upper.join("etc/hosts"), hosts.as_bytes(), 0o644)?;
    let mut resolv = String::from("# kubeforge lab host (written by `kubeforge lab up`)\n");
    for ns in spec.nameservers {
        resolv.push_str(&format!("nameserver {ns}\n"));
    }
    resolv.push_str("options timeout:1 attempts:1\n");
    write_if_changed(&upper.join("etc/resolv.conf"), resolv.as_bytes(), 0o644)?;
    let mid = upper.join("etc/machine-id");
    if std::fs::read(&mid).map(|b| b.len() < 32).unwrap_or(true) {
        let id: [u8; 16] = rand::random();
        write_if_changed(&mid, format!("{}\n", hex::encode(id)).as_bytes(), 0o444)?;
    }
    let key = upper.join("etc/ssh/ssh_host_ed25519_key");
    if std::fs::metadata(&key)
        .map(|m| m.len() == 0)
        .unwrap_or(true)
    {
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(paths.host_key_pub());
        let comment = format!("root@{name}");
        exec::run_ok(
            "ssh-keygen",
            &[
                "-q".as_ref(),
                "-t".as_ref(),
                "ed25519".as_ref(),
                "-N".as_ref(),
                "".as_ref(),
                "-C".as_ref(),
                comment.as_ref(),
                "-f".as_ref(),
                key.as_os_str(),
            ],
            exec::QUICK,
        )?;
    }
    write_if_changed(
        &upper.join("root/.ssh/authorized_keys"),
        spec.authorized_key.as_bytes(),
        0o600,
    )?;
    let flag = upper.join("etc/kubeforge-lab/cgroup-v1-rw");
    if v1_rw {
        write_if_changed(
            &flag,
            b"this host has its own cgroup v1 controllers\n",
            0o644,
        )?;
    } else {
        let _ = std::fs::remove_file(&flag);
    }
    Ok(())
}

/// The systemd-nspawn command line for host K.
pub fn nspawn_args(spec: &BootSpec, paths: &HostPaths, k: usize) -> Vec<String> {
    let name = spec.lab.host(k);
    let rootfs = spec.rootfs.display();
    let mut a = vec![
        "systemd-nspawn".to_string(),
        "--quiet".into(),
        "-D".into(),
        rootfs.to_string(),
        "-b".into(),
        format!("--machine={name}"),
        format!("--hostname={name}"),
        "--register=no".into(),
        "--keep-unit".into(),
        format!("--network-namespace-path=/run/netns/{}", spec.lab.netns(k)),
        format!("--overlay={rootfs}:{}:/", paths.upper().display()),
        "--resolv-conf=off".into(),
        "--timezone=off".into(),
        "--link-journal=no".into(),
        "--console=read-only".into(),
        // runc needs every capability; a host must not set this machine's clock or load modules
        "--capability=all".into(),
        "--drop-capability=CAP_SYS_TIME,CAP_SYS_MODULE,CAP_WAKE_ALARM".into(),
        // runc joins a session keyring; Cilium and kubelet use bpf and perf events
        "--system-call-filter=@keyring bpf perf_event_open".into(),
        // a kubelet refuses to start without /dev/kmsg
        "--bind-ro=/dev/kmsg".into(),
    ];
    if spec.bind_containerd {
        a.push(format!(
            "--bind={}:/var/lib/containerd",
            paths.dir.join("containerd").display()
        ));
    }
    a
}

/// A short hash of a command line (to notice a host booted with other flags).
pub fn flags_hash(args: &[String]) -> String {
    let h = sha2::Sha256::digest(args.join("\n").as_bytes());
    hex::encode(&h[..8])
}

/// True when `pid` is alive and is systemd-nspawn for machine `machine`.
pub fn is_nspawn(pid: u32, machine: &str) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
    let want = format!("--machine={machine}");
    args.iter().any(|a| a.ends_with(b"systemd-nspawn")) && args.contains(&want.as_bytes())
}

/// The pids whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.filter_map(|e| e.ok()) {
            let text = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            out.extend(
                text.split_whitespace()
                    .filter_map(|s| s.parse::<u32>().ok()),
            );
        }
    }
    out
}

fn signal(pid: u32, sig: i32) {
    if let Ok(p) = i32::try_from(pid) {
        // SAFETY: kill(2) with a pid checked to be ours by the caller; no memory is shared.
        unsafe {
            libc::kill(p, sig);
        }
    }
}

/// The last `n` lines of a host's console log.
pub fn log_tail(paths: &HostPaths, n: usize) -> String {
    let text = std::fs::read_to_string(paths.log()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Boots host K in the background and returns nspawn's pid and the cgroups made. A small
/// `sh` moves itself into the host's cgroups, records its pid and execs nspawn (same pid),
/// in a new session, stdin from /dev/null, output to the console log.
pub fn boot(
    spec: &BootSpec,
    paths: &HostPaths,
    k: usize,
    args: &[String],
    cgroups: &[PathBuf],
) -> Result<u32, LabError> {
    let name = spec.lab.host(k);
    if spec.bind_containerd {
        let d = paths.dir.join("containerd");
        std::fs::create_dir_all(&d).map_err(LabError::io("creating", &d))?;
    }
    // an overlay work dir left by a host that was killed
    remove_workdirs(paths);
    let pidfile = paths.pidfile();
    let _ = std::fs::remove_file(&pidfile);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.log())
        .map_err(LabError::io("opening", paths.log()))?;
    let log2 = log
        .try_clone()
        .map_err(LabError::io("opening", paths.log()))?;
    let mut cmd: Vec<String> = Vec::new();
    if cgroup::machine_uses_systemd() {
        cmd.extend([
            "systemd-run".to_string(),
            "--quiet".into(),
            "--scope".into(),
            "--collect".into(),
            "--property=Delegate=yes".into(),
            format!("--unit=kubeforge-lab-{name}"),
        ]);
    }
    cmd.extend(args.iter().cloned());
    const WRAPPER: &str = r#"pidfile=$1; shift; n=$1; shift
i=0; while [ "$i" -lt "$n" ]; do echo $$ >"$1/cgroup.procs"; shift; i=$((i + 1)); done
echo $$ >"$pidfile"
exec "$@""#;
    let mut c = Command::new("setsid");
    c.arg("sh")
        .arg("-c")
        .arg(WRAPPER)
        .arg("sh")
        .arg(&pidfile)
        .arg(cgroups.len().to_string())
        .args(cgroups)
        .args(&cmd)
        .env("TERM", "dumb")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2));
    let child = c.spawn().map_err(|e| LabError::Host {
        host: name.clone(),
        message: format!("cannot start setsid sh ... systemd-nspawn: {e}"),
    })?;
    drop(child);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Some(pid) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            if is_nspawn(pid, &name) {
                return Ok(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(LabError::Host {
        host: name,
        message: format!(
            "systemd-nspawn did not start; last lines of {}:\n{}",
            paths.log().display(),
            log_tail(paths, 30)
        ),
    })
}

/// Stops a host: SIGTERM to nspawn (an orderly poweroff of the host's systemd), SIGKILL
/// to nspawn and the host's init after `timeout`. Only a pid that is still this host's
/// nspawn is signalled. True when it had to kill.
pub fn stop(pid: u32, machine: &str, timeout: Duration) -> bool {
    if !is_nspawn(pid, machine) {
        return false;
    }
    let leaders = children(pid);
    signal(pid, libc::SIGTERM);
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !is_nspawn(pid, machine) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(pid, libc::SIGKILL);
    for c in leaders {
        signal(c, libc::SIGKILL);
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) && is_nspawn(pid, machine) {
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Removes the overlay work dirs nspawn makes beside upper (`.#upper...`).
fn remove_workdirs(paths: &HostPaths) {
    if let Ok(rd) = std::fs::read_dir(&paths.dir) {
        for e in rd.filter_map(|e| e.ok()) {
            if e.file_name().to_string_lossy().starts_with(".#upper") {
                let _ = exec::run(
                    "rm",
                    &[
                        std::ffi::OsStr::new("-rf"),
                        "--one-file-system".as_ref(),
                        e.path().as_os_str(),
                    ],
                    Duration::from_secs(120),
                );
            }
        }
    }
}

/// Forgets everything a (stopped) host wrote: its upper dir, work dirs, containerd dir.
pub fn wipe(paths: &HostPaths) -> Result<(), LabError> {
    remove_workdirs(paths);
    for d in [paths.upper(), paths.dir.join("containerd")] {
        if d.exists() {
            exec::run_ok(
                "rm",
                &[
                    std::ffi::OsStr::new("-rf"),
                    "--one-file-system".as_ref(),
                    d.as_os_str(),
                ],
                Duration::from_secs(300),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nspawn_flags_as_the_lab_needs_them() {
        let lab = LabName::parse("t1").unwrap();
        let spec = BootSpec {
            rootfs: Path::new("/cache/rootfs"),
            lab: &lab,
            subnet: Subnet(2),
            authorized_key: "k",
            bind_containerd: true,
            nameservers: &[],
        };
        let paths = HostPaths::new(Path::new("/lab"), "t1-node1");
        let a = nspawn_args(&spec, &paths, 1);
        for want in [
            "--machine=t1-node1",
            "--register=no",
            "--keep-unit",
            "--network-namespace-path=/run/netns/kubeforge-lab-t1-node1",
            "--overlay=/cache/rootfs:/lab/hosts/t1-node1/upper:/",
            "--capability=all",
            "--drop-capability=CAP_SYS_TIME,CAP_SYS_MODULE,CAP_WAKE_ALARM",
            "--system-call-filter=@keyring bpf perf_event_open",
            "--bind-ro=/dev/kmsg",
            "--bind=/lab/hosts/t1-node1/containerd:/var/lib/containerd",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} missing from {a:?}");
        }
        assert_eq!(flags_hash(&a), flags_hash(&a.clone()));
        assert_ne!(flags_hash(&a), flags_hash(&a[..a.len() - 1]));
    }

    #[test]
    fn a_pid_that_is_not_nspawn_is_never_signalled() {
        assert!(!is_nspawn(std::process::id(), "t1-node1"));
        assert!(!stop(
            std::process::id(),
            "t1-node1",
            Duration::from_millis(10)
        ));
    }
}
