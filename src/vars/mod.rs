//! The variable layer: variables with where each was set, their merge into one map per
//! host (built by the inventory), lazy rendering with minijinja (Ansible's filters and
//! lookups), and which names hold secrets. Everything that reads a variable sits above
//! this module; it imports nothing above the diagnostic and YAML basics.

mod filters;
mod ipaddr;
mod lookup;
pub mod resolve;
pub mod secret;
pub mod template;

pub use resolve::{render, to_jinja, ResolveError, Resolver, VAULT_LOCKED};
pub use template::{eval_condition, TemplateError};

use crate::diagnostic::Location;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A variable's value and where it was set.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    /// The value as written (templates unrendered).
    pub value: Value,
    /// Where it was set.
    pub origin: Location,
}

/// Variables by name (sorted, so output never depends on file order).
pub type VarMap = BTreeMap<String, Var>;

/// Variables kubeforge derives for each host (roles, components, addresses), by host
/// then name. Given to the resolver at construction; templates see them as read-only.
pub type Derived = HashMap<String, BTreeMap<String, Value>>;

/// Every host's variables merged by precedence, plus what magic variables need.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// Host names in natural order (`groups['all']`).
    pub hosts: Vec<String>,
    /// Each host's variables, already merged by precedence (unrendered).
    pub vars: HashMap<String, VarMap>,
    /// Members of each group (`groups`).
    pub groups: BTreeMap<String, Vec<String>>,
    /// Each host's groups without `all` (`group_names`).
    pub group_names: HashMap<String, Vec<String>>,
    /// Ansible's `inventory_dir` (absolute).
    pub inventory_dir: String,
    /// Ansible's `inventory_file` (absolute).
    pub inventory_file: String,
    /// Each host's own `inventory_dir` and `inventory_file` (the file it was first found
    /// in, with several sources); hosts not here get the two above.
    pub host_files: HashMap<String, (String, String)>,
    /// Names set with `-e` (they beat play and task variables).
    pub extra: BTreeSet<String>,
}

/// Ansible's truth for a setting given as a plain value (an inventory variable written
/// as a boolean or a string: "true", "yes", "on", "1", "strict"; a non-zero number).
pub fn truthy_setting(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::String(s) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1" | "strict"
        ),
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}
