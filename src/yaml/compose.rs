//! Builds nodes from the YAML event stream (granit-parser) the way PyYAML's SafeLoader
//! with Ansible's constructor does: implicit resolution of plain scalars (YAML 1.1),
//! explicit `!!` tags, anchors and aliases (with a size budget), `<<` merge keys, and
//! Ansible's `!unsafe` and `!vault` tags. One document per stream.

use super::{Node, NodeKind, YamlError};
use granit_parser::{Event, Parser, ScalarStyle, Span, Tag};
use num_bigint::BigInt;
use std::collections::HashMap;

/// Nodes one document may expand to through aliases (a guard against alias bombs).
const MAX_NODES: usize = 1_000_000;

enum Frame {
    Seq {
        start: (u32, u32),
        anchor: usize,
        tag: Option<String>,
        items: Vec<Node>,
    },
    Map {
        start: (u32, u32),
        anchor: usize,
        tag: Option<String>,
        pairs: Vec<(Node, Node)>,
        key: Option<Node>,
        merges: Vec<usize>,
        key_is_merge: bool,
    },
}

fn pos(span: &Span) -> (u32, u32) {
    (
        u32::try_from(span.start.line()).unwrap_or(u32::MAX),
        u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX),
    )
}

fn err(at: (u32, u32), message: impl Into<String>) -> YamlError {
    YamlError {
        line: at.0,
        col: at.1,
        message: message.into(),
    }
}

fn tag_name(tag: &Tag) -> String {
    match tag.handle() {
        "tag:yaml.org,2002:" => format!("!!{}", tag.suffix()),
        h => format!("{h}{}", tag.suffix()),
    }
}

fn size(n: &Node) -> usize {
    match &n.kind {
        NodeKind::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        NodeKind::Map(pairs) => 1 + pairs.iter().map(|(k, v)| size(k) + size(v)).sum::<usize>(),
        NodeKind::Unsafe(inner) => 1 + size(inner),
        _ => 1,
    }
}

/// Composes one document; an empty stream is Null.
pub fn compose(text: &str) -> Result<Node, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut budget = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let m = e.marker();
            let (line, col) = (
                u32::try_from(m.line()).unwrap_or(0),
                u32::try_from(m.col() + 1).unwrap_or(0),
            );
            err(
                (line, col),
                format!("{} at line {line}, column {col}", e.info()),
            )
        })?;
        let at = pos(&span);
        let done: Option<(Node, usize)> = match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(err(at, "expected a single document in the stream"));
                }
                None
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| tag_name(&t));
                let in_key = matches!(stack.last(), Some(Frame::Map { key: None, .. }));
                if in_key
                    && style == ScalarStyle::Plain
                    && text == "<<"
                    && tag.as_deref().is_none_or(|t| t == "!!merge")
                {
                    if let Some(Frame::Map { key_is_merge, .. }) = stack.last_mut() {
                        *key_is_merge = true;
                    }
                }
                let kind = scalar(&text, style, tag.as_deref()).map_err(|m| err(at, m))?;
                Some((
                    Node {
                        line: at.0,
                        col: at.1,
                        kind,
                    },
                    anchor,
                ))
            }
            Event::Alias(id) => {
                let n = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| err(at, "alias to an unknown anchor"))?;
                budget += size(&n);
                if budget > MAX_NODES {
                    return Err(err(
                        at,
                        format!("aliases expand to more than {MAX_NODES} nodes"),
                    ));
                }
                Some((
                    Node {
                        line: at.0,
                        col: at.1,
                        ..n
                    },
                    0,
                ))
            }
            Event::SequenceStart(_, anchor, tag) => {
                stack.push(Frame::Seq {
                    start: at,
                    anchor,
                    tag: tag.map(|t| tag_name(&t)),
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(_, anchor, tag) => {
                stack.push(Frame::Map {
                    start: at,
                    anchor,
                    tag: tag.map(|t| tag_name(&t)),
                    pairs: Vec::new(),
                    key: None,
                    merges: Vec::new(),
                    key_is_merge: false,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    start,
                    anchor,
                    tag,
                    items,
                }) => {
                    let kind = collection(NodeKind::Seq(items), tag.as_deref(), start)?;
                    Some((
                        Node {
                            line: start.0,
                            col: start.1,
                            kind,
                        },
                        anchor,
                    ))
                }
                _ => return Err(err(at, "unbalanced sequence")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    start,
                    anchor,
                    tag,
                    pairs,
                    merges,
                    ..
                }) => {
                    let pairs = finish_map(pairs, &merges)?;
                    let kind = collection(NodeKind::Map(pairs), tag.as_deref(), start)?;
                    Some((
                        Node {
                            line: start.0,
                            col: start.1,
                            kind,
                        },
                        anchor,
                    ))
                }
                _ => return Err(err(at, "unbalanced mapping")),
            },
            _ => None,
        };
        let Some((node, anchor)) = done else { continue };
        budget += 1;
        if budget > MAX_NODES {
            return Err(err(
                at,
                format!("the document has more than {MAX_NODES} nodes"),
            ));
        }
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                pairs,
                key,
                merges,
                key_is_merge,
                ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if std::mem::take(key_is_merge) {
                        merges.push(pairs.len());
                    }
                    pairs.push((k, node));
                }
            },
        }
    }
    Ok(root.unwrap_or(Node {
        line: 1,
        col: 1,
        kind: NodeKind::Null,
    }))
}

/// Python's notion of key equality for the duplicate check (`yes` and `true` collide).
fn canonical_key(n: &Node) -> String {
    match &n.kind {
        NodeKind::Bool(b) => format!("i:{}", i64::from(*b)),
        NodeKind::Int(i) => format!("i:{i}"),
        NodeKind::BigInt(d) => format!("i:{d}"),
        NodeKind::Float(f) if f.fract() == 0.0 && f.abs() < 1e18 => format!("i:{}", *f as i64),
        NodeKind::Null => "n".into(),
        NodeKind::Str(s) => format!("s:{s}"),
        _ => format!("o:{}", n.key_string()),
    }
}

/// Own keys must be unique; `<<` entries merge mappings in, own keys winning and
/// earlier merged mappings winning over later ones (PyYAML's flatten_mapping).
fn finish_map(pairs: Vec<(Node, Node)>, merges: &[usize]) -> Result<Vec<(Node, Node)>, YamlError> {
    let mut own: Vec<(Node, Node)> = Vec::new();
    let mut merged: Vec<(Node, Node)> = Vec::new();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if merges.contains(&i) {
            let sources: Vec<Node> = match v.kind {
                NodeKind::Map(_) => vec![v],
                NodeKind::Seq(items) => items,
                _ => {
                    return Err(err(
                        (v.line, v.col),
                        "a merge key (<<) takes a mapping or a list of mappings",
                    ))
                }
            };
            for src in sources {
                let NodeKind::Map(src_pairs) = src.kind else {
                    return Err(err(
                        (src.line, src.col),
                        "a merge key (<<) takes a mapping or a list of mappings",
                    ));
                };
                merged.extend(src_pairs);
            }
            continue;
        }
        let ck = canonical_key(&k);
        if let Some(first) = seen.get(&ck) {
            return Err(err(
                (k.line, k.col),
                format!(
                    "duplicate mapping key: {} (first at line {first})",
                    k.key_string()
                ),
            ));
        }
        seen.insert(ck, k.line);
        own.push((k, v));
    }
    for (k, v) in merged {
        let ck = canonical_key(&k);
        if let std::collections::hash_map::Entry::Vacant(e) = seen.entry(ck) {
            e.insert(k.line);
            own.push((k, v));
        }
    }
    Ok(own)
}

fn collection(kind: NodeKind, tag: Option<&str>, at: (u32, u32)) -> Result<NodeKind, YamlError> {
    match tag {
        None | Some("!!seq" | "!!map" | "!!omap" | "!!pairs" | "!!set" | "!") => Ok(kind),
        Some("!unsafe") => Ok(NodeKind::Unsafe(Box::new(Node {
            line: at.0,
            col: at.1,
            kind,
        }))),
        Some(other) => Err(err(at, format!("unknown tag {other} on a collection"))),
    }
}

/// A scalar's node: tagged as asked, plain ones resolved as YAML 1.1, quoted ones text.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Result<NodeKind, String> {
    let bad = |what: &str| format!("'{text}' is not {what}");
    match tag {
        Some("!!str" | "!") => Ok(NodeKind::Str(text.to_string())),
        Some("!unsafe") => Ok(NodeKind::Unsafe(Box::new(Node {
            line: 0,
            col: 0,
            kind: NodeKind::Str(text.to_string()),
        }))),
        Some("!vault" | "!vault-encrypted") => Ok(NodeKind::Vault(text.to_string())),
        Some("!!int") => int(text).ok_or_else(|| bad("an integer")),
        Some("!!float") => float(text)
            .map(NodeKind::Float)
            .ok_or_else(|| bad("a float")),
        Some("!!bool") => boolean(text)
            .map(NodeKind::Bool)
            .ok_or_else(|| bad("a boolean")),
        Some("!!null") => Ok(NodeKind::Null),
        Some("!!binary" | "!!timestamp" | "!!merge") => Ok(NodeKind::Str(text.to_string())),
        Some(other) => Err(format!("unknown tag {other}")),
        None if style == ScalarStyle::Plain => Ok(resolve_plain(text)),
        None => Ok(NodeKind::Str(text.to_string())),
    }
}

fn boolean(t: &str) -> Option<bool> {
    match t {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn all_in(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(ok)
}

/// PyYAML's int resolver pattern (YAML 1.1).
fn looks_int(t: &str) -> bool {
    let u = t.strip_prefix(['-', '+']).unwrap_or(t);
    if let Some(b) = u.strip_prefix("0b") {
        return all_in(b, |c| c == '0' || c == '1' || c == '_');
    }
    if let Some(h) = u.strip_prefix("0x") {
        return all_in(h, |c| c.is_ascii_hexdigit() || c == '_');
    }
    if u == "0" {
        return true;
    }
    if let Some(o) = u.strip_prefix('0') {
        return all_in(o, |c| ('0'..='7').contains(&c) || c == '_');
    }
    let mut parts = u.split(':');
    let first = parts.next().unwrap_or("");
    if !first.starts_with(|c: char| ('1'..='9').contains(&c))
        || !all_in(first, |c| c.is_ascii_digit() || c == '_')
    {
        return false;
    }
    parts.all(sexagesimal_part)
}

/// `[0-5]?[0-9]`
fn sexagesimal_part(p: &str) -> bool {
    let b = p.as_bytes();
    match b.len() {
        1 => b[0].is_ascii_digit(),
        2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
        _ => false,
    }
}

/// PyYAML's float resolver pattern (YAML 1.1: a '.' is required, the exponent sign too).
fn looks_float(t: &str) -> bool {
    if matches!(t, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let u = t.strip_prefix(['-', '+']).unwrap_or(t);
    if matches!(u, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let (mant, exp) = match u.find(['e', 'E']) {
        Some(i) => (&u[..i], Some(&u[i + 1..])),
        None => (u, None),
    };
    if let Some(e) = exp {
        let Some(d) = e.strip_prefix(['-', '+']) else {
            return false;
        };
        if !all_in(d, |c| c.is_ascii_digit()) || mant.contains(':') {
            return false;
        }
    }
    let digit_us = |s: &str| s.chars().all(|c| c.is_ascii_digit() || c == '_');
    if let Some(frac) = mant.strip_prefix('.') {
        // `\.[0-9][0-9_]*` (no sign allowed here in PyYAML's pattern)
        return u.len() == t.len()
            && frac.starts_with(|c: char| c.is_ascii_digit())
            && digit_us(frac);
    }
    let Some((int_part, frac)) = mant.split_once('.') else {
        return false;
    };
    if !digit_us(frac) {
        return false;
    }
    let mut parts = int_part.split(':');
    let first = parts.next().unwrap_or("");
    if !first.starts_with(|c: char| c.is_ascii_digit()) || !digit_us(first) {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    rest.iter().all(|p| sexagesimal_part(p)) && (rest.is_empty() || exp.is_none())
}

fn resolve_plain(t: &str) -> NodeKind {
    if matches!(t, "" | "~" | "null" | "Null" | "NULL") {
        return NodeKind::Null;
    }
    if let Some(b) = boolean(t) {
        return NodeKind::Bool(b);
    }
    // Deliberate: `0644` stays the text the operator wrote (file modes), not 420.
    if t.len() > 1
        && t.starts_with('0')
        && looks_int(t)
        && !t.starts_with("0x")
        && !t.starts_with("0b")
    {
        return NodeKind::Str(t.to_string());
    }
    if looks_int(t) {
        if let Some(k) = int(t) {
            return k;
        }
    }
    if looks_float(t) {
        if let Some(f) = float(t) {
            return NodeKind::Float(f);
        }
    }
    NodeKind::Str(t.to_string())
}

/// PyYAML's construct_yaml_int.
fn int(text: &str) -> Option<NodeKind> {
    let v = text.replace('_', "");
    let (neg, u) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v.strip_prefix('+').unwrap_or(&v)),
    };
    let n: BigInt = if u == "0" {
        BigInt::from(0)
    } else if let Some(b) = u.strip_prefix("0b") {
        BigInt::parse_bytes(b.as_bytes(), 2)?
    } else if let Some(h) = u.strip_prefix("0x") {
        BigInt::parse_bytes(h.as_bytes(), 16)?
    } else if u.starts_with('0') {
        BigInt::parse_bytes(u.as_bytes(), 8)?
    } else if u.contains(':') {
        let mut acc = BigInt::from(0);
        for part in u.split(':') {
            acc = acc * 60 + BigInt::parse_bytes(part.as_bytes(), 10)?;
        }
        acc
    } else {
        BigInt::parse_bytes(u.as_bytes(), 10)?
    };
    let n = if neg { -n } else { n };
    Some(match i64::try_from(&n) {
        Ok(i) => NodeKind::Int(i),
        Err(_) => NodeKind::BigInt(n.to_string()),
    })
}

/// PyYAML's construct_yaml_float.
fn float(text: &str) -> Option<f64> {
    let v = text.replace('_', "").to_lowercase();
    let (sign, u) = match v.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, v.strip_prefix('+').unwrap_or(&v)),
    };
    if u == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if u == ".nan" {
        return Some(f64::NAN);
    }
    if u.contains(':') {
        let mut acc = 0.0;
        for part in u.split(':') {
            acc = acc * 60.0 + part.parse::<f64>().ok()?;
        }
        return Some(sign * acc);
    }
    u.parse::<f64>().ok().map(|f| sign * f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(t: &str) -> NodeKind {
        resolve_plain(t)
    }

    #[test]
    fn yaml_1_1_scalars_as_pyyaml() {
        for t in ["yes", "No", "TRUE", "off", "On", "FALSE"] {
            assert!(matches!(k(t), NodeKind::Bool(_)), "{t}");
        }
        for t in [
            "y", "n", "yEs", "tRUE", "Y", "oN", "0o17", "1e3", "1.5e3", "09", "1:70", "None",
        ] {
            assert_eq!(k(t), NodeKind::Str(t.into()), "{t}");
        }
        assert_eq!(k("0x1F"), NodeKind::Int(31));
        assert_eq!(k("0b101"), NodeKind::Int(5));
        assert_eq!(k("1_000"), NodeKind::Int(1000));
        assert_eq!(k("+12"), NodeKind::Int(12));
        assert_eq!(k("1:30"), NodeKind::Int(90));
        assert_eq!(k("1:30:00"), NodeKind::Int(5400));
        assert_eq!(k("-1:30"), NodeKind::Int(-90));
        assert_eq!(k("1:30.5"), NodeKind::Float(90.5));
        assert_eq!(k("1.0e+3"), NodeKind::Float(1000.0));
        assert_eq!(k("0644"), NodeKind::Str("0644".into()));
        assert_eq!(k("-0644"), NodeKind::Int(-420));
        assert_eq!(k("~"), NodeKind::Null);
        assert!(matches!(k(".inf"), NodeKind::Float(f) if f.is_infinite()));
        assert!(matches!(k(".NaN"), NodeKind::Float(f) if f.is_nan()));
        assert_eq!(
            k("123456789012345678901234567890"),
            NodeKind::BigInt("123456789012345678901234567890".into())
        );
    }

    #[test]
    fn tags_merges_and_aliases() {
        let n = compose("a: !unsafe '{{ x }}'\nb: !!str 12\nc: &x {p: 1}\nd:\n  <<: *x\n  q: 2\n")
            .unwrap();
        assert!(matches!(n.get("a").unwrap().kind, NodeKind::Unsafe(_)));
        assert_eq!(n.get("b").unwrap().kind, NodeKind::Str("12".into()));
        let d = n.get("d").unwrap();
        assert_eq!(d.get("p").unwrap().kind, NodeKind::Int(1));
        assert_eq!(d.get("q").unwrap().kind, NodeKind::Int(2));
        assert!(compose("yes: 1\non: 2\n").is_err());
        assert!(compose("a: 1\n---\nb: 2\n").is_err());
        assert!(compose("a: !foo x\n").is_err());
    }
}
