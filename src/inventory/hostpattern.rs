//! Host patterns as Ansible reads them in INI lines and YAML `hosts:` keys: an optional
//! `:port` (`node1:2222`, `[2001:db8::10]:2222`), then ranges expanded
//! (`node[01:03]`, `cp[:2]` from 0, `w-[a:c]` over Python's `string.ascii_letters`).
//! Mirrors ansible's parse_address and expand_hostname_range.

use regex::Regex;
use std::sync::OnceLock;

/// A pattern that cannot be expanded (Ansible refuses the inventory).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(pub String);

/// The most hosts one pattern may expand to (a guard; Ansible has none).
pub const MAX_HOSTS: usize = 10_001;

const NUMERIC_RANGE: &str = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]";
const HEX_RANGE: &str = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]";
const ALNUM_RANGE: &str = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]";

struct Patterns {
    bracketed_hostport: Regex,
    hostport: Regex,
    ipv4: Regex,
    ipv6: Regex,
    label: Regex,
}

fn patterns() -> Option<&'static Patterns> {
    static P: OnceLock<Option<Patterns>> = OnceLock::new();
    P.get_or_init(|| {
        let i4 = format!(r"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{NUMERIC_RANGE})");
        let i6 = format!(r"(?:[0-9a-f]{{1,4}}|{HEX_RANGE})");
        // Python's pattern is `^alt1|...|altN$`: only the last alternative is anchored
        // at the end, and re.match anchors the start; kept as is.
        let alts = [
            format!(r"(?:{i6}:){{7}}{i6}"),
            format!(r"(?:{i6}:){{1,6}}:"),
            format!(r"(?:{i6}:)(?::{i6}){{1,6}}"),
            format!(r"(?:{i6}:){{2}}(?::{i6}){{1,5}}"),
            format!(r"(?:{i6}:){{3}}(?::{i6}){{1,4}}"),
            format!(r"(?:{i6}:){{4}}(?::{i6}){{1,3}}"),
            format!(r"(?:{i6}:){{5}}(?::{i6}){{1,2}}"),
            format!(r"(?:{i6}:){{6}}(?::{i6})"),
            format!(r":(?::{i6}){{1,6}}"),
            format!(r"{i6}?::"),
            format!(r"(?:0:){{6}}(?:{i6}\.){{3}}{i6}"),
            format!(r"::(?:ffff:)?(?:{i6}\.){{3}}{i6}"),
            format!(r"(?:0:){{5}}ffff:(?:{i6}\.){{3}}{i6}$"),
        ];
        Some(Patterns {
            bracketed_hostport: Regex::new(r"^\[(.+)\]:([0-9]+)$").ok()?,
            hostport: Regex::new(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$").ok()?,
            ipv4: Regex::new(&format!(r"(?i)^(?:{i4}\.){{3}}{i4}$")).ok()?,
            ipv6: Regex::new(&format!("(?i)^(?:{})", alts.join("|"))).ok()?,
            label: Regex::new(&format!(
                r"(?i)^(?:\w|{ALNUM_RANGE})(?:[\w-]|{ALNUM_RANGE})*$"
            ))
            .ok()?,
        })
    })
    .as_ref()
}

fn is_hostname(s: &str, p: &Patterns) -> bool {
    // Labels hold no '.', so checking each label is Python's pattern; the label may not
    // end with '_' or '-' (Python's lookbehind).
    s.split('.')
        .all(|l| p.label.is_match(l) && !l.ends_with(['_', '-']))
}

/// Ansible's parse_address(allow_ranges=True): the host part and port, or None when
/// the text is not a recognisable host (Ansible then uses the whole text as the name).
fn parse_address(address: &str) -> Option<(String, Option<u64>)> {
    let p = patterns()?;
    let mut address = address.to_string();
    let mut port = None;
    // Both port forms are tried in turn, the second on what the first left.
    for re in [&p.bracketed_hostport, &p.hostport] {
        if let Some(c) = re.captures(&address) {
            let host = c.get(1).map(|m| m.as_str().to_string()).unwrap_or_default();
            port = Some(c.get(2)?.as_str().parse::<u64>().ok()?);
            address = host;
        }
    }
    let ok = p.ipv4.is_match(&address) || p.ipv6.is_match(&address) || is_hostname(&address, p);
    ok.then_some((address, port))
}

/// A pattern's host names and port, as Ansible's `_expand_hostpattern`.
pub fn expand(pattern: &str) -> Result<(Vec<String>, Option<u64>), PatternError> {
    let (name, port) = parse_address(pattern).unwrap_or_else(|| (pattern.to_string(), None));
    let hosts = if name.contains('[') {
        let mut out = Vec::new();
        expand_range(&name, &mut out).map_err(|e| {
            if e.0.contains("expands to more than") {
                too_many(&name)
            } else {
                e
            }
        })?;
        out
    } else {
        vec![name]
    };
    Ok((hosts, port))
}

fn too_many(line: &str) -> PatternError {
    PatternError(format!("'{line}' expands to more than {MAX_HOSTS} hosts"))
}

const ASCII_LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Python's int() of a range bound (whitespace, sign and underscores allowed).
fn py_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    t.replace('_', "").parse().ok()
}

fn expand_range(line: &str, out: &mut Vec<String>) -> Result<(), PatternError> {
    let bad = |m: &str| PatternError(format!("{m} in host pattern '{line}'"));
    // Python: line.replace('[', '|', 1).replace(']', '|', 1).split('|') must give 3 parts.
    let replaced = line.replacen('[', "|", 1).replacen(']', "|", 1);
    let parts: Vec<&str> = replaced.split('|').collect();
    let [head, nrange, tail] = parts[..] else {
        return Err(bad("a range is written [begin:end] or [begin:end:step]"));
    };
    let bounds: Vec<&str> = nrange.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(bad("host range must be begin:end or begin:end:step"));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    let step = bounds.get(2).copied().unwrap_or("1");
    if end.is_empty() {
        return Err(bad("host range must specify end value"));
    }
    let width = if beg.starts_with('0') && beg.len() > 1 {
        if beg.len() != end.len() {
            return Err(bad(
                "host range must specify equal-length begin and end formats",
            ));
        }
        beg.len()
    } else {
        0
    };
    let step = py_int(step).ok_or_else(|| bad("the range step is not a number"))?;
    let mut seq: Vec<String> = Vec::new();
    // Python: string.ascii_letters.index(beg) finds beg as a substring.
    match (ASCII_LETTERS.find(beg), ASCII_LETTERS.find(end)) {
        (Some(b), Some(e)) => {
            if b > e {
                return Err(bad("host range must have begin <= end"));
            }
            if step == 0 {
                return Err(bad("the range step must not be zero"));
            }
            if step > 0 {
                let letters: Vec<char> = ASCII_LETTERS.chars().collect();
                let stop = (e + 1).min(letters.len());
                let step = usize::try_from(step).unwrap_or(usize::MAX);
                seq.extend(letters[b..stop].iter().step_by(step).map(|c| c.to_string()));
            }
        }
        _ => {
            let b = py_int(beg).ok_or_else(|| bad(&format!("'{beg}' is not a number")))?;
            let e = py_int(end).ok_or_else(|| bad(&format!("'{end}' is not a number")))?;
            if step == 0 {
                return Err(bad("the range step must not be zero"));
            }
            let count = if step > 0 && e >= b {
                (e - b) / step + 1
            } else {
                0
            };
            if usize::try_from(count).map_or(true, |c| c > MAX_HOSTS) {
                return Err(too_many(line));
            }
            let mut n = b;
            while n <= e && step > 0 {
                seq.push(format!("{n:0width$}"));
                n = n.saturating_add(step);
                if n == i64::MAX {
                    break;
                }
            }
        }
    }
    for item in seq {
        let name = format!("{head}{item}{tail}");
        if name.contains('[') {
            expand_range(&name, out)?;
        } else {
            out.push(name);
        }
        if out.len() > MAX_HOSTS {
            return Err(too_many(line));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &str) -> Vec<String> {
        expand(p).unwrap().0
    }

    #[test]
    fn ports_and_addresses() {
        assert_eq!(
            expand("node1:2201").unwrap(),
            (vec!["node1".into()], Some(2201))
        );
        assert_eq!(
            expand("[2001:db8::10]:2222").unwrap(),
            (vec!["2001:db8::10".into()], Some(2222))
        );
        assert_eq!(
            expand("2001:db8::11").unwrap(),
            (vec!["2001:db8::11".into()], None)
        );
        assert_eq!(expand("web[1:2]:22").unwrap().1, Some(22));
        assert_eq!(expand("10.0.0.5").unwrap(), (vec!["10.0.0.5".into()], None));
    }

    #[test]
    fn ranges_as_ansible() {
        assert_eq!(names("cp[:2]"), ["cp0", "cp1", "cp2"]);
        assert_eq!(names("node[01:03]"), ["node01", "node02", "node03"]);
        assert_eq!(names("step[0:10:5]"), ["step0", "step5", "step10"]);
        assert_eq!(names("w-[x:B]"), ["w-x", "w-y", "w-z", "w-A", "w-B"]);
        assert_eq!(names("n[8:10]"), ["n8", "n9", "n10"]);
        assert_eq!(names("a[1:2]b[1:2]"), ["a1b1", "a1b2", "a2b1", "a2b2"]);
        assert!(expand("node[01:100]").is_err());
        assert!(expand("[kube_control_plane]").is_err());
        assert!(expand("n[1:").is_err());
        assert!(expand("n[0:99999999]").is_err());
    }
}
