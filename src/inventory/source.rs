//! Inventory sources as ansible-core 2.18 takes them: each `-i` is a file, a directory
//! (every file in it, see `directory`) or an executable inventory script (see
//! `script`); sources are read in order and merged as Ansible's InventoryData merges
//! them (hosts and groups added, variables of the same host or group set again: the
//! later source wins). Each `-i` has its own `group_vars/` and `host_vars/` beside it
//! (in a directory given with `-i`, or in the directory of a file).

use super::directory::{self, IgnoreRules};
use super::model::{Parsed, VarMap};
use super::vault::Password;
use super::{absolute_path, display_path, parse_any, script, vars_files, InventoryError};
use crate::diagnostic::{Diagnostic, Location};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `group_vars/` and `host_vars/` beside one `-i` source, by group and by host.
#[derive(Debug, Clone, Default)]
pub struct SourceVars {
    /// The directory holding them (absolute).
    pub dir: PathBuf,
    /// Variables from `group_vars/`, by group.
    pub group_vars: BTreeMap<String, VarMap>,
    /// Variables from `host_vars/`, by host.
    pub host_vars: BTreeMap<String, VarMap>,
}

/// Every `-i` source read and merged.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Hosts and groups of every file, merged in order.
    pub parsed: Parsed,
    /// The file each host was first found in (Ansible's `inventory_file` of the host).
    pub host_files: BTreeMap<String, PathBuf>,
    /// group_vars/host_vars per `-i`, in order (one entry per `-i`, even repeated).
    pub vars: Vec<SourceVars>,
    /// The first file read (or the first `-i` when nothing was read).
    pub first_file: PathBuf,
    /// The directory of the first `-i` (where the last-applied record lives).
    pub first_dir: PathBuf,
}

/// One `-i`: the files it stands for and the directory its group_vars/host_vars are in.
#[derive(Debug, PartialEq)]
struct Expanded {
    files: Vec<PathBuf>,
    vars_dir: PathBuf,
    /// For a directory: the `*.ini` read when no other file in it is an inventory.
    fallback: Option<PathBuf>,
    /// The `-i` is a directory (its files may be skipped as Ansible skips them).
    is_dir: bool,
}

/// The files of one `-i` PATH (absolute), in the order Ansible reads them.
fn expand(path: &Path, rules: &IgnoreRules) -> Result<Expanded, InventoryError> {
    if path.is_dir() {
        let listing = directory::list(path, rules)?;
        // Ansible skips *.ini in a directory and would find no inventory in a Kubespray
        // directory (inventory.ini beside group_vars/); kubeforge reads its inventory.ini
        // when nothing else there is an inventory (README, Inventory sources: a
        // deliberate difference).
        let fallback = directory::fallback_ini(&listing).cloned();
        if listing.files.is_empty() && fallback.is_none() {
            return Err(InventoryError::NotFound {
                dir: display_path(path),
            });
        }
        return Ok(Expanded {
            files: listing.files,
            vars_dir: path.to_path_buf(),
            fallback,
            is_dir: true,
        });
    }
    if !path.exists() {
        return Err(InventoryError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        ));
    }
    let vars_dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    Ok(Expanded {
        files: vec![path.to_path_buf()],
        vars_dir,
        fallback: None,
        is_dir: false,
    })
}

/// True when a file of an inventory directory that failed to load is skipped with a
/// warning, as Ansible skips a file no inventory plugin can parse (NOTICE, LICENSE, a
/// binary): it is neither a script nor named as YAML/JSON, and it is not INI text.
/// A script that fails, a .yml/.yaml/.json file with an error, and a vault error stay
/// errors: they are inventories, and hosts must never be lost quietly.
fn not_an_inventory(file: &Path, e: &InventoryError) -> bool {
    let ext = file.extension().and_then(|x| x.to_str()).unwrap_or("");
    if script::is_script(file) || matches!(ext, "yml" | "yaml" | "json") {
        return false;
    }
    match e {
        InventoryError::Syntax { code, .. } => *code == "ini-syntax",
        InventoryError::Io { source, .. } => source.kind() == std::io::ErrorKind::InvalidData,
        _ => false,
    }
}

/// The directory of the first `-i` (a directory given, or a file's directory): where
/// the last-applied record and backups live.
pub fn record_dir(paths: &[PathBuf]) -> Result<PathBuf, InventoryError> {
    let Some(first) = paths.first() else {
        return Err(InventoryError::NotFound { dir: ".".into() });
    };
    let path = absolute_path(first);
    if path.is_dir() {
        return Ok(path);
    }
    if !path.exists() {
        return Err(InventoryError::io(
            &path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        ));
    }
    Ok(path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/")))
}

/// Reads one inventory file: a script is run, other files are parsed as INI or YAML.
fn read_file(
    file: &Path,
    password: Option<&Password>,
    timeout: Duration,
    earlier: &[&str],
) -> Result<Parsed, InventoryError> {
    let shown = display_path(file);
    let mut parsed = if script::is_script(file) {
        script::load(file, &shown, timeout)?
    } else {
        let text = std::fs::read_to_string(file).map_err(|e| InventoryError::io(file, e))?;
        let text = vars_files::decrypt_text(&text, &shown, password)?;
        parse_any(&text, file, &shown, earlier)?
    };
    for h in parsed.hosts.values_mut() {
        vars_files::open_vars(&mut h.vars, password)?;
    }
    for g in parsed.groups.values_mut() {
        vars_files::open_vars(&mut g.vars, password)?;
    }
    Ok(parsed)
}

/// Adds `from` (a later source) to `into` as Ansible adds a source to its inventory:
/// hosts and groups are added, memberships and children joined, and variables of a
/// host or group already known set again (the later source wins).
fn merge(into: &mut Parsed, from: Parsed) {
    for (name, h) in from.hosts {
        match into.hosts.get_mut(&name) {
            Some(known) => known.vars.extend(h.vars),
            None => {
                into.hosts.insert(name, h);
            }
        }
    }
    for (name, g) in from.groups {
        let target = into.group_mut(&name, g.location.clone());
        for h in g.hosts {
            if !target.hosts.contains(&h) {
                target.hosts.push(h);
            }
        }
        for c in g.children {
            if !target.children.contains(&c) {
                target.children.push(c);
            }
        }
        target.vars.extend(g.vars);
    }
    into.warnings.extend(from.warnings);
}

/// Adds one file's hosts and groups to what was read before it.
fn add(out: &mut Loaded, file: &Path, parsed: Parsed) {
    for name in parsed.hosts.keys() {
        out.host_files
            .entry(name.clone())
            .or_insert_with(|| file.to_path_buf());
    }
    merge(&mut out.parsed, parsed);
}

/// Reads every `-i` in order and merges them; then reads each one's group_vars and
/// host_vars for the groups and hosts of the whole inventory.
pub fn load(paths: &[PathBuf], password: Option<&Password>) -> Result<Loaded, InventoryError> {
    let rules = IgnoreRules::from_env()?;
    let timeout = script::timeout_from_env()?;
    let mut out = Loaded::default();
    let mut vars_dirs = Vec::new();
    for (i, given) in paths.iter().enumerate() {
        let path = absolute_path(given);
        let expanded = expand(&path, &rules)?;
        let mut read = Vec::new();
        let mut skipped: Vec<(Diagnostic, InventoryError)> = Vec::new();
        for file in &expanded.files {
            let earlier: Vec<&str> = out.parsed.groups.keys().map(String::as_str).collect();
            match read_file(file, password, timeout, &earlier) {
                Ok(parsed) => {
                    add(&mut out, file, parsed);
                    read.push(file.clone());
                }
                Err(e) if expanded.is_dir && not_an_inventory(file, &e) => {
                    let how = match e {
                        InventoryError::Io { .. } => {
                            "it is not UTF-8 text; skipped (Ansible reads it with the bad bytes replaced)"
                        }
                        _ => "skipped, as Ansible skips it with a warning",
                    };
                    let w = Diagnostic::warning(
                        "not-an-inventory",
                        format!(
                            "{} in the inventory directory is not an inventory ({e}); {how}",
                            display_path(file)
                        ),
                    )
                    .at(Some(Location::new(display_path(file), 0)))
                    .help("move it out of the directory, or give it a name Ansible ignores (NOTICE.md, notes.txt, a leading dot)");
                    skipped.push((w, e));
                }
                Err(e) => return Err(e),
            }
        }
        if read.is_empty() && expanded.is_dir {
            // Nothing in the directory is an inventory: a Kubespray directory's
            // inventory.ini (the skipped files are moot: Ansible would read nothing).
            match (&expanded.fallback, skipped.into_iter().next()) {
                (Some(ini), _) => {
                    let earlier: Vec<&str> = out.parsed.groups.keys().map(String::as_str).collect();
                    let parsed = read_file(ini, password, timeout, &earlier)?;
                    add(&mut out, ini, parsed);
                    read.push(ini.clone());
                }
                (None, Some((_, e))) => return Err(e),
                (None, None) => {
                    return Err(InventoryError::NotFound {
                        dir: display_path(&path),
                    })
                }
            }
        } else {
            out.parsed
                .warnings
                .extend(skipped.into_iter().map(|(w, _)| w));
        }
        if i == 0 {
            out.first_dir = expanded.vars_dir.clone();
            out.first_file = read.first().cloned().unwrap_or(path.clone());
        }
        vars_dirs.push(expanded.vars_dir);
    }
    let mut group_names: Vec<String> = out.parsed.groups.keys().cloned().collect();
    for extra in ["all", "ungrouped", "k8s_cluster"]
        .into_iter()
        .chain(super::DEPRECATED_GROUPS.iter().map(|(_, new)| *new))
    {
        if !group_names.iter().any(|g| g == extra) {
            group_names.push(extra.to_string());
        }
    }
    let host_names: Vec<String> = out.parsed.hosts.keys().cloned().collect();
    let mut cache: BTreeMap<PathBuf, SourceVars> = BTreeMap::new();
    for dir in vars_dirs {
        if let Some(known) = cache.get(&dir) {
            out.vars.push(known.clone());
            continue;
        }
        let sv = SourceVars {
            dir: dir.clone(),
            group_vars: vars_files::load_dir(&dir.join("group_vars"), &group_names, password)?,
            host_vars: vars_files::load_dir(&dir.join("host_vars"), &host_names, password)?,
        };
        cache.insert(dir, sv.clone());
        out.vars.push(sv);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
        }
    }

    fn val(l: &Loaded, host: &str, var: &str) -> Option<Value> {
        l.parsed.hosts[host].vars.get(var).map(|v| v.value.clone())
    }

    #[test]
    fn later_sources_win_and_memberships_join() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(
            d,
            &[
                ("a.ini", "[web]\nh1 x=1 y=1\n[web:vars]\ng=a\n"),
                ("b.yml", "all:\n  children:\n    db:\n      hosts:\n        h1: {x: 2}\n        h2:\n    web:\n      vars: {g: b}\n"),
            ],
        );
        // (sources in order, h1's x, web's g, h1's file)
        let table = [
            (["a.ini", "b.yml"], 2, "b", "a.ini"),
            (["b.yml", "a.ini"], 1, "a", "b.yml"),
        ];
        for (srcs, x, g, file) in table {
            let paths: Vec<PathBuf> = srcs.iter().map(|s| d.join(s)).collect();
            let l = load(&paths, None).unwrap();
            assert_eq!(val(&l, "h1", "x"), Some(Value::from(x)), "{srcs:?}");
            assert_eq!(val(&l, "h1", "y"), Some(Value::from(1)), "{srcs:?}");
            assert_eq!(
                l.parsed.groups["web"].vars["g"].value,
                Value::from(g),
                "{srcs:?}"
            );
            assert_eq!(l.host_files["h1"], d.join(file));
            assert_eq!(l.parsed.groups["db"].hosts, ["h1", "h2"]);
            assert!(l.parsed.groups["web"].hosts.contains(&"h1".to_string()));
            assert_eq!(l.vars.len(), 2);
            assert_eq!(l.first_dir, d);
        }
    }

    #[test]
    fn an_ini_file_may_name_groups_of_earlier_sources() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(
            d,
            &[
                (
                    "a.yml",
                    "all:\n  children:\n    cp:\n      hosts:\n        h1:\n",
                ),
                ("b.ini", "[k8s:children]\ncp\n[cp:vars]\nx=1\n"),
            ],
        );
        // (sources in order, accepted): as in Ansible, a group declared by an earlier
        // source needs no declaration in a later INI file, but not the other way round.
        let table = [(["a.yml", "b.ini"], true), (["b.ini", "a.yml"], false)];
        for (srcs, ok) in table {
            let paths: Vec<PathBuf> = srcs.iter().map(|s| d.join(s)).collect();
            match load(&paths, None) {
                Ok(l) => {
                    assert!(ok, "{srcs:?} accepted");
                    assert_eq!(l.parsed.groups["k8s"].children, ["cp"]);
                    assert_eq!(l.parsed.groups["cp"].vars["x"].value, Value::from(1));
                }
                Err(e) => {
                    assert!(!ok, "{srcs:?}: {e}");
                    assert!(e.to_string().contains("b.ini"), "{e}");
                }
            }
        }
    }

    #[test]
    fn a_directory_reads_every_file_with_its_own_vars() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(
            d,
            &[
                ("inv/10-hosts.yml", "all:\n  hosts:\n    h1:\n"),
                ("inv/20-more", "[extra]\nh2\n"),
                ("inv/inventory.ini", "[ignored]\nh3\n"),
                ("inv/README.md", "# not read\n"),
                ("inv/group_vars/all.yml", "z: 1\n"),
            ],
        );
        let l = load(&[d.join("inv")], None).unwrap();
        let hosts: Vec<&String> = l.parsed.hosts.keys().collect();
        assert_eq!(hosts, ["h1", "h2"]);
        assert_eq!(l.first_file, d.join("inv/10-hosts.yml"));
        assert_eq!(l.first_dir, d.join("inv"));
        assert_eq!(l.vars[0].group_vars["all"]["z"].value, Value::from(1));
        assert!(l.parsed.warnings.is_empty(), "{:?}", l.parsed.warnings);
    }

    #[test]
    fn a_kubespray_directory_reads_its_inventory_ini_quietly() {
        let tmp = tempfile::tempdir().unwrap();
        // (files in the directory, the file read)
        let table: [(&[&str], &str); 3] = [
            (&["inventory.ini", "notes.txt"], "inventory.ini"),
            (&["a.ini", "hosts.ini", "inventory.ini"], "inventory.ini"),
            (&["a.ini", "hosts.ini"], "hosts.ini"),
        ];
        for (i, (files, read)) in table.into_iter().enumerate() {
            let d = tmp.path().join(i.to_string());
            for f in files {
                write(
                    &d,
                    &[(f, &format!("[web]\nfrom-{}\n", f.replace('.', "-")))],
                );
            }
            let l = load(std::slice::from_ref(&d), None).unwrap();
            let want = format!("from-{}", read.replace('.', "-"));
            let hosts: Vec<&String> = l.parsed.hosts.keys().collect();
            assert_eq!(hosts, [&want], "{files:?}");
            assert_eq!(l.first_file, d.join(read));
            assert!(l.parsed.warnings.is_empty(), "{:?}", l.parsed.warnings);
        }
    }

    #[test]
    fn files_of_a_directory_that_are_not_inventories() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        const NOTICE: &str = "Kubespray's own sample inventory (Apache-2.0)\n";
        const HOSTS: &str = "all:\n  hosts:\n    h1:\n";
        // (files, hosts read, warning codes, or words of the error)
        type Case<'a> = (
            &'a [(&'a str, &'a [u8])],
            &'a [&'a str],
            &'a [&'a str],
            &'a [&'a str],
        );
        let table: [Case; 6] = [
            // Kubespray's sample copied with its NOTICE: inventory.ini, quietly.
            (
                &[
                    ("inventory.ini", b"[web]\nh1\n"),
                    ("NOTICE", NOTICE.as_bytes()),
                ],
                &["h1"],
                &[],
                &[],
            ),
            // Beside an inventory, NOTICE and a binary file are skipped with a warning.
            (
                &[
                    ("hosts.yml", HOSTS.as_bytes()),
                    ("NOTICE", NOTICE.as_bytes()),
                    ("logo.png", b"\x89PNG\xff\xfe"),
                ],
                &["h1"],
                &["not-an-inventory", "not-an-inventory"],
                &[],
            ),
            // A .yml file with an error is an inventory with an error.
            (
                &[("hosts.yml", HOSTS.as_bytes()), ("more.yml", b"all: [\n")],
                &[],
                &[],
                &["more.yml"],
            ),
            // Nothing but a file that is no inventory: its error.
            (
                &[("NOTICE", NOTICE.as_bytes())],
                &[],
                &[],
                &["NOTICE:1", "unclosed"],
            ),
            // A script that fails is never skipped.
            (
                &[
                    ("hosts.yml", HOSTS.as_bytes()),
                    ("cloud.sh", b"#!/bin/sh\nexit 1\n"),
                ],
                &[],
                &[],
                &["inventory script", "cloud.sh --list"],
            ),
            // INI text that parses is read even without an extension.
            (&[("NOTES", b"h2\n")], &["h2"], &[], &[]),
        ];
        for (i, (files, hosts, warnings, error)) in table.into_iter().enumerate() {
            let d = tmp.path().join(i.to_string());
            std::fs::create_dir_all(&d).unwrap();
            for (name, body) in files {
                let p = d.join(name);
                std::fs::write(&p, body).unwrap();
                if name.ends_with(".sh") {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
                }
            }
            match load(std::slice::from_ref(&d), None) {
                Ok(l) => {
                    assert!(error.is_empty(), "case {i}: loaded, wanted {error:?}");
                    let got: Vec<&String> = l.parsed.hosts.keys().collect();
                    assert_eq!(got, hosts, "case {i}");
                    let codes: Vec<&str> = l.parsed.warnings.iter().map(|w| w.code).collect();
                    assert_eq!(codes, warnings, "case {i}: {:?}", l.parsed.warnings);
                }
                Err(e) => {
                    assert!(!error.is_empty(), "case {i}: {e}");
                    for w in error {
                        assert!(e.to_string().contains(w), "case {i}: {e}");
                    }
                }
            }
        }
    }

    #[test]
    fn refusals_name_what_to_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        write(
            d,
            &[("empty/README.md", "x\n"), ("bad/hosts.yml", "all: [\n")],
        );
        // (the -i, words the error must hold)
        let table: [(&str, &[&str]); 3] = [
            ("empty", &["no inventory file in", "empty"]),
            ("missing.ini", &["missing.ini"]),
            ("bad", &["hosts.yml"]),
        ];
        for (src, words) in table {
            let e = load(&[d.join(src)], None).unwrap_err().to_string();
            for w in words {
                assert!(e.contains(w), "{src}: {e}");
            }
        }
    }
}
