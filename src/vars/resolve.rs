//! Renders each host's variables lazily: a value is rendered the first time a template
//! asks for it, in that host's context, with cycle detection and errors that name the
//! variable, the file it was set in, and the missing filter or lookup.

use super::template::{self, TemplateError};
use super::{Derived, Layers};
use crate::diagnostic::Location;
use minijinja::value::{Enumerator, Object, ObjectRepr, Serde};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A variable that could not be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("variable '{name}' (set at {origin}) for host {host}: {message}")]
pub struct ResolveError {
    /// Host whose context was used.
    pub host: String,
    /// The variable.
    pub name: String,
    /// Where it was set.
    pub origin: Location,
    /// What went wrong.
    pub message: String,
    /// What to do.
    pub help: String,
}

type Cached = Result<Option<(Value, Location)>, ResolveError>;

struct Inner {
    layers: Layers,
    groups: Value,
    cache: Mutex<HashMap<(String, String), Cached>>,
    derived: Derived,
}

/// Renders variables for every host of one inventory. Cheap to clone.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

thread_local! {
    static STACK: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
    static NESTED_ERROR: RefCell<Option<ResolveError>> = const { RefCell::new(None) };
}

/// How many variables deep one variable's rendering may reach (each level costs a
/// template render on the stack; real inventories nest a handful of levels).
pub const MAX_NESTING: usize = 32;

const MAGIC: [&str; 8] = [
    "inventory_hostname",
    "inventory_hostname_short",
    "inventory_dir",
    "inventory_file",
    "groups",
    "group_names",
    "hostvars",
    "playbook_dir",
];

impl Resolver {
    /// Prepares a resolver over merged variable layers, with the variables kubeforge
    /// derived (roles, components, addresses) fixed at construction. Variables are
    /// rendered on demand.
    pub fn new(layers: Layers, derived: Derived) -> Resolver {
        let mut groups = serde_json::Map::new();
        for (g, members) in &layers.groups {
            groups.insert(g.clone(), Value::from(members.clone()));
        }
        groups.insert("all".into(), Value::from(layers.hosts.clone()));
        Resolver {
            inner: Arc::new(Inner {
                layers,
                groups: Value::Object(groups),
                cache: Mutex::new(HashMap::new()),
                derived,
            }),
        }
    }

    /// True when `-e` set this variable (it beats play and task vars, as in Ansible).
    pub fn is_extra(&self, name: &str) -> bool {
        self.inner.layers.extra.contains(name)
    }

    /// The host's variable names (magic variables excluded), sorted.
    pub fn names(&self, host: &str) -> Vec<String> {
        self.inner
            .layers
            .vars
            .get(host)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Where a host's variable was set (the winning layer), without rendering it.
    pub fn origin(&self, host: &str, name: &str) -> Option<Location> {
        self.inner
            .layers
            .vars
            .get(host)
            .and_then(|m| m.get(name))
            .map(|v| v.origin.clone())
    }

    /// The raw (unrendered) value of a host's variable.
    pub fn raw(&self, host: &str, name: &str) -> Option<&Value> {
        self.inner
            .layers
            .vars
            .get(host)
            .and_then(|m| m.get(name))
            .map(|v| &v.value)
    }

    /// Renders one variable for a host; `Ok(None)` when it is not defined.
    pub fn get(&self, host: &str, name: &str) -> Result<Option<Value>, ResolveError> {
        resolve(&self.inner, host, name).map(|o| o.map(|(v, _)| v))
    }

    /// A variable's value if it has already been rendered (no rendering, no side effects).
    pub fn get_cached(&self, host: &str, name: &str) -> Option<Value> {
        let cache = self.inner.cache.lock().ok()?;
        match cache.get(&(host.to_string(), name.to_string())) {
            Some(Ok(Some((v, _)))) => Some(v.clone()),
            _ => None,
        }
    }

    /// Renders every variable of a host, with where each was set; all failures at once.
    pub fn all(
        &self,
        host: &str,
    ) -> Result<BTreeMap<String, (Value, Location)>, Vec<ResolveError>> {
        let mut out = BTreeMap::new();
        let mut errors = Vec::new();
        for name in self.names(host) {
            match resolve(&self.inner, host, &name) {
                Ok(Some(v)) => {
                    out.insert(name, v);
                }
                Ok(None) => {}
                Err(e) => {
                    if !errors.contains(&e) {
                        errors.push(e)
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// A template context for the host: its variables, magic variables, and `overlay`
    /// (task vars, facts, loop items) on top.
    pub fn scope(
        &self,
        host: &str,
        overlay: BTreeMap<String, minijinja::Value>,
    ) -> minijinja::Value {
        minijinja::Value::from_object(HostScope {
            inner: self.inner.clone(),
            host: host.to_string(),
            overlay: Arc::new(overlay),
        })
    }
}

#[derive(Debug)]
struct HostScope {
    inner: Arc<Inner>,
    host: String,
    overlay: Arc<BTreeMap<String, minijinja::Value>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inventory")
    }
}

impl Object for HostScope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let name = key.as_str()?;
        if let Some(v) = self.overlay.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = magic(&self.inner, &self.host, name) {
            return Some(v);
        }
        match resolve(&self.inner, &self.host, name) {
            Ok(Some((v, _))) => Some(to_jinja(&v)),
            Ok(None) => None,
            Err(e) => {
                NESTED_ERROR.with(|n| {
                    let mut n = n.borrow_mut();
                    if n.is_none() {
                        *n = Some(e);
                    }
                });
                None
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<minijinja::Value> = self
            .inner
            .layers
            .vars
            .get(&self.host)
            .map(|m| {
                m.keys()
                    .map(|k| minijinja::Value::from(k.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        keys.extend(
            self.overlay
                .keys()
                .map(|k| minijinja::Value::from(k.as_str())),
        );
        Enumerator::Values(keys)
    }
}

#[derive(Debug)]
struct HostVars {
    inner: Arc<Inner>,
}

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let host = key.as_str()?;
        if !self.inner.layers.vars.contains_key(host) {
            return None;
        }
        Some(minijinja::Value::from_object(HostScope {
            inner: self.inner.clone(),
            host: host.to_string(),
            overlay: Arc::new(BTreeMap::new()),
        }))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.inner
                .layers
                .hosts
                .iter()
                .map(|h| minijinja::Value::from(h.as_str()))
                .collect(),
        )
    }
}

fn magic(inner: &Arc<Inner>, host: &str, name: &str) -> Option<minijinja::Value> {
    if name.starts_with("kubeforge_") {
        return inner
            .derived
            .get(host)
            .and_then(|d| d.get(name))
            .map(to_jinja);
    }
    if !MAGIC.contains(&name) {
        return None;
    }
    let layers = &inner.layers;
    Some(match name {
        "inventory_hostname" => minijinja::Value::from(host),
        "inventory_hostname_short" => {
            minijinja::Value::from(host.split('.').next().unwrap_or(host))
        }
        "inventory_dir" => minijinja::Value::from(
            layers
                .host_files
                .get(host)
                .map_or(layers.inventory_dir.as_str(), |(d, _)| d.as_str()),
        ),
        "inventory_file" => minijinja::Value::from(
            layers
                .host_files
                .get(host)
                .map_or(layers.inventory_file.as_str(), |(_, f)| f.as_str()),
        ),
        "playbook_dir" => minijinja::Value::from(
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        ),
        "groups" => minijinja::Value::from(Serde(&inner.groups)),
        "group_names" => {
            minijinja::Value::from(layers.group_names.get(host).cloned().unwrap_or_default())
        }
        _ => minijinja::Value::from_object(HostVars {
            inner: inner.clone(),
        }),
    })
}

fn resolve(inner: &Arc<Inner>, host: &str, name: &str) -> Cached {
    let key = (host.to_string(), name.to_string());
    if let Ok(cache) = inner.cache.lock() {
        if let Some(hit) = cache.get(&key) {
            return hit.clone();
        }
    }
    let Some(var) = inner.layers.vars.get(host).and_then(|m| m.get(name)) else {
        return Ok(None);
    };
    let on_stack = STACK.with(|s| s.borrow().contains(&key));
    if on_stack {
        let chain = STACK.with(|s| {
            let s = s.borrow();
            let start = s.iter().position(|k| *k == key).unwrap_or(0);
            s[start..]
                .iter()
                .map(|(_, n)| n.clone())
                .chain(std::iter::once(name.to_string()))
                .collect::<Vec<_>>()
                .join(" -> ")
        });
        return Err(ResolveError {
            host: host.into(),
            name: name.into(),
            origin: var.origin.clone(),
            message: format!("refers to itself: {chain}"),
            help: "break the cycle: one of these variables must be a plain value".into(),
        });
    }
    // Every level of nesting is a template render on the native stack: refuse chains
    // deeper than any real inventory has, instead of overflowing the stack.
    let depth = STACK.with(|s| s.borrow().len());
    if depth >= MAX_NESTING {
        let first = STACK.with(|s| {
            s.borrow()
                .first()
                .map(|(_, n)| n.clone())
                .unwrap_or_default()
        });
        return Err(ResolveError {
            host: host.into(),
            name: name.into(),
            origin: var.origin.clone(),
            message: format!(
                "variables nest more than {MAX_NESTING} levels deep ({first} -> ... -> {name})"
            ),
            help: "make one of the variables in the chain a plain value".into(),
        });
    }
    STACK.with(|s| s.borrow_mut().push(key.clone()));
    // Each render collects the failures of the variables it asked for; the caller's
    // collection is set aside meanwhile.
    let saved = NESTED_ERROR.with(|n| n.borrow_mut().take());
    let scope = minijinja::Value::from_object(HostScope {
        inner: inner.clone(),
        host: host.to_string(),
        overlay: Arc::new(BTreeMap::new()),
    });
    let rendered = render(&scope, &var.value);
    STACK.with(|s| s.borrow_mut().pop());
    let nested = NESTED_ERROR.with(|n| std::mem::replace(&mut *n.borrow_mut(), saved));
    let result = match rendered {
        Ok(v) => Ok(Some((v, var.origin.clone()))),
        Err(TemplateError(message)) => {
            // A variable this one needed failed first: that is the root cause.
            Err(match nested {
                Some(e) => e,
                None => ResolveError {
                    host: host.into(),
                    name: name.into(),
                    origin: var.origin.clone(),
                    help: help_for(&message),
                    message,
                },
            })
        }
    };
    if let Ok(mut cache) = inner.cache.lock() {
        cache.insert(key, result.clone());
    }
    result
}

/// A value for templates: tagged values (`!unsafe`, big integers, inf/nan) as the
/// plain values they stand for.
pub fn to_jinja(v: &Value) -> minijinja::Value {
    use crate::value::{special, Special};
    fn has_special(v: &Value) -> bool {
        special(v).is_some()
            || match v {
                Value::Array(items) => items.iter().any(has_special),
                Value::Object(m) => m.values().any(has_special),
                _ => false,
            }
    }
    if !has_special(v) {
        return minijinja::Value::from(Serde(v));
    }
    match special(v) {
        Some(Special::Unsafe(inner)) => to_jinja(inner),
        Some(Special::BigInt(d)) => d
            .parse::<i128>()
            .map(minijinja::Value::from)
            .unwrap_or_else(|_| minijinja::Value::from(d)),
        Some(Special::Float(f)) => minijinja::Value::from(f),
        Some(Special::Vault(_)) => minijinja::Value::from(crate::vars::secret::MASK),
        None => match v {
            Value::Array(items) => {
                minijinja::Value::from(items.iter().map(to_jinja).collect::<Vec<_>>())
            }
            Value::Object(m) => minijinja::Value::from_iter(
                m.iter()
                    .map(|(k, i)| (minijinja::Value::from(k.as_str()), to_jinja(i))),
            ),
            other => minijinja::Value::from(Serde(other)),
        },
    }
}

/// The start of the message of a vault value used without a password.
pub const VAULT_LOCKED: &str = "is vault-encrypted and no vault password was given";

fn help_for(message: &str) -> String {
    if message.contains(VAULT_LOCKED) {
        format!("pass {}", crate::value::VAULT_HOW)
    } else if message.contains("undefined") {
        "define the missing variable in group_vars, host_vars or with -e, or guard it with `is defined` / `| default(...)`".into()
    } else if message.contains("filter")
        || message.contains("lookup")
        || message.contains("function")
    {
        "kubeforge provides the Ansible filters Kubespray's inventories use; replace this one with a plain value or a supported filter (see README: Templates)".into()
    } else {
        "fix the template expression".into()
    }
}

fn is_template(s: &str) -> bool {
    // Ansible templates a string holding any Jinja start marker, comments included.
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Renders a raw value in a scope: templates in strings (`{{ }}`, `{% %}`),
/// recursively in lists and maps; an exact `{{ expr }}` keeps its native type.
pub fn render(scope: &minijinja::Value, raw: &Value) -> Result<Value, TemplateError> {
    use crate::value::{special, Special};
    match special(raw) {
        // Never templated (Ansible's !unsafe and decrypted vault text).
        Some(Special::Unsafe(inner)) => return Ok(inner.clone()),
        Some(Special::Vault(_)) => {
            return Err(TemplateError(format!(
                "{VAULT_LOCKED}: pass {}",
                crate::value::VAULT_HOW
            )))
        }
        Some(_) => return Ok(raw.clone()),
        None => {}
    }
    match raw {
        Value::String(s) if is_template(s) => render_str(scope, s),
        Value::Array(items) => items
            .iter()
            .map(|i| render(scope, i))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = if is_template(k) {
                    match render_str(scope, k)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    }
                } else {
                    k.clone()
                };
                out.insert(key, render(scope, v)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

fn single_expression(s: &str) -> Option<&str> {
    // Only an exact `{{ expr }}` keeps its native type; any text around it (even a
    // newline) makes the value a string.
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim().trim_start_matches('-').trim_end_matches('-'))
}

fn render_str(scope: &minijinja::Value, s: &str) -> Result<Value, TemplateError> {
    let env = template::env();
    let src = template::normalize(s);
    if let Some(expr) = single_expression(&src) {
        let compiled = env.compile_expression(expr)?;
        let v = compiled.eval(scope.clone())?;
        if v.is_undefined() {
            return Err(TemplateError(format!("'{}' is undefined", expr.trim())));
        }
        return serde_json::to_value(&v).map_err(|e| TemplateError(e.to_string()));
    }
    let out = env.render_str(&src, scope.clone())?;
    // As Ansible does with literal_eval: text that is a list or mapping literal (JSON
    // here) becomes that value; anything else, such as "[ a != b ]", stays a string.
    let t = out.trim();
    if (t.starts_with('[') && t.ends_with(']')) || (t.starts_with('{') && t.ends_with('}')) {
        if let Ok(v) = serde_json::from_str::<Value>(t) {
            return Ok(v);
        }
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    fn resolver(text: &str) -> Resolver {
        let inv = Inventory::from_text(text, "h.yaml").unwrap();
        Resolver::new(inv.layers(&Default::default()), Derived::new())
    }

    #[test]
    fn renders_lazily_in_host_context_keeping_types() {
        let r = resolver(
            "all:\n  vars:\n    base: /etc\n    dir: \"{{ base }}/k8s\"\n    flag: \"{{ 1 == 1 }}\"\n    hn: \"{{ inventory_hostname }}-x\"\n    lst: \"{{ groups['all'] }}\"\n  hosts:\n    a:\n    b:\n",
        );
        assert_eq!(r.get("a", "dir").unwrap(), Some(Value::from("/etc/k8s")));
        assert_eq!(r.get("a", "flag").unwrap(), Some(Value::Bool(true)));
        assert_eq!(r.get("b", "hn").unwrap(), Some(Value::from("b-x")));
        assert_eq!(
            r.get("a", "lst").unwrap(),
            Some(serde_json::json!(["a", "b"]))
        );
        assert_eq!(r.get("a", "nope").unwrap(), None);
    }

    #[test]
    fn cycles_are_reported_with_the_chain() {
        let r =
            resolver("all:\n  vars:\n    a: \"{{ b }}\"\n    b: \"{{ a }}\"\n  hosts:\n    h:\n");
        let e = r.get("h", "a").unwrap_err();
        assert!(e.message.contains("refers to itself: a -> b -> a"), "{e}");
        assert_eq!(e.origin.line, 3);
    }

    #[test]
    fn unknown_filter_names_variable_file_and_filter() {
        let r = resolver("all:\n  vars:\n    x: \"{{ 'a' | community.general.json_query('b') }}\"\n  hosts:\n    h:\n");
        let e = r.get("h", "x").unwrap_err();
        assert_eq!(e.name, "x");
        assert_eq!(e.origin, Location::new("h.yaml", 3));
        assert!(e.message.contains("community.general.json_query"), "{e}");
    }

    #[test]
    fn nested_failure_points_at_the_root_variable() {
        let r = resolver("all:\n  vars:\n    a: \"{{ b }}/x\"\n    b: \"{{ missing_thing }}\"\n  hosts:\n    h:\n");
        let e = r.get("h", "a").unwrap_err();
        assert_eq!(e.name, "b", "{e}");
        assert!(e.message.contains("missing_thing"), "{e}");
    }

    #[test]
    fn hostvars_reach_other_hosts() {
        let r = resolver(
            "all:\n  hosts:\n    a: {ip: 10.0.0.1}\n    b: {peer: \"{{ hostvars['a']['ip'] }}\"}\n",
        );
        assert_eq!(r.get("b", "peer").unwrap(), Some(Value::from("10.0.0.1")));
    }

    #[test]
    fn rendered_list_text_becomes_a_list() {
        let r = resolver("all:\n  vars:\n    x: \"{%- if y is defined -%}[{{ y }}]{%- else -%}[]{%- endif -%}\"\n  hosts:\n    h:\n");
        assert_eq!(r.get("h", "x").unwrap(), Some(serde_json::json!([])));
    }
}
