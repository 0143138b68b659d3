//! `import_role: {name: X}` as a task: the role's tasks in place (static, as Ansible's
//! import_role), so a role's steps can sit inside a `block` (upgrade: cordon, the node's
//! roles, uncordon, with a rescue). The role is loaded once per playbook, its handlers,
//! defaults and directory registered as for `roles:`.

use super::nodes::{loc, string_of};
use super::role::{load_role, Role};
use super::{PlaybookError, Task};
use crate::diagnostic::display_path;
use crate::yaml::{Node, NodeKind};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where roles are found, and those imported so far, for the playbook being loaded.
#[derive(Default)]
pub(super) struct RoleCtx {
    /// Directories searched for roles/NAME.
    pub dirs: Vec<PathBuf>,
    /// Roles loaded by import_role.
    pub imported: BTreeMap<String, Role>,
}

thread_local! {
    /// Set by `load` for the length of one playbook's loading.
    pub(super) static CTX: RefCell<Option<RoleCtx>> = const { RefCell::new(None) };
}

/// Finds role `name` in `dirs`.
pub(super) fn find(name: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter().map(|d| d.join(name)).find(|d| d.is_dir())
}

/// Expands an `import_role` item into the role's tasks.
pub(super) fn expand(file: &str, item: &Node, spec: &Node) -> Result<Vec<Task>, PlaybookError> {
    let name = match &spec.kind {
        NodeKind::Map(_) => spec
            .get("name")
            .or_else(|| spec.get("role"))
            .map(|n| string_of(file, "name", n))
            .transpose()?
            .unwrap_or_default(),
        _ => string_of(file, "import_role", spec)?,
    };
    if name.is_empty() {
        return Err(PlaybookError::new(
            loc(file, spec),
            "import_role needs a name",
            "write import_role: {name: ROLE}",
        ));
    }
    for (k, _) in item.as_map().unwrap_or(&[]) {
        let key = k.key_string();
        if !["import_role", "ansible.builtin.import_role", "name"].contains(&key.as_str()) {
            return Err(PlaybookError::new(
                loc(file, k),
                format!("'{key}' is not supported on import_role"),
                "put conditions and tags on a block around it",
            ));
        }
    }
    let known = CTX.with(|c| {
        c.borrow()
            .as_ref()
            .and_then(|ctx| ctx.imported.get(&name).map(|r| r.tasks.clone()))
    });
    if let Some(tasks) = known {
        return Ok(tasks);
    }
    let dirs = CTX.with(|c| {
        c.borrow()
            .as_ref()
            .map(|ctx| ctx.dirs.clone())
            .unwrap_or_default()
    });
    let dir = find(&name, &dirs).ok_or_else(|| {
        PlaybookError::new(
            loc(file, spec),
            format!("role '{name}' not found"),
            format!(
                "looked in {}",
                dirs.iter()
                    .map(|d| display_path(d))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        )
    })?;
    let role = load_role(&name, &dir)?;
    let tasks = role.tasks.clone();
    CTX.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            ctx.imported.insert(name, role);
        }
    });
    Ok(tasks)
}
