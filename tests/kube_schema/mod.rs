//! Strict schema check of rendered kubeadm / kubelet / kube-proxy configuration documents.
//!
//! Rust types mirroring, field by field with the JSON names of the Go struct tags:
//!   kubeadm.k8s.io/v1beta4          InitConfiguration, ClusterConfiguration, JoinConfiguration,
//!                                   ResetConfiguration, UpgradeConfiguration   (kubeadm.rs)
//!   kubelet.config.k8s.io/v1beta1   KubeletConfiguration                       (kubelet.rs)
//!   kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration                    (kubeproxy.rs)
//! plus the embedded core/v1, component-base and meta/v1 types (corev1.rs, component_base.rs,
//! metav1.rs). Upstream: kubernetes/kubernetes, files and commits cited at the top of each file.
//! FACTS.md beside this file lists the fields kubeforge renders with their exact paths and types.
//!
//! Decoding is strict the way kubeadm's / the kubelet's strict decoders are:
//! - unknown field (at any depth) = error (`#[serde(deny_unknown_fields)]` everywhere; Go
//!   `json:",inline"` embeddings are written out, since serde's flatten defeats deny_unknown_fields);
//! - wrong type = error, including a plain YAML scalar that resolves to a number or boolean where
//!   the Go type is a string (`imageTag: 1.10`, `value: true`): sigs.k8s.io/yaml turns those into JSON
//!   numbers/booleans and encoding/json refuses them for a string field (serde-saphyr `no_schema`);
//! - duplicate keys = error (serde-saphyr's default DuplicateKeyPolicy::Error);
//! - durations must parse as Go durations, quantities as resource.Quantity, bootstrap tokens as
//!   "[a-z0-9]{6}.[a-z0-9]{16}", times as RFC 3339.
//!
//! Semantic validation (CIDR syntax, enum values, mutually exclusive fields) is NOT done here.
//!
//! Use from an integration test with `mod kube_schema;` (this directory is tests/kube_schema/).

#![allow(dead_code, non_snake_case, clippy::upper_case_acronyms)]

pub mod component_base;
pub mod corev1;
pub mod kubeadm;
pub mod kubelet;
pub mod kubeproxy;
pub mod metav1;

#[cfg(test)]
mod self_tests;

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// (apiVersion, kind) pairs this module can check.
pub const SUPPORTED: &[(&str, &str)] = &[
    (kubeadm::API_VERSION, "InitConfiguration"),
    (kubeadm::API_VERSION, "ClusterConfiguration"),
    (kubeadm::API_VERSION, "JoinConfiguration"),
    (kubeadm::API_VERSION, "ResetConfiguration"),
    (kubeadm::API_VERSION, "UpgradeConfiguration"),
    (kubelet::API_VERSION, "KubeletConfiguration"),
    (kubeproxy::API_VERSION, "KubeProxyConfiguration"),
];

/// One decoded document.
#[derive(Debug, Clone)]
pub enum KubeDocument {
    Init(Box<kubeadm::InitConfiguration>),
    Cluster(Box<kubeadm::ClusterConfiguration>),
    Join(Box<kubeadm::JoinConfiguration>),
    Reset(Box<kubeadm::ResetConfiguration>),
    Upgrade(Box<kubeadm::UpgradeConfiguration>),
    Kubelet(Box<kubelet::KubeletConfiguration>),
    KubeProxy(Box<kubeproxy::KubeProxyConfiguration>),
}

impl KubeDocument {
    pub fn kind(&self) -> &'static str {
        match self {
            KubeDocument::Init(_) => "InitConfiguration",
            KubeDocument::Cluster(_) => "ClusterConfiguration",
            KubeDocument::Join(_) => "JoinConfiguration",
            KubeDocument::Reset(_) => "ResetConfiguration",
            KubeDocument::Upgrade(_) => "UpgradeConfiguration",
            KubeDocument::Kubelet(_) => "KubeletConfiguration",
            KubeDocument::KubeProxy(_) => "KubeProxyConfiguration",
        }
    }
}

/// Decode options: strict scalars (see module docs), duplicate keys rejected, no snippet in errors.
fn strict_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        no_schema: true,
        with_snippet: false,
    }
}

#[derive(Deserialize)]
struct Header {
    apiVersion: Option<String>,
    kind: Option<String>,
}

fn has_content(doc: &str) -> bool {
    doc.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && t != "---" && t != "..."
    })
}

/// Decodes one YAML document strictly into the type named by its apiVersion/kind.
pub fn parse_document(yaml_doc: &str) -> Result<KubeDocument, String> {
    parse_document_at(yaml_doc, 0)
}

/// Checks one YAML document: Ok if it decodes strictly into the type named by apiVersion/kind;
/// Err names the document, the problem (unknown field / wrong type / bad value), its line and
/// column and the (approximate, indentation-derived) field path.
pub fn check_document(yaml_doc: &str) -> Result<(), String> {
    parse_document(yaml_doc).map(|_| ())
}

fn parse_document_at(doc: &str, line_offset: usize) -> Result<KubeDocument, String> {
    if !has_content(doc) {
        return Err("empty document".to_string());
    }
    // Lenient pass for apiVersion/kind only; the strict pass below reports duplicates and types.
    let lenient = serde_saphyr::options! {
        with_snippet: false,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
    };
    let header: Header = serde_saphyr::from_str_with_options(doc, lenient)
        .map_err(|e| describe("document", &e, doc, line_offset))?;
    let (Some(api), Some(kind)) = (header.apiVersion.as_deref(), header.kind.as_deref()) else {
        return Err(format!(
            "document at line {}: apiVersion and kind are required (found apiVersion={:?}, kind={:?})",
            line_offset + 1,
            header.apiVersion,
            header.kind
        ));
    };
    let what = format!("{kind} ({api})");
    fn dec<T: DeserializeOwned>(doc: &str, what: &str, off: usize) -> Result<Box<T>, String> {
        serde_saphyr::from_str_with_options::<T>(doc, strict_options())
            .map(Box::new)
            .map_err(|e| describe(what, &e, doc, off))
    }
    let o = line_offset;
    Ok(match (api, kind) {
        (kubeadm::API_VERSION, "InitConfiguration") => KubeDocument::Init(dec(doc, &what, o)?),
        (kubeadm::API_VERSION, "ClusterConfiguration") => {
            KubeDocument::Cluster(dec(doc, &what, o)?)
        }
        (kubeadm::API_VERSION, "JoinConfiguration") => KubeDocument::Join(dec(doc, &what, o)?),
        (kubeadm::API_VERSION, "ResetConfiguration") => KubeDocument::Reset(dec(doc, &what, o)?),
        (kubeadm::API_VERSION, "UpgradeConfiguration") => {
            KubeDocument::Upgrade(dec(doc, &what, o)?)
        }
        (kubelet::API_VERSION, "KubeletConfiguration") => {
            KubeDocument::Kubelet(dec(doc, &what, o)?)
        }
        (kubeproxy::API_VERSION, "KubeProxyConfiguration") => {
            KubeDocument::KubeProxy(dec(doc, &what, o)?)
        }
        _ => {
            return Err(format!(
                "{what} at line {}: unsupported apiVersion/kind; supported: {}",
                line_offset + 1,
                SUPPORTED
                    .iter()
                    .map(|(a, k)| format!("{a} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    })
}

/// Splits a multi-document YAML text on `---` lines (column 0). Returns (1-based line of the
/// document's first line, text) for each document that has content (comments/blank skipped).
pub fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_end();
        let is_marker = t == "---" || t.starts_with("--- ") || t.starts_with("---\t");
        let is_end = t == "...";
        if is_marker || is_end {
            if has_content(&cur) {
                docs.push((start, std::mem::take(&mut cur)));
            }
            cur.clear();
            start = i + 1;
            if is_marker && t.len() > 3 {
                // content after the marker on the same line belongs to the new document
                cur.push_str(t[3..].trim_start());
                cur.push('\n');
            } else {
                start = i + 2;
            }
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    if has_content(&cur) {
        docs.push((start, cur));
    }
    docs
}

/// Decodes every document of a `---`-separated file; all errors are reported, one per line.
pub fn parse_multi(text: &str) -> Result<Vec<KubeDocument>, String> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let docs = split_documents(text);
    if docs.is_empty() {
        return Err("no YAML document found".to_string());
    }
    for (n, (start, doc)) in docs.iter().enumerate() {
        match parse_document_at(doc, start - 1) {
            Ok(d) => out.push(d),
            Err(e) => errors.push(format!("document {} (line {}): {e}", n + 1, start)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}

/// Checks every document of a `---`-separated multi-document file.
pub fn check_multi(doc: &str) -> Result<(), String> {
    parse_multi(doc).map(|_| ())
}

/// The kinds of the documents of a multi-document file, in order, after a successful check.
pub fn check_multi_kinds(doc: &str) -> Result<Vec<&'static str>, String> {
    parse_multi(doc).map(|docs| docs.iter().map(KubeDocument::kind).collect())
}

fn describe(what: &str, err: &serde_saphyr::Error, doc: &str, line_offset: usize) -> String {
    let msg = err.to_string();
    let mut msg = msg.lines().next().unwrap_or("").trim().to_string();
    // serde-saphyr appends " at line L, column C" relative to the document: replaced below by
    // the line in the whole file.
    if let Some(pos) = msg.rfind(" at line ") {
        if msg[pos + 9..]
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == ' ' || c.is_ascii_alphabetic())
        {
            msg.truncate(pos);
        }
    }
    if msg.contains("must be quoted") {
        msg.push_str(" (a plain YAML number/boolean where the Go field is a string: the Kubernetes decoder rejects it)");
    }
    match err.location() {
        Some(loc) if loc.line() > 0 => {
            let line = loc.line() as usize;
            let path = yaml_path_at(doc, line);
            let src = doc.lines().nth(line - 1).unwrap_or("").trim();
            format!(
                "{what}: {msg} [path: {}; line {}, column {}: `{src}`]",
                if path.is_empty() { "<root>" } else { &path },
                line + line_offset,
                loc.column()
            )
        }
        _ => format!("{what}: {msg}"),
    }
}

/// The key path of block-style YAML at a 1-based line ("apiServer.certSANs[2]",
/// "nodeRegistration.kubeletExtraArgs[0].value"), derived from indentation. Approximate for
/// flow-style collections; block scalars are skipped.
pub fn yaml_path_at(doc: &str, target_line: usize) -> String {
    struct Frame {
        indent: usize,
        seg: String,
        item: Option<usize>,
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut block_scalar_owner: Option<usize> = None;
    for (i, raw) in doc.lines().enumerate() {
        if i + 1 > target_line {
            break;
        }
        let trimmed = raw.trim_start_matches(' ');
        let indent = raw.len() - trimmed.len();
        if trimmed.trim().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(owner) = block_scalar_owner {
            if indent > owner {
                continue;
            }
            block_scalar_owner = None;
        }
        let mut ind = indent;
        let mut rest = trimmed.trim_end();
        // sequence entries ("- x", "- key: v", "- - x")
        while rest == "-" || rest.starts_with("- ") {
            let mut last_idx = None;
            while let Some(top) = stack.last() {
                let same_level_item = top.indent == ind && top.item.is_some();
                if top.indent > ind || same_level_item {
                    let f = stack.pop().expect("non-empty");
                    if same_level_item {
                        last_idx = f.item;
                    }
                } else {
                    break;
                }
            }
            let idx = last_idx.map_or(0, |k| k + 1);
            stack.push(Frame {
                indent: ind,
                seg: format!("[{idx}]"),
                item: Some(idx),
            });
            let after = &rest[1..];
            let spaces = after.len() - after.trim_start_matches(' ').len();
            ind += 1 + spaces;
            rest = after.trim_start_matches(' ');
        }
        if rest.is_empty() {
            continue;
        }
        if rest.starts_with('|') || rest.starts_with('>') {
            block_scalar_owner = Some(stack.last().map_or(0, |f| f.indent));
            continue;
        }
        if let Some((key, value)) = split_key(rest) {
            while stack.last().is_some_and(|top| top.indent >= ind) {
                stack.pop();
            }
            stack.push(Frame {
                indent: ind,
                seg: key,
                item: None,
            });
            let v = value.trim();
            if v.starts_with('|') || v.starts_with('>') {
                block_scalar_owner = Some(ind);
            }
        }
    }
    let mut path = String::new();
    for f in &stack {
        if f.item.is_none() && !path.is_empty() {
            path.push('.');
        }
        path.push_str(&f.seg);
    }
    path
}

/// "key: value" / "key:" / "'quoted key': v" -> (key, value); None for plain scalars and flow collections.
fn split_key(s: &str) -> Option<(String, &str)> {
    if s.starts_with('{') || s.starts_with('[') {
        return None;
    }
    if let Some(q) = s.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let end = s[1..].find(q)? + 1;
        let after = &s[end + 1..];
        let after = after.trim_start();
        let value = after.strip_prefix(':')?;
        if !(value.is_empty() || value.starts_with(' ')) {
            return None;
        }
        return Some((s[1..end].to_string(), value));
    }
    let mut search = 0;
    while let Some(pos) = s[search..].find(':') {
        let p = search + pos;
        let next = s[p + 1..].chars().next();
        if next.is_none() || next == Some(' ') || next == Some('\t') {
            let key = s[..p].trim_end();
            if key.contains(" #") {
                return None;
            }
            return Some((key.to_string(), &s[p + 1..]));
        }
        search = p + 1;
    }
    None
}
