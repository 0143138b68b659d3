//! Folding a task's item results into one: changed_when/failed_when per item, the
//! registered value (with `results` for loops), notify, facts, and the event.

use super::worker::{Pending, Said, Slot, Worker};
use crate::report::events::Status;
use serde_json::{json, Value};
use std::collections::BTreeMap;

impl Worker<'_> {
    pub(super) fn registered(&self, p: &Pending) -> Value {
        let results: Vec<Value> = p
            .items
            .iter()
            .map(|s| match s {
                Slot::Skipped(why) => {
                    json!({"skipped": true, "changed": false, "failed": false, "skip_reason": why})
                }
                Slot::Local(r) => json!({"changed": r.changed, "failed": r.failed, "msg": r.msg}),
                Slot::Remote {
                    result: Some(r),
                    item,
                    ..
                } => {
                    let mut v = r.registered.clone();
                    if let (Some(it), Value::Object(m)) = (item, &mut v) {
                        m.insert("item".into(), it.clone());
                    }
                    v
                }
                Slot::Remote { result: None, .. } => {
                    json!({"skipped": true, "changed": false, "failed": false})
                }
            })
            .collect();
        if p.task.loop_.is_none() {
            return results
                .into_iter()
                .next()
                .unwrap_or_else(|| json!({"skipped": true, "changed": false}));
        }
        let changed = results.iter().any(|r| r["changed"] == true);
        let failed = results.iter().any(|r| r["failed"] == true);
        let skipped = results.iter().all(|r| r["skipped"] == true);
        json!({"results": results, "changed": changed, "failed": failed, "skipped": skipped})
    }

    /// Records a task's result: changed_when/failed_when, register, notify, events.
    pub(super) fn finish(&mut self, mut p: Pending) {
        let task = p.task.clone();
        let ran_remote = p.items.iter().any(|s| {
            matches!(
                s,
                Slot::Remote {
                    result: Some(_),
                    ..
                }
            )
        });
        let never_ran = p
            .items
            .iter()
            .any(|s| matches!(s, Slot::Remote { result: None, .. }));
        if never_ran && !ran_remote {
            return;
        }
        // changed_when / failed_when per item, with the item's result under the register name.
        if task.changed_when.is_some() || task.failed_when.is_some() {
            let loop_var = task
                .loop_
                .as_ref()
                .map(|l| l.var.clone())
                .unwrap_or_else(|| "item".into());
            for s in &mut p.items {
                if let Slot::Remote {
                    result: Some(r),
                    item,
                    ..
                } = s
                {
                    let mut facts = self.rt.facts.clone();
                    if let Some(name) = &task.register {
                        facts.insert(name.clone(), r.registered.clone());
                    }
                    let saved = std::mem::replace(&mut self.rt.facts, facts);
                    let scope = self.scope(&task, item.as_ref().map(|v| (loop_var.as_str(), v)));
                    self.rt.facts = saved;
                    if let Some(cw) = &task.changed_when {
                        match crate::vars::template::eval_condition(cw, &scope) {
                            Ok(c) => r.changed = c,
                            Err(e) => {
                                r.failed = true;
                                r.msg = Some(format!("changed_when: {cw}: {e}"));
                            }
                        }
                    }
                    if let Some(fw) = &task.failed_when {
                        match crate::vars::template::eval_condition(fw, &scope) {
                            Ok(f) => {
                                r.failed = f;
                                if f && r.msg.is_none() {
                                    r.msg = Some(format!("failed_when: {fw}"));
                                }
                            }
                            Err(e) => {
                                r.failed = true;
                                r.msg = Some(format!("failed_when: {fw}: {e}"));
                            }
                        }
                    }
                    if let Value::Object(m) = &mut r.registered {
                        m.insert("changed".into(), json!(r.changed));
                        m.insert("failed".into(), json!(r.failed));
                    }
                }
            }
        }
        let mut changed = false;
        let mut failed: Option<String> = None;
        let mut msgs = Vec::new();
        let mut diffs = Vec::new();
        let mut all_skipped = true;
        let mut facts = BTreeMap::new();
        for s in &p.items {
            match s {
                Slot::Skipped(_) => {}
                Slot::Local(r) => {
                    all_skipped = false;
                    changed |= r.changed;
                    if r.failed && failed.is_none() {
                        failed = Some(r.msg.clone().unwrap_or_else(|| "failed".into()));
                    } else if let Some(m) = &r.msg {
                        msgs.push(m.clone());
                    }
                    facts.extend(r.facts.clone());
                }
                Slot::Remote {
                    result: Some(r), ..
                } => {
                    all_skipped = false;
                    changed |= r.changed;
                    if r.failed && failed.is_none() {
                        failed = Some(r.msg.clone().unwrap_or_else(|| "failed".into()));
                    } else if let Some(m) = &r.msg {
                        msgs.push(m.clone());
                    }
                    if let Some(d) = &r.diff {
                        diffs.push(d.clone());
                    }
                }
                Slot::Remote { result: None, .. } => {}
            }
        }
        let registered = self.registered(&p);
        if let Some(name) = &task.register {
            self.rt.facts.insert(name.clone(), registered);
        }
        self.rt.facts.extend(facts);
        let msg = (!msgs.is_empty()).then(|| msgs.join("\n"));
        let diff = (!diffs.is_empty()).then(|| diffs.join("\n"));
        if let Some(why) = failed {
            self.emit_result(
                &task,
                Status::Failed,
                changed,
                p.started,
                Said {
                    error: Some(why.clone()),
                    msg,
                    diff,
                },
                task.ignore_errors,
            );
            if !task.ignore_errors {
                self.task_failed(&task, &why);
            }
            return;
        }
        if changed && !self.sh.opts.check && task.check_mode != Some(true) {
            self.emit_marks(&p);
        }
        if changed && !task.notify.is_empty() {
            self.rt.notified.extend(task.notify.iter().cloned());
        }
        let status = if all_skipped {
            Status::Skipped
        } else if changed {
            Status::Changed
        } else {
            Status::Ok
        };
        self.emit_result(
            &task,
            status,
            changed,
            p.started,
            Said {
                error: None,
                msg,
                diff,
            },
            false,
        );
    }
}

impl Worker<'_> {
    /// A changed step whose module reported a node mark (`mark_node`, `mark`,
    /// `mark_state` set|cleared) tells the operation, which keeps it in the record.
    fn emit_marks(&self, p: &Pending) {
        for s in &p.items {
            let Slot::Remote {
                result: Some(r), ..
            } = s
            else {
                continue;
            };
            if !r.changed || r.failed {
                continue;
            }
            let get = |k: &str| {
                r.registered
                    .get(k)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            if let (Some(node), Some(mark), Some(state)) =
                (get("mark_node"), get("mark"), get("mark_state"))
            {
                self.sh.emit(crate::report::events::Event::Mark {
                    host: self.host.clone(),
                    node,
                    mark,
                    set: state == "set",
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::Lab;
    use crate::report::events::Status;

    #[test]
    fn loops_register_results_and_changed_failed_when_apply_per_item() {
        let lab = Lab::new(
            &[("h1", "kube_node")],
            "- hosts: all\n  tasks:\n    - name: items\n      shell: \"echo {{ item }}\"\n      loop: [a, b]\n      register: out\n      changed_when: \"item == 'b'\"\n    - name: folded\n      assert:\n        that:\n          - out.results | length == 2\n          - out.results[0].stdout == 'a'\n          - out.results[1].item == 'b'\n          - out.changed\n          - not out.results[0].changed\n    - name: tolerated\n      shell: \"exit 3\"\n      register: r\n      failed_when: r.rc not in [0, 3]\n",
        );
        let done = lab.run(false);
        assert_eq!(done.summary.exit_code(), 0, "{:?}", done.events);
        assert_eq!(done.status("h1", "items"), Some(Status::Changed));
        assert_eq!(done.status("h1", "folded"), Some(Status::Ok));
        assert_eq!(done.status("h1", "tolerated"), Some(Status::Changed));
    }
}
