//! kubeforge's built-in defaults, the lowest variable layer: the shipped
//! `roles/kubeforge_defaults/defaults/main.yml` plus each artifact's default version.
//! Operations merge these (and their playbook's role defaults) under the inventory.

use crate::diagnostic::Location;
use crate::inventory::{InventoryError, Var, VarMap};
use serde_json::Value;

/// Where the built-in defaults come from (shown as the origin of their values).
pub const DEFAULTS_FILE: &str = "roles/kubeforge_defaults/defaults/main.yml";
const DEFAULTS_TEXT: &str = include_str!("../roles/kubeforge_defaults/defaults/main.yml");

/// Built-in defaults, parsed from the copy shipped in the binary.
pub fn builtin() -> Result<VarMap, InventoryError> {
    let node = crate::yaml::parse(DEFAULTS_TEXT).map_err(|e| InventoryError::Syntax {
        code: "defaults",
        location: Location::new(DEFAULTS_FILE, e.line),
        message: e.message,
        help: "this file ships with kubeforge; report it".into(),
    })?;
    let mut vars = crate::inventory::vars_of(DEFAULTS_FILE, &node)?;
    for a in crate::artifacts::all() {
        vars.entry(a.version_var.clone()).or_insert_with(|| Var {
            value: Value::String(a.default_version.clone()),
            origin: Location::new("src/artifacts.yml", 0),
        });
    }
    Ok(vars)
}

/// Adds a playbook's role defaults under `base` (a name already set keeps its value).
pub fn with_roles(mut base: VarMap, roles: VarMap) -> VarMap {
    for (k, v) in roles {
        base.entry(k).or_insert(v);
    }
    base
}
