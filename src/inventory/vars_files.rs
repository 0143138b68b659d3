//! `group_vars/` and `host_vars/` beside the inventory, found as Ansible's
//! `host_group_vars` plugin finds them: for each group and host, the first of `NAME`,
//! `NAME.yml`, `NAME.yaml`, `NAME.json` that exists is read, and only that one; when it
//! is a directory, its files are read in sorted name order (files without an extension
//! too), subdirectories without an extension descended, hidden files and `~` backups
//! skipped. Vault-encrypted files are decrypted.

use super::model::VarMap;
use super::vault::{self, Password};
use super::yaml_format::vars_of;
use super::{display_path, InventoryError};
use crate::diagnostic::Location;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const EXTENSIONS: [&str; 3] = [".yml", ".yaml", ".json"];

/// Reads the variables of each named group or host from `dir` (group_vars or
/// host_vars); a missing directory gives nothing.
pub fn load_dir(
    dir: &Path,
    names: &[String],
    password: Option<&Password>,
) -> Result<BTreeMap<String, VarMap>, InventoryError> {
    let mut out: BTreeMap<String, VarMap> = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for name in names {
        // Ansible skips "chroot" names (/path); names with '/' would leave the directory.
        if name.is_empty() || name.contains('/') || name == ".." {
            continue;
        }
        let mut vars = VarMap::new();
        for file in find_vars_files(dir, name)? {
            vars.extend(load_file_with(&file, password)?);
        }
        if !vars.is_empty() {
            out.insert(name.clone(), vars);
        }
    }
    Ok(out)
}

/// Ansible's DataLoader.find_vars_files: the first of NAME, NAME.yml, NAME.yaml,
/// NAME.json (a directory wins as NAME itself).
fn find_vars_files(dir: &Path, name: &str) -> Result<Vec<PathBuf>, InventoryError> {
    for ext in std::iter::once("").chain(EXTENSIONS) {
        let p = dir.join(format!("{name}{ext}"));
        if p.exists() {
            return if p.is_dir() {
                dir_files(&p)
            } else {
                Ok(vec![p])
            };
        }
    }
    Ok(Vec::new())
}

/// Python's os.path.splitext extension of a file name ("" when none).
fn extension(name: &str) -> &str {
    let stem_start = name.len() - name.trim_start_matches('.').len();
    match name[stem_start..].rfind('.') {
        Some(i) => &name[stem_start + i..],
        None => "",
    }
}

fn dir_files(dir: &Path) -> Result<Vec<PathBuf>, InventoryError> {
    let rd = std::fs::read_dir(dir).map_err(|e| InventoryError::io(dir, e))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Python's sorted(): by code point, so "10.yml" before "9.yml" and "B" before "a".
    names.sort();
    let mut out = Vec::new();
    for n in names {
        if n.starts_with('.') || n.ends_with('~') {
            continue;
        }
        let p = dir.join(&n);
        let ext = extension(&n);
        if p.is_dir() {
            if ext.is_empty() {
                out.extend(dir_files(&p)?);
            }
        } else if p.is_file() && (ext.is_empty() || EXTENSIONS.contains(&ext)) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Loads one vars file (YAML or JSON), each variable keeping its line.
pub fn load_file(path: &Path) -> Result<VarMap, InventoryError> {
    load_file_with(path, None)
}

/// Loads one vars file, decrypting it (and its `!vault` values) with the password.
pub fn load_file_with(path: &Path, password: Option<&Password>) -> Result<VarMap, InventoryError> {
    let shown = display_path(path);
    let text = std::fs::read_to_string(path).map_err(|e| InventoryError::io(path, e))?;
    let text = decrypt_text(&text, &shown, password)?;
    let node = crate::yaml::parse(&text).map_err(|e| InventoryError::Syntax {
        code: "yaml-syntax",
        location: Location::new(&shown, e.line),
        message: format!("invalid YAML: {}", e.message),
        help: "fix the YAML syntax (indentation, quotes, duplicate keys)".into(),
    })?;
    let mut vars = vars_of(&shown, &node)?;
    open_vars(&mut vars, password)?;
    Ok(vars)
}

/// A whole vault-encrypted file's text, decrypted (other text as it is).
pub fn decrypt_text(
    text: &str,
    shown: &str,
    password: Option<&Password>,
) -> Result<String, InventoryError> {
    if !vault::is_vault(text) {
        return Ok(text.to_string());
    }
    let fail = |message: String, help: String| InventoryError::Syntax {
        code: "vault",
        location: Location::new(shown, 1),
        message,
        help,
    };
    let Some(pw) = password else {
        return Err(fail(
            "the file is vault-encrypted and no vault password was given".into(),
            format!("pass {}", vault::HOW),
        ));
    };
    let plain = vault::decrypt(text, pw).map_err(|e| {
        fail(
            format!("cannot decrypt the file: {e}"),
            format!("check the password given with {}", vault::HOW),
        )
    })?;
    String::from_utf8(plain).map_err(|_| {
        fail(
            "the decrypted file is not UTF-8 text".into(),
            "re-encrypt a text file".into(),
        )
    })
}

/// Opens the `!vault` values of variables (each error names the variable and its line).
pub fn open_vars(vars: &mut VarMap, password: Option<&Password>) -> Result<(), InventoryError> {
    for (name, var) in vars.iter_mut() {
        vault::open_values(&mut var.value, password).map_err(|e| InventoryError::Syntax {
            code: "vault",
            location: var.origin.clone(),
            message: format!("cannot decrypt the !vault value of '{name}': {e}"),
            help: format!("check the password given with {}", vault::HOW),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_extensions() {
        assert_eq!(extension("a.yml"), ".yml");
        assert_eq!(extension("old.yml.bak"), ".bak");
        assert_eq!(extension("extra"), "");
        assert_eq!(extension(".hidden"), "");
        assert_eq!(extension("sub.d"), ".d");
    }
}
