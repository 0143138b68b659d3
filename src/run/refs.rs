//! Which variables a task reads (its conditions, arguments, loop, vars, delegate and
//! the arguments its module declares as expressions). A task that reads a result
//! registered by a queued step must wait for that step: the queue is sent first.

use crate::playbook::Task;
use serde_json::Value;
use std::collections::HashSet;

pub(super) fn names_in(src: &str, out: &mut HashSet<String>) {
    let src = crate::vars::template::normalize(src);
    if let Ok(t) = crate::vars::template::env().template_from_str(&src) {
        out.extend(t.undeclared_variables(false));
    }
}

fn names_in_value(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") => names_in(s, out),
        Value::Array(a) => a.iter().for_each(|x| names_in_value(x, out)),
        Value::Object(m) => m.values().for_each(|x| names_in_value(x, out)),
        _ => {}
    }
}

/// Every variable name a task's templates and expressions refer to.
pub(super) fn referenced(task: &Task) -> HashSet<String> {
    let mut out = HashSet::new();
    for e in task
        .when
        .iter()
        .chain(task.changed_when.iter())
        .chain(task.failed_when.iter())
        .chain(task.until.iter())
    {
        names_in(&format!("{{{{ {e} }}}}"), &mut out);
    }
    names_in_value(&task.args, &mut out);
    if let Some(l) = &task.loop_ {
        names_in_value(&l.items, &mut out);
    }
    for v in task.vars.values() {
        names_in_value(v, &mut out);
    }
    if let Some(d) = &task.delegate_to {
        names_in(d, &mut out);
    }
    // Arguments the module declares as bare expressions (assert's `that`).
    let expressions = crate::modules::find(&task.module).map_or(&[][..], |d| d.expressions);
    for arg in expressions {
        let list: Vec<String> = match task.args.get(*arg) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        for e in list {
            names_in(&format!("{{{{ {e} }}}}"), &mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Location;

    #[test]
    fn names_come_from_conditions_arguments_loops_and_declared_expressions() {
        let mut t = Task::new(
            "t",
            "assert",
            serde_json::json!({"that": ["probe.rc == 0", "size > limit"]}),
            Location::new("x.yml", 1),
            None,
        );
        t.when = vec!["enabled | bool".into()];
        t.loop_ = Some(crate::playbook::Loop {
            items: serde_json::json!("{{ members }}"),
            var: "item".into(),
        });
        let names = referenced(&t);
        for n in ["probe", "size", "limit", "enabled", "members"] {
            assert!(names.contains(n), "{n} missing from {names:?}");
        }
        // A module without expression arguments: plain strings are not read as names.
        let c = Task::new(
            "c",
            "command",
            serde_json::json!({"cmd": "echo probe.rc"}),
            Location::new("x.yml", 2),
            None,
        );
        assert!(!referenced(&c).contains("probe"));
    }
}
