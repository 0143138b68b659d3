//! A lab's network: its bridge (the hosts' gateway), one network namespace per host with a
//! veth into the bridge, a policy rule that makes everything outside the lab unreachable
//! from the bridge, and with --nat an nftables masquerade table instead. Every step checks
//! before it changes, so running it again changes nothing.

use super::error::LabError;
use super::exec::{self, QUICK};
use super::names::Subnet;
use std::path::Path;

fn ip(args: &[&str]) -> Result<exec::Output, LabError> {
    exec::run_ok("ip", args, QUICK)
}

fn ip_has(args: &[&str], text: &str) -> bool {
    exec::run("ip", args, QUICK)
        .map(|o| o.ok() && o.stdout.contains(text))
        .unwrap_or(false)
}

/// True when network interface `name` exists on this machine.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Every IPv4 address on this machine (`ip -4 -o addr`), for picking a free subnet.
pub fn machine_addresses() -> String {
    exec::run("ip", &["-4", "-o", "addr", "show"], QUICK)
        .map(|o| o.stdout)
        .unwrap_or_default()
}

/// Sets a sysctl by writing /proc/sys (this machine's network namespace).
pub fn set_sysctl(key: &str, value: &str) -> Result<(), LabError> {
    let p = Path::new("/proc/sys").join(key.replace('.', "/"));
    std::fs::write(&p, value).map_err(LabError::io("setting", p))
}

/// Reads a sysctl of this machine.
pub fn get_sysctl(key: &str) -> Option<String> {
    let p = Path::new("/proc/sys").join(key.replace('.', "/"));
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Makes the bridge with the lab's addresses (idempotent).
pub fn ensure_bridge(bridge: &str, s: Subnet) -> Result<(), LabError> {
    if !link_exists(bridge) {
        ip(&[
            "link",
            "add",
            bridge,
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ])?;
    }
    let _ = set_sysctl(&format!("net.ipv6.conf.{bridge}.accept_dad"), "0");
    let _ = set_sysctl(&format!("net.ipv6.conf.{bridge}.accept_ra"), "0");
    let a4 = format!("{}/24", s.bridge4());
    if !ip_has(
        &["-4", "addr", "show", "dev", bridge],
        &format!("inet {a4}"),
    ) {
        ip(&["addr", "add", &a4, "dev", bridge])?;
    }
    let a6 = format!("{}/64", s.bridge6());
    if !ip_has(
        &["-6", "addr", "show", "dev", bridge],
        &format!("inet6 {a6}"),
    ) {
        ip(&["-6", "addr", "add", &a6, "dev", bridge, "nodad"])?;
    }
    ip(&["link", "set", bridge, "up"])?;
    Ok(())
}

/// Isolation: packets arriving from the bridge are looked up in the lab's own table,
/// which knows the lab subnet and nothing else (unreachable default), in both families.
pub fn ensure_isolation(bridge: &str, s: Subnet) -> Result<(), LabError> {
    let prio = s.rule().to_string();
    for (fam, net) in [("-4", s.net4()), ("-6", s.net6())] {
        if !ip_has(
            &[fam, "rule", "show", "priority", &prio],
            &format!("lookup {prio}"),
        ) {
            ip(&[
                fam, "rule", "add", "priority", &prio, "iif", bridge, "lookup", &prio,
            ])?;
        }
        ip(&[fam, "route", "replace", &net, "dev", bridge, "table", &prio])?;
        ip(&[
            fam,
            "route",
            "replace",
            "unreachable",
            "default",
            "table",
            &prio,
        ])?;
    }
    Ok(())
}

/// Removes the lab's rule and table.
pub fn remove_isolation(rule: u32) {
    let prio = rule.to_string();
    for fam in ["-4", "-6"] {
        while ip_has(
            &[fam, "rule", "show", "priority", &prio],
            &format!("lookup {prio}"),
        ) {
            if ip(&[fam, "rule", "del", "priority", &prio]).is_err() {
                break;
            }
        }
        let _ = exec::run("ip", &[fam, "route", "flush", "table", &prio], QUICK);
    }
}

/// --nat: masquerade the lab's IPv4 subnet out of this machine (nftables table of the
/// lab's own) and turn on forwarding. Returns net.ipv4.ip_forward as it was.
pub fn ensure_nat(table: &str, s: Subnet, bridge: &str) -> Result<String, LabError> {
    let before = get_sysctl("net.ipv4.ip_forward").unwrap_or_else(|| "0".into());
    let exists = exec::run("nft", &["list", "table", "ip", table], QUICK)
        .map(|o| o.ok())
        .unwrap_or(false);
    if !exists {
        let rules = format!(
            "table ip {table} {{\n  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    ip saddr {net} ip daddr != {net} oifname != \"{bridge}\" masquerade\n  }}\n  chain forward {{\n    type filter hook forward priority filter; policy accept;\n    iifname \"{bridge}\" accept\n    oifname \"{bridge}\" ct state established,related accept\n  }}\n}}\n",
            net = s.net4()
        );
        let f = tempfile::NamedTempFile::new().map_err(LabError::io("writing", "nft rules"))?;
        std::fs::write(f.path(), rules).map_err(LabError::io("writing", f.path()))?;
        exec::run_ok(
            "nft",
            &[std::ffi::OsStr::new("-f"), f.path().as_os_str()],
            QUICK,
        )?;
    }
    set_sysctl("net.ipv4.ip_forward", "1")?;
    Ok(before)
}

/// Removes the lab's nftables table.
pub fn remove_nat(table: &str) {
    let _ = exec::run("nft", &["delete", "table", "ip", table], QUICK);
}

/// Host K's namespace, veth pair (eth0 inside), addresses, routes and the sysctls a
/// Kubernetes node needs in its network namespace (idempotent).
pub fn ensure_host(
    netns: &str,
    veth: &str,
    bridge: &str,
    s: Subnet,
    k: usize,
) -> Result<(), LabError> {
    if !Path::new("/run/netns").join(netns).exists() {
        ip(&["netns", "add", netns])?;
    }
    let in_ns = |args: &[&str]| -> Result<exec::Output, LabError> {
        let mut a = vec!["netns", "exec", netns];
        a.extend_from_slice(args);
        exec::run_ok("ip", &a, QUICK)
    };
    in_ns(&[
        "sysctl",
        "-qw",
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
        "net.ipv6.conf.default.accept_ra=0",
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
    ])?;
    if Path::new("/proc/sys/net/bridge/bridge-nf-call-iptables").exists() {
        let _ = in_ns(&[
            "sysctl",
            "-qw",
            "net.bridge.bridge-nf-call-iptables=1",
            "net.bridge.bridge-nf-call-ip6tables=1",
        ]);
    }
    ip(&["-n", netns, "link", "set", "lo", "up"])?;
    if !ip_has(&["-n", netns, "link", "show", "eth0"], "eth0") {
        if link_exists(veth) {
            ip(&["link", "del", veth])?;
        }
        ip(&[
            "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns,
        ])?;
    }
    ip(&["link", "set", veth, "master", bridge])?;
    ip(&["link", "set", veth, "up"])?;
    let a4 = format!("{}/24", s.host4(k));
    if !ip_has(
        &["-n", netns, "-4", "addr", "show", "dev", "eth0"],
        &format!("inet {a4}"),
    ) {
        ip(&["-n", netns, "addr", "add", &a4, "dev", "eth0"])?;
    }
    let a6 = format!("{}/64", s.host6(k));
    if !ip_has(
        &["-n", netns, "-6", "addr", "show", "dev", "eth0"],
        &format!("inet6 {a6}"),
    ) {
        ip(&[
            "-n", netns, "-6", "addr", "add", &a6, "dev", "eth0", "nodad",
        ])?;
    }
    ip(&["-n", netns, "link", "set", "eth0", "up"])?;
    let gw4 = s.bridge4().to_string();
    let gw6 = s.bridge6().to_string();
    ip(&[
        "-n", netns, "-4", "route", "replace", "default", "via", &gw4, "dev", "eth0",
    ])?;
    ip(&[
        "-n", netns, "-6", "route", "replace", "default", "via", &gw6, "dev", "eth0",
    ])?;
    Ok(())
}

/// Deletes a veth (its peer goes with it) when it exists.
pub fn remove_link(name: &str) -> Result<(), LabError> {
    if link_exists(name) {
        ip(&["link", "del", name])?;
    }
    Ok(())
}

/// Deletes a network namespace when it exists.
pub fn remove_netns(netns: &str) -> Result<(), LabError> {
    if Path::new("/run/netns").join(netns).exists() {
        ip(&["netns", "del", netns])?;
    }
    Ok(())
}

/// Loads the kernel modules containers need (warns when it cannot) and sets the machine's
/// kernel settings a kubelet checks at start (outside net.* they are this machine's and
/// read-only in hosts). Returns what it changed, for the log.
pub fn ensure_kernel() -> Vec<String> {
    let mut said = Vec::new();
    for m in ["overlay", "br_netfilter"] {
        // built in (no module to load) or loaded already
        let loaded = Path::new("/sys/module").join(m).exists()
            || (m == "br_netfilter" && Path::new("/proc/sys/net/bridge").exists())
            || (m == "overlay"
                && std::fs::read_to_string("/proc/filesystems")
                    .map(|f| f.contains("\toverlay"))
                    .unwrap_or(false));
        if !loaded
            && !exec::run("modprobe", &[m], QUICK)
                .map(|o| o.ok())
                .unwrap_or(false)
        {
            said.push(format!("warning: cannot load kernel module {m}"));
        }
    }
    for (k, v) in [
        ("vm.overcommit_memory", "1"),
        ("vm.panic_on_oom", "0"),
        ("kernel.panic", "10"),
        ("kernel.panic_on_oops", "1"),
    ] {
        if get_sysctl(k).as_deref() == Some(v) {
            continue;
        }
        match set_sysctl(k, v) {
            Ok(()) => said.push(format!("set {k}={v} on this machine (a kubelet checks it)")),
            Err(_) => said.push(format!(
                "warning: cannot set {k}={v} (a kubelet in a host will refuse to start)"
            )),
        }
    }
    said
}
