//! The lab's life: `up` (idempotent), `start`/`stop`/`wipe` of one host, `status`, `ssh`,
//! and `down` (everything in the lab's record, then the record).

use super::error::LabError;
use super::host::{self, BootSpec, HostPaths};
use super::inventory::{self, InventorySpec};
use super::layout::Layout;
use super::names::{LabName, Subnet, MAX_HOSTS};
use super::record::{self, write_if_changed, LabLock, LabRecord, Nat};
use super::{cgroup, files, net, rootfs, ssh, tools};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a command waits for another one on the same lab.
const LOCK_WAIT: Duration = Duration::from_secs(120);
/// How long an orderly host stop may take before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// `lab up`'s flags.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Lab name.
    pub name: String,
    /// Number of hosts.
    pub hosts: usize,
    /// Inventory layout.
    pub layout: Layout,
    /// Lab directory (default: the labs home / NAME).
    pub dir: Option<PathBuf>,
    /// Outbound NAT for the hosts.
    pub nat: bool,
    /// A directory to serve on the bridge as the files repository.
    pub files_repo: Option<PathBuf>,
    /// Bind a directory of the host's at /var/lib/containerd (overlayfs snapshotter).
    pub bind_containerd: bool,
    /// Seconds each host may take to answer SSH.
    pub boot_timeout: Duration,
}

/// What `lab up` did.
#[derive(Debug, Clone)]
pub struct UpReport {
    /// The inventory directory.
    pub inventory: PathBuf,
    /// Hosts booted now, with the time each took to answer SSH.
    pub booted: Vec<(String, Duration)>,
    /// Hosts that were already running.
    pub running: Vec<String>,
    /// The rootfs: cached, or built now in this time.
    pub rootfs: rootfs::Built,
    /// Files written or rewritten (inventory, known_hosts).
    pub written: Vec<PathBuf>,
    /// Notes for the log (kernel settings changed, servers started).
    pub notes: Vec<String>,
    /// The whole command's time.
    pub took: Duration,
}

/// The lab's fixed paths.
struct Paths {
    dir: PathBuf,
}

impl Paths {
    fn key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }
    fn inventory(&self) -> PathBuf {
        self.dir.join("inventory")
    }
    /// Beside the key, not in the inventory directory (an inventory loader would read it
    /// as an inventory source).
    fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }
    fn marker(&self) -> PathBuf {
        self.dir.join(".kubeforge-lab")
    }
}

fn lab_and_record(name: &str) -> Result<(LabName, PathBuf, LabRecord), LabError> {
    let lab = LabName::parse(name)?;
    let home = record::home();
    let rec = LabRecord::load(&home, lab.as_str())?.ok_or_else(|| LabError::NoSuchLab {
        name: name.to_string(),
        record: LabRecord::path(&home, name),
    })?;
    Ok((lab, home, rec))
}

fn say(m: &str) {
    eprintln!("lab: {m}");
}

/// The nameservers a host's resolv.conf names: the bridge address; with --nat this
/// machine's own non-loopback nameservers (hosts reach them through NAT).
fn nameservers(subnet: Subnet, nat: bool) -> Vec<String> {
    if nat {
        let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let found: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("nameserver"))
            .map(|s| s.trim().to_string())
            .filter(|s| {
                s.parse::<std::net::IpAddr>()
                    .map(|a| !a.is_loopback() && a.is_ipv4())
                    .unwrap_or(false)
            })
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    vec![subnet.bridge4().to_string()]
}

/// `kubeforge lab up`: boots the missing hosts, leaves running ones alone, writes the
/// inventory. Running it again with the same flags changes nothing.
pub fn up(o: &UpOptions) -> Result<UpReport, LabError> {
    tools::need_root("up")?;
    let t0 = Instant::now();
    let lab = LabName::parse(&o.name)?;
    if o.hosts == 0 || o.hosts > MAX_HOSTS {
        return Err(LabError::Usage(format!(
            "-n {}: a lab has 1 to {MAX_HOSTS} hosts",
            o.hosts
        )));
    }
    let groups = o.layout.groups(o.hosts)?;
    let mut needed: Vec<(&str, &str)> = tools::NEEDED.to_vec();
    if o.nat {
        needed.push(("nft", "nftables"));
    }
    if o.files_repo.is_some() {
        needed.push(("python3", "python3"));
    }
    tools::ensure(&needed)?;
    let rootfs_path = rootfs::path();
    let t_rootfs = Instant::now();
    let built = rootfs::ensure(&rootfs_path)?;
    let mut notes = vec![match &built {
        rootfs::Built::Cached => format!(
            "rootfs {} cached (checked in {:.1} s)",
            rootfs_path.display(),
            t_rootfs.elapsed().as_secs_f64()
        ),
        rootfs::Built::Now(d) => format!(
            "rootfs {} built: debootstrap {:.1} s",
            rootfs_path.display(),
            d.as_secs_f64()
        ),
        rootfs::Built::Reprepared => format!(
            "rootfs {} prepared again (older version)",
            rootfs_path.display()
        ),
    }];

    let home = record::home();
    let _lock = LabLock::take(&home, lab.as_str(), LOCK_WAIT)?;
    let mut rec = match LabRecord::load(&home, lab.as_str())? {
        Some(r) => {
            if let Some(d) = &o.dir {
                if *d != r.dir {
                    return Err(LabError::Usage(format!(
                        "lab '{}' already lives in {} (not {}); `kubeforge lab down {}` first",
                        lab.as_str(),
                        r.dir.display(),
                        d.display(),
                        lab.as_str()
                    )));
                }
            }
            let most = r.hosts.iter().map(|h| h.index).max().unwrap_or(0);
            if most > o.hosts {
                return Err(LabError::Usage(format!(
                    "lab '{}' has {most} hosts; -n {} would leave some out of the inventory: use -n {most}, or `kubeforge lab down {}` first",
                    lab.as_str(),
                    o.hosts,
                    lab.as_str()
                )));
            }
            r
        }
        None => {
            if net::link_exists(&lab.bridge()) {
                return Err(LabError::Usage(format!(
                    "interface {} exists but no lab '{}' is recorded: not ours, not touched",
                    lab.bridge(),
                    lab.as_str()
                )));
            }
            let labs = LabRecord::all(&home)?;
            let subnet = record::free_subnet(&labs, &net::machine_addresses())?;
            let dir = o.dir.clone().unwrap_or_else(|| home.join(lab.as_str()));
            let dir = if dir.is_absolute() {
                dir
            } else {
                std::env::current_dir()
                    .map_err(LabError::io("reading", "."))?
                    .join(dir)
            };
            if dir.exists()
                && std::fs::read_dir(&dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                return Err(LabError::Usage(format!(
                    "{} exists and is not empty; give --dir a new or empty directory",
                    dir.display()
                )));
            }
            let r = LabRecord::new(&lab, dir, subnet, o.layout);
            r.save(&home)?;
            r
        }
    };
    let paths = Paths {
        dir: rec.dir.clone(),
    };
    let subnet = rec.subnet();
    std::fs::create_dir_all(paths.inventory())
        .map_err(LabError::io("creating", paths.inventory()))?;
    write_if_changed(
        &paths.marker(),
        b"kubeforge lab directory (removed by `kubeforge lab down`)\n",
        0o644,
    )?;
    let pubkey = ssh::ensure_key(&paths.key())?;

    notes.extend(net::ensure_kernel());
    let bridge = lab.bridge();
    rec.bridge = Some(bridge.clone());
    rec.save(&home)?;
    net::ensure_bridge(&bridge, subnet)?;
    if o.nat {
        if let Some(rule) = rec.rule.take() {
            net::remove_isolation(rule);
        }
        let table = lab.nft_table();
        let before = net::ensure_nat(&table, subnet, &bridge)?;
        if rec.nat.is_none() {
            rec.nat = Some(Nat {
                nft_table: table,
                ip_forward_before: before,
            });
        }
    } else {
        if let Some(nat) = rec.nat.take() {
            net::remove_nat(&nat.nft_table);
            restore_forwarding(&home, &lab, &nat);
        }
        rec.rule = Some(subnet.rule());
        rec.save(&home)?;
        net::ensure_isolation(&bridge, subnet)?;
    }
    rec.layout = o.layout;
    rec.bind_containerd = o.bind_containerd;
    rec.save(&home)?;

    let ks: Vec<usize> = (1..=o.hosts).collect();
    let nameservers = nameservers(subnet, o.nat);
    let spec = BootSpec {
        rootfs: &rootfs_path,
        lab: &lab,
        subnet,
        authorized_key: &pubkey,
        bind_containerd: o.bind_containerd,
        nameservers: &nameservers,
    };
    let (booted, running) = bring_up(&home, &mut rec, &spec, &paths, &ks, o.boot_timeout)?;

    // the files repository
    let files_url = match &o.files_repo {
        Some(dir) => {
            let want = dir
                .canonicalize()
                .map_err(LabError::io("resolving --files-repo", dir))?;
            let keep = rec
                .files_server
                .as_ref()
                .is_some_and(|s| s.dir == want && files::is_server(s));
            if !keep {
                if let Some(old) = rec.files_server.take() {
                    files::stop(&old);
                }
                let s = files::start(&want, subnet.bridge4(), &paths.dir.join("files-server.log"))?;
                notes.push(format!(
                    "files repository {} served at {} (pid {})",
                    want.display(),
                    s.url,
                    s.pid
                ));
                rec.files_server = Some(s);
                rec.save(&home)?;
            }
            rec.files_server.as_ref().map(|s| s.url.clone())
        }
        None => {
            if let Some(old) = rec.files_server.take() {
                files::stop(&old);
                rec.save(&home)?;
                notes.push("files repository server stopped (no --files-repo)".into());
            }
            None
        }
    };

    // the inventory
    let key = paths.key();
    let kh = paths.known_hosts();
    let ispec = InventorySpec {
        name: &lab,
        subnet,
        hosts: o.hosts,
        layout: o.layout,
        key: &key,
        known_hosts: &kh,
        files_repo: files_url.as_deref(),
    };
    let mut written = Vec::new();
    let hosts_yaml = paths.inventory().join("hosts.yaml");
    if write_if_changed(
        &hosts_yaml,
        inventory::hosts_yaml(&ispec, &groups).as_bytes(),
        0o644,
    )? {
        written.push(hosts_yaml);
    }
    let vars = paths.inventory().join("group_vars/all/lab.yml");
    if write_if_changed(
        &vars,
        inventory::lab_vars(&ispec, &groups).as_bytes(),
        0o644,
    )? {
        written.push(vars);
    }
    if write_known_hosts(&rec, &paths)? {
        written.push(paths.known_hosts());
    }
    Ok(UpReport {
        inventory: paths.inventory(),
        booted,
        running,
        rootfs: built,
        written,
        notes,
        took: t0.elapsed(),
    })
}

/// Every recorded host's key, for its IPv4 and IPv6 address; true when the file changed.
fn write_known_hosts(rec: &LabRecord, paths: &Paths) -> Result<bool, LabError> {
    let mut text = String::new();
    for h in &rec.hosts {
        let hp = HostPaths::new(&paths.dir, &h.name);
        if let Ok(pubkey) = std::fs::read_to_string(hp.host_key_pub()) {
            text.push_str(&inventory::known_hosts_lines(
                rec.subnet(),
                h.index,
                &pubkey,
            ));
        }
    }
    write_if_changed(&paths.known_hosts(), text.as_bytes(), 0o644)
}

/// Hosts booted now with their time to answer SSH, and hosts already running.
type BroughtUp = (Vec<(String, Duration)>, Vec<String>);

/// Makes sure hosts `ks` run: network, overlay, boot, wait for SSH. Returns (booted now
/// with their times, already running).
fn bring_up(
    home: &Path,
    rec: &mut LabRecord,
    spec: &BootSpec,
    paths: &Paths,
    ks: &[usize],
    boot_timeout: Duration,
) -> Result<BroughtUp, LabError> {
    let lab = spec.lab;
    let bridge = lab.bridge();
    let mut to_boot = Vec::new();
    let mut running = Vec::new();
    for &k in ks {
        let name = lab.host(k);
        let (netns, veth) = (lab.netns(k), lab.veth(k));
        {
            let h = rec.host_mut(k, &name);
            h.netns = Some(netns.clone());
            h.veth = Some(veth.clone());
        }
        rec.save(home)?;
        net::ensure_host(&netns, &veth, &bridge, spec.subnet, k)?;
        let hp = HostPaths::new(&paths.dir, &name);
        let args = host::nspawn_args(spec, &hp, k);
        let flags = host::flags_hash(&args);
        let h = rec.host_mut(k, &name).clone();
        if let Some(pid) = h.pid.filter(|p| host::is_nspawn(*p, &name)) {
            if h.flags.as_deref() == Some(flags.as_str()) {
                running.push(name);
                continue;
            }
            say(&format!(
                "{name}: booted with other flags; stopping it to boot it again (its disk is kept)"
            ));
            host::stop(pid, &name, STOP_TIMEOUT);
        }
        cgroup::remove(&h.cgroups);
        let (cgroups, v1_rw) = if cgroup::machine_uses_systemd() {
            (Vec::new(), false)
        } else {
            cgroup::make(&lab.cgroup(k))
        };
        {
            let h = rec.host_mut(k, &name);
            h.cgroups = cgroups.clone();
            h.pid = None;
        }
        rec.save(home)?;
        host::prepare_upper(spec, &hp, k, v1_rw)?;
        to_boot.push((k, name, hp, args, flags, cgroups));
    }
    write_known_hosts(rec, paths)?;
    let mut started = Vec::new();
    for (k, name, hp, args, flags, cgroups) in &to_boot {
        say(&format!(
            "{name}: booting ({}, {})",
            spec.subnet.host4(*k),
            spec.subnet.host6(*k)
        ));
        let pid = host::boot(spec, hp, *k, args, cgroups)?;
        {
            let h = rec.host_mut(*k, name);
            h.pid = Some(pid);
            h.flags = Some(flags.clone());
        }
        rec.save(home)?;
        started.push(ssh::Target {
            name: name.clone(),
            address: spec.subnet.host4(*k).to_string(),
        });
    }
    // running hosts are checked too (quickly: they answer at once)
    for name in &running {
        if let Ok(k) = lab.host_index(name) {
            started.push(ssh::Target {
                name: name.clone(),
                address: spec.subnet.host4(k).to_string(),
            });
        }
    }
    let pids: Vec<(String, u32)> = rec
        .hosts
        .iter()
        .filter_map(|h| h.pid.map(|p| (h.name.clone(), p)))
        .collect();
    let alive = |n: &str| {
        pids.iter()
            .any(|(name, p)| name == n && host::is_nspawn(*p, n))
    };
    let results = ssh::wait_ready(
        &started,
        &paths.key(),
        &paths.known_hosts(),
        boot_timeout,
        &alive,
    )?;
    let mut booted = Vec::new();
    let mut failed = Vec::new();
    for (name, r) in results {
        match r {
            Ok(d) if !running.contains(&name) => {
                say(&format!(
                    "{name}: ssh answers after {:.1} s",
                    d.as_secs_f64()
                ));
                booted.push((name, d));
            }
            Ok(_) => {}
            Err(e) => {
                let hp = HostPaths::new(&paths.dir, &name);
                failed.push(format!(
                    "{name}: {e}; last lines of {}:\n{}",
                    hp.log().display(),
                    host::log_tail(&hp, 25)
                ));
            }
        }
    }
    if !failed.is_empty() {
        return Err(LabError::Host {
            host: lab.as_str().to_string(),
            message: format!(
                "some hosts did not come up (they stay for a look; `kubeforge lab down {}` removes them):\n{}",
                lab.as_str(),
                failed.join("\n")
            ),
        });
    }
    Ok((booted, running))
}

/// Puts net.ipv4.ip_forward back when no other lab uses NAT.
fn restore_forwarding(home: &Path, lab: &LabName, nat: &Nat) {
    let others = LabRecord::all(home)
        .map(|all| {
            all.iter()
                .any(|l| l.name != lab.as_str() && l.nat.is_some())
        })
        .unwrap_or(true);
    if !others && nat.ip_forward_before != "1" {
        let _ = net::set_sysctl("net.ipv4.ip_forward", &nat.ip_forward_before);
    }
}

/// What `lab down` removed.
#[derive(Debug, Clone, Default)]
pub struct DownReport {
    /// Hosts stopped (and whether SIGKILL was needed).
    pub stopped: Vec<(String, bool)>,
    /// Things removed, for the log.
    pub removed: Vec<String>,
    /// What could not be removed.
    pub left: Vec<String>,
    /// Time taken.
    pub took: Duration,
}

/// `kubeforge lab down NAME`: stops every recorded host by its pid, removes its
/// namespaces, veths, cgroups, the bridge, the rules, the NAT table, the file server and
/// the lab directory, then the record. Only what the record names.
pub fn down(name: &str) -> Result<DownReport, LabError> {
    tools::need_root("down")?;
    let t0 = Instant::now();
    let (lab, home, mut rec) = lab_and_record(name)?;
    let _lock = LabLock::take(&home, lab.as_str(), LOCK_WAIT)?;
    let mut rep = DownReport::default();
    if let Some(s) = rec.files_server.take() {
        files::stop(&s);
        if files::is_server(&s) {
            rep.left.push(format!("files server pid {}", s.pid));
        } else {
            rep.removed.push(format!("files server (pid {})", s.pid));
        }
    }
    // stop all hosts at once: SIGTERM to each, then wait
    let mut handles = Vec::new();
    for h in &rec.hosts {
        if let Some(pid) = h.pid.filter(|p| host::is_nspawn(*p, &h.name)) {
            let name = h.name.clone();
            handles.push(std::thread::spawn(move || {
                (name.clone(), host::stop(pid, &name, STOP_TIMEOUT))
            }));
        }
    }
    for hdl in handles {
        if let Ok((n, killed)) = hdl.join() {
            rep.stopped.push((n, killed));
        }
    }
    for h in &mut rec.hosts {
        if let Some(pid) = h.pid {
            if host::is_nspawn(pid, &h.name) {
                rep.left
                    .push(format!("{}: systemd-nspawn pid {pid}", h.name));
            }
        }
        h.pid = None;
        if let Some(v) = &h.veth {
            match net::remove_link(v) {
                Ok(()) => rep.removed.push(format!("veth {v}")),
                Err(e) => rep.left.push(e.to_string()),
            }
        }
        if let Some(ns) = &h.netns {
            match net::remove_netns(ns) {
                Ok(()) => rep.removed.push(format!("netns {ns}")),
                Err(e) => rep.left.push(e.to_string()),
            }
        }
        for d in cgroup::remove(&h.cgroups) {
            rep.left.push(format!("cgroup {}", d.display()));
        }
        let _ = std::fs::remove_dir(Path::new("/run/systemd/nspawn/propagate").join(&h.name));
    }
    if let Some(nat) = rec.nat.take() {
        net::remove_nat(&nat.nft_table);
        restore_forwarding(&home, &lab, &nat);
        rep.removed
            .push(format!("nftables table ip {}", nat.nft_table));
    }
    if let Some(rule) = rec.rule.take() {
        net::remove_isolation(rule);
        rep.removed.push(format!("ip rule and table {rule}"));
    }
    if let Some(b) = rec.bridge.take() {
        match net::remove_link(&b) {
            Ok(()) => rep.removed.push(format!("bridge {b}")),
            Err(e) => rep.left.push(e.to_string()),
        }
    }
    // mounts under the lab directory (none normally: the overlays live in the hosts'
    // mount namespaces)
    for m in mounts_under(&rec.dir).into_iter().rev() {
        let _ = super::exec::run("umount", &[m.as_os_str()], super::exec::QUICK);
        if mounts_under(&rec.dir).contains(&m) {
            rep.left.push(format!("mount {}", m.display()));
        }
    }
    if rep.left.is_empty() {
        let paths = Paths {
            dir: rec.dir.clone(),
        };
        if paths.marker().exists() {
            super::exec::run_ok(
                "rm",
                &[
                    std::ffi::OsStr::new("-rf"),
                    "--one-file-system".as_ref(),
                    rec.dir.as_os_str(),
                ],
                Duration::from_secs(300),
            )?;
            rep.removed.push(format!("directory {}", rec.dir.display()));
        }
        LabRecord::remove(&home, lab.as_str())?;
    } else {
        rec.save(&home)?;
    }
    rep.took = t0.elapsed();
    Ok(rep)
}

/// Mount points at or under `dir` in this mount namespace.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(dir))
        .collect()
}

/// One host's state.
#[derive(Debug, Clone)]
pub struct HostStatus {
    /// Name.
    pub name: String,
    /// nspawn pid when running.
    pub pid: Option<u32>,
    /// IPv4 address.
    pub ip4: String,
    /// IPv6 address.
    pub ip6: String,
}

/// One lab's state.
#[derive(Debug, Clone)]
pub struct LabStatus {
    /// Name.
    pub name: String,
    /// Directory.
    pub dir: PathBuf,
    /// IPv4 subnet.
    pub net4: String,
    /// Layout.
    pub layout: Layout,
    /// NAT on.
    pub nat: bool,
    /// Files repository URL, when served and running.
    pub files: Option<String>,
    /// Hosts.
    pub hosts: Vec<HostStatus>,
}

/// `kubeforge lab status [--name NAME]`: every recorded lab (or one) and its hosts.
pub fn status(name: Option<&str>) -> Result<Vec<LabStatus>, LabError> {
    let home = record::home();
    let recs = match name {
        Some(n) => vec![lab_and_record(n)?.2],
        None => LabRecord::all(&home)?,
    };
    Ok(recs
        .into_iter()
        .map(|r| LabStatus {
            name: r.name.clone(),
            dir: r.dir.clone(),
            net4: r.subnet().net4(),
            layout: r.layout,
            nat: r.nat.is_some(),
            files: r
                .files_server
                .as_ref()
                .filter(|s| files::is_server(s))
                .map(|s| s.url.clone()),
            hosts: r
                .hosts
                .iter()
                .map(|h| HostStatus {
                    name: h.name.clone(),
                    pid: h.pid.filter(|p| host::is_nspawn(*p, &h.name)),
                    ip4: r.subnet().host4(h.index).to_string(),
                    ip6: r.subnet().host6(h.index).to_string(),
                })
                .collect(),
        })
        .collect())
}

/// `kubeforge lab stop HOST`: orderly poweroff (SIGKILL after 10 s). True when it ran.
pub fn stop(name: &str, host_name: &str) -> Result<bool, LabError> {
    tools::need_root("stop")?;
    let (lab, home, mut rec) = lab_and_record(name)?;
    let k = lab.host_index(host_name)?;
    let _lock = LabLock::take(&home, lab.as_str(), LOCK_WAIT)?;
    let hname = lab.host(k);
    let Some(h) = rec.hosts.iter().find(|h| h.index == k).cloned() else {
        return Err(LabError::Usage(format!(
            "lab '{}' has no host {hname}",
            lab.as_str()
        )));
    };
    let was = h.pid.filter(|p| host::is_nspawn(*p, &hname));
    if let Some(pid) = was {
        host::stop(pid, &hname, STOP_TIMEOUT);
    }
    let left = cgroup::remove(&h.cgroups);
    let hr = rec.host_mut(k, &hname);
    hr.pid = None;
    hr.cgroups = left;
    rec.save(&home)?;
    Ok(was.is_some())
}

/// `kubeforge lab start HOST`: boots a stopped host again on its disk; waits for SSH.
pub fn start(
    name: &str,
    host_name: &str,
    boot_timeout: Duration,
) -> Result<Option<Duration>, LabError> {
    tools::need_root("start")?;
    let (lab, home, mut rec) = lab_and_record(name)?;
    let k = lab.host_index(host_name)?;
    if !rec.hosts.iter().any(|h| h.index == k) {
        return Err(LabError::Usage(format!(
            "lab '{}' has no host {}",
            lab.as_str(),
            lab.host(k)
        )));
    }
    let _lock = LabLock::take(&home, lab.as_str(), LOCK_WAIT)?;
    let paths = Paths {
        dir: rec.dir.clone(),
    };
    let pubkey = ssh::ensure_key(&paths.key())?;
    let rootfs_path = rootfs::path();
    let subnet = rec.subnet();
    let nameservers = nameservers(subnet, rec.nat.is_some());
    let bind_containerd = rec.bind_containerd;
    let spec = BootSpec {
        rootfs: &rootfs_path,
        lab: &lab,
        subnet,
        authorized_key: &pubkey,
        bind_containerd,
        nameservers: &nameservers,
    };
    let (booted, _) = bring_up(
        &home,
        &mut rec,
        &spec,
        &paths,
        &[k],
        Duration::from_secs(60).max(boot_timeout),
    )?;
    write_known_hosts(&rec, &paths)?;
    Ok(booted.first().map(|(_, d)| *d))
}

/// `kubeforge lab wipe HOST`: stops it and drops its disk; the next start is a clean OS
/// with a new host key (known_hosts is rewritten at once).
pub fn wipe(name: &str, host_name: &str) -> Result<(), LabError> {
    stop(name, host_name)?;
    let (lab, home, mut rec) = lab_and_record(name)?;
    let k = lab.host_index(host_name)?;
    let _lock = LabLock::take(&home, lab.as_str(), LOCK_WAIT)?;
    let paths = Paths {
        dir: rec.dir.clone(),
    };
    host::wipe(&HostPaths::new(&paths.dir, &lab.host(k)))?;
    rec.host_mut(k, &lab.host(k)).flags = None;
    rec.save(&home)?;
    write_known_hosts(&rec, &paths)?;
    Ok(())
}

/// `kubeforge lab ssh HOST -- CMD`: runs CMD on the host as root; its output goes to ours,
/// its exit status is returned (255 when it had none).
pub fn ssh_run(
    name: &str,
    host_name: &str,
    command: &[String],
    timeout: Duration,
) -> Result<u8, LabError> {
    use std::io::Write;
    let (lab, _home, rec) = lab_and_record(name)?;
    let k = lab.host_index(host_name)?;
    let paths = Paths {
        dir: rec.dir.clone(),
    };
    let target = ssh::Target {
        name: lab.host(k),
        address: rec.subnet().host4(k).to_string(),
    };
    if command.is_empty() {
        return Err(LabError::Usage(format!(
            "give the command after --: kubeforge lab ssh --name {} {} -- uname -a (an interactive shell: ssh -i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes root@{})",
            lab.as_str(),
            target.name,
            paths.key().display(),
            paths.known_hosts().display(),
            target.address
        )));
    }
    let out = ssh::run(
        &target,
        &paths.key(),
        &paths.known_hosts(),
        &command.join(" "),
        timeout,
    )?;
    let _ = std::io::stdout().write_all(&out.stdout);
    let _ = std::io::stderr().write_all(&out.stderr);
    Ok(out
        .exit_code
        .map(|c| u8::try_from(c).unwrap_or(255))
        .unwrap_or(255))
}
