//! IP families, CIDRs and derived addresses. Everything here comes from the inventory's
//! variables alone (never from probing a host), so the same inventory always gives
//! byte-identical derived config. IPv4 is always listed before IPv6.

use crate::diagnostic::{Diagnostic, Location};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;
use serde_json::Value;
use std::net::IpAddr;

/// Looks up a rendered variable and where it was set.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<(Value, Location)>;

/// The cluster's address families and CIDRs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSettings {
    /// `ipv4_stack`.
    pub ipv4: bool,
    /// `ipv6_stack` (or the deprecated `enable_dual_stack_networks`).
    pub ipv6: bool,
    /// `kube_service_addresses`.
    pub service_v4: Option<Ipv4Net>,
    /// `kube_pods_subnet`.
    pub pods_v4: Option<Ipv4Net>,
    /// `kube_network_node_prefix`.
    pub node_prefix_v4: u8,
    /// `kube_service_addresses_ipv6`.
    pub service_v6: Option<Ipv6Net>,
    /// `kube_pods_subnet_ipv6`.
    pub pods_v6: Option<Ipv6Net>,
    /// `kube_network_node_prefix_ipv6`.
    pub node_prefix_v6: u8,
}

fn as_bool(v: &Value) -> Option<bool> {
    v.as_bool()
}

fn var_loc(get: Lookup, name: &str) -> Option<Location> {
    get(name).map(|(_, l)| l)
}

fn cidr<T>(get: Lookup, name: &str, want_v6: bool, diags: &mut Vec<Diagnostic>) -> Option<T>
where
    IpNet: From<T>,
    T: Copy + std::str::FromStr,
{
    let (value, loc) = get(name)?;
    let text = match &value {
        Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    };
    let family = if want_v6 { "IPv6" } else { "IPv4" };
    match text.parse::<IpNet>() {
        Err(_) => {
            diags.push(
                Diagnostic::error("bad-cidr", format!("{name}: '{text}' is not a CIDR"))
                    .at(Some(loc))
                    .help(format!(
                        "write an {family} network such as {}",
                        if want_v6 {
                            "fd00:10::/108"
                        } else {
                            "10.233.0.0/18"
                        }
                    )),
            );
            None
        }
        Ok(net) => {
            let is_v6 = matches!(net, IpNet::V6(_));
            if is_v6 != want_v6 {
                diags.push(
                    Diagnostic::error(
                        "cidr-family",
                        format!(
                            "{name}: '{text}' is {}, but {name} holds the {family} range",
                            if is_v6 { "IPv6" } else { "IPv4" }
                        ),
                    )
                    .at(Some(loc))
                    .help(if want_v6 {
                        format!(
                            "put an IPv6 CIDR in {name}; IPv4 ranges go in {}",
                            name.trim_end_matches("_ipv6")
                        )
                    } else {
                        format!("put an IPv4 CIDR in {name}; IPv6 ranges go in {name}_ipv6")
                    }),
                );
                return None;
            }
            if net.addr() != net.network() {
                diags.push(
                    Diagnostic::error(
                        "cidr-host-bits",
                        format!("{name}: '{text}' has host bits set"),
                    )
                    .at(Some(loc))
                    .help(format!("use the network address: {}", net.trunc())),
                );
                return None;
            }
            text.parse::<T>().ok()
        }
    }
}

fn prefix(get: Lookup, name: &str, max: u8, default: u8, diags: &mut Vec<Diagnostic>) -> u8 {
    let Some((v, loc)) = get(name) else {
        return default;
    };
    let n = match &v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    match n.and_then(|n| u8::try_from(n).ok()).filter(|n| *n <= max) {
        Some(n) => n,
        None => {
            diags.push(
                Diagnostic::error(
                    "bad-node-prefix",
                    format!("{name}: '{v}' is not a prefix length 0..{max}"),
                )
                .at(Some(loc))
                .help("give the per-node pod range size as a number, e.g. 24 (IPv4) or 120 (IPv6)"),
            );
            default
        }
    }
}

impl NetworkSettings {
    /// Reads the families and CIDRs; problems are added to `diags` (all at once).
    pub fn from_vars(get: Lookup, diags: &mut Vec<Diagnostic>) -> NetworkSettings {
        let mut ipv4 = get("ipv4_stack")
            .and_then(|(v, _)| as_bool(&v))
            .unwrap_or(true);
        let mut ipv6 = get("ipv6_stack")
            .and_then(|(v, _)| as_bool(&v))
            .unwrap_or(false);
        if let Some((v, loc)) = get("enable_dual_stack_networks") {
            diags.push(
                Diagnostic::warning(
                    "deprecated-variable",
                    "enable_dual_stack_networks is deprecated",
                )
                .at(Some(loc.clone()))
                .help("set ipv4_stack: true and ipv6_stack: true instead"),
            );
            if as_bool(&v) == Some(true)
                && get("ipv6_stack").is_none_or(|(_, l)| l.file.starts_with("roles/"))
            {
                ipv4 = true;
                ipv6 = true;
            }
        }
        if !ipv4 && !ipv6 {
            let loc = var_loc(get, "ipv4_stack").or_else(|| var_loc(get, "ipv6_stack"));
            diags.push(
                Diagnostic::error(
                    "no-ip-family",
                    "neither ipv4_stack nor ipv6_stack is enabled",
                )
                .at(loc)
                .help("set ipv4_stack: true, ipv6_stack: true, or both for dual stack"),
            );
        }
        let mut s = NetworkSettings {
            ipv4,
            ipv6,
            service_v4: None,
            pods_v4: None,
            node_prefix_v4: 24,
            service_v6: None,
            pods_v6: None,
            node_prefix_v6: 120,
        };
        if ipv4 {
            s.service_v4 = cidr::<Ipv4Net>(get, "kube_service_addresses", false, diags);
            s.pods_v4 = cidr::<Ipv4Net>(get, "kube_pods_subnet", false, diags);
            s.node_prefix_v4 = prefix(get, "kube_network_node_prefix", 32, 24, diags);
        }
        if ipv6 {
            s.service_v6 = cidr::<Ipv6Net>(get, "kube_service_addresses_ipv6", true, diags);
            s.pods_v6 = cidr::<Ipv6Net>(get, "kube_pods_subnet_ipv6", true, diags);
            s.node_prefix_v6 = prefix(get, "kube_network_node_prefix_ipv6", 128, 120, diags);
        }
        s
    }

    /// kubeadm's `serviceSubnet`: the service CIDRs in family order, comma-separated.
    pub fn service_subnet(&self) -> String {
        let mut v = Vec::new();
        if let Some(n) = self.service_v4.filter(|_| self.ipv4) {
            v.push(n.to_string());
        }
        if let Some(n) = self.service_v6.filter(|_| self.ipv6) {
            v.push(n.to_string());
        }
        v.join(",")
    }

    /// kubeadm's `podSubnet`: the pod CIDRs in family order, comma-separated.
    pub fn pod_subnet(&self) -> String {
        let mut v = Vec::new();
        if let Some(n) = self.pods_v4.filter(|_| self.ipv4) {
            v.push(n.to_string());
        }
        if let Some(n) = self.pods_v6.filter(|_| self.ipv6) {
            v.push(n.to_string());
        }
        v.join(",")
    }

    /// The API server's service IP: the first address of the first family's service range.
    pub fn apiserver_service_ip(&self) -> Option<IpAddr> {
        self.service_ip(1)
    }

    /// The address kubeadm's CoreDNS addon gives the kube-dns Service: the tenth of the
    /// first service range (kubeadm's GetDNSIP).
    pub fn dns_service_ip(&self) -> Option<IpAddr> {
        self.service_ip(10)
    }

    /// The `n`th address of the first service range (network address + n).
    fn service_ip(&self, n: u32) -> Option<IpAddr> {
        if self.ipv4 {
            if let Some(net) = self.service_v4 {
                let ip = u32::from(net.network()).checked_add(n)?;
                return Some(IpAddr::V4(std::net::Ipv4Addr::from(ip)));
            }
        }
        if self.ipv6 {
            if let Some(net) = self.service_v6 {
                let base = u128::from(net.network());
                return Some(IpAddr::V6(std::net::Ipv6Addr::from(base + u128::from(n))));
            }
        }
        None
    }

    /// Checks that ranges do not overlap and that the pod ranges hold `nodes` nodes.
    pub fn check_ranges(&self, nodes: usize, get: Lookup, diags: &mut Vec<Diagnostic>) {
        type Pair<'a> = (Option<IpNet>, Option<IpNet>, &'a str, &'a str, u8);
        let pairs: [Pair; 2] = [
            (
                self.service_v4.map(IpNet::V4),
                self.pods_v4.map(IpNet::V4),
                "kube_service_addresses",
                "kube_pods_subnet",
                self.node_prefix_v4,
            ),
            (
                self.service_v6.map(IpNet::V6),
                self.pods_v6.map(IpNet::V6),
                "kube_service_addresses_ipv6",
                "kube_pods_subnet_ipv6",
                self.node_prefix_v6,
            ),
        ];
        for (svc, pods, svc_name, pod_name, node_prefix) in pairs {
            if let (Some(s), Some(p)) = (svc, pods) {
                if s.contains(&p.network()) || p.contains(&s.network()) {
                    diags.push(
                        Diagnostic::error(
                            "cidr-overlap",
                            format!("{svc_name} ({s}) and {pod_name} ({p}) overlap"),
                        )
                        .at(var_loc(get, pod_name).or_else(|| var_loc(get, svc_name)))
                        .help("give services and pods disjoint ranges"),
                    );
                }
            }
            if let Some(p) = pods {
                let prefix_name = if pod_name.ends_with("_ipv6") {
                    "kube_network_node_prefix_ipv6"
                } else {
                    "kube_network_node_prefix"
                };
                if node_prefix < p.prefix_len() {
                    diags.push(
                        Diagnostic::error("node-prefix", format!("{prefix_name} ({node_prefix}) is shorter than {pod_name}'s prefix (/{})", p.prefix_len()))
                            .at(var_loc(get, prefix_name).or_else(|| var_loc(get, pod_name)))
                            .help(format!("use a node prefix of at least {}", p.prefix_len())),
                    );
                    continue;
                }
                let bits = u32::from(node_prefix - p.prefix_len());
                let capacity: u128 = if bits >= 127 {
                    u128::MAX
                } else {
                    1u128 << bits
                };
                if (nodes as u128) > capacity {
                    diags.push(
                        Diagnostic::error(
                            "pod-range-too-small",
                            format!("{pod_name} ({p}) holds {capacity} node range(s) of /{node_prefix}, but the cluster has {nodes} nodes"),
                        )
                        .at(var_loc(get, pod_name))
                        .help(format!("widen {pod_name} or lengthen {prefix_name}")),
                    );
                }
            }
        }
    }
}

/// A host's node IPs in family order, from `ip`/`access_ip`/`ansible_host` (IPv4) and
/// `ip6`/`access_ip6`/`ansible_host` (IPv6); `ansible_ssh_host` is read as
/// `ansible_host` and wins over it, as in Ansible's ssh plugin. Never probed.
pub fn node_ips(ipv4: bool, ipv6: bool, get: Lookup) -> (Vec<IpAddr>, Vec<String>) {
    let addr = |name: &str| -> Option<IpAddr> {
        get(name).and_then(|(v, _)| v.as_str().and_then(|s| s.trim().parse::<IpAddr>().ok()))
    };
    let mut ips = Vec::new();
    let mut missing = Vec::new();
    if ipv4 {
        match ["ip", "access_ip", "ansible_ssh_host", "ansible_host"]
            .iter()
            .find_map(|n| addr(n).filter(IpAddr::is_ipv4))
        {
            Some(a) => ips.push(a),
            None => missing.push("IPv4".to_string()),
        }
    }
    if ipv6 {
        match ["ip6", "access_ip6", "ansible_ssh_host", "ansible_host"]
            .iter()
            .find_map(|n| addr(n).filter(IpAddr::is_ipv6))
        {
            Some(a) => ips.push(a),
            None => missing.push("IPv6".to_string()),
        }
    }
    (ips, missing)
}

/// `scheme://addr:port` with an IPv6 address in brackets.
pub fn url(scheme: &str, ip: &IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{scheme}://{a}:{port}"),
        IpAddr::V6(a) => format!("{scheme}://[{a}]:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn lookup(pairs: &[(&str, Value)]) -> impl Fn(&str) -> Option<(Value, Location)> {
        let m: BTreeMap<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |n: &str| m.get(n).map(|v| (v.clone(), Location::new("vars.yml", 1)))
    }

    fn dual() -> Vec<(&'static str, Value)> {
        vec![
            ("ipv4_stack", Value::Bool(true)),
            ("ipv6_stack", Value::Bool(true)),
            ("kube_service_addresses", "10.233.0.0/18".into()),
            ("kube_pods_subnet", "10.233.64.0/18".into()),
            ("kube_network_node_prefix", 24.into()),
            (
                "kube_service_addresses_ipv6",
                "fd85:ee78:d8a6:8607::1000/116".into(),
            ),
            (
                "kube_pods_subnet_ipv6",
                "fd85:ee78:d8a6:8607::1:0000/112".into(),
            ),
            ("kube_network_node_prefix_ipv6", 120.into()),
        ]
    }

    #[test]
    fn dual_stack_strings_are_in_family_order() {
        let get = lookup(&dual());
        let mut d = Vec::new();
        let n = NetworkSettings::from_vars(&get, &mut d);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(
            n.service_subnet(),
            "10.233.0.0/18,fd85:ee78:d8a6:8607::1000/116"
        );
        assert_eq!(
            n.pod_subnet(),
            "10.233.64.0/18,fd85:ee78:d8a6:8607::1:0/112"
        );
        assert_eq!(n.apiserver_service_ip().unwrap().to_string(), "10.233.0.1");
    }

    #[test]
    fn ipv6_only_apiserver_ip() {
        let mut v = dual();
        v[0].1 = Value::Bool(false);
        let get = lookup(&v);
        let mut d = Vec::new();
        let n = NetworkSettings::from_vars(&get, &mut d);
        assert_eq!(n.service_subnet(), "fd85:ee78:d8a6:8607::1000/116");
        assert_eq!(
            n.apiserver_service_ip().unwrap().to_string(),
            "fd85:ee78:d8a6:8607::1001"
        );
    }

    #[test]
    fn range_problems() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("kube_pods_subnet", "10.233.0.0/20".into(), "cidr-overlap"),
            ("kube_pods_subnet", "not-a-cidr".into(), "bad-cidr"),
            ("kube_pods_subnet", "fd00::/64".into(), "cidr-family"),
            (
                "kube_service_addresses_ipv6",
                "10.0.0.0/8".into(),
                "cidr-family",
            ),
            (
                "kube_pods_subnet",
                "10.233.64.1/18".into(),
                "cidr-host-bits",
            ),
            (
                "kube_pods_subnet",
                "10.233.64.0/23".into(),
                "pod-range-too-small",
            ),
            ("kube_network_node_prefix", 16.into(), "node-prefix"),
        ];
        for (name, value, code) in cases {
            let mut v = dual();
            v.retain(|(k, _)| *k != name);
            v.push((name, value));
            let get = lookup(&v);
            let mut d = Vec::new();
            let n = NetworkSettings::from_vars(&get, &mut d);
            n.check_ranges(3, &get, &mut d);
            assert!(
                d.iter().any(|x| x.code == code),
                "{name}: want {code}, got {d:?}"
            );
        }
    }

    #[test]
    fn node_ips_and_urls() {
        let get = lookup(&[
            ("ip", "10.0.0.1".into()),
            ("ansible_host", "fd00::5".into()),
        ]);
        let (ips, missing) = node_ips(true, true, &get);
        assert_eq!(
            ips.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
            ["10.0.0.1", "fd00::5"]
        );
        assert!(missing.is_empty());
        assert_eq!(url("https", &ips[1], 2380), "https://[fd00::5]:2380");
        let (_, missing) = node_ips(true, true, &lookup(&[("ip", "10.0.0.1".into())]));
        assert_eq!(missing, ["IPv6"]);
    }
}
