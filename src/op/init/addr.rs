//! `inventory init`'s addresses: one address, a range, or an IPV4+IPV6 pair per item,
//! and the IP families they give the cluster.

use super::usage;
use crate::op::OpError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The most addresses one range may give (a typo such as 10.0.0.1-10.0.9.1 is refused).
const RANGE_MAX: u128 = 1024;

/// One machine's address(es).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    /// IPv4 only.
    V4(Ipv4Addr),
    /// IPv6 only.
    V6(Ipv6Addr),
    /// Dual stack: `IPV4+IPV6`.
    Dual(Ipv4Addr, Ipv6Addr),
}

impl Addr {
    /// The address kubeforge connects to (IPv4 when there is one).
    pub(super) fn ssh(&self) -> IpAddr {
        match self {
            Addr::V4(a) | Addr::Dual(a, _) => IpAddr::V4(*a),
            Addr::V6(a) => IpAddr::V6(*a),
        }
    }
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::V4(a) => write!(f, "{a}"),
            Addr::V6(a) => write!(f, "{a}"),
            Addr::Dual(a, b) => write!(f, "{a}+{b}"),
        }
    }
}

/// Which IP families the cluster uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
    /// Both.
    Dual,
}

/// Parses one `--FLAG` item: `ADDR`, `FIRST-LAST` (or `10.0.0.10-19`), `IPV4+IPV6`.
pub fn parse_item(flag: &str, item: &str) -> Result<Vec<Addr>, OpError> {
    let item = item.trim();
    if let Some((v4, v6)) = item.split_once('+') {
        let a = range(flag, v4)?;
        let b = range(flag, v6)?;
        if a.len() != b.len() {
            return Err(usage(format!(
                "--{flag} {item}: the IPv4 part gives {} address(es), the IPv6 part {}; pair them one to one",
                a.len(),
                b.len()
            )));
        }
        return a
            .into_iter()
            .zip(b)
            .map(|pair| match pair {
                (IpAddr::V4(x), IpAddr::V6(y)) => Ok(Addr::Dual(x, y)),
                _ => Err(usage(format!(
                    "--{flag} {item}: a pair is IPV4+IPV6 (e.g. 10.0.0.11+fd00::11)"
                ))),
            })
            .collect();
    }
    Ok(range(flag, item)?
        .into_iter()
        .map(|a| match a {
            IpAddr::V4(a) => Addr::V4(a),
            IpAddr::V6(a) => Addr::V6(a),
        })
        .collect())
}

/// One address or a range of one family.
fn range(flag: &str, item: &str) -> Result<Vec<IpAddr>, OpError> {
    let bad = |why: &str| {
        usage(format!(
            "--{flag} {item}: {why} (give an address, a range such as 10.0.0.10-10.0.0.19 or 10.0.0.10-19, or IPV4+IPV6)"
        ))
    };
    let Some((first, last)) = item.split_once('-') else {
        return item
            .parse::<IpAddr>()
            .map(|a| vec![a])
            .map_err(|_| bad("not an IP address"));
    };
    let first: IpAddr = first
        .trim()
        .parse()
        .map_err(|_| bad("the range's start is not an IP address"))?;
    let last = last.trim();
    let (lo, hi): (u128, u128) = match (first, last.parse::<IpAddr>()) {
        (IpAddr::V4(a), Ok(IpAddr::V4(b))) => (u32::from(a).into(), u32::from(b).into()),
        (IpAddr::V6(a), Ok(IpAddr::V6(b))) => (a.into(), b.into()),
        (_, Ok(_)) => return Err(bad("the range mixes IPv4 and IPv6")),
        // Short form: only the last octet (IPv4, decimal) or group (IPv6, hex) given.
        (IpAddr::V4(a), Err(_)) => {
            let end: u8 = last
                .parse()
                .map_err(|_| bad("the range's end is not an address or a last octet"))?;
            let base = u32::from(a) & !0xff;
            (u32::from(a).into(), (base | u32::from(end)).into())
        }
        (IpAddr::V6(a), Err(_)) => {
            let end = u16::from_str_radix(last, 16)
                .map_err(|_| bad("the range's end is not an address or a last group"))?;
            let base = u128::from(a) & !0xffff;
            (a.into(), base | u128::from(end))
        }
    };
    if hi < lo {
        return Err(bad("the range ends before it starts"));
    }
    if hi - lo >= RANGE_MAX {
        return Err(bad(&format!(
            "the range gives more than {RANGE_MAX} addresses"
        )));
    }
    Ok((lo..=hi)
        .map(|n| match first {
            // lo..=hi stay within u32 for IPv4: both ends came from u32.
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        })
        .collect())
}

pub(super) fn parse_flag(flag: &str, items: &[String]) -> Result<Vec<Addr>, OpError> {
    let mut out: Vec<Addr> = Vec::new();
    for item in items.iter().filter(|i| !i.trim().is_empty()) {
        for a in parse_item(flag, item)? {
            if out.contains(&a) {
                return Err(usage(format!("--{flag}: {a} is given twice")));
            }
            out.push(a);
        }
    }
    Ok(out)
}

pub(super) fn stack_of<'a>(
    ipv6: bool,
    addrs: impl Iterator<Item = &'a Addr>,
) -> Result<Stack, OpError> {
    let addrs: Vec<&Addr> = addrs.collect();
    let v4 = addrs.iter().filter(|a| matches!(a, Addr::V4(_))).count();
    let v6 = addrs.iter().filter(|a| matches!(a, Addr::V6(_))).count();
    let dual = addrs.len() - v4 - v6;
    if !ipv6 {
        return match addrs.iter().find(|a| !matches!(a, Addr::V4(_))) {
            Some(a) => Err(usage(format!(
                "{a} has an IPv6 address: pass --ipv6 (IPv6 addresses alone: IPv6 only; IPV4+IPV6 pairs: dual stack)"
            ))),
            None => Ok(Stack::V4),
        };
    }
    match (v4, v6, dual) {
        (0, _, 0) => Ok(Stack::V6),
        (0, 0, _) => Ok(Stack::Dual),
        (_, 0, 0) => Err(usage(
            "--ipv6 needs each host's IPv6 address: IPV4+IPV6 pairs (10.0.0.11+fd00::11) for dual stack, or IPv6 addresses alone for IPv6 only",
        )),
        _ => Err(usage(
            "--ipv6: every host needs the same families: all IPV4+IPV6 pairs (dual stack) or all IPv6 addresses (IPv6 only)",
        )),
    }
}
