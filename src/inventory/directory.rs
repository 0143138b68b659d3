//! `-i DIR`: every file in the directory is an inventory source, in ansible-core 2.18's
//! order (names sorted byte-wise, subdirectories descended where they sort) and with its
//! ignore rules (lib/ansible/inventory/manager.py `IGNORED`): hidden names, `group_vars`,
//! `host_vars` and `vars_plugins` always; names ending in one of INVENTORY_IGNORE_EXTS
//! (default below, from lib/ansible/config/base.yml and constants.REJECT_EXTS); names
//! matching one of INVENTORY_IGNORE_PATTERNS (default none). The two settings are read
//! from ANSIBLE_INVENTORY_IGNORE and ANSIBLE_INVENTORY_IGNORE_REGEX as Ansible reads them.

use super::InventoryError;
use crate::diagnostic::Location;
use regex::Regex;
use std::path::{Path, PathBuf};

/// ansible-core 2.18's INVENTORY_IGNORE_EXTS default: REJECT_EXTS + .orig, .ini, .cfg, .retry.
pub const DEFAULT_IGNORE_EXTS: [&str; 13] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".ini", ".cfg",
    ".retry",
];

/// Names Ansible always skips in an inventory directory (besides hidden ones).
const ALWAYS_IGNORED: [&str; 3] = ["host_vars", "group_vars", "vars_plugins"];

/// Kubespray's `credentials_dir` ({{ inventory_dir }}/credentials): password files that
/// Ansible would read as INI inventories of one host named by the password. kubeforge
/// skips it (a deliberate difference, README "Inventory sources").
pub const CREDENTIALS_DIR: &str = "credentials";

/// The ignore rules in force: Ansible's defaults or the ANSIBLE_INVENTORY_IGNORE* settings.
#[derive(Debug, Clone)]
pub struct IgnoreRules {
    exts: Vec<String>,
    patterns: Vec<Regex>,
}

impl IgnoreRules {
    /// Ansible's defaults, overridden by ANSIBLE_INVENTORY_IGNORE (extensions) and
    /// ANSIBLE_INVENTORY_IGNORE_REGEX (patterns), comma-separated as Ansible's lists are.
    pub fn from_env() -> Result<IgnoreRules, InventoryError> {
        let exts = std::env::var("ANSIBLE_INVENTORY_IGNORE").ok();
        let patterns = std::env::var("ANSIBLE_INVENTORY_IGNORE_REGEX").ok();
        IgnoreRules::new(exts.as_deref(), patterns.as_deref())
    }

    /// Rules from the two settings' texts (None: Ansible's default).
    pub fn new(exts: Option<&str>, patterns: Option<&str>) -> Result<IgnoreRules, InventoryError> {
        let exts = match exts {
            Some(list) => split_list(list),
            None => DEFAULT_IGNORE_EXTS.iter().map(|s| s.to_string()).collect(),
        };
        let mut compiled = Vec::new();
        for p in patterns.map(split_list).unwrap_or_default() {
            let re = Regex::new(&p).map_err(|e| InventoryError::Syntax {
                code: "inventory-ignore",
                location: Location::new("ANSIBLE_INVENTORY_IGNORE_REGEX", 0),
                message: format!("'{p}' is not a valid pattern: {e}"),
                help: "fix or unset ANSIBLE_INVENTORY_IGNORE_REGEX (comma-separated regular expressions)"
                    .into(),
            })?;
            compiled.push(re);
        }
        Ok(IgnoreRules {
            exts,
            patterns: compiled,
        })
    }

    /// True when Ansible skips this directory entry.
    pub fn ignores(&self, name: &str) -> bool {
        name.starts_with('.')
            || ALWAYS_IGNORED.contains(&name)
            || self.exts.iter().any(|e| name.ends_with(e.as_str()))
            || self.patterns.iter().any(|p| p.is_match(name))
    }
}

/// Ansible's comma-separated list setting: items trimmed, empty ones dropped.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// What a directory holds for the inventory: the files read, in order, and the `.ini`
/// files Ansible skips at its top level (kubeforge's fallback when nothing else is there).
#[derive(Debug, Default, PartialEq)]
pub struct Listing {
    /// Files to read as inventory sources, in Ansible's order.
    pub files: Vec<PathBuf>,
    /// Top-level `*.ini` files skipped by the ignore rules.
    pub skipped_ini: Vec<PathBuf>,
}

/// Lists the inventory files of `dir` (descending into subdirectories) in Ansible's order.
pub fn list(dir: &Path, rules: &IgnoreRules) -> Result<Listing, InventoryError> {
    let mut out = Listing::default();
    walk(dir, rules, true, &mut out)?;
    Ok(out)
}

fn walk(
    dir: &Path,
    rules: &IgnoreRules,
    top: bool,
    out: &mut Listing,
) -> Result<(), InventoryError> {
    let rd = std::fs::read_dir(dir).map_err(|e| InventoryError::io(dir, e))?;
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| InventoryError::io(dir, e))?;
        names.push(entry.file_name());
    }
    // Python's sorted(os.listdir(bytes)): byte order.
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let text = name.to_string_lossy();
        let path = dir.join(&name);
        if rules.ignores(&text) {
            if top && text.ends_with(".ini") && path.is_file() {
                out.skipped_ini.push(path);
            }
            continue;
        }
        if path.is_dir() {
            if text == CREDENTIALS_DIR {
                continue;
            }
            walk(&path, rules, false, out)?;
        } else {
            out.files.push(path);
        }
    }
    Ok(())
}

/// The legacy choice among skipped `.ini` files: inventory.ini, then hosts.ini, then the
/// first in order.
pub fn fallback_ini(listing: &Listing) -> Option<&PathBuf> {
    ["inventory.ini", "hosts.ini"]
        .iter()
        .find_map(|n| {
            listing
                .skipped_ini
                .iter()
                .find(|p| p.file_name().is_some_and(|f| f == *n))
        })
        .or_else(|| listing.skipped_ini.first())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_rules_by_name() {
        let rules = IgnoreRules::new(None, None).unwrap();
        // (name, ignored by Ansible 2.18's defaults)
        let table = [
            ("hosts.yaml", false),
            ("hosts", false),
            ("inv.py", false),
            ("10-static.yml", false),
            ("inventory.ini", true),
            ("README.md", true),
            ("notes.txt", true),
            ("hosts.yaml~", true),
            ("hosts.yaml.bak", true),
            ("hosts.orig", true),
            ("ansible.cfg", true),
            ("site.retry", true),
            ("inv.pyc", true),
            (".hidden.yml", true),
            (".kubeforge", true),
            ("group_vars", true),
            ("host_vars", true),
            ("vars_plugins", true),
            ("group_vars.yml", false),
            ("README", false),
        ];
        for (name, ignored) in table {
            assert_eq!(rules.ignores(name), ignored, "{name}");
        }
    }

    #[test]
    fn ignore_settings_replace_the_defaults() {
        let rules = IgnoreRules::new(Some(".yml, .json"), Some("^skip-, \\.sh$")).unwrap();
        let table = [
            ("a.yml", true),
            ("a.json", true),
            ("a.ini", false),
            ("skip-me", true),
            ("run.sh", true),
            ("keep", false),
            (".hidden", true),
            ("group_vars", true),
        ];
        for (name, ignored) in table {
            assert_eq!(rules.ignores(name), ignored, "{name}");
        }
        assert!(IgnoreRules::new(None, Some("(")).is_err());
    }

    #[test]
    fn listing_order_subdirectories_and_fallback() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for f in [
            "b.yml",
            "A.yml",
            "inventory.ini",
            "z.ini",
            "README.md",
            "sub/x.yml",
            "sub/y.ini",
            "group_vars/all.yml",
            "credentials/pw.creds",
            ".kubeforge/last-applied.json",
            "hosts",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
        }
        let l = list(d, &IgnoreRules::new(None, None).unwrap()).unwrap();
        let rel: Vec<String> = l
            .files
            .iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(rel, ["A.yml", "b.yml", "hosts", "sub/x.yml"]);
        assert_eq!(l.skipped_ini, [d.join("inventory.ini"), d.join("z.ini")]);
        assert_eq!(fallback_ini(&l), Some(&d.join("inventory.ini")));
    }
}
