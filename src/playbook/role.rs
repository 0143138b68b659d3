//! Roles on disk: roles/NAME/{tasks/main.yml, handlers/main.yml, defaults/main.yml,
//! templates/, files/}.

use super::load::read_yaml;
use super::task::parse_tasks;
use super::{PlaybookError, Task};
use crate::inventory::model::VarMap;
use std::path::{Path, PathBuf};

/// A role loaded from its directory.
#[derive(Debug, Clone)]
pub struct Role {
    /// Name.
    pub name: String,
    /// Directory.
    pub dir: PathBuf,
    /// tasks/main.yml (with include_tasks expanded).
    pub tasks: Vec<Task>,
    /// handlers/main.yml.
    pub handlers: Vec<Task>,
    /// defaults/main.yml, each with its line.
    pub defaults: VarMap,
}

/// Loads a role from `dir`.
pub fn load_role(name: &str, dir: &Path) -> Result<Role, PlaybookError> {
    let tasks_dir = dir.join("tasks");
    let main = tasks_dir.join("main.yml");
    let tasks = if main.is_file() {
        let (file, node) = read_yaml(&main)?;
        parse_tasks(&file, &node, &tasks_dir, Some(name))?
    } else {
        Vec::new()
    };
    let handlers_file = dir.join("handlers/main.yml");
    let handlers = if handlers_file.is_file() {
        let (file, node) = read_yaml(&handlers_file)?;
        parse_tasks(&file, &node, &dir.join("handlers"), Some(name))?
    } else {
        Vec::new()
    };
    let defaults_file = dir.join("defaults/main.yml");
    let defaults = if defaults_file.is_file() {
        let (file, node) = read_yaml(&defaults_file)?;
        let mut out = VarMap::new();
        for (k, v) in node.as_map().unwrap_or(&[]) {
            out.insert(
                k.key_string(),
                crate::inventory::Var {
                    value: v.to_value(),
                    origin: crate::diagnostic::Location::new(&file, k.line),
                },
            );
        }
        out
    } else {
        VarMap::new()
    };
    Ok(Role {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        tasks,
        handlers,
        defaults,
    })
}
