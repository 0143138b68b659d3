//! Ansible's `ipaddr` family (ansible.utils) for the queries Kubespray uses.

use ipnet::IpNet;
use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Value};
use std::net::IpAddr;

fn parse_ip_or_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Some(n);
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

fn net_size(n: &IpNet) -> u128 {
    let host_bits = u32::from(n.max_prefix_len() - n.prefix_len());
    if host_bits >= 128 {
        u128::MAX
    } else {
        1u128 << host_bits
    }
}

fn nth_addr(n: &IpNet, idx: i64) -> Option<IpAddr> {
    let size = net_size(n);
    let idx: u128 = if idx >= 0 {
        u128::try_from(idx).ok()?
    } else {
        size.checked_sub(u128::from(idx.unsigned_abs()))?
    };
    if idx >= size {
        return None;
    }
    match n.network() {
        IpAddr::V4(a) => {
            let base = u128::from(u32::from(a));
            u32::try_from(base + idx)
                .ok()
                .map(|x| IpAddr::V4(std::net::Ipv4Addr::from(x)))
        }
        IpAddr::V6(a) => u128::from(a)
            .checked_add(idx)
            .map(|x| IpAddr::V6(std::net::Ipv6Addr::from(x))),
    }
}

/// `ipaddr(query)`: Ansible's ipaddr for the queries Kubespray uses. Returns `false`
/// for input that is not an address, like Ansible.
pub(super) fn ipaddr(v: Value, query: Option<Value>) -> Result<Value, Error> {
    if v.kind() == ValueKind::Seq {
        let mut out = Vec::new();
        for item in v.try_iter()? {
            let r = ipaddr(item, query.clone())?;
            if r.is_true() {
                out.push(r);
            }
        }
        return Ok(Value::from(out));
    }
    let text = match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string(),
    };
    let Some(net) = parse_ip_or_net(&text) else {
        return Ok(Value::from(false));
    };
    let has_prefix = text.contains('/');
    let Some(q) = query else {
        return Ok(Value::from(text));
    };
    if let Some(i) = q.as_i64() {
        return Ok(nth_addr(&net.trunc(), i)
            .map(|a| Value::from(format!("{a}/{}", net.prefix_len())))
            .unwrap_or(Value::from(false)));
    }
    let q = q.as_str().unwrap_or("").to_string();
    let out = match q.as_str() {
        "" => Value::from(text),
        "address" => Value::from(net.addr().to_string()),
        "net" | "subnet" | "cidr" => {
            if has_prefix && net.addr() != net.network() {
                Value::from(false)
            } else {
                Value::from(net.trunc().to_string())
            }
        }
        "network" => Value::from(net.network().to_string()),
        "prefix" => Value::from(net.prefix_len()),
        "netmask" => Value::from(net.netmask().to_string()),
        "broadcast" => match net {
            IpNet::V4(n) => Value::from(n.broadcast().to_string()),
            IpNet::V6(_) => Value::from(false),
        },
        "size" => Value::from(net_size(&net) as u64),
        "host" => Value::from(format!("{}/{}", net.addr(), net.prefix_len())),
        "first_usable" => nth_addr(&net.trunc(), 1)
            .map(|a| Value::from(a.to_string()))
            .unwrap_or(Value::from(false)),
        "last_usable" => nth_addr(&net.trunc(), -2)
            .map(|a| Value::from(a.to_string()))
            .unwrap_or(Value::from(false)),
        "ipv4" | "4" => match net {
            IpNet::V4(_) => Value::from(text),
            IpNet::V6(_) => Value::from(false),
        },
        "ipv6" | "6" => match net {
            IpNet::V6(_) => Value::from(text),
            IpNet::V4(_) => Value::from(false),
        },
        "private" => Value::from(is_private(&net.addr())),
        "public" => Value::from(!is_private(&net.addr())),
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("ipaddr query '{other}' is not supported by kubeforge (supported: address, net, network, prefix, netmask, broadcast, size, host, first_usable, last_usable, an index)"),
            ))
        }
    };
    Ok(out)
}

fn is_private(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_private() || v.is_loopback() || v.is_link_local(),
        IpAddr::V6(v) => (v.segments()[0] & 0xfe00) == 0xfc00 || v.is_loopback(),
    }
}

fn family_filter(v: Value, want_v4: bool) -> Result<Value, Error> {
    if v.kind() == ValueKind::Seq {
        let mut out = Vec::new();
        for item in v.try_iter()? {
            let r = family_filter(item, want_v4)?;
            if r.is_true() {
                out.push(r);
            }
        }
        return Ok(Value::from(out));
    }
    let text = v
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    Ok(match parse_ip_or_net(&text) {
        Some(IpNet::V4(_)) if want_v4 => Value::from(text),
        Some(IpNet::V6(_)) if !want_v4 => Value::from(text),
        _ => Value::from(false),
    })
}

pub(super) fn ipv4(v: Value) -> Result<Value, Error> {
    family_filter(v, true)
}

pub(super) fn ipv6(v: Value) -> Result<Value, Error> {
    family_filter(v, false)
}

pub(super) fn ipwrap(v: Value) -> Value {
    let text = v
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string());
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        Value::from(format!("[{text}]"))
    } else {
        Value::from(text)
    }
}

#[cfg(test)]
mod tests {
    use crate::vars::template::{env, normalize};
    use minijinja::Value;

    fn eval(expr: &str) -> Value {
        let expr = normalize(expr);
        env().compile_expression(&expr).unwrap().eval(()).unwrap()
    }

    #[test]
    fn ipaddr_queries_match_ansible() {
        let cases = [
            ("'10.233.0.0/18' | ansible.utils.ipaddr('net')", "10.233.0.0/18"),
            ("'10.233.0.0/18' | ipaddr('net') | ipaddr(1)", "10.233.0.1/18"),
            ("'10.233.0.0/18' | ipaddr('net') | ipaddr(1) | ipaddr('address')", "10.233.0.1"),
            ("'10.233.0.0/18,fd00::/108'.split(',') | first | ipaddr('net') | ipaddr(3) | ipaddr('address')", "10.233.0.3"),
            ("'fd85:ee78:d8a6:8607::1000/116' | ipaddr('net') | ipaddr(1) | ipaddr('address')", "fd85:ee78:d8a6:8607::1001"),
            ("'fd00::1' | ipwrap", "[fd00::1]"),
            ("'10.0.0.1' | ansible.utils.ipwrap", "10.0.0.1"),
            ("'10.0.0.0/8' | ipaddr('prefix')", "8"),
        ];
        for (expr, want) in cases {
            assert_eq!(eval(expr).to_string(), want, "{expr}");
        }
        assert!(!eval("'nonsense' | ipaddr").is_true());
    }
}
