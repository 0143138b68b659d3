//! A task's template scope (inventory < play vars < task vars < facts < loop item) and
//! what its output must not show (secret values, masked by the vars layer's policy).

use super::worker::{Said, Worker, OMIT};
use crate::playbook::Task;
use crate::report::events::{Event, Status};
use crate::vars::secret::mask;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

impl Worker<'_> {
    /// Template scope: inventory vars < play vars < task vars < facts/registered < item.
    pub(super) fn scope(&self, task: &Task, item: Option<(&str, &Value)>) -> minijinja::Value {
        let resolver = &self.sh.cluster.resolver;
        let mut overlay: BTreeMap<String, minijinja::Value> = BTreeMap::new();
        overlay.insert(
            "ansible_check_mode".into(),
            minijinja::Value::from(self.sh.opts.check),
        );
        overlay.insert(
            "ansible_diff_mode".into(),
            minijinja::Value::from(self.sh.opts.diff),
        );
        overlay.insert("omit".into(), minijinja::Value::from(OMIT));
        overlay.insert(
            "role_path".into(),
            minijinja::Value::from(
                task.role
                    .as_ref()
                    .and_then(|r| self.sh.role_dirs.get(r))
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
            ),
        );
        for (k, v) in &self.rt.facts {
            overlay.insert(
                k.clone(),
                minijinja::Value::from(minijinja::value::Serde(v)),
            );
        }
        let base = resolver.scope(&self.host, overlay.clone());
        for (k, raw) in self.play.play.vars.iter().chain(task.vars.iter()) {
            if resolver.is_extra(k) || self.rt.facts.contains_key(k) {
                continue;
            }
            let v = crate::vars::render(&base, raw).unwrap_or_else(|_| raw.clone());
            overlay.insert(
                k.clone(),
                minijinja::Value::from(minijinja::value::Serde(&v)),
            );
        }
        if let Some((name, v)) = item {
            overlay.insert(
                name.to_string(),
                minijinja::Value::from(minijinja::value::Serde(v)),
            );
        }
        resolver.scope(&self.host, overlay)
    }

    pub(super) fn emit_result(
        &mut self,
        task: &Task,
        status: Status,
        changed: bool,
        started: Instant,
        said: Said,
        ignored: bool,
    ) {
        let Said { error, msg, diff } = said;
        match status {
            Status::Ok => self.rt.counts.ok += 1,
            Status::Changed => self.rt.counts.changed += 1,
            Status::Skipped => self.rt.counts.skipped += 1,
            Status::Failed if ignored => self.rt.counts.ignored += 1,
            Status::Failed => self.rt.counts.failed += 1,
            Status::Unreachable => {}
        }
        let secrets = self.secrets();
        // A templated name ("install {{ item }}") is shown rendered for this host.
        let name = if task.name.contains("{{") {
            crate::vars::render(&self.scope(task, None), &Value::String(task.name.clone()))
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| task.name.clone())
        } else {
            task.name.clone()
        };
        self.sh.emit(Event::StepResult {
            host: self.host.clone(),
            play: self.play.play.name.clone(),
            task: name,
            role: task.role.clone(),
            status,
            changed,
            duration_ms: started.elapsed().as_millis() as u64,
            started_ms: started.saturating_duration_since(self.sh.began).as_millis() as u64,
            error: error.map(|e| mask(&e, &secrets)),
            msg: if task.no_log {
                None
            } else {
                msg.map(|m| mask(&m, &secrets))
            },
            diff: if task.no_log {
                None
            } else {
                diff.map(|d| mask(&d, &secrets))
            },
            ignored,
        });
    }

    pub(super) fn secrets(&self) -> Vec<String> {
        let r = &self.sh.cluster.resolver;
        let scope = r.scope(&self.host, BTreeMap::new());
        let play_secrets: Vec<String> = self
            .play
            .play
            .vars
            .iter()
            .filter(|(k, _)| crate::vars::secret::is_secret_name(k))
            .filter_map(|(_, v)| crate::vars::render(&scope, v).ok())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        // A decrypted vault value is kept as an untemplated string: its text is the secret.
        let text = |v: &Value| match crate::value::special(v) {
            Some(crate::value::Special::Unsafe(inner)) => inner.as_str().map(str::to_string),
            _ => v.as_str().map(str::to_string),
        };
        // The passwords kubeforge itself used to connect (rendered when the run began).
        let connection = self
            .sh
            .cluster
            .host(&self.host)
            .map(|h| {
                h.vars
                    .iter()
                    .filter(|(k, _)| crate::vars::secret::is_secret_name(k))
                    .filter_map(|(_, (v, _))| text(v))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        r.names(&self.host)
            .into_iter()
            .filter(|n| crate::vars::secret::is_secret_name(n))
            // Only values already rendered: a secret no task used is not in any output.
            .filter_map(|n| r.get_cached(&self.host, &n))
            .filter_map(|v| text(&v))
            .chain(connection)
            .chain(
                self.rt
                    .facts
                    .iter()
                    .filter(|(k, _)| crate::vars::secret::is_secret_name(k))
                    .filter_map(|(_, v)| v.as_str().map(str::to_string)),
            )
            .chain(play_secrets)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::Lab;
    use crate::report::events::Event;

    #[test]
    fn precedence_and_masking() {
        let lab = Lab::new(
            &[("h1", "kube_node")],
            "- hosts: all\n  vars: {word: play, api_token: s3cr3t-token-value}\n  tasks:\n    - name: task vars beat play vars\n      assert: {that: [\"word == 'task'\"]}\n      vars: {word: task}\n    - set_fact: {word: fact}\n    - name: facts beat play vars\n      assert: {that: [\"word == 'fact'\"]}\n    - name: loop item beats facts\n      assert: {that: [\"word == 'item'\"]}\n      loop: [item]\n      loop_control: {loop_var: word}\n    - name: secret in a message\n      debug: {msg: \"token is {{ api_token }}\"}\n",
        );
        let done = lab.run(false);
        assert_eq!(done.summary.exit_code(), 0, "{:?}", done.events);
        let msg = done
            .events
            .iter()
            .find_map(|e| match e {
                Event::StepResult { task, msg, .. } if task == "secret in a message" => msg.clone(),
                _ => None,
            })
            .unwrap();
        assert_eq!(msg, "token is ********");
    }
}
