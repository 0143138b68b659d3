//! `group_vars/` and `host_vars/` beside the inventory: `NAME.yml|.yaml|.json`, a file
//! with no extension, or a directory `NAME/` of such files (read in name order, later
//! files win), as Ansible's host_group_vars plugin reads them.

use super::model::VarMap;
use super::yaml_format::vars_of;
use super::{display_path, InventoryError};
use crate::diagnostic::Location;
use std::collections::BTreeMap;
use std::path::Path;

const EXTENSIONS: [&str; 4] = ["yml", "yaml", "json", ""];

/// Reads every entity's variables from `dir` (group_vars or host_vars); a missing dir is empty.
pub fn load_dir(dir: &Path) -> Result<BTreeMap<String, VarMap>, InventoryError> {
    let mut out: BTreeMap<String, VarMap> = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in sorted_entries(dir)? {
        let path = entry.as_path();
        let fname = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if fname.starts_with('.') || fname.ends_with('~') {
            continue;
        }
        if path.is_dir() {
            let vars = out.entry(fname).or_default();
            for file in walk_files(path)? {
                vars.extend(load_file(&file)?);
            }
        } else if let Some((name, ext)) = split_ext(&fname) {
            if EXTENSIONS.contains(&ext) {
                let vars = load_file(path)?;
                out.entry(name.to_string()).or_default().extend(vars);
            }
        }
    }
    Ok(out)
}

fn split_ext(fname: &str) -> Option<(&str, &str)> {
    match fname.rsplit_once('.') {
        Some((n, e)) if EXTENSIONS.contains(&e) => Some((n, e)),
        // A dotted name with an unknown extension is Ansible's "no extension" case only
        // when the suffix is not a known one; editors' backups (.bak, .orig) are skipped.
        Some(_) => None,
        None => Some((fname, "")),
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<std::path::PathBuf>, InventoryError> {
    let rd = std::fs::read_dir(dir).map_err(|e| InventoryError::io(dir, e))?;
    let mut v: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

fn walk_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, InventoryError> {
    let mut out = Vec::new();
    for p in sorted_entries(dir)? {
        let fname = p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        if fname.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            out.extend(walk_files(&p)?);
        } else if split_ext(&fname).is_some_and(|(_, e)| !e.is_empty()) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Loads one vars file (YAML or JSON), each variable keeping its line.
pub fn load_file(path: &Path) -> Result<VarMap, InventoryError> {
    let shown = display_path(path);
    let text = std::fs::read_to_string(path).map_err(|e| InventoryError::io(path, e))?;
    let node = crate::yaml::parse(&text).map_err(|e| InventoryError::Syntax {
        code: "yaml-syntax",
        location: Location::new(&shown, e.line),
        message: format!("invalid YAML: {}", e.message),
        help: "fix the YAML syntax (indentation, quotes, duplicate keys)".into(),
    })?;
    vars_of(&shown, &node)
}
