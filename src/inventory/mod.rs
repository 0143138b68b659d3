//! Kubespray-compatible inventories: INI or YAML hosts files, `group_vars/` and
//! `host_vars/`, `-e` extra vars, and Ansible's variable precedence.

pub mod directory;
mod groups;
mod hostpattern;
mod ini;
pub mod model;
pub mod pyliteral;
pub mod script;
pub mod shlex;
pub mod source;
mod vars_files;
pub mod vault;
mod yaml_format;

pub use crate::diagnostic::display_path;
use crate::diagnostic::{natural_cmp, Diagnostic, Location};
use crate::vars::Layers;
pub use model::{GroupEntry, HostEntry, Parsed, Var, VarMap};
use serde_json::Value;
pub use source::SourceVars;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
pub use vars_files::load_file as load_vars_file;
pub use yaml_format::vars_of;

/// Groups kubeforge knows (Kubespray's names); any other group is accepted with a warning.
pub const KNOWN_GROUPS: [&str; 8] = [
    "all",
    "ungrouped",
    "kube_control_plane",
    "kube_node",
    "etcd",
    "calico_rr",
    "bastion",
    "k8s_cluster",
];

/// Kubespray's old group names and their replacements.
pub const DEPRECATED_GROUPS: [(&str, &str); 3] = [
    ("kube-master", "kube_control_plane"),
    ("kube-node", "kube_node"),
    ("k8s-cluster", "k8s_cluster"),
];

/// Something that stops an inventory from loading.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A syntax or shape problem at a known place.
    #[error("{location}: {message}")]
    Syntax {
        /// Stable short code for scripts (e.g. `ini-syntax`, `group-cycle`).
        code: &'static str,
        /// Where.
        location: Location,
        /// What.
        message: String,
        /// What to do.
        help: String,
    },
    /// A file that cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// `-i DIR` with no inventory file in it.
    #[error("no inventory file in {dir}")]
    NotFound {
        /// The directory given.
        dir: String,
    },
    /// An inventory script that failed or printed something unreadable.
    #[error("inventory script {script} {args}: {message}{}", stderr_shown(.stderr))]
    Script {
        /// The script, as shown.
        script: String,
        /// Its arguments (`--list`, `--host NAME`).
        args: String,
        /// What went wrong.
        message: String,
        /// What it wrote on stderr.
        stderr: String,
    },
    /// A variable that cannot be rendered.
    #[error("variable '{name}' (set at {origin}) for host {host}: {message}")]
    Template {
        /// Host whose context failed.
        host: String,
        /// Variable name.
        name: String,
        /// Where it was set.
        origin: Location,
        /// The cause.
        message: String,
        /// What to do.
        help: String,
    },
    /// Errors found by validation (see `validate`).
    #[error("the inventory has {} error(s)", .0.iter().filter(|d| d.is_error()).count())]
    Invalid(Vec<Diagnostic>),
}

impl InventoryError {
    /// Stable short code, as `Diagnostic::code` (printed by the CLI).
    pub fn code(&self) -> &'static str {
        match self {
            InventoryError::Syntax { code, .. } => code,
            InventoryError::Io { .. } => "io",
            InventoryError::NotFound { .. } => "no-inventory-file",
            InventoryError::Script { .. } => "inventory-script",
            InventoryError::Template { .. } => "template",
            InventoryError::Invalid(_) => "invalid",
        }
    }
}

impl miette::Diagnostic for InventoryError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(InventoryError::code(self)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        match self {
            InventoryError::Syntax { help, .. } | InventoryError::Template { help, .. } => Some(Box::new(help)),
            InventoryError::NotFound { .. } => Some(Box::new(
                "put an inventory file in it (hosts.yaml, or any name Ansible does not skip: not hidden, not *.ini, *.md, *.txt, *.cfg, ...), or pass the file itself with -i",
            )),
            InventoryError::Script { script, args, .. } => {
                // A bare name runs from the current directory only with ./ before it.
                let run = if script.contains('/') {
                    script.clone()
                } else {
                    format!("./{script}")
                };
                Some(Box::new(format!(
                    "run `{run} {args}` by hand: it must exit 0 within the time limit and print a JSON object of groups (README, Inventory sources)"
                )))
            }
            _ => None,
        }
    }
}

/// A script's stderr appended to its error, indented.
fn stderr_shown(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        return String::new();
    }
    let lines: Vec<String> = stderr.lines().map(|l| format!("  | {l}")).collect();
    format!("\n  its stderr:\n{}", lines.join("\n"))
}

impl InventoryError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        InventoryError::Io {
            path: display_path(path),
            source,
        }
    }
}

/// A loaded inventory: hosts, groups and every variable layer, before rendering.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// The first inventory file read (absolute).
    pub file: PathBuf,
    /// The directory of the first `-i` (a directory given, or a file's directory),
    /// absolute: the last-applied record lives there.
    pub dir: PathBuf,
    /// The file each host was first found in (its `inventory_file`), absolute.
    pub host_files: BTreeMap<String, PathBuf>,
    /// Hosts in natural name order.
    pub hosts: Vec<HostEntry>,
    /// Groups by name, including `all`, `ungrouped` and a derived `k8s_cluster`.
    pub groups: BTreeMap<String, GroupEntry>,
    /// `group_vars/` and `host_vars/` beside each `-i`, in order.
    pub vars_dirs: Vec<SourceVars>,
    /// `-e` extra vars (highest precedence).
    pub extra: VarMap,
    /// Warnings found while loading (deprecated names and such).
    pub warnings: Vec<Diagnostic>,
    depth: BTreeMap<String, usize>,
}

/// Parses inventory text as Ansible's plugin order does: a file ending in .yml, .yaml
/// or .json or without an extension is tried as YAML first (it must be a mapping), then
/// as INI; an .ini or other file is INI. When both fail, the error of the format the
/// file names (YAML for .yml/.yaml/.json) is reported. `earlier` are the groups of the
/// sources read before this one (see `ini::parse_after`).
fn parse_any(
    text: &str,
    path: &Path,
    shown: &str,
    earlier: &[&str],
) -> Result<Parsed, InventoryError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let yaml_ext = matches!(ext, "yml" | "yaml" | "json");
    if !(yaml_ext || ext.is_empty()) {
        return ini::parse_after(text, shown, earlier);
    }
    let yaml = yaml_format::parse_inventory(text, shown);
    match yaml {
        Ok(Some(p)) => Ok(p),
        Ok(None) => ini::parse_after(text, shown, earlier),
        Err(yaml_err) => match ini::parse_after(text, shown, earlier) {
            Ok(p) if !yaml_ext => Ok(p),
            Ok(mut p) => {
                p.warnings.push(
                    Diagnostic::warning(
                        "read-as-ini",
                        format!("{shown} is not a YAML inventory ({yaml_err}); it was read as INI, as Ansible does"),
                    )
                    .help("rename the file to .ini, or fix the YAML"),
                );
                Ok(p)
            }
            Err(ini_err) => Err(if yaml_ext { yaml_err } else { ini_err }),
        },
    }
}

/// A path made absolute and normalised the way Ansible's unfrackpath does (`.` and
/// `..` removed lexically, symlinks kept).
fn absolute_path(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// How to load an inventory beyond its path: the vault password.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Opens `!vault` values and encrypted files.
    pub vault_password: Option<vault::Password>,
}

impl LoadOptions {
    /// Options from `--vault-password-file` (clap also reads ANSIBLE_VAULT_PASSWORD_FILE).
    pub fn with_password_file(file: Option<&Path>) -> Result<LoadOptions, InventoryError> {
        let vault_password = match file {
            None => None,
            Some(f) => Some(vault::Password::from_file(f).map_err(|e| InventoryError::Syntax {
                code: "vault",
                location: Location::new(display_path(f), 0),
                message: e.to_string(),
                help: "give a readable file holding the password (or an executable that prints it)".into(),
            })?),
        };
        Ok(LoadOptions { vault_password })
    }
}

/// Parses `-e` arguments: `key=value ...`, `@file.yml`, or a YAML/JSON mapping.
pub fn parse_extra_vars(args: &[String]) -> Result<VarMap, InventoryError> {
    let mut out = VarMap::new();
    for arg in args {
        let arg = arg.trim();
        if let Some(file) = arg.strip_prefix('@') {
            out.extend(vars_files::load_file(Path::new(file))?);
        } else if arg.starts_with('{') {
            let node = crate::yaml::parse(arg).map_err(|e| InventoryError::Syntax {
                code: "extra-vars",
                location: Location::new("-e", 0),
                message: format!("invalid -e mapping '{arg}': {}", e.message),
                help: "write -e key=value, -e @vars.yml or -e '{\"key\": value}'".into(),
            })?;
            out.extend(yaml_format::vars_of("-e", &node)?);
        } else {
            for part in crate::shell::split_words(arg) {
                let Some((k, v)) = part.split_once('=') else {
                    return Err(InventoryError::Syntax {
                        code: "extra-vars",
                        location: Location::new("-e", 0),
                        message: format!("-e '{part}' is not key=value"),
                        help: "write -e key=value, -e @vars.yml or -e '{\"key\": value}'".into(),
                    });
                };
                out.insert(
                    k.to_string(),
                    Var {
                        value: Value::String(v.to_string()),
                        origin: Location::new("-e", 0),
                    },
                );
            }
        }
    }
    Ok(out)
}

impl Inventory {
    /// Loads `-i PATH` with `-e` extra vars on top (no vault password).
    pub fn load(path: &Path, extra_vars: &[String]) -> Result<Inventory, InventoryError> {
        Inventory::load_with(path, extra_vars, &LoadOptions::default())
    }

    /// Loads `-i PATH` with `-e` extra vars on top and the given options.
    pub fn load_with(
        path: &Path,
        extra_vars: &[String],
        options: &LoadOptions,
    ) -> Result<Inventory, InventoryError> {
        Inventory::load_sources(&[path.to_path_buf()], extra_vars, options)
    }

    /// Loads every `-i` (files, directories, scripts) in order, merged as Ansible
    /// merges them, with `-e` extra vars on top.
    pub fn load_sources(
        paths: &[PathBuf],
        extra_vars: &[String],
        options: &LoadOptions,
    ) -> Result<Inventory, InventoryError> {
        let password = options.vault_password.as_ref();
        let loaded = source::load(paths, password)?;
        let mut extra = parse_extra_vars(extra_vars)?;
        vars_files::open_vars(&mut extra, password)?;
        let mut inv = Inventory::from_parts(
            loaded.first_file,
            loaded.first_dir,
            loaded.parsed,
            loaded.vars,
            extra,
        )?;
        inv.host_files = loaded.host_files;
        Ok(inv)
    }

    /// Parses inventory text directly (tests, fuzzing): no group_vars.
    pub fn from_text(text: &str, name: &str) -> Result<Inventory, InventoryError> {
        let p = Path::new(name);
        let parsed = parse_any(text, p, name, &[])?;
        Inventory::from_parts(
            p.to_path_buf(),
            PathBuf::from("."),
            parsed,
            Vec::new(),
            VarMap::new(),
        )
    }

    fn from_parts(
        file: PathBuf,
        dir: PathBuf,
        mut parsed: Parsed,
        mut vars_dirs: Vec<SourceVars>,
        extra: VarMap,
    ) -> Result<Inventory, InventoryError> {
        let mut warnings = std::mem::take(&mut parsed.warnings);
        groups::rename_deprecated(&mut parsed, &mut vars_dirs, &mut warnings);
        groups::take_priorities(&mut parsed)?;
        let mut groups: BTreeMap<String, GroupEntry> = parsed.groups.into_iter().collect();
        let mut hosts: Vec<HostEntry> = parsed.hosts.into_values().collect();
        hosts.sort_by(|a, b| natural_cmp(&a.name, &b.name));
        groups.entry("all".into()).or_insert_with(|| GroupEntry {
            name: "all".into(),
            ..GroupEntry::default()
        });
        let mut depth = groups::group_depths(&groups)?;
        // Kubespray's dynamic_groups role (group_by) puts every kube_control_plane,
        // kube_node and calico_rr host in k8s_cluster directly, whatever the inventory
        // says: their depth below `all` (and so their precedence) does not change.
        groups::derive_k8s_cluster(&mut groups);
        // `ungrouped`: hosts in no group but `all` (its vars kept).
        groups::fill_ungrouped(&mut groups, &hosts);
        for g in groups.values_mut() {
            g.hosts.sort_by(|a, b| natural_cmp(a, b));
            g.children.sort_by(|a, b| natural_cmp(a, b));
            g.children.dedup();
        }
        for name in groups.keys() {
            depth.entry(name.clone()).or_insert(1);
        }
        Ok(Inventory {
            file,
            dir,
            host_files: BTreeMap::new(),
            hosts,
            groups,
            vars_dirs,
            extra,
            warnings,
            depth,
        })
    }

    /// Ansible's `inventory_dir` and `inventory_file` of a host: the file it was first
    /// found in and that file's directory (the first file for hosts of no file).
    pub fn source_of(&self, host: &str) -> (String, String) {
        match self.host_files.get(host) {
            Some(f) => (
                f.parent().unwrap_or(&self.dir).display().to_string(),
                f.display().to_string(),
            ),
            None => (
                self.dir.display().to_string(),
                self.file.display().to_string(),
            ),
        }
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&HostEntry> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Groups that list the host directly.
    pub fn direct_groups(&self, host: &str) -> Vec<String> {
        self.groups
            .values()
            .filter(|g| g.hosts.iter().any(|h| h == host))
            .map(|g| g.name.clone())
            .collect()
    }

    /// Every group the host belongs to, through children, with `all`.
    pub fn groups_of(&self, host: &str) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = BTreeSet::new();
        let mut todo = self.direct_groups(host);
        while let Some(g) = todo.pop() {
            if out.insert(g.clone()) {
                for parent in self.groups.values() {
                    if parent.children.contains(&g) {
                        todo.push(parent.name.clone());
                    }
                }
            }
        }
        out.insert("all".into());
        out
    }

    /// Every host in the group (through children), in natural order. `all` is every host.
    pub fn members(&self, group: &str) -> Vec<String> {
        if group == "all" {
            return self.hosts.iter().map(|h| h.name.clone()).collect();
        }
        let mut seen = BTreeSet::new();
        let mut out = BTreeSet::new();
        let mut todo = vec![group.to_string()];
        while let Some(g) = todo.pop() {
            if !seen.insert(g.clone()) {
                continue;
            }
            if let Some(entry) = self.groups.get(&g) {
                out.extend(entry.hosts.iter().cloned());
                todo.extend(entry.children.iter().cloned());
            }
        }
        let mut v: Vec<String> = out.into_iter().collect();
        v.sort_by(|a, b| natural_cmp(a, b));
        v
    }

    /// True if the host is in the group (through children).
    pub fn in_group(&self, host: &str, group: &str) -> bool {
        self.groups_of(host).contains(group)
    }

    /// The host's variables before rendering, merged with Ansible's precedence: role
    /// `defaults` < inventory-file group vars < group_vars/all < group_vars/<group>
    /// (parents before children) < inventory host vars < host_vars/<host> < -e. With
    /// several `-i`, each group_vars/host_vars step goes through the sources in order
    /// (Ansible's vars plugins run per source): a later source's group_vars/<parent>
    /// beats an earlier source's group_vars/<child>.
    pub fn layered_vars(&self, host: &str, defaults: &VarMap) -> VarMap {
        let mut out = defaults.clone();
        // Ansible's sort_groups: depth, then ansible_group_priority, then name.
        let mut groups: Vec<String> = self.groups_of(host).into_iter().collect();
        let key = |g: &String| {
            let depth = self.depth.get(g).copied().unwrap_or(1);
            let priority = self.groups.get(g).map_or(1, |e| e.priority);
            (depth, priority)
        };
        groups.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.cmp(b)));
        for g in &groups {
            if let Some(entry) = self.groups.get(g) {
                out.extend(entry.vars.clone());
            }
        }
        for sv in &self.vars_dirs {
            if let Some(v) = sv.group_vars.get("all") {
                out.extend(v.clone());
            }
        }
        for sv in &self.vars_dirs {
            for g in groups.iter().filter(|g| *g != "all") {
                if let Some(v) = sv.group_vars.get(g) {
                    out.extend(v.clone());
                }
            }
        }
        if let Some(h) = self.host(host) {
            out.extend(h.vars.clone());
        }
        for sv in &self.vars_dirs {
            if let Some(v) = sv.host_vars.get(host) {
                out.extend(v.clone());
            }
        }
        out.extend(self.extra.clone());
        out
    }

    /// Adds a group made by an operation (Ansible's `add_host`/`group_by`): its hosts
    /// are put in it directly; it has no variables and no place in a file.
    pub fn add_group(&mut self, name: &str, hosts: &[String]) {
        let known: Vec<String> = hosts
            .iter()
            .filter(|h| self.host(h).is_some())
            .cloned()
            .collect();
        let g = self
            .groups
            .entry(name.to_string())
            .or_insert_with(|| GroupEntry {
                name: name.to_string(),
                ..GroupEntry::default()
            });
        for h in known {
            if !g.hosts.contains(&h) {
                g.hosts.push(h);
            }
        }
        g.hosts.sort_by(|a, b| natural_cmp(a, b));
        self.depth.entry(name.to_string()).or_insert(1);
    }

    /// Every host's merged variables and what magic variables need, for the resolver.
    pub fn layers(&self, defaults: &VarMap) -> Layers {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for g in self.groups.keys() {
            groups.insert(g.clone(), self.members(g));
        }
        Layers {
            hosts: self.hosts.iter().map(|h| h.name.clone()).collect(),
            vars: self
                .hosts
                .iter()
                .map(|h| (h.name.clone(), self.layered_vars(&h.name, defaults)))
                .collect(),
            groups,
            group_names: self
                .hosts
                .iter()
                .map(|h| {
                    let names = self
                        .groups_of(&h.name)
                        .into_iter()
                        .filter(|g| g != "all")
                        .collect();
                    (h.name.clone(), names)
                })
                .collect(),
            inventory_dir: self.dir.display().to_string(),
            inventory_file: self.file.display().to_string(),
            host_files: self
                .hosts
                .iter()
                .map(|h| {
                    let (dir, file) = self.source_of(&h.name);
                    (h.name.clone(), (dir, file))
                })
                .collect(),
            extra: self.extra.keys().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(text: &str, name: &str) -> Inventory {
        Inventory::from_text(text, name).unwrap()
    }

    #[test]
    fn k8s_cluster_is_derived_and_children_expand() {
        let i = inv(
            "[kube_control_plane]\ncp1\n[kube_node]\nw2\nw10\n[etcd:children]\nkube_control_plane\n",
            "i.ini",
        );
        assert_eq!(i.members("k8s_cluster"), ["cp1", "w2", "w10"]);
        assert_eq!(i.members("etcd"), ["cp1"]);
        assert!(i.in_group("cp1", "k8s_cluster"));
    }

    #[test]
    fn deprecated_names_are_renamed_with_a_warning() {
        let i = inv(
            "[kube-master]\ncp1\n[kube-node]\nw1\n[k8s-cluster:children]\nkube-master\nkube-node\n",
            "i.ini",
        );
        assert_eq!(i.members("kube_control_plane"), ["cp1"]);
        assert_eq!(i.members("k8s_cluster"), ["cp1", "w1"]);
        assert_eq!(i.warnings.len(), 3);
        assert_eq!(i.warnings[0].location, Some(Location::new("i.ini", 1)));
    }

    #[test]
    fn precedence_child_over_parent_host_over_group() {
        let text = "\
all:
  vars: {x: all, yy: all, z: all}
  children:
    k8s_cluster:
      vars: {x: k8s, yy: k8s}
      children:
        kube_node:
          vars: {x: node}
          hosts:
            w1: {z: host}
";
        let i = inv(text, "h.yaml");
        let v = i.layered_vars("w1", &VarMap::new());
        assert_eq!(v["x"].value, Value::from("node"));
        assert_eq!(v["yy"].value, Value::from("k8s"));
        assert_eq!(v["z"].value, Value::from("host"));
        assert_eq!(v["x"].origin, Location::new("h.yaml", 8));
    }

    #[test]
    fn children_cycle_is_an_error() {
        let e = Inventory::from_text("[a:children]\nb\n[b:children]\na\n", "c.ini").unwrap_err();
        assert!(e.to_string().contains("its own ancestor"), "{e}");
    }

    #[test]
    fn extra_vars_forms() {
        let v = parse_extra_vars(&["a=1 b='x y'".into(), "{\"c\": true}".into()]).unwrap();
        assert_eq!(v["a"].value, Value::from("1"));
        assert_eq!(v["b"].value, Value::from("x y"));
        assert_eq!(v["c"].value, Value::Bool(true));
        assert!(parse_extra_vars(&["novalue".into()]).is_err());
    }
}
