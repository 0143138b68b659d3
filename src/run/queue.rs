//! The per-host queue: consecutive steps travel in one script over one channel; a
//! step that needs a file from the controller ends the batch, the file is pushed, and
//! the batch resumes at that step. Results come back in task order.

use super::batch::{self, BatchStep};
use super::fetch;
use super::outcome::interpret;
use super::worker::{Pending, Slot, Worker};
use crate::modules;
use crate::modules::probe::UPLOAD;
use crate::transport::ExecRequest;
use std::sync::Arc;
use std::time::Duration;

impl Worker<'_> {
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
            let steps: Vec<BatchStep> = queue[start..]
                .iter()
                .filter_map(|(pi, ii)| match &pending[*pi].items[*ii] {
                    Slot::Remote { step, .. } => Some(step.clone()),
                    _ => None,
                })
                .collect();
            let nonce = batch::nonce();
            let deadline: u64 = steps.iter().map(|s| 2 * s.timeout + 10).sum::<u64>() + 30;
            let req = ExecRequest {
                script: batch::script(&steps, &nonce, check, self.sh.opts.diff),
                become_: self.pending_become,
                timeout: Duration::from_secs(deadline),
            };
            if let Ok(mut v) = self.sh.inflight.lock() {
                v.push((self.via.clone(), nonce.clone(), self.pending_become));
            }
            let result = conn.exec(req).await;
            if let Ok(mut v) = self.sh.inflight.lock() {
                v.retain(|(_, n, _)| *n != nonce);
            }
            let out = match result {
                Ok(o) => o,
                Err(e) if e.is_unreachable() => {
                    self.pending = pending;
                    self.unreachable(e.to_string());
                    return None;
                }
                Err(e) => {
                    let (pi, _) = queue[start];
                    let task = pending[pi].task.clone();
                    let started = pending[pi].started;
                    self.fail_task(&task, started, e.to_string());
                    return None;
                }
            };
            let outcomes = batch::parse(&String::from_utf8_lossy(&out.stdout), &nonce);
            if outcomes.is_empty() {
                let (pi, _) = queue[start];
                let task = pending[pi].task.clone();
                let started = pending[pi].started;
                let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
                self.fail_task(
                    &task,
                    started,
                    format!(
                        "the step script did not run (exit {:?}): {err}",
                        out.exit_code
                    ),
                );
                return None;
            }
            let n = outcomes.len();
            let last_needs_upload = !check && outcomes.last().is_some_and(|o| o.probe_rc == UPLOAD);
            for (k, o) in outcomes.into_iter().enumerate() {
                let (pi, ii) = queue[start + k];
                if let Slot::Remote { step, result, .. } = &mut pending[pi].items[ii] {
                    if !(last_needs_upload && k == n - 1) {
                        *result = Some(interpret(&step.step, &o, check, step.timeout));
                    }
                }
            }
            if last_needs_upload {
                let (pi, ii) = queue[start + n - 1];
                let (step, task, started) = match &pending[pi].items[ii] {
                    Slot::Remote { step, .. } => (
                        step.step.clone(),
                        pending[pi].task.clone(),
                        pending[pi].started,
                    ),
                    _ => break,
                };
                if let Err(e) = self.stage(&conn, &step).await {
                    self.pending.clear();
                    self.fail_task(&task, started, e);
                    return None;
                }
                start += n - 1;
                continue;
            }
            start += n;
            if n < steps.len() {
                break;
            }
        }
        Some(pending)
    }

    async fn stage(
        &self,
        conn: &Arc<dyn crate::transport::Transport>,
        step: &modules::RemoteStep,
    ) -> Result<(), String> {
        if let Some(f) = &step.fetch {
            fetch::ensure(f).await?;
        }
        for (local, remote, mode) in &step.uploads {
            conn.upload(local, remote, *mode, self.pending_become)
                .await
                .map_err(|e| format!("pushing {} to {remote}: {e}", local.display()))?;
        }
        Ok(())
    }
}
