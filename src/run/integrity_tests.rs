//! No step is ever lost silently (issue 22): a batch that stops early — a snippet with a
//! syntax error, the batch shell killed, output cut short or damaged on the way — fails
//! the step where it stopped, by name, keeps every result reported before it, and the
//! run's exit code says a host failed. Faults come from `test_raw` (a double of a buggy
//! module, see src/modules/test_raw.rs) and from `Fault` (a double of a damaging
//! connection); SIGKILL and timeouts are real.

use super::tests::{Done, Lab};
use crate::report::events::{Event, Status};
use crate::transport::ExecOutput;

/// Kills the whole batch (its process group) from inside a slow snippet: the snippet's
/// sh -> `timeout` -> the batch shell, whose group is the session's (the local
/// transport starts each session in a group of its own).
const KILL_BATCH: &str = "b=$(awk '{print $4}' /proc/$PPID/stat); g=$(awk '{print $5}' /proc/$b/stat); [ \"$g\" -gt 1 ] && /bin/kill -9 -- -$g; sleep 5";

fn book(evil: &str, evil_extra: &str) -> String {
    format!(
        "- hosts: all\n  tasks:\n\
         \x20   - name: before\n      copy: {{dest: \"{{{{ root }}}}/before.txt\", content: \"x\\n\"}}\n\
         \x20   - name: evil\n      test_raw: {evil}\n{evil_extra}\
         \x20   - name: after\n      copy: {{dest: \"{{{{ root }}}}/after.txt\", content: \"x\\n\"}}\n"
    )
}

fn error_of(d: &Done, task: &str) -> String {
    d.events
        .iter()
        .find_map(|e| match e {
            Event::StepResult { task: t, error, .. } if t == task => error.clone(),
            _ => None,
        })
        .unwrap_or_default()
}

/// before changed, evil failed (its error containing `why`), after never ran; exit 2.
fn stopped_at_evil(lab: &Lab, d: &Done, why: &str) {
    reported_up_to_evil(d, why);
    assert!(lab.path("before.txt").exists());
    assert!(!lab.path("after.txt").exists());
}

/// As `stopped_at_evil`, for output damaged on the way back (the host itself ran every
/// step; what matters is that none is reported as done without its result).
fn reported_up_to_evil(d: &Done, why: &str) {
    assert_eq!(d.summary.exit_code(), 2, "{:#?}", d.events);
    assert_eq!(
        d.status("h1", "before"),
        Some(Status::Changed),
        "{:#?}",
        d.events
    );
    assert_eq!(
        d.status("h1", "evil"),
        Some(Status::Failed),
        "{:#?}",
        d.events
    );
    let err = error_of(d, "evil");
    assert!(
        err.contains(why),
        "evil's error {err:?} does not say {why:?}"
    );
    assert_eq!(
        d.status("h1", "after"),
        None,
        "after ran after a broken batch"
    );
}

#[test]
fn a_syntax_error_in_a_quick_snippet_fails_that_step_only() {
    let lab = Lab::new(
        &[("h1", "kube_node")],
        &book("{probe: \"if then fi\", probe_quick: true}", ""),
    );
    let d = lab.run(false);
    stopped_at_evil(&lab, &d, "Syntax error");
    // With ignore_errors the batch goes on: the error did not take the script down.
    let lab = Lab::new(
        &[("h1", "kube_node")],
        &book(
            "{probe: \"if then fi\", probe_quick: true}",
            "      ignore_errors: true\n",
        ),
    );
    let d = lab.run(false);
    assert_eq!(d.summary.exit_code(), 0, "{:#?}", d.events);
    assert_eq!(d.status("h1", "evil"), Some(Status::Failed));
    assert_eq!(d.status("h1", "after"), Some(Status::Changed));
}

#[test]
fn a_syntax_error_in_a_slow_snippet_fails_that_step_only() {
    let lab = Lab::new(
        &[("h1", "kube_node")],
        &book("{probe: \"exit $KF_CHANGE\", apply: \"case x in\"}", ""),
    );
    let d = lab.run(false);
    stopped_at_evil(&lab, &d, "");
    assert!(
        error_of(&d, "evil").to_lowercase().contains("syntax error")
            || error_of(&d, "evil").contains("expecting"),
        "{}",
        error_of(&d, "evil")
    );
}

#[test]
fn a_batch_killed_mid_step_fails_that_step_by_name() {
    let lab = Lab::new(
        &[("h1", "kube_node")],
        &book(
            &format!("{{probe: \"exit $KF_CHANGE\", apply: {:?}}}", KILL_BATCH),
            "",
        ),
    );
    let d = lab.run(false);
    stopped_at_evil(&lab, &d, "SIGKILL");
}

#[test]
fn a_batch_killed_in_check_mode_fails_that_step_by_name() {
    let lab = Lab::new(
        &[("h1", "kube_node")],
        &book(&format!("{{probe: {:?}}}", KILL_BATCH), ""),
    );
    let d = lab.run(true);
    assert_eq!(d.summary.exit_code(), 2, "{:#?}", d.events);
    assert_eq!(d.status("h1", "before"), Some(Status::Changed));
    assert_eq!(d.status("h1", "evil"), Some(Status::Failed));
    assert!(
        error_of(&d, "evil").contains("SIGKILL"),
        "{}",
        error_of(&d, "evil")
    );
    assert_eq!(d.status("h1", "after"), None);
    assert!(!lab.path("before.txt").exists(), "check mode wrote a file");
}

#[test]
fn a_handler_that_kills_its_batch_is_named() {
    let book = format!(
        "- hosts: all\n  tasks:\n\
         \x20   - name: before\n      copy: {{dest: \"{{{{ root }}}}/before.txt\", content: \"x\\n\"}}\n      notify: restart it\n\
         \x20 handlers:\n\
         \x20   - name: restart it\n      test_raw: {{probe: \"exit $KF_CHANGE\", apply: {:?}}}\n",
        KILL_BATCH
    );
    let lab = Lab::new(&[("h1", "kube_node")], &book);
    let d = lab.run(false);
    assert_eq!(d.summary.exit_code(), 2, "{:#?}", d.events);
    assert_eq!(d.status("h1", "before"), Some(Status::Changed));
    assert_eq!(
        d.status("h1", "restart it"),
        Some(Status::Failed),
        "{:#?}",
        d.events
    );
    assert!(error_of(&d, "restart it").contains("SIGKILL"));
}

#[test]
fn a_step_killed_by_a_signal_is_not_called_a_timeout_and_a_timeout_is() {
    let lab = Lab::new(
        &[("h1", "kube_node")],
        "- hosts: all\n  tasks:\n\
         \x20   - name: term\n      test_raw: {probe: \"exit $KF_CHANGE\", apply: \"kill -TERM $$; sleep 5\"}\n      ignore_errors: true\n\
         \x20   - name: slow\n      test_raw: {probe: \"exit $KF_CHANGE\", apply: \"sleep 30\"}\n      timeout: 2\n",
    );
    let d = lab.run(false);
    let term = error_of(&d, "term");
    assert!(term.contains("killed by SIGTERM"), "{term}");
    assert!(!term.contains("timed out"), "{term}");
    let slow = error_of(&d, "slow");
    assert!(slow.contains("timed out after 2 s"), "{slow}");
}

/// Keeps the script's output up to (not including) the `n`th frame line.
fn cut_before_frame(out: ExecOutput, n: usize) -> ExecOutput {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut seen = 0;
    let mut kept = String::new();
    for l in text.lines() {
        if l.starts_with("@@KF:") {
            seen += 1;
            if seen == n {
                break;
            }
        }
        kept.push_str(l);
        kept.push('\n');
    }
    ExecOutput {
        stdout: kept.into_bytes(),
        ..out
    }
}

#[test]
fn output_cut_short_fails_the_first_step_that_did_not_report() {
    // Only the first frame arrives; the connection "ends" cleanly (exit 0).
    let lab = Lab::new(
        &[("h1", "kube_node")],
        &book("{probe: \"exit $KF_CHANGE\", apply: \"true\"}", ""),
    );
    let d = lab.run_via(false, Some(|o| cut_before_frame(o, 2)));
    reported_up_to_evil(&d, "");
    assert!(!error_of(&d, "evil").is_empty());
}

#[test]
fn a_missing_end_marker_fails_the_host_after_the_last_step() {
    fn drop_end(out: ExecOutput) -> ExecOutput {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let kept: String = text
            .lines()
            .filter(|l| !(l.starts_with("@@KF:") && l.contains(":end:")))
            .map(|l| format!("{l}\n"))
            .collect();
        ExecOutput {
            stdout: kept.into_bytes(),
            ..out
        }
    }
    let lab = Lab::new(
        &[("h1", "kube_node")],
        &book("{probe: \"exit $KF_CHANGE\", apply: \"true\"}", ""),
    );
    let d = lab.run_via(false, Some(drop_end));
    assert_eq!(d.summary.exit_code(), 2, "{:#?}", d.events);
    // Every step reported: their results stand, and the host fails naming the last.
    assert_eq!(
        d.status("h1", "after"),
        Some(Status::Changed),
        "{:#?}",
        d.events
    );
    let host_failure = format!("{:?}", d.summary.states.get("h1"));
    assert!(
        host_failure.contains("after task 'after'"),
        "{host_failure}"
    );
}

#[test]
fn a_damaged_frame_fails_that_step() {
    fn garble(out: ExecOutput) -> ExecOutput {
        // The second step's frame (index 1) is followed by 6 base64 lines: damage the first.
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut after: Option<usize> = None;
        let kept: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if l.starts_with("@@KF:") && l.split(':').nth(2) == Some("1") {
                    after = Some(i);
                }
                if after.is_some_and(|a| i == a + 1) {
                    "!!not base64!!\n".to_string()
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        assert!(after.is_some(), "no frame for step 2 in {text}");
        ExecOutput {
            stdout: kept.into_bytes(),
            ..out
        }
    }
    let lab = Lab::new(
        &[("h1", "kube_node")],
        &book("{probe: \"exit $KF_CHANGE\", apply: \"true\"}", ""),
    );
    let d = lab.run_via(false, Some(garble));
    reported_up_to_evil(&d, "");
}
