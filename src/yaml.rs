//! YAML loading with line numbers kept on every node, so errors can name file:line for
//! any value. Scalars are resolved as Ansible's PyYAML loader resolves them (YAML 1.1:
//! `yes`/`no`/`on`/`off` booleans, `1:30` sexagesimal, `0x1F`, integers of any size,
//! `.inf`), with two deliberate differences: `0644` stays the text "0644" and duplicate
//! keys are errors. Ansible's tags `!unsafe` and `!vault` are kept.

mod compose;

use serde_json::Value;
use std::path::Path;

/// A YAML node with the line and column where it starts (1-based; 0 when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line of the node in its file.
    pub line: u32,
    /// 1-based column of the node in its file.
    pub col: u32,
    /// The node itself.
    pub kind: NodeKind,
}

/// The shape of a YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `~`, `null` or nothing.
    Null,
    /// A boolean (YAML 1.1 yes/no/on/off included, as Ansible reads them).
    Bool(bool),
    /// An integer.
    Int(i64),
    /// An integer beyond 64 bits, as decimal digits.
    BigInt(String),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>),
    /// `!unsafe`: never templated.
    Unsafe(Box<Node>),
    /// `!vault`: Ansible Vault ciphertext.
    Vault(String),
}

/// A YAML syntax or shape error with its position.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// 1-based line (0 when the parser gave none).
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// What is wrong, in the parser's words.
    pub message: String,
}

impl Node {
    /// Converts to a plain JSON value (positions dropped).
    pub fn to_value(&self) -> Value {
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::BigInt(d) => crate::value::int_from_digits(d),
            NodeKind::Float(f) => crate::value::float(*f),
            NodeKind::Unsafe(inner) => crate::value::unsafe_value(inner.to_value()),
            NodeKind::Vault(text) => crate::value::vault(text),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            NodeKind::Map(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.key_string(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// The node as a mapping key: scalars rendered as text (as Python's json.dumps
    /// writes a key: `true`, `null`, `1.5`).
    pub fn key_string(&self) -> String {
        match &self.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Null => "null".into(),
            NodeKind::Bool(b) => b.to_string(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::BigInt(d) => d.clone(),
            NodeKind::Float(f) => crate::value::python_float_repr(*f),
            NodeKind::Unsafe(inner) => inner.key_string(),
            NodeKind::Vault(text) => text.clone(),
            NodeKind::Seq(_) | NodeKind::Map(_) => self.to_value().to_string(),
        }
    }

    /// Mapping pairs, or None when the node is not a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(pairs) => Some(pairs),
            _ => None,
        }
    }

    /// The string value, when the node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// True for `~`/null/empty.
    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// A short name of the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "boolean",
            NodeKind::Int(_) | NodeKind::BigInt(_) => "integer",
            NodeKind::Float(_) => "float",
            NodeKind::Str(_) => "string",
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "mapping",
            NodeKind::Unsafe(_) => "!unsafe value",
            NodeKind::Vault(_) => "!vault value",
        }
    }

    /// Looks up a key in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

/// Parses one YAML document into a spanned node. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    if text.trim().is_empty()
        || text.lines().all(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('#') || t == "---"
        })
    {
        return Ok(Node {
            line: 1,
            col: 1,
            kind: NodeKind::Null,
        });
    }
    compose::compose(text)
}

/// Reads and parses a YAML file.
pub fn load_file(path: &Path) -> Result<(String, Result<Node, YamlError>), std::io::Error> {
    let text = std::fs::read_to_string(path)?;
    let parsed = parse(&text);
    Ok((text, parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lines_and_types() {
        let n = parse("a: 1\nb:\n  - x\n  - yes\nmode: 0644\n").unwrap();
        let b = n.get("b").unwrap();
        assert_eq!(b.line, 3);
        assert_eq!(n.get("a").unwrap().kind, NodeKind::Int(1));
        assert_eq!(n.get("mode").unwrap().kind, NodeKind::Str("0644".into()));
        match &b.kind {
            NodeKind::Seq(items) => assert_eq!(items[1].kind, NodeKind::Bool(true)),
            other => panic!("not a seq: {other:?}"),
        }
        assert_eq!(n.get("mode").unwrap().line, 5);
    }

    #[test]
    fn empty_and_comment_only_documents_are_null() {
        assert!(parse("").unwrap().is_null());
        assert!(parse("---\n# nothing\n").unwrap().is_null());
    }

    #[test]
    fn duplicate_keys_are_errors_with_a_line() {
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.line, 3, "{e:?}");
    }
}
