//! Names and addresses of a lab and its hosts, all derived from the lab's name and its
//! subnet number, so two labs never share a bridge, namespace, veth, cgroup or address.
//!
//! Lab NAME: 1-8 of `a-z0-9`, starting with a letter. Subnet number S (1..=250, picked at
//! the first `up` and recorded): IPv4 10.214.S.0/24, IPv6 fd00:6b66:6c62:S::/64
//! (S written in decimal digits); the bridge is .1, host K is .(10+K).

use super::error::LabError;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The most hosts one lab holds.
pub const MAX_HOSTS: usize = 99;
/// The lab name used when none is given.
pub const DEFAULT_NAME: &str = "lab";

/// A checked lab name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabName(String);

impl LabName {
    /// Checks a name: it becomes part of interface names (15 bytes at most).
    pub fn parse(s: &str) -> Result<LabName, LabError> {
        let ok = !s.is_empty()
            && s.len() <= 8
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if ok {
            Ok(LabName(s.to_string()))
        } else {
            Err(LabError::Usage(format!(
                "lab name '{s}': use 1 to 8 characters a-z and 0-9, starting with a letter (it names the bridge and interfaces)"
            )))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bridge on this machine.
    pub fn bridge(&self) -> String {
        format!("kfbr-{}", self.0)
    }

    /// Host K's name: inventory name, hostname and nspawn machine name.
    pub fn host(&self, k: usize) -> String {
        format!("{}-node{k}", self.0)
    }

    /// Host K's network namespace (`ip netns`).
    pub fn netns(&self, k: usize) -> String {
        format!("kubeforge-lab-{}-node{k}", self.0)
    }

    /// Host K's veth end on the bridge.
    pub fn veth(&self, k: usize) -> String {
        format!("kfv-{}-{k}", self.0)
    }

    /// Host K's cgroup directory name (under the caller's cgroup in each hierarchy).
    pub fn cgroup(&self, k: usize) -> String {
        format!("kubeforge-lab-{}-node{k}", self.0)
    }

    /// The nftables table for --nat.
    pub fn nft_table(&self) -> String {
        format!("kubeforge_lab_{}", self.0)
    }

    /// Host K from a name given on the command line: `NAME-nodeK`, `nodeK` or `K`.
    pub fn host_index(&self, given: &str) -> Result<usize, LabError> {
        let rest = given.strip_prefix(&format!("{}-", self.0)).unwrap_or(given);
        let digits = rest.strip_prefix("node").unwrap_or(rest);
        match digits.parse::<usize>() {
            Ok(k) if (1..=MAX_HOSTS).contains(&k) && !digits.starts_with('0') => Ok(k),
            _ => Err(LabError::Usage(format!(
                "unknown host '{given}' in lab '{}' (hosts are {}, {}, ...)",
                self.0,
                self.host(1),
                self.host(2)
            ))),
        }
    }
}

/// The addresses of a lab with subnet number `subnet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet(pub u8);

impl Subnet {
    /// The first and last subnet numbers handed out.
    pub const RANGE: std::ops::RangeInclusive<u8> = 1..=250;

    /// IPv4 network, `10.214.S.0/24`.
    pub fn net4(self) -> String {
        format!("10.214.{}.0/24", self.0)
    }

    /// IPv6 network, `fd00:6b66:6c62:S::/64`.
    pub fn net6(self) -> String {
        format!("fd00:6b66:6c62:{}::/64", self.0)
    }

    /// The bridge's IPv4 address (the hosts' gateway, DNS and file server address).
    pub fn bridge4(self) -> Ipv4Addr {
        Ipv4Addr::new(10, 214, self.0, 1)
    }

    /// The bridge's IPv6 address.
    pub fn bridge6(self) -> Ipv6Addr {
        Ipv6Addr::new(0xfd00, 0x6b66, 0x6c62, dec_hex(self.0 as u16), 0, 0, 0, 1)
    }

    /// Host K's IPv4 address.
    pub fn host4(self, k: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 214, self.0, (10 + k) as u8)
    }

    /// Host K's IPv6 address.
    pub fn host6(self, k: usize) -> Ipv6Addr {
        Ipv6Addr::new(
            0xfd00,
            0x6b66,
            0x6c62,
            dec_hex(self.0 as u16),
            0,
            0,
            0,
            dec_hex((10 + k) as u16),
        )
    }

    /// The policy-routing rule priority and table of this lab (isolation).
    pub fn rule(self) -> u32 {
        21400 + self.0 as u32
    }
}

/// 42 -> 0x42: decimal digits read as hex, so the address shows the number.
fn dec_hex(n: u16) -> u16 {
    u16::from_str_radix(&n.to_string(), 16).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_interface_limits() {
        let n = LabName::parse("abcdefgh").unwrap();
        assert!(n.bridge().len() <= 15);
        assert!(n.veth(MAX_HOSTS).len() <= 15, "{}", n.veth(MAX_HOSTS));
        assert_eq!(n.host(3), "abcdefgh-node3");
        for bad in ["", "Lab", "1lab", "lab-1", "abcdefghi", "a_b"] {
            assert!(LabName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn two_labs_share_nothing() {
        let (a, b) = (LabName::parse("t1").unwrap(), LabName::parse("t2").unwrap());
        assert_ne!(a.bridge(), b.bridge());
        assert_ne!(a.netns(1), b.netns(1));
        assert_ne!(a.veth(1), b.veth(1));
        assert_ne!(a.host(1), b.host(1));
        assert_ne!(Subnet(1).net4(), Subnet(2).net4());
        // never the test lab's names (instance-K, kflab0, kflab-hK, 10.213.0.0/24)
        assert!(!a.bridge().starts_with("kflab"));
        assert!(!a.veth(1).starts_with("kflab"));
    }

    #[test]
    fn addresses() {
        let s = Subnet(7);
        assert_eq!(s.net4(), "10.214.7.0/24");
        assert_eq!(s.bridge4().to_string(), "10.214.7.1");
        assert_eq!(s.host4(3).to_string(), "10.214.7.13");
        assert_eq!(s.host6(3).to_string(), "fd00:6b66:6c62:7::13");
        assert_eq!(Subnet(42).bridge6().to_string(), "fd00:6b66:6c62:42::1");
        assert_eq!(s.host4(MAX_HOSTS).to_string(), "10.214.7.109");
    }

    #[test]
    fn host_names_given() {
        let n = LabName::parse("t1").unwrap();
        assert_eq!(n.host_index("t1-node2").unwrap(), 2);
        assert_eq!(n.host_index("node2").unwrap(), 2);
        assert_eq!(n.host_index("2").unwrap(), 2);
        for bad in ["t2-node1", "node0", "node01", "x", "node100"] {
            assert!(n.host_index(bad).is_err(), "{bad}");
        }
    }
}
