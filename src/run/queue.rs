//! The per-host queue: consecutive steps travel in one script over one channel; a
//! step that needs a file from the controller ends the batch, the file is pushed, and
//! the batch resumes at that step. Results come back in task order.

use super::batch::{self, BatchStep};
use super::fetch;
use super::outcome::interpret;
use super::worker::{Pending, Slot, Worker};
use crate::modules;
use crate::modules::probe::{CHANGE, UPLOAD};
use crate::transport::ExecRequest;
use std::sync::Arc;
use std::time::Duration;

/// A file could not be staged on a host before its step.
#[derive(Debug, thiserror::Error)]
pub(super) enum StageError {
    /// The controller-side download.
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    /// The upload.
    #[error("pushing {local} to {remote}: {source}")]
    Upload {
        /// Local file.
        local: String,
        /// Remote path.
        remote: String,
        /// Why.
        source: crate::transport::TransportError,
    },
}

impl Worker<'_> {
    /// Sends the queued steps (one round trip, more only to push staged files) and
    /// records every task's result in order.
    pub(super) async fn flush(&mut self) {
        if let Some(done) = self.execute().await {
            for p in done {
                if !self.rt.active() {
                    break;
                }
                self.finish(p);
            }
        }
        if let Some(why) = self.broken_after.take() {
            if self.rt.active() {
                self.fail_host(super::HostState::Failed(format!(
                    "the step script did not end cleanly {why}"
                )));
            }
        }
        self.pending_names.clear();
    }

    /// Runs the queue; returns the tasks with their item results filled (a task whose
    /// steps never ran because an earlier one failed keeps `result: None`).
    pub(super) async fn execute(&mut self) -> Option<Vec<Pending>> {
        let mut pending = std::mem::take(&mut self.pending);
        let mut queue: Vec<(usize, usize)> = Vec::new();
        for (pi, p) in pending.iter().enumerate() {
            for (ii, s) in p.items.iter().enumerate() {
                if matches!(s, Slot::Remote { .. }) {
                    queue.push((pi, ii));
                }
            }
        }
        if queue.is_empty() {
            return Some(pending);
        }
        let conn = match self.sh.connection(&self.via).await {
            Ok(c) => c,
            Err(e) => {
                self.pending = pending;
                self.unreachable(e.to_string());
                return None;
            }
        };
        let check = self.sh.opts.check;
        let mut start = 0;
        while start < queue.len() {
            // The steps are borrowed from the queue for the script (no copies kept while
            // the host works).
            let mut steps: Vec<&BatchStep> = queue[start..]
                .iter()
                .filter_map(|(pi, ii)| match &pending[*pi].items[*ii] {
                    Slot::Remote { step, .. } => Some(step),
                    _ => None,
                })
                .collect();
            // A step that brings a file back ends the batch: the copy is made before
            // any later step can change or remove that file.
            if let Some(k) = steps.iter().position(|s| s.step.pull.is_some()) {
                steps.truncate(k + 1);
            }
            let nonce = batch::nonce();
            let deadline: u64 = steps.iter().map(|s| 2 * s.timeout + 10).sum::<u64>() + 30;
            let req = ExecRequest {
                script: batch::script_of(
                    &steps,
                    &nonce,
                    check,
                    self.sh.opts.diff,
                    &self.rt.would.iter().cloned().collect::<Vec<_>>(),
                ),
                become_: self.pending_become.clone(),
                timeout: Duration::from_secs(deadline),
            };
            let count = steps.len();
            drop(steps);
            if let Ok(mut v) = self.sh.inflight.lock() {
                v.push((self.via.clone(), nonce.clone(), self.pending_become.clone()));
            }
            let result = conn.exec(req).await;
            if let Ok(mut v) = self.sh.inflight.lock() {
                v.retain(|(_, n, _)| *n != nonce);
            }
            let out = match result {
                Ok(o) => o,
                Err(e) if e.is_unreachable() => {
                    // Tasks whose every step reported in an earlier round keep their
                    // results; the host is unreachable from the first one that did not.
                    let first_open = pending
                        .iter()
                        .position(|p| {
                            p.items
                                .iter()
                                .any(|s| matches!(s, Slot::Remote { result: None, .. }))
                        })
                        .unwrap_or(pending.len());
                    let rest = pending.split_off(first_open);
                    for p in pending {
                        self.finish(p);
                    }
                    self.pending = rest;
                    self.unreachable(e.to_string());
                    return None;
                }
                Err(e) => {
                    // The transport's own limit or error: this step fails, named.
                    let (pi, ii) = queue[start];
                    set_failed(&mut pending[pi].items[ii], e.to_string());
                    return Some(pending);
                }
            };
            let parsed = batch::parse(&String::from_utf8_lossy(&out.stdout), &nonce);
            let broken = parsed.broken(
                count,
                out.exit_code,
                out.signal.as_deref(),
                &String::from_utf8_lossy(&out.stderr),
            );
            let outcomes = match &broken {
                Some(b) => parsed.outcomes[..b.at.min(parsed.outcomes.len())].to_vec(),
                None => parsed.outcomes,
            };
            let n = outcomes.len();
            let last_needs_upload = !check && outcomes.last().is_some_and(|o| o.probe_rc == UPLOAD);
            if check {
                for (k, o) in outcomes.iter().enumerate() {
                    let (pi, ii) = queue[start + k];
                    if let Slot::Remote { step, .. } = &pending[pi].items[ii] {
                        if o.probe_rc == CHANGE || o.probe_rc == UPLOAD {
                            self.rt.would.extend(step.step.creates.iter().cloned());
                        }
                    }
                }
            }
            let mut pull_failed = false;
            for (k, o) in outcomes.into_iter().enumerate() {
                let (pi, ii) = queue[start + k];
                if let Slot::Remote { step, result, .. } = &mut pending[pi].items[ii] {
                    if !(last_needs_upload && k == n - 1) {
                        let mut r = interpret(&step.step, &o, check, step.timeout);
                        // A file the step brings back to the controller.
                        if let (Some(pull), false, true, false) =
                            (&step.step.pull, check, r.changed, r.failed)
                        {
                            if let Err(e) =
                                super::pull::pull(&conn, pull, &self.pending_become).await
                            {
                                r.failed = true;
                                r.msg = Some(e.to_string());
                                pull_failed = true;
                            }
                        }
                        *result = Some(r);
                    }
                }
            }
            if let Some(b) = broken {
                // The script died: the steps that reported keep their results, the step
                // where it stopped fails with the reason, and the host stops there.
                match queue.get(start + b.at) {
                    Some(&(pi, ii)) => set_failed(&mut pending[pi].items[ii], b.why),
                    None => {
                        // Every step reported but the end is missing: the results stand,
                        // the host stops after the last one.
                        let (pi, _) = queue[start + n - 1];
                        let name = pending[pi].task.name.clone();
                        self.broken_after = Some(format!("after task '{name}': {}", b.why));
                    }
                }
                return Some(pending);
            }
            if last_needs_upload {
                let (pi, ii) = queue[start + n - 1];
                let step = match &pending[pi].items[ii] {
                    Slot::Remote { step, .. } => step.step.clone(),
                    _ => break,
                };
                if let Err(e) = self.stage(&conn, &step).await {
                    set_failed(&mut pending[pi].items[ii], e.to_string());
                    return Some(pending);
                }
                start += n - 1;
                continue;
            }
            start += n;
            if n < count || pull_failed {
                break;
            }
        }
        Some(pending)
    }

    async fn stage(
        &self,
        conn: &Arc<dyn crate::transport::Transport>,
        step: &modules::RemoteStep,
    ) -> Result<(), StageError> {
        if let Some(f) = &step.fetch {
            fetch::ensure(f).await?;
        }
        for (local, remote, mode) in &step.uploads {
            conn.upload(local, remote, *mode, &self.pending_become)
                .await
                .map_err(|source| StageError::Upload {
                    local: local.display().to_string(),
                    remote: remote.clone(),
                    source,
                })?;
        }
        Ok(())
    }
}

/// Marks a step failed with `why` (its task then fails, naming it).
fn set_failed(slot: &mut Slot, why: String) {
    if let Slot::Remote { result, .. } = slot {
        *result = Some(super::outcome::ItemResult {
            changed: false,
            failed: true,
            msg: Some(why.clone()),
            registered: serde_json::json!({"changed": false, "failed": true, "skipped": false, "msg": why}),
            diff: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::Lab;
    use crate::report::events::Status;

    #[test]
    fn a_file_from_the_controller_ends_the_batch_and_the_rest_resumes() {
        let lab = Lab::new(
            &[("h1", "kube_node")],
            "- hosts: all\n  tasks:\n    - name: before\n      copy: {dest: \"{{ root }}/before\", content: \"x\\n\"}\n    - name: pushed\n      copy: {src: \"{{ root }}/source.bin\", dest: \"{{ root }}/pushed.bin\"}\n    - name: after\n      copy: {dest: \"{{ root }}/after\", content: \"y\\n\"}\n",
        );
        // Not UTF-8: copied by upload, not inlined in the script.
        std::fs::write(lab.path("source.bin"), [0u8, 159, 146, 150].repeat(70_000)).unwrap();
        let cold = lab.run(false);
        assert_eq!(cold.summary.exit_code(), 0, "{:?}", cold.events);
        assert_eq!(cold.status("h1", "after"), Some(Status::Changed));
        assert_eq!(
            std::fs::read(lab.path("pushed.bin")).unwrap(),
            std::fs::read(lab.path("source.bin")).unwrap()
        );
        let warm = lab.run(false);
        assert_eq!(warm.changed("h1"), 0);
        assert_eq!(
            warm.sessions.get("h1"),
            Some(&1),
            "nothing to push: one session"
        );
    }

    #[test]
    fn a_failed_step_ends_its_host_and_the_others_go_on() {
        let lab = Lab::new(
            &[("h1", "kube_node"), ("h2", "kube_node")],
            "- hosts: all\n  tasks:\n    - name: breaks on h1\n      shell: \"test {{ inventory_hostname }} != h1\"\n    - name: later\n      copy: {dest: \"{{ root }}/{{ inventory_hostname }}-later\", content: \"z\\n\"}\n",
        );
        let done = lab.run(false);
        assert_eq!(done.summary.exit_code(), 2);
        assert_eq!(done.status("h1", "breaks on h1"), Some(Status::Failed));
        assert_eq!(done.status("h1", "later"), None);
        assert!(lab.path("h2-later").exists());
        assert!(!lab.path("h1-later").exists());
    }

    #[test]
    fn a_file_brought_back_is_copied_before_a_later_step_removes_it() {
        let lab = Lab::new(
            &[("h1", "kube_node")],
            "- hosts: all\n  tasks:\n    - name: made\n      shell: \"echo snapshot > {{ root }}/made.db\"\n    - name: brought back\n      fetch: {src: \"{{ root }}/made.db\", dest: \"{{ root }}/kept.db\"}\n    - name: removed\n      file: {path: \"{{ root }}/made.db\", state: absent}\n",
        );
        let done = lab.run(false);
        assert_eq!(done.summary.exit_code(), 0, "{:?}", done.events);
        assert_eq!(
            std::fs::read_to_string(lab.path("kept.db")).unwrap(),
            "snapshot\n"
        );
        assert!(!lab.path("made.db").exists());
        assert_eq!(done.status("h1", "removed"), Some(Status::Changed));
    }
}
