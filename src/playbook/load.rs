//! Reads playbooks and task lists from YAML, checking keys, modules and expressions.

use super::nodes::{bool_of, check_expression, loc, string_of, strings_of, vars_of};
use super::role::load_role;
use super::task::parse_tasks;
use super::{Play, Playbook, PlaybookError, RoleRef, Serial};
use crate::diagnostic::Location;
use crate::inventory::display_path;
use crate::yaml::{Node, NodeKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PLAY_KEYS: [&str; 17] = [
    "name",
    "hosts",
    "roles",
    "tasks",
    "handlers",
    "vars",
    "serial",
    "any_errors_fatal",
    "max_fail_percentage",
    "become",
    "become_user",
    "become_method",
    "tags",
    "needs",
    "gather_facts",
    "pre_tasks",
    "post_tasks",
];

const ROLE_KEYS: [&str; 8] = [
    "role",
    "name",
    "when",
    "tags",
    "vars",
    "become",
    "become_user",
    "become_method",
];

/// Reads a YAML file into a node, with errors at file:line.
pub(crate) fn read_yaml(path: &Path) -> Result<(String, Node), PlaybookError> {
    let shown = display_path(path);
    let text = std::fs::read_to_string(path).map_err(|e| {
        PlaybookError::new(
            Location::new(&shown, 0),
            format!("cannot read: {e}"),
            "check the path",
        )
    })?;
    let node = crate::yaml::parse(&text).map_err(|e| {
        PlaybookError::new(
            Location::new(&shown, e.line),
            format!("invalid YAML: {}", e.message),
            "fix the YAML syntax (indentation, quotes, duplicate keys)",
        )
    })?;
    Ok((shown, node))
}

/// Loads a playbook and the roles it uses (from `roles/` beside the playbook's
/// directory or in it, as Ansible looks for them).
pub fn load(path: &Path) -> Result<Playbook, PlaybookError> {
    let (file, root) = read_yaml(path)?;
    let NodeKind::Seq(items) = &root.kind else {
        return Err(PlaybookError::new(
            Location::new(&file, root.line),
            "a playbook is a list of plays",
            "start each play with `- name: ...` and `hosts: ...`",
        ));
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let role_dirs = [base.join("roles"), base.join("../roles")];
    super::import_role::CTX.with(|c| {
        *c.borrow_mut() = Some(super::import_role::RoleCtx {
            dirs: role_dirs.to_vec(),
            ..Default::default()
        })
    });
    let loaded = load_plays(path, &file, items, base, &role_dirs);
    let imported = super::import_role::CTX
        .with(|c| c.borrow_mut().take())
        .map(|ctx| ctx.imported)
        .unwrap_or_default();
    let mut book = loaded?;
    for (name, role) in imported {
        book.roles.entry(name).or_insert(role);
    }
    Ok(book)
}

fn load_plays(
    path: &Path,
    file: &str,
    items: &[Node],
    base: &Path,
    role_dirs: &[PathBuf],
) -> Result<Playbook, PlaybookError> {
    let file = file.to_string();
    let mut plays = Vec::new();
    let mut roles = BTreeMap::new();
    let mut expanded: Vec<(String, Node, PathBuf)> = Vec::new();
    for item in items {
        if let Some(target) = item.get("import_playbook") {
            let name = string_of(&file, "import_playbook", target)?;
            let path = base.join(&name);
            let (ifile, inode) = read_yaml(&path).map_err(|mut e| {
                if e.location.line == 0 {
                    e.location = loc(&file, target);
                    e.message = format!("import_playbook {name}: {}", e.message);
                }
                e
            })?;
            let NodeKind::Seq(inner) = &inode.kind else {
                return Err(PlaybookError::new(
                    loc(&ifile, &inode),
                    "a playbook is a list of plays",
                    "start each play with `- name: ...`",
                ));
            };
            if inner.iter().any(|i| i.get("import_playbook").is_some()) {
                return Err(PlaybookError::new(
                    loc(&ifile, &inode),
                    "import_playbook is one level deep",
                    "import the plays directly",
                ));
            }
            for i in inner {
                expanded.push((
                    ifile.clone(),
                    i.clone(),
                    path.parent().unwrap_or(base).to_path_buf(),
                ));
            }
            continue;
        }
        expanded.push((file.clone(), item.clone(), base.to_path_buf()));
    }
    for (pfile, item, pbase) in &expanded {
        let play = parse_play(pfile, item, pbase)?;
        for r in play.roles.iter().map(|r| &r.name) {
            if !roles.contains_key(r) {
                let dir = role_dirs
                    .iter()
                    .map(|d| d.join(r))
                    .find(|d| d.is_dir())
                    .ok_or_else(|| {
                        PlaybookError::new(
                            play.location.clone(),
                            format!("role '{r}' not found"),
                            format!(
                                "looked in {}; create roles/{r}/tasks/main.yml",
                                role_dirs
                                    .iter()
                                    .map(|d| display_path(d))
                                    .collect::<Vec<_>>()
                                    .join(" and ")
                            ),
                        )
                    })?;
                roles.insert(r.clone(), load_role(r, &dir)?);
            }
        }
        plays.push(play);
    }
    // `needs:` must name plays that exist and come earlier.
    for (i, p) in plays.iter().enumerate() {
        for n in p.needs.iter().flatten() {
            if !plays[..i].iter().any(|q| &q.name == n) {
                return Err(PlaybookError::new(
                    p.location.clone(),
                    format!(
                        "play '{}' needs '{n}', which is not an earlier play",
                        p.name
                    ),
                    "name an earlier play's `name:` in needs",
                ));
            }
        }
    }
    Ok(Playbook {
        path: path.to_path_buf(),
        plays,
        roles,
    })
}

fn parse_play(file: &str, n: &Node, base: &Path) -> Result<Play, PlaybookError> {
    let Some(pairs) = n.as_map() else {
        return Err(PlaybookError::new(
            loc(file, n),
            "a play is a mapping",
            "write `- name: ...` then `hosts: ...`",
        ));
    };
    let mut play = Play {
        name: String::new(),
        hosts: String::new(),
        pre_tasks: Vec::new(),
        roles: Vec::new(),
        tasks: Vec::new(),
        post_tasks: Vec::new(),
        handlers: Vec::new(),
        vars: BTreeMap::new(),
        serial: Vec::new(),
        any_errors_fatal: false,
        max_fail_percentage: None,
        become_: false,
        become_as: Default::default(),
        tags: Vec::new(),
        needs: None,
        location: loc(file, n),
    };
    let mut has_hosts = false;
    for (k, v) in pairs {
        let key = k.key_string();
        match key.as_str() {
            "name" => play.name = string_of(file, "name", v)?,
            "hosts" => {
                play.hosts = strings_of(file, "hosts", v)?.join(":");
                has_hosts = true;
            }
            "roles" => {
                let NodeKind::Seq(items) = &v.kind else {
                    return Err(PlaybookError::new(
                        loc(file, v),
                        "roles must be a list",
                        "write roles: [name, ...]",
                    ));
                };
                for it in items {
                    play.roles.push(role_ref(file, it)?);
                }
            }
            "pre_tasks" => play.pre_tasks = parse_tasks(file, v, base, None)?,
            "tasks" => play.tasks = parse_tasks(file, v, base, None)?,
            "post_tasks" => play.post_tasks = parse_tasks(file, v, base, None)?,
            "handlers" => play.handlers = parse_tasks(file, v, base, None)?,
            "vars" => play.vars = vars_of(file, v)?,
            "serial" => play.serial = serial_of(file, v)?,
            "any_errors_fatal" => play.any_errors_fatal = bool_of(file, &key, v)?,
            "max_fail_percentage" => {
                play.max_fail_percentage = Some(match &v.kind {
                    NodeKind::Int(i) => *i as f64,
                    NodeKind::Float(f) => *f,
                    _ => {
                        return Err(PlaybookError::new(
                            loc(file, v),
                            "max_fail_percentage must be a number",
                            "write max_fail_percentage: 30",
                        ))
                    }
                })
            }
            "become" => play.become_ = bool_of(file, &key, v)?,
            "become_user" | "become_method" => {
                play.become_as.read(file, &key, v)?;
            }
            "tags" => play.tags = strings_of(file, "tags", v)?,
            "needs" => play.needs = Some(strings_of(file, "needs", v)?),
            "gather_facts" => {}
            other => {
                return Err(PlaybookError::new(
                    loc(file, k),
                    format!("unknown play keyword '{other}'"),
                    format!("play keywords: {}", PLAY_KEYS.join(", ")),
                ))
            }
        }
    }
    if !has_hosts {
        return Err(PlaybookError::new(
            loc(file, n),
            "play has no hosts:",
            "add hosts: <group or pattern>",
        ));
    }
    if play.name.is_empty() {
        play.name = play.hosts.clone();
    }
    Ok(play)
}

/// A `roles:` entry: `- name` or a mapping of role/name, when, tags, vars, become.
fn role_ref(file: &str, it: &Node) -> Result<RoleRef, PlaybookError> {
    let mut r = RoleRef {
        name: String::new(),
        when: Vec::new(),
        tags: Vec::new(),
        vars: BTreeMap::new(),
        become_: None,
        become_as: Default::default(),
        location: loc(file, it),
    };
    match &it.kind {
        NodeKind::Map(pairs) => {
            for (k, v) in pairs {
                match k.key_string().as_str() {
                    "role" | "name" => r.name = string_of(file, "role", v)?,
                    "when" => {
                        for w in strings_of(file, "when", v)? {
                            check_expression(file, v, &w)?;
                            r.when.push(w);
                        }
                    }
                    "tags" => r.tags = strings_of(file, "tags", v)?,
                    "vars" => r.vars = vars_of(file, v)?,
                    "become" => r.become_ = Some(bool_of(file, "become", v)?),
                    k @ ("become_user" | "become_method") => {
                        r.become_as.read(file, k, v)?;
                    }
                    other => {
                        return Err(PlaybookError::new(
                            loc(file, k),
                            format!("'{other}' is not supported in a roles: entry"),
                            format!("a role entry takes: {}", ROLE_KEYS.join(", ")),
                        ))
                    }
                }
            }
        }
        _ => r.name = string_of(file, "role", it)?,
    }
    if r.name.is_empty() {
        return Err(PlaybookError::new(
            loc(file, it),
            "role entry without a name",
            "write `- rolename` or `- role: rolename`",
        ));
    }
    Ok(r)
}

/// `serial:` as a number, a percentage string ("20%") or a list of those.
fn serial_of(file: &str, n: &Node) -> Result<Vec<Serial>, PlaybookError> {
    let one = |v: &Node| -> Result<Serial, PlaybookError> {
        let bad = || {
            PlaybookError::new(
                loc(file, v),
                format!(
                    "serial must be a number of hosts or a percentage, found {}",
                    v.to_value()
                ),
                "write serial: 2, serial: \"20%\" or serial: [1, \"20%\"]",
            )
        };
        match &v.kind {
            NodeKind::Int(i) if *i > 0 => Ok(Serial::Hosts(*i as usize)),
            NodeKind::Str(s) => {
                let t = s.trim();
                if let Some(p) = t.strip_suffix('%') {
                    match p.trim().parse::<f64>() {
                        Ok(p) if p > 0.0 && p <= 100.0 => Ok(Serial::Percent(p)),
                        _ => Err(bad()),
                    }
                } else {
                    match t.parse::<usize>() {
                        Ok(n) if n > 0 => Ok(Serial::Hosts(n)),
                        _ => Err(bad()),
                    }
                }
            }
            _ => Err(bad()),
        }
    };
    match &n.kind {
        NodeKind::Seq(items) if !items.is_empty() => items.iter().map(one).collect(),
        NodeKind::Null => Ok(Vec::new()),
        _ => Ok(vec![one(n)?]),
    }
}
