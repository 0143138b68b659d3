//! Many steps, one round trip: a host's consecutive steps are sent as one shell script
//! that runs each probe, then (unless in check mode) its apply, and reports every step
//! in a framed, base64 form. A failing step ends the script; the runner decides what
//! follows. Each probe and apply is wrapped in `timeout`, so nothing outlives its limit.
//!
//! Integrity by construction: every way the script stops on purpose prints an end frame
//! saying why and where (done, failed, upload, stopped), and `parse` checks the frames
//! against it. A script that dies (syntax error, signal, truncated or garbled output)
//! has no end frame, or frames that disagree with it, and `Batch::broken` names the step
//! where it stopped: no step is ever dropped without a result.

use crate::modules::probe::{CHANGE, SATISFIED, SCRIPT_FAILED, UPLOAD};
use crate::modules::{shell_lib, RemoteStep};
use base64::Engine as _;

/// One step in a batch.
#[derive(Debug, Clone)]
pub struct BatchStep {
    /// The module's snippets.
    pub step: RemoteStep,
    /// Seconds before probe or apply is killed.
    pub timeout: u64,
    /// Keep going after this step fails (ignore_errors).
    pub continue_on_failure: bool,
    /// This step's check mode when it differs from the run's (`check_mode:` on a task).
    pub check: Option<bool>,
}

impl BatchStep {
    /// A step with the given limit that stops the batch when it fails.
    pub fn new(step: RemoteStep, timeout: u64) -> BatchStep {
        BatchStep {
            step,
            timeout,
            continue_on_failure: false,
            check: None,
        }
    }
}

/// What one step did on the host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepOutcome {
    /// Probe exit code (see `modules::probe`).
    pub probe_rc: i32,
    /// Apply exit code, when the apply ran.
    pub apply_rc: Option<i32>,
    /// Probe stdout (what would change).
    pub probe_out: String,
    /// Probe stderr.
    pub probe_err: String,
    /// Apply stdout.
    pub apply_out: String,
    /// Apply stderr.
    pub apply_err: String,
    /// File content before (diff mode).
    pub before: Option<Vec<u8>>,
    /// File content after (diff mode).
    pub after: Option<Vec<u8>>,
    /// Seconds the probe took, when it ran under its own `timeout` (else None).
    pub probe_secs: Option<f64>,
    /// Seconds the apply took, when it ran under its own `timeout`.
    pub apply_secs: Option<f64>,
}

/// Exit codes of coreutils `timeout` when it had to stop the command.
pub fn is_timeout(rc: i32) -> bool {
    rc == 124 || rc == 137
}

/// Why a script stopped, as its end frame says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every step ran.
    Done,
    /// Step N failed (and was not ignored): the batch ended after it.
    Failed(usize),
    /// Step N needs a file from the controller: the batch ended after its probe.
    Upload(usize),
    /// The operator interrupted the run: step N never started.
    Stopped(usize),
}

/// The parsed output of one batch script.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// One outcome per step that reported, in order.
    pub outcomes: Vec<StepOutcome>,
    /// The end frame, if the script printed one.
    pub end: Option<End>,
    /// A frame that could not be read (index, what was wrong).
    pub damaged: Option<(usize, String)>,
}

/// A batch that did not end as its script says it must: the step where it stopped
/// (an index into the batch's steps; `steps.len()` when all reported but the end is
/// missing) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken {
    /// The first step without a trustworthy result.
    pub at: usize,
    /// What happened, for the operator.
    pub why: String,
}

pub use crate::transport::signal_name;

impl Batch {
    /// Checks the frames against the end frame for a batch of `steps` steps; `exit` and
    /// `stderr` are the script's, for the reason given when it died.
    pub fn broken(
        &self,
        steps: usize,
        exit: Option<u32>,
        signal: Option<&str>,
        stderr: &str,
    ) -> Option<Broken> {
        let n = self.outcomes.len();
        let how = || {
            let mut s = match (signal, exit) {
                (Some(sig), _) => format!("killed by {sig}"),
                (None, Some(rc)) if rc > 128 && rc < 128 + 65 => format!(
                    "killed by {} (exit {rc})",
                    signal_name(i32::try_from(rc - 128).unwrap_or(0))
                ),
                (None, Some(rc)) => format!("exit {rc}"),
                (None, None) => "no exit status".to_string(),
            };
            let tail: Vec<&str> = stderr.trim().lines().rev().take(3).collect();
            if !tail.is_empty() {
                s.push_str(": ");
                s.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join(" / "));
            }
            s
        };
        if let Some((at, what)) = &self.damaged {
            return Some(Broken {
                at: *at,
                why: format!(
                    "the step script's output is garbled ({what}); the script ended with {}",
                    how()
                ),
            });
        }
        let expect = match self.end {
            None => {
                return Some(Broken {
                    at: n.min(steps),
                    why: format!(
                        "the step script died before finishing (no end marker after {n} of {steps} steps; {})",
                        how()
                    ),
                })
            }
            Some(End::Done) => steps,
            Some(End::Failed(i) | End::Upload(i)) => i + 1,
            Some(End::Stopped(i)) => i,
        };
        if n != expect || expect > steps {
            return Some(Broken {
                at: n.min(expect).min(steps),
                why: format!(
                    "the step script's output is incomplete ({n} step results, its end marker says {expect} of {steps}; {})",
                    how()
                ),
            });
        }
        None
    }
}

/// Builds the script for `steps`. `nonce` frames the output; `check` (the run's mode,
/// unless a step says otherwise) skips applies.
pub fn script(steps: &[BatchStep], nonce: &str, check: bool, diff: bool) -> String {
    script_with(steps, nonce, check, diff, &[])
}

/// As `script`, with the paths earlier steps of this run would create in check mode
/// (`would`): later probes see them as present-to-be, and each step that would change
/// adds its own.
pub fn script_with(
    steps: &[BatchStep],
    nonce: &str,
    check: bool,
    diff: bool,
    would: &[String],
) -> String {
    let lib = shell_lib();
    let mut s = String::with_capacity(
        4096 + steps
            .iter()
            .map(|b| b.step.probe.len() + b.step.apply.len())
            .sum::<usize>()
            * 2,
    );
    // KF_STOP appears when the operator interrupts the run: no further step starts.
    s.push_str(&format!("umask 022\nKF_STOP={}\nKF=$(mktemp -d \"${{TMPDIR:-/tmp}}/kubeforge.XXXXXX\") || exit {SCRIPT_FAILED}\ntrap 'rm -rf \"$KF\" \"$KF_STOP\"' EXIT\n", stop_path(nonce)));
    // The helpers are defined in this shell (quick steps run in subshells and inherit
    // them) and, when a step runs under its own `timeout`, also written to a file.
    s.push_str(&lib);
    s.push('\n');
    let wrapped = steps
        .iter()
        .any(|b| !b.step.probe_quick || (!b.step.apply.is_empty() && !b.step.apply_quick));
    if wrapped {
        s.push_str(&format!(
            "cat > \"$KF/lib.sh\" <<'KF_LIB_{nonce}'\n{lib}\nKF_LIB_{nonce}\n"
        ));
    }
    s.push_str(&format!(
        "KF_WOULD=\"$KF/would\"; : > \"$KF_WOULD\"\nexport KF KF_WOULD KF_DIFF={} KF_CHECK={}\n",
        u8::from(diff),
        u8::from(check)
    ));
    for chunk in would.chunks(64) {
        let words: Vec<String> = chunk.iter().map(|w| crate::shell::quote(w)).collect();
        s.push_str(&format!(
            "printf '%s\\n' {} >> \"$KF_WOULD\"\n",
            words.join(" ")
        ));
    }
    s.push_str("kf_b64() { if [ -s \"$1\" ]; then base64 -w0 < \"$1\"; fi; echo; }\n");
    // Every intended way out of the script says why and where (see `End`).
    s.push_str(&format!(
        "kf_end() {{ printf '@@KF:{nonce}:end:%s:%s\\n' \"$1\" \"$2\"; exit 0; }}\n"
    ));
    // Uptime in seconds (a builtin read, no process), to tell a step's own timeout from
    // a kill by something else.
    s.push_str("kf_now() { kf_n=-; read kf_n kf_x 2>/dev/null </proc/uptime || kf_n=-; }\n");
    s.push_str(
        "kf_b64cap() { if [ -s \"$1\" ]; then head -c 262144 \"$1\" | base64 -w0; fi; echo; }\n",
    );
    // One mkdir for every step's scratch directory.
    if !steps.is_empty() {
        s.push_str("mkdir");
        for i in 0..steps.len() {
            s.push_str(&format!(" \"$KF/s{i}\""));
        }
        s.push_str(&format!(" || exit {SCRIPT_FAILED}\n"));
    }
    // A quick snippet runs through `eval` in a subshell, so even a snippet that is not
    // valid shell fails as its own step (exit 2, sh's message) instead of ending the
    // script; a slow one runs in its own `sh` under `timeout`, timed.
    let run = |snippet: &str, quick: bool, t: u64, times: &str| -> String {
        if quick {
            format!("( eval {} )", crate::shell::quote(snippet))
        } else {
            let body = crate::shell::quote(&format!(". \"$KF/lib.sh\"\n{snippet}"));
            format!("kf_now; {times}=$kf_n; timeout -k 5 {t} sh -c {body}")
        }
    };
    for (i, b) in steps.iter().enumerate() {
        let t = b.timeout.max(1);
        if i > 0 {
            s.push_str(&format!("[ -e \"$KF_STOP\" ] && kf_end stopped {i}\n"));
        }
        s.push_str(&format!(
            "KFS=\"$KF/s{i}\"; KFN={i}; export KFS KFN; pt=-; at=-\n"
        ));
        s.push_str(&format!(
            "{} >\"$KFS/po\" 2>\"$KFS/pe\" </dev/null; prc=$?; arc=-\n",
            run(&b.step.probe, b.step.probe_quick, t, "pt")
        ));
        if !b.step.probe_quick {
            s.push_str("kf_now; pt=\"$pt,$kf_n\"\n");
        }
        let check = b.check.unwrap_or(check);
        if steps.iter().any(|x| x.check.is_some()) {
            // Mixed modes in one batch: each step says its own.
            s.push_str(&format!("KF_CHECK={}\n", u8::from(check)));
        }
        if !b.step.apply.is_empty() && !check {
            let timed = if b.step.apply_quick {
                ""
            } else {
                "; kf_now; at=\"$at,$kf_n\""
            };
            s.push_str(&format!(
                "if [ $prc = {CHANGE} ]; then {} >\"$KFS/ao\" 2>\"$KFS/ae\" </dev/null; arc=$?{timed}; fi\n",
                run(&b.step.apply, b.step.apply_quick, t, "at")
            ));
        }
        if check && !b.step.creates.is_empty() {
            let words: Vec<String> = b
                .step
                .creates
                .iter()
                .map(|w| crate::shell::quote(w))
                .collect();
            s.push_str(&format!(
                "case $prc in {CHANGE}|{UPLOAD}) printf '%s\\n' {} >> \"$KF_WOULD\";; esac\n",
                words.join(" ")
            ));
        }
        s.push_str(&format!(
            "printf '@@KF:{nonce}:%s:%s:%s:%s:%s\\n' {i} \"$prc\" \"$arc\" \"$pt\" \"$at\"\nfor f in po pe ao ae; do kf_b64 \"$KFS/$f\"; done; kf_b64cap \"$KFS/before\"; kf_b64cap \"$KFS/after\"\n"
        ));
        // Needing an upload always ends the batch (outside check mode): the runner pushes
        // the file and resumes here.
        if check {
            s.push_str(&format!(
                "case $prc in {SATISFIED}|{CHANGE}|{UPLOAD}) ;; *) "
            ));
        } else {
            s.push_str(&format!(
                "case $prc in {SATISFIED}|{CHANGE}) ;; {UPLOAD}) kf_end upload {i};; *) "
            ));
        }
        if b.continue_on_failure {
            s.push_str(";; esac\n");
        } else {
            s.push_str(&format!(
                "kf_end failed {i};; esac\ncase $arc in -|0) ;; *) kf_end failed {i};; esac\n"
            ));
        }
    }
    s.push_str("kf_end done -\n");
    s
}

/// Seconds between two uptime readings "t0,t1" (None when either is missing).
fn elapsed(field: Option<&str>) -> Option<f64> {
    let (a, b) = field?.split_once(',')?;
    let (a, b): (f64, f64) = (a.parse().ok()?, b.parse().ok()?);
    Some((b - a).max(0.0))
}

/// Parses the framed output: one outcome per step that reported, in order, the end
/// frame, and the first frame that could not be read.
pub fn parse(stdout: &str, nonce: &str) -> Batch {
    let marker = format!("@@KF:{nonce}:");
    let mut batch = Batch::default();
    let mut lines = stdout.lines();
    while let Some(l) = lines.next() {
        let Some(rest) = l.strip_prefix(&marker) else {
            continue;
        };
        let k = batch.outcomes.len();
        if let Some(end) = rest.strip_prefix("end:") {
            let (why, at) = end.split_once(':').unwrap_or((end, ""));
            let at: Option<usize> = at.parse().ok();
            batch.end = match (why, at) {
                ("done", _) => Some(End::Done),
                ("failed", Some(i)) => Some(End::Failed(i)),
                ("upload", Some(i)) => Some(End::Upload(i)),
                ("stopped", Some(i)) => Some(End::Stopped(i)),
                _ => {
                    batch.damaged = Some((k, format!("unreadable end marker '{end}'")));
                    None
                }
            };
            break;
        }
        let parts: Vec<&str> = rest.split(':').collect();
        let idx: Option<usize> = parts.first().and_then(|p| p.parse().ok());
        let probe_rc: Option<i32> = parts.get(1).and_then(|p| p.parse().ok());
        let apply_rc = match parts.get(2) {
            Some(&"-") => Some(None),
            Some(p) => p.parse().ok().map(Some),
            None => None,
        };
        let (Some(idx), Some(probe_rc), Some(apply_rc)) = (idx, probe_rc, apply_rc) else {
            batch.damaged = Some((k, format!("unreadable result header for step {}", k + 1)));
            break;
        };
        if idx != k {
            batch.damaged = Some((
                k,
                format!("result for step {} where step {} was due", idx + 1, k + 1),
            ));
            break;
        }
        let mut fields = Vec::with_capacity(6);
        for name in [
            "probe stdout",
            "probe stderr",
            "apply stdout",
            "apply stderr",
            "before",
            "after",
        ] {
            let decoded = match lines.next() {
                None => Err(format!("{name} of step {} cut off", k + 1)),
                Some(l) if l.trim().is_empty() => Ok(Vec::new()),
                Some(l) => base64::engine::general_purpose::STANDARD
                    .decode(l.trim())
                    .map_err(|_| format!("{name} of step {} is not base64", k + 1)),
            };
            match decoded {
                Ok(v) => fields.push(v),
                Err(e) => {
                    batch.damaged = Some((k, e));
                    return batch;
                }
            }
        }
        let mut fields = fields.into_iter();
        let mut field = || fields.next().unwrap_or_default();
        let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
        let probe_out = text(field());
        let probe_err = text(field());
        let apply_out = text(field());
        let apply_err = text(field());
        let before = field();
        let after = field();
        let has_diff = !after.is_empty() || !before.is_empty();
        batch.outcomes.push(StepOutcome {
            probe_rc,
            apply_rc,
            probe_out,
            probe_err,
            apply_out,
            apply_err,
            before: has_diff.then_some(before),
            after: has_diff.then_some(after),
            probe_secs: elapsed(parts.get(3).copied()),
            apply_secs: elapsed(parts.get(4).copied()),
        });
    }
    batch
}

/// The file whose existence tells a running batch to start no further step.
pub fn stop_path(nonce: &str) -> String {
    format!("/tmp/kubeforge-stop-{nonce}")
}

/// A fresh nonce for framing.
pub fn nonce() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..12)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(probe: &str, apply: &str) -> BatchStep {
        BatchStep::new(
            RemoteStep {
                probe: probe.into(),
                apply: apply.into(),
                ..RemoteStep::default()
            },
            10,
        )
    }

    fn run(steps: &[BatchStep], check: bool) -> Vec<StepOutcome> {
        let n = nonce();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script(steps, &n, check, true))
            .output()
            .unwrap();
        parse(&String::from_utf8_lossy(&out.stdout), &n).outcomes
    }

    #[test]
    fn probes_apply_and_stops_at_failure() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        let fq = crate::shell::quote(f.to_str().unwrap());
        let steps = vec![
            step("exit 0", "echo never"),
            step(
                &format!("[ -e {fq} ] && exit 0; echo create; exit 10"),
                &format!("echo made > {fq}"),
            ),
            step("echo boom >&2; exit 3", ""),
            step("exit 10", "echo unreachable"),
        ];
        let out = run(&steps, false);
        assert_eq!(out.len(), 3, "the batch stops after the failing step");
        assert_eq!((out[0].probe_rc, out[0].apply_rc), (0, None));
        assert_eq!((out[1].probe_rc, out[1].apply_rc), (10, Some(0)));
        assert_eq!(out[1].probe_out, "create\n");
        assert_eq!(out[2].probe_err, "boom\n");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "made\n");
    }

    #[test]
    fn check_mode_never_applies() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        let fq = crate::shell::quote(f.to_str().unwrap());
        let out = run(&[step("exit 10", &format!("touch {fq}"))], true);
        assert_eq!((out[0].probe_rc, out[0].apply_rc), (10, None));
        assert!(!f.exists());
    }

    #[test]
    fn step_timeout_kills_the_step() {
        let mut s = step("sleep 30", "");
        s.timeout = 1;
        let started = std::time::Instant::now();
        let out = run(&[s], false);
        assert!(is_timeout(out[0].probe_rc), "{:?}", out[0]);
        assert!(started.elapsed().as_secs() < 10);
    }

    #[test]
    fn output_that_looks_like_a_frame_cannot_confuse_parsing() {
        let out = run(&[step("echo '@@KF:x:0:0:0'; exit 0", "")], false);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].probe_out, "@@KF:x:0:0:0\n");
    }
}
