//! Reading typed values out of YAML nodes, each failure at file:line with a fix.

use super::PlaybookError;
use crate::diagnostic::Location;
use crate::yaml::{Node, NodeKind};
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) fn loc(file: &str, n: &Node) -> Location {
    Location::new(file, n.line)
}

pub(super) fn string_of(file: &str, key: &str, n: &Node) -> Result<String, PlaybookError> {
    match &n.kind {
        NodeKind::Str(s) => Ok(s.clone()),
        NodeKind::Int(i) => Ok(i.to_string()),
        NodeKind::Float(f) => Ok(f.to_string()),
        NodeKind::Bool(b) => Ok(b.to_string()),
        _ => Err(PlaybookError::new(
            loc(file, n),
            format!("{key} must be a string, found a {}", n.type_name()),
            format!("write {key}: <text>"),
        )),
    }
}

pub(super) fn strings_of(file: &str, key: &str, n: &Node) -> Result<Vec<String>, PlaybookError> {
    match &n.kind {
        NodeKind::Null => Ok(Vec::new()),
        NodeKind::Seq(items) => items.iter().map(|i| string_of(file, key, i)).collect(),
        _ => Ok(vec![string_of(file, key, n)?]),
    }
}

pub(super) fn bool_of(file: &str, key: &str, n: &Node) -> Result<bool, PlaybookError> {
    match &n.kind {
        NodeKind::Bool(b) => Ok(*b),
        _ => Err(PlaybookError::new(
            loc(file, n),
            format!("{key} must be true or false, found {}", n.to_value()),
            format!("write {key}: true or {key}: false"),
        )),
    }
}

pub(super) fn uint_of(file: &str, key: &str, n: &Node) -> Result<u64, PlaybookError> {
    match &n.kind {
        NodeKind::Int(i) if *i >= 0 => Ok(*i as u64),
        NodeKind::Str(s) if s.trim().parse::<u64>().is_ok() => Ok(s.trim().parse().unwrap_or(0)),
        _ => Err(PlaybookError::new(
            loc(file, n),
            format!("{key} must be a whole number, found {}", n.to_value()),
            format!("write {key}: 3"),
        )),
    }
}

pub(super) fn vars_of(file: &str, n: &Node) -> Result<BTreeMap<String, Value>, PlaybookError> {
    match &n.kind {
        NodeKind::Null => Ok(BTreeMap::new()),
        NodeKind::Map(pairs) => Ok(pairs
            .iter()
            .map(|(k, v)| (k.key_string(), v.to_value()))
            .collect()),
        _ => Err(PlaybookError::new(
            loc(file, n),
            "vars must be a mapping",
            "write vars: {name: value}",
        )),
    }
}

/// Checks that a `when`/`until`/`changed_when` expression compiles.
pub(crate) fn check_expression(file: &str, n: &Node, expr: &str) -> Result<(), PlaybookError> {
    let src = crate::vars::template::normalize(expr);
    let src = src.trim();
    let src = src
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or(src);
    crate::vars::template::env()
        .compile_expression(src)
        .map(|_| ())
        .map_err(|e| {
            PlaybookError::new(
                loc(file, n),
                format!(
                    "bad expression '{expr}': {}",
                    crate::vars::template::describe(&e)
                ),
                "conditions are Jinja expressions without {{ }}, e.g. when: ipv6_stack | bool",
            )
        })
}
