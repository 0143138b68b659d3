//! Reads playbooks and task lists from YAML, checking keys, modules and expressions.

use super::role::load_role;
use super::{Loop, Play, Playbook, PlaybookError, RoleRef, Task};
use crate::diagnostic::Location;
use crate::inventory::display_path;
use crate::topology::Component;
use crate::yaml::{Node, NodeKind};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PLAY_KEYS: [&str; 15] = [
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
    "tags",
    "needs",
    "gather_facts",
    "pre_tasks",
    "post_tasks",
];

const ROLE_KEYS: [&str; 6] = ["role", "name", "when", "tags", "vars", "become"];

const TASK_KEYS: [&str; 26] = [
    "args",
    "name",
    "when",
    "loop",
    "with_items",
    "loop_control",
    "loop_var",
    "register",
    "notify",
    "tags",
    "become",
    "run_once",
    "delegate_to",
    "changed_when",
    "failed_when",
    "ignore_errors",
    "retries",
    "until",
    "delay",
    "timeout",
    "needs",
    "vars",
    "no_log",
    "listen",
    "environment",
    "check_mode",
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

fn loc(file: &str, n: &Node) -> Location {
    Location::new(file, n.line)
}

fn string_of(file: &str, key: &str, n: &Node) -> Result<String, PlaybookError> {
    match &n.kind {
        NodeKind::Str(s) => Ok(s.clone()),
        NodeKind::Int(i) => Ok(i.to_string()),
        NodeKind::Float(f) => Ok(f.to_string()),
        NodeKind::Bool(b) => Ok(b.to_string()),
        _ => Err(PlaybookError::new(
            loc(file, n),
            format!("{key} must be a string, found a {}", n.type_name()),
            format!("write {key}: <text>"),
        )),
    }
}

fn strings_of(file: &str, key: &str, n: &Node) -> Result<Vec<String>, PlaybookError> {
    match &n.kind {
        NodeKind::Null => Ok(Vec::new()),
        NodeKind::Seq(items) => items.iter().map(|i| string_of(file, key, i)).collect(),
        _ => Ok(vec![string_of(file, key, n)?]),
    }
}

fn bool_of(file: &str, key: &str, n: &Node) -> Result<bool, PlaybookError> {
    match &n.kind {
        NodeKind::Bool(b) => Ok(*b),
        _ => Err(PlaybookError::new(
            loc(file, n),
            format!("{key} must be true or false, found {}", n.to_value()),
            format!("write {key}: true or {key}: false"),
        )),
    }
}

fn uint_of(file: &str, key: &str, n: &Node) -> Result<u64, PlaybookError> {
    match &n.kind {
        NodeKind::Int(i) if *i >= 0 => Ok(*i as u64),
        NodeKind::Str(s) if s.trim().parse::<u64>().is_ok() => Ok(s.trim().parse().unwrap_or(0)),
        _ => Err(PlaybookError::new(
            loc(file, n),
            format!("{key} must be a whole number, found {}", n.to_value()),
            format!("write {key}: 3"),
        )),
    }
}

fn vars_of(file: &str, n: &Node) -> Result<BTreeMap<String, Value>, PlaybookError> {
    match &n.kind {
        NodeKind::Null => Ok(BTreeMap::new()),
        NodeKind::Map(pairs) => Ok(pairs
            .iter()
            .map(|(k, v)| (k.key_string(), v.to_value()))
            .collect()),
        _ => Err(PlaybookError::new(
            loc(file, n),
            "vars must be a mapping",
            "write vars: {name: value}",
        )),
    }
}

/// Checks that a `when`/`until`/`changed_when` expression compiles.
pub(crate) fn check_expression(file: &str, n: &Node, expr: &str) -> Result<(), PlaybookError> {
    let src = crate::vars::template::normalize(expr);
    let src = src.trim();
    let src = src
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or(src);
    crate::vars::template::env()
        .compile_expression(src)
        .map(|_| ())
        .map_err(|e| {
            PlaybookError::new(
                loc(file, n),
                format!(
                    "bad expression '{expr}': {}",
                    crate::vars::template::describe(&e)
                ),
                "conditions are Jinja expressions without {{ }}, e.g. when: ipv6_stack | bool",
            )
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
        serial: None,
        any_errors_fatal: false,
        max_fail_percentage: None,
        become_: false,
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
            "serial" => play.serial = Some(uint_of(file, "serial", v)? as usize).filter(|s| *s > 0),
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

/// Parses a task list; `include_tasks` files are read relative to `base`.
pub(crate) fn parse_tasks(
    file: &str,
    n: &Node,
    base: &Path,
    role: Option<&str>,
) -> Result<Vec<Task>, PlaybookError> {
    let items = match &n.kind {
        NodeKind::Null => return Ok(Vec::new()),
        NodeKind::Seq(items) => items,
        _ => {
            return Err(PlaybookError::new(
                loc(file, n),
                "a task list must be a list",
                "start each task with `- name: ...`",
            ))
        }
    };
    let mut out = Vec::new();
    for item in items {
        if let Some(inc) = item
            .get("include_tasks")
            .or_else(|| item.get("ansible.builtin.include_tasks"))
        {
            out.extend(include(file, item, inc, base, role)?);
            continue;
        }
        out.push(parse_task(file, item, role)?);
    }
    Ok(out)
}

fn include(
    file: &str,
    item: &Node,
    inc: &Node,
    base: &Path,
    role: Option<&str>,
) -> Result<Vec<Task>, PlaybookError> {
    let target = match &inc.kind {
        NodeKind::Map(_) => inc
            .get("file")
            .map(|f| string_of(file, "file", f))
            .transpose()?
            .unwrap_or_default(),
        _ => string_of(file, "include_tasks", inc)?,
    };
    if target.contains("{{") {
        return Err(PlaybookError::new(
            loc(file, inc),
            "include_tasks takes a plain file name",
            "name the file directly; use `when:` to choose",
        ));
    }
    let mut when = Vec::new();
    let mut tags = Vec::new();
    for (k, v) in item.as_map().unwrap_or(&[]) {
        match k.key_string().as_str() {
            "include_tasks" | "ansible.builtin.include_tasks" | "name" => {}
            "when" => {
                for w in strings_of(file, "when", v)? {
                    check_expression(file, v, &w)?;
                    when.push(w);
                }
            }
            "tags" => tags = strings_of(file, "tags", v)?,
            other => {
                return Err(PlaybookError::new(
                    loc(file, k),
                    format!("'{other}' is not supported on include_tasks"),
                    "include_tasks takes when: and tags:",
                ))
            }
        }
    }
    let path: PathBuf = base.join(&target);
    let (inc_file, node) = read_yaml(&path).map_err(|mut e| {
        if e.location.line == 0 {
            e.location = loc(file, inc);
            e.message = format!("include_tasks: {}: {}", target, e.message);
        }
        e
    })?;
    let mut tasks = parse_tasks(&inc_file, &node, path.parent().unwrap_or(base), role)?;
    for t in &mut tasks {
        let mut w = when.clone();
        w.append(&mut t.when);
        t.when = w;
        t.tags.extend(tags.iter().cloned());
    }
    Ok(tasks)
}

fn parse_task(file: &str, n: &Node, role: Option<&str>) -> Result<Task, PlaybookError> {
    let Some(pairs) = n.as_map() else {
        return Err(PlaybookError::new(
            loc(file, n),
            "a task is a mapping",
            "write `- name: ...` and one module",
        ));
    };
    let mut task = Task::new(
        String::new(),
        String::new(),
        Value::Null,
        loc(file, n),
        role.map(str::to_string),
    );
    let mut modules: Vec<(&Node, String, &Node)> = Vec::new();
    let mut loop_items: Option<Value> = None;
    let mut loop_var = "item".to_string();
    let mut environment: Option<Value> = None;
    let mut extra_args: Option<(&Node, &Node)> = None;
    for (k, v) in pairs {
        let key = k.key_string();
        let short = key
            .strip_prefix("ansible.builtin.")
            .or_else(|| key.strip_prefix("ansible.posix."))
            .unwrap_or(&key);
        if crate::modules::find(short).is_some() && !TASK_KEYS.contains(&key.as_str()) {
            modules.push((k, short.to_string(), v));
            continue;
        }
        match key.as_str() {
            "name" => task.name = string_of(file, "name", v)?,
            "when" => {
                for w in strings_of(file, "when", v)? {
                    check_expression(file, v, &w)?;
                    task.when.push(w);
                }
            }
            "loop" | "with_items" => loop_items = Some(v.to_value()),
            "loop_var" => loop_var = string_of(file, "loop_var", v)?,
            "loop_control" => {
                if let Some(lv) = v.get("loop_var") {
                    loop_var = string_of(file, "loop_var", lv)?;
                }
            }
            "register" => task.register = Some(string_of(file, "register", v)?),
            "notify" | "listen" => task.notify = strings_of(file, "notify", v)?,
            "tags" => task.tags = strings_of(file, "tags", v)?,
            "become" => task.become_ = Some(bool_of(file, "become", v)?),
            "run_once" => task.run_once = bool_of(file, "run_once", v)?,
            "delegate_to" => task.delegate_to = Some(string_of(file, "delegate_to", v)?),
            "changed_when" | "failed_when" | "until" => {
                let expr = match &v.kind {
                    NodeKind::Bool(b) => b.to_string(),
                    NodeKind::Seq(_) => strings_of(file, &key, v)?
                        .iter()
                        .map(|s| format!("({s})"))
                        .collect::<Vec<_>>()
                        .join(" and "),
                    _ => string_of(file, &key, v)?,
                };
                check_expression(file, v, &expr)?;
                match key.as_str() {
                    "changed_when" => task.changed_when = Some(expr),
                    "failed_when" => task.failed_when = Some(expr),
                    _ => task.until = Some(expr),
                }
            }
            "ignore_errors" => task.ignore_errors = bool_of(file, "ignore_errors", v)?,
            "retries" => {
                task.retries = u32::try_from(uint_of(file, "retries", v)?).unwrap_or(u32::MAX)
            }
            "delay" => task.delay = uint_of(file, "delay", v)?,
            "timeout" => task.timeout = Some(uint_of(file, "timeout", v)?).filter(|t| *t > 0),
            "needs" => {
                for c in strings_of(file, "needs", v)? {
                    let comp = Component::parse(&c).ok_or_else(|| {
                        PlaybookError::new(
                            loc(file, v),
                            format!("needs: unknown component '{c}'"),
                            format!(
                                "components: {}",
                                crate::topology::ALL_COMPONENTS
                                    .iter()
                                    .map(|c| c.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })?;
                    task.needs.push(comp);
                }
            }
            "vars" => task.vars = vars_of(file, v)?,
            "no_log" => task.no_log = bool_of(file, "no_log", v)?,
            "environment" => environment = Some(v.to_value()),
            "args" => extra_args = Some((k, v)),
            "check_mode" => task.check_mode = Some(bool_of(file, "check_mode", v)?),
            other => {
                return Err(PlaybookError::new(
                    loc(file, k),
                    format!("unknown task keyword or module '{other}'"),
                    format!(
                        "modules: {}; keywords: {}",
                        crate::modules::names().join(", "),
                        TASK_KEYS.join(", ")
                    ),
                ))
            }
        }
    }
    match modules.len() {
        0 => {
            return Err(PlaybookError::new(
                loc(file, n),
                format!("task '{}' has no module", task.name),
                format!(
                    "give the task exactly one of: {}",
                    crate::modules::names().join(", ")
                ),
            ))
        }
        1 => {}
        _ => {
            return Err(PlaybookError::new(
                loc(file, modules[1].0),
                format!(
                    "task '{}' has two modules: {} and {}",
                    task.name, modules[0].1, modules[1].1
                ),
                "split it into two tasks",
            ))
        }
    }
    let (mk, module, margs) = modules.remove(0);
    let mut args = crate::modules::parse_args(&module, margs)
        .map_err(|m| PlaybookError::new(loc(file, mk), m.0, m.1))?;
    if let Some((ak, av)) = extra_args {
        let more = crate::modules::parse_args(&module, av)
            .map_err(|m| PlaybookError::new(loc(file, ak), m.0, m.1))?;
        if let (Value::Object(map), Value::Object(more)) = (&mut args, more) {
            map.extend(more);
        }
    }
    if let (Some(env), Value::Object(map)) = (environment, &mut args) {
        map.insert("environment".into(), env);
    }
    crate::modules::check_required(&module, &args)
        .map_err(|m| PlaybookError::new(loc(file, mk), m.0, m.1))?;
    if task.name.is_empty() {
        task.name = module.clone();
    }
    task.module = module;
    task.args = args;
    task.loop_ = loop_items.map(|items| Loop {
        items,
        var: loop_var,
    });
    Ok(task)
}
