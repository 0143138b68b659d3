//! Task lists: tasks with their keywords and one module, `include_tasks` expanded.

use super::load::read_yaml;
use super::nodes::{bool_of, check_expression, loc, string_of, strings_of, uint_of, vars_of};
use super::{Loop, PlaybookError, Task};
use crate::topology::Component;
use crate::yaml::{Node, NodeKind};
use serde_json::Value;
use std::path::{Path, PathBuf};

const TASK_KEYS: [&str; 29] = [
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
    "become_user",
    "become_method",
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
    "throttle",
];

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
        if let Some(spec) = item
            .get("import_role")
            .or_else(|| item.get("ansible.builtin.import_role"))
        {
            out.extend(super::import_role::expand(file, item, spec)?);
            continue;
        }
        if item.get("block").is_some() {
            out.extend(super::block::parse_block(file, item, base, role)?);
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
            "become_user" | "become_method" => {
                task.become_as.read(file, &key, v)?;
            }
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
            "throttle" => {
                task.throttle = Some(uint_of(file, "throttle", v)? as usize).filter(|t| *t > 0)
            }
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
