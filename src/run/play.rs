//! One play on its hosts: `serial` batches, free-running hosts between barriers
//! (run_once and delegate_to tasks), and the play-wide failure policy
//! (any_errors_fatal, max_fail_percentage, Ctrl-C).

use super::worker::Worker;
use super::{HostState, Shared};
use crate::plan::{Placement, PlannedPlay};
use crate::report::events::Event;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

enum Segment {
    Free(std::ops::Range<usize>),
    Barrier(usize),
}

fn segments(play: &PlannedPlay) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, t) in play.tasks.iter().enumerate() {
        if t.task.run_once || t.task.delegate_to.is_some() {
            if start < i {
                out.push(Segment::Free(start..i));
            }
            out.push(Segment::Barrier(i));
            start = i + 1;
        }
    }
    if start < play.tasks.len() {
        out.push(Segment::Free(start..play.tasks.len()));
    }
    out
}

pub(super) async fn active(sh: &Shared, hosts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for h in hosts {
        if let Some(m) = sh.hosts.get(h) {
            if m.lock().await.active() {
                out.push(h.clone());
            }
        }
    }
    out
}

/// Runs a play on its hosts (in `serial` batches when set).
pub(crate) async fn run_play(sh: Arc<Shared>, play: Arc<PlannedPlay>) {
    let hosts = active(&sh, &play.hosts).await;
    sh.emit(Event::PlayStart {
        play: play.play.name.clone(),
        hosts: hosts.clone(),
    });
    let chunks = crate::playbook::serial_batches(&play.play.serial, &hosts);
    for (n, chunk) in chunks.iter().enumerate() {
        if sh.interrupted.load(Ordering::SeqCst) {
            break;
        }
        if let Some(why) = run_batch(&sh, &play, chunk).await {
            // The play is over: hosts of later serial batches never start it.
            for later in chunks[n + 1..].iter().flat_map(|c| c.iter()) {
                sh.stop_host(later, HostState::Stopped(why.clone())).await;
            }
            break;
        }
    }
}

/// Runs one serial batch; returns why the whole play must stop, if it must. A failure
/// a block was still handling when the play ended is settled here (rescued, or the
/// host fails).
async fn run_batch(sh: &Arc<Shared>, play: &Arc<PlannedPlay>, hosts: &[String]) -> Option<String> {
    let why = run_segments(sh, play, hosts).await;
    for h in hosts {
        if let Some(m) = sh.hosts.get(h) {
            let mut rt = m.lock().await;
            if rt.active() {
                if let Some(message) = super::blocks::settle(&mut rt) {
                    super::mark_stopped(&mut rt, h, HostState::Failed(message), &sh.events);
                }
            }
        }
    }
    why
}

/// The segments of one batch.
async fn run_segments(
    sh: &Arc<Shared>,
    play: &Arc<PlannedPlay>,
    hosts: &[String],
) -> Option<String> {
    let total = hosts.len();
    for seg in segments(play) {
        let now = active(sh, hosts).await;
        if now.is_empty() {
            break;
        }
        match seg {
            Segment::Free(range) => {
                let mut set = tokio::task::JoinSet::new();
                for h in now {
                    let (sh, play, range) = (sh.clone(), play.clone(), range.clone());
                    set.spawn(async move {
                        let Ok(_permit) = sh.forks.acquire().await else {
                            return;
                        };
                        let Some(m) = sh.hosts.get(&h) else { return };
                        let mut rt = m.lock().await;
                        let mut w = Worker::new(&sh, &play, &h, &h, &mut rt);
                        for i in range {
                            if !w.rt.active()
                                || w.rt.ended.contains(&play.index)
                                || sh.interrupted.load(Ordering::SeqCst)
                            {
                                break;
                            }
                            let pt = &play.tasks[i];
                            let placement =
                                pt.placement.get(&h).cloned().unwrap_or(Placement::Runs);
                            w.task(i, &pt.task, &placement).await;
                        }
                        w.flush().await;
                    });
                }
                while set.join_next().await.is_some() {}
            }
            Segment::Barrier(i) => barrier(sh, play, i, &now).await,
        }
        if sh.interrupted.load(Ordering::SeqCst) {
            for h in active(sh, hosts).await {
                sh.stop_host(
                    &h,
                    HostState::Stopped("interrupted (Ctrl-C): no new steps were started".into()),
                )
                .await;
            }
            return Some("interrupted (Ctrl-C): no new steps were started".into());
        }
        let still = active(sh, hosts).await;
        let failed: Vec<&String> = hosts.iter().filter(|h| !still.contains(h)).collect();
        if !failed.is_empty() && play.play.any_errors_fatal {
            let why = format!(
                "any_errors_fatal: {} failed in play '{}'",
                failed[0], play.play.name
            );
            for h in &still {
                sh.stop_host(h, HostState::Stopped(why.clone())).await;
            }
            return Some(why);
        }
        if let Some(pct) = play.play.max_fail_percentage {
            let ratio = failed.len() as f64 * 100.0 / total as f64;
            if ratio > pct {
                let why = format!(
                    "max_fail_percentage {pct}% exceeded in play '{}' ({} of {total} hosts failed)",
                    play.play.name,
                    failed.len()
                );
                for h in &still {
                    sh.stop_host(h, HostState::Stopped(why.clone())).await;
                }
                return Some(why);
            }
        }
    }
    None
}

async fn barrier(sh: &Arc<Shared>, play: &Arc<PlannedPlay>, i: usize, hosts: &[String]) {
    let pt = &play.tasks[i];
    let task = &pt.task;
    let runners: Vec<String> = if task.run_once {
        hosts.iter().take(1).cloned().collect()
    } else {
        hosts.to_vec()
    };
    for h in runners {
        let Some(m) = sh.hosts.get(&h) else { continue };
        let placement = pt.placement.get(&h).cloned().unwrap_or(Placement::Runs);
        let before: BTreeMap<String, Value>;
        let after: BTreeMap<String, Value>;
        {
            let mut rt = m.lock().await;
            if rt.ended.contains(&play.index) {
                continue;
            }
            before = rt.facts.clone();
            let via = match &task.delegate_to {
                Some(d) => {
                    let scope = sh.cluster.resolver.scope(&h, BTreeMap::new());
                    match crate::vars::render(&scope, &Value::String(d.clone())) {
                        Ok(Value::String(s)) => s,
                        Ok(other) => other.to_string(),
                        Err(e) => {
                            drop(rt);
                            sh.stop_host(
                                &h,
                                HostState::Failed(format!(
                                    "task '{}': delegate_to: {e}",
                                    task.name
                                )),
                            )
                            .await;
                            continue;
                        }
                    }
                }
                None => h.clone(),
            };
            let mut w = Worker::new(sh, play, &h, &via, &mut rt);
            w.task(i, task, &placement).await;
            w.flush().await;
            after = rt.facts.clone();
        }
        if task.run_once {
            // run_once: what the one host learned (register, set_fact) holds for all.
            let learned: Vec<(String, Value)> = after
                .into_iter()
                .filter(|(k, v)| before.get(k) != Some(v))
                .collect();
            for other in hosts.iter().filter(|o| **o != h) {
                if let Some(om) = sh.hosts.get(other) {
                    let mut ort = om.lock().await;
                    for (k, v) in &learned {
                        ort.facts.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::Lab;
    use crate::report::events::{Event, Status};

    #[test]
    fn serial_batches_and_run_once_barriers() {
        let lab = Lab::new(
            &[("h1", "kube_node"), ("h2", "kube_node"), ("h3", "kube_node")],
            "- hosts: all\n  serial: 1\n  tasks:\n    - name: order\n      shell: \"echo {{ inventory_hostname }} >> {{ root }}/order\"\n    - name: once\n      shell: \"echo once >> {{ root }}/once\"\n      run_once: true\n      register: one\n    - name: everyone sees it\n      assert: {that: [\"one.rc == 0\"]}\n",
        );
        let done = lab.run(false);
        assert_eq!(done.summary.exit_code(), 0, "{:?}", done.events);
        // serial: 1 runs one host after another, in natural order.
        assert_eq!(
            std::fs::read_to_string(lab.path("order")).unwrap(),
            "h1\nh2\nh3\n"
        );
        // run_once runs once per batch (as Ansible, with serial).
        assert_eq!(
            std::fs::read_to_string(lab.path("once"))
                .unwrap()
                .lines()
                .count(),
            3
        );
        assert_eq!(done.status("h3", "everyone sees it"), Some(Status::Ok));
    }

    #[test]
    fn max_fail_percentage_stops_later_batches_with_a_reason() {
        let lab = Lab::new(
            &[("h1", "kube_node"), ("h2", "kube_node"), ("h3", "kube_node")],
            "- hosts: all\n  serial: 1\n  max_fail_percentage: 0\n  tasks:\n    - name: fail on h1\n      fail: {msg: no}\n      when: inventory_hostname == 'h1'\n",
        );
        let done = lab.run(false);
        assert_eq!(done.summary.exit_code(), 2);
        let stopped: Vec<&String> = done
            .events
            .iter()
            .filter_map(|e| match e {
                Event::HostStopped { host, reason } if reason.contains("max_fail_percentage") => {
                    Some(host)
                }
                _ => None,
            })
            .collect();
        assert_eq!(stopped, ["h2", "h3"]);
    }
}

#[cfg(test)]
mod feature_tests {
    use super::super::tests::Lab;
    use crate::report::events::Status;

    #[test]
    fn block_rescue_always_as_ansible() {
        let lab = Lab::new(
            &[("h1", "kube_node"), ("h2", "kube_node")],
            "- hosts: all\n  tasks:\n    - name: guarded\n      block:\n        - name: breaks on h1\n          shell: \"test {{ inventory_hostname }} != h1\"\n        - name: rest of block\n          shell: \"echo {{ inventory_hostname }} >> {{ root }}/rest\"\n      rescue:\n        - name: rescue\n          shell: \"echo {{ inventory_hostname }} {{ ansible_failed_task.name }} >> {{ root }}/rescue\"\n      always:\n        - name: always\n          shell: \"echo {{ inventory_hostname }} >> {{ root }}/always\"\n    - name: after\n      shell: \"echo {{ inventory_hostname }} >> {{ root }}/after\"\n    - name: unrescued\n      block:\n        - fail: {msg: gone}\n          when: inventory_hostname == 'h2'\n      always:\n        - name: cleanup\n          shell: \"echo {{ inventory_hostname }} >> {{ root }}/cleanup\"\n    - name: never on h2\n      shell: \"echo {{ inventory_hostname }} >> {{ root }}/last\"\n",
        );
        let done = lab.run(false);
        let read = |f: &str| std::fs::read_to_string(lab.path(f)).unwrap_or_default();
        assert_eq!(read("rest"), "h2\n", "h1's block stopped at the failure");
        assert_eq!(read("rescue"), "h1 breaks on h1\n");
        let always_text = read("always");
        let mut always: Vec<&str> = always_text.lines().map(|l| l.trim()).collect();
        always.sort();
        assert_eq!(always, ["h1", "h2"]);
        let after = read("after");
        assert!(
            after.contains("h1") && after.contains("h2"),
            "rescued h1 carries on: {after:?} {:#?}",
            done.events
        );
        let cleanup = read("cleanup");
        assert!(cleanup.contains("h2"), "always runs before the host fails");
        assert_eq!(read("last"), "h1\n", "h2 failed after its always");
        assert_eq!(done.summary.exit_code(), 2);
        assert_eq!(done.status("h1", "breaks on h1"), Some(Status::Failed));
        assert!(matches!(
            done.summary.states.get("h1"),
            Some(crate::run::HostState::Active)
        ));
    }

    #[test]
    fn serial_lists_percentages_throttle_and_end_host() {
        let hosts: Vec<(String, &str)> = (1..=5).map(|i| (format!("h{i}"), "kube_node")).collect();
        let refs: Vec<(&str, &str)> = hosts.iter().map(|(h, g)| (h.as_str(), *g)).collect();
        let lab = Lab::new(
            &refs,
            "- hosts: all\n  serial: [1, \"40%\"]\n  tasks:\n    - name: batch\n      shell: \"echo {{ inventory_hostname }} $(date +%s%N) >> {{ root }}/batches\"\n    - name: one at a time\n      shell: \"mkdir {{ root }}/lock && sleep 0.2 && rmdir {{ root }}/lock\"\n      throttle: 1\n    - meta: end_host\n      when: inventory_hostname == 'h3'\n    - name: not on h3\n      shell: \"echo {{ inventory_hostname }} >> {{ root }}/after-end\"\n",
        );
        let done = lab.run(false);
        assert_eq!(done.summary.exit_code(), 0, "{:?}", done.events);
        let after = std::fs::read_to_string(lab.path("after-end")).unwrap();
        assert!(!after.contains("h3") && after.contains("h4"), "{after}");
        // serial [1, 40%] of 5 hosts: batches of 1, 2, 2 (the last size repeats).
        let names = ["a", "b", "c", "d", "e"].map(String::from);
        let batches = crate::playbook::serial_batches(
            &[
                crate::playbook::Serial::Hosts(1),
                crate::playbook::Serial::Percent(40.0),
            ],
            &names,
        );
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [1, 2, 2]
        );
        assert_eq!(done.status("h5", "one at a time"), Some(Status::Changed));
    }

    #[test]
    fn until_in_a_loop_judges_each_item() {
        let lab = Lab::new(
            &[("h1", "kube_node")],
            "- hosts: all\n  tasks:\n    - name: each item settles\n      shell: \"n=$(cat {{ root }}/{{ item }} 2>/dev/null || echo 0); echo $((n+1)) > {{ root }}/{{ item }}; test $n -ge 1\"\n      loop: [a, b]\n      register: tries\n      until: tries.rc == 0\n      retries: 3\n      delay: 0\n",
        );
        let done = lab.run(false);
        assert_eq!(done.summary.exit_code(), 0, "{:?}", done.events);
        assert_eq!(std::fs::read_to_string(lab.path("a")).unwrap().trim(), "2");
    }

    #[test]
    fn a_task_skipped_by_the_plan_still_registers() {
        let lab = Lab::new(
            &[("h1", "kube_node")],
            "- hosts: all\n  tasks:\n    - name: never here\n      shell: \"true\"\n      register: gone\n      when: inventory_hostname == 'nobody'\n    - name: reads it\n      assert: {that: [\"gone.skipped\", \"not gone.changed\"]}\n",
        );
        let done = lab.run(false);
        assert_eq!(done.summary.exit_code(), 0, "{:?}", done.events);
    }
}
