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

use crate::modules::probe::{CHANGE, SCRIPT_FAILED, UPLOAD};
use crate::modules::RemoteStep;
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

/// The batch's own functions: how a step runs and reports (see `kf_step`).
const FRAMING: &str = r#"kf_b64() { if [ -s "$1" ]; then base64 -w0 < "$1"; fi; echo; }
kf_b64cap() { if [ -s "$1" ]; then head -c 262144 "$1" | base64 -w0; fi; echo; }
kf_txt() {
if [ ! -s "$1" ]; then echo; return; fi
kfb_l=; kfb_x=
if { IFS= read -r kfb_l && ! IFS= read -r kfb_x && [ -z "$kfb_x" ]; } < "$1"; then
case $kfb_l in *[![:print:]]*) ;; *) printf '=%s\n' "$kfb_l"; return;; esac
fi
base64 -w0 < "$1"; echo
}
kf_end() { printf '@@KF:%s:end:%s:%s\n' "$kf_nonce" "$1" "$2"; exit 0; }
kf_now() { kf_n=-; read kf_n kf_x 2>/dev/null </proc/uptime || kf_n=-; }
kf_step() {
KFN=$1; KFS="$KF/s$1"; export KFS KFN; pt=-; at=-; arc=-
kfb_k=$2; kfb_t=$3; kfb_p=$4; kfb_a=${5-}; set --
[ "$KFN" = 0 ] || [ ! -e "$KF_STOP" ] || kf_end stopped "$KFN"
case $kfb_k in
c*) eval "$kfb_p" >"$KFS/po" 2>"$KFS/pe" </dev/null; prc=$?;;
q*) ( eval "$kfb_p" ) >"$KFS/po" 2>"$KFS/pe" </dev/null; prc=$?;;
*) kf_now; pt=$kf_n; timeout -k 5 "$kfb_t" sh -c ". \"\$KF/lib.sh\"
$kfb_p" >"$KFS/po" 2>"$KFS/pe" </dev/null; prc=$?; kf_now; pt="$pt,$kf_n";;
esac
if [ "$prc" = "$KF_CHANGE" ]; then case $kfb_k in
?c*) eval "$kfb_a" >"$KFS/ao" 2>"$KFS/ae" </dev/null; arc=$?;;
?q*) ( eval "$kfb_a" ) >"$KFS/ao" 2>"$KFS/ae" </dev/null; arc=$?;;
?x*) kf_now; at=$kf_n; eval "timeout -k 5 \"\$kfb_t\" $kfb_a" >"$KFS/ao" 2>"$KFS/ae" </dev/null; arc=$?; kf_now; at="$at,$kf_n";;
?s*) kf_now; at=$kf_n; timeout -k 5 "$kfb_t" sh -c ". \"\$KF/lib.sh\"
$kfb_a" >"$KFS/ao" 2>"$KFS/ae" </dev/null; arc=$?; kf_now; at="$at,$kf_n";;
esac; fi
printf '@@KF:%s:%s:%s:%s:%s:%s\n' "$kf_nonce" "$KFN" "$prc" "$arc" "$pt" "$at"
case $kfb_k in c*) kf_txt "$KFS/po"; kf_txt "$KFS/pe";; *) kf_b64 "$KFS/po"; kf_b64 "$KFS/pe";; esac
case $kfb_k in ?c*) kf_txt "$KFS/ao"; kf_txt "$KFS/ae";; *) kf_b64 "$KFS/ao"; kf_b64 "$KFS/ae";; esac
kf_b64cap "$KFS/before"; kf_b64cap "$KFS/after"
case $prc in 0|"$KF_CHANGE") ;; "$KF_UPLOAD") [ "$KF_CHECK" = 1 ] || kf_end upload "$KFN";; *) case $kfb_k in ??f) ;; *) kf_end failed "$KFN";; esac;; esac
case $arc in -|0) ;; *) case $kfb_k in ??f) ;; *) kf_end failed "$KFN";; esac;; esac
}
"#;

/// How a step's probe and apply run (the KINDS word of `kf_step`): c a call in the
/// batch shell, q a quick snippet in a subshell, s a slow one under `timeout` in its own
/// sh, x one command under `timeout`, - none; then f when a failure does not end the
/// batch.
fn kinds(b: &BatchStep, check: bool) -> String {
    let st = &b.step;
    let probe = if st.calls {
        'c'
    } else if st.probe_quick {
        'q'
    } else {
        's'
    };
    let apply = if st.apply.is_empty() || check {
        '-'
    } else if st.apply_exec {
        'x'
    } else if st.calls {
        'c'
    } else if st.apply_quick {
        'q'
    } else {
        's'
    };
    let fail = if b.continue_on_failure { 'f' } else { '-' };
    [probe, apply, fail].iter().collect()
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
    let refs: Vec<&BatchStep> = steps.iter().collect();
    script_of(&refs, nonce, check, diff, would)
}

/// Builds the script for steps borrowed from the runner's queue (no copies kept).
/// Module code (the library) travels once at the top; each step is one `kf_step` line.
pub fn script_of(
    steps: &[&BatchStep],
    nonce: &str,
    check: bool,
    diff: bool,
    would: &[String],
) -> String {
    let lib = crate::modules::shell_lib_compact();
    let step_kinds: Vec<String> = steps
        .iter()
        .map(|b| kinds(b, b.check.unwrap_or(check)))
        .collect();
    let mut s = String::with_capacity(
        2 * lib.len()
            + FRAMING.len()
            + 1024
            + steps
                .iter()
                .map(|b| b.step.probe.len() + b.step.apply.len() + 48)
                .sum::<usize>(),
    );
    // KF_STOP appears when the operator interrupts the run: no further step starts.
    // The scratch directory is named by the nonce (random, never reused; mkdir fails
    // on a name that exists), made with every step's own directory by one mkdir.
    s.push_str(&format!(
        "umask 022\nKF_STOP={}\nKF=\"${{TMPDIR:-/tmp}}/kubeforge.{nonce}\"\nset -- \"$KF\"; kfb_i=0; while [ $kfb_i -lt {} ]; do set -- \"$@\" \"$KF/s$kfb_i\"; kfb_i=$((kfb_i + 1)); done; mkdir -m 700 \"$@\" || exit {SCRIPT_FAILED}; set --\ntrap 'rm -rf \"$KF\" \"$KF_STOP\"' EXIT\n",
        stop_path(nonce),
        steps.len()
    ));
    // The helpers are defined in this shell (calls run here, quick steps in subshells
    // that inherit them) and, when a step runs under its own `timeout`, also written to
    // a file its sh reads.
    s.push_str(lib);
    s.push('\n');
    if step_kinds.iter().any(|k| k.contains('s')) {
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
    // Every intended way out of the script says why and where (see `End`).
    s.push_str(&format!("kf_nonce={nonce}\n"));
    s.push_str(FRAMING);
    let mixed = steps.iter().any(|x| x.check.is_some());
    for (i, (b, k)) in steps.iter().zip(&step_kinds).enumerate() {
        let check = b.check.unwrap_or(check);
        if mixed {
            // Mixed modes in one batch: each step says its own.
            s.push_str(&format!("KF_CHECK={}\n", u8::from(check)));
        }
        s.push_str(&format!(
            "kf_step {i} {k} {} {}",
            b.timeout.max(1),
            crate::shell::quote_short(&b.step.probe)
        ));
        if k.as_bytes().get(1) != Some(&b'-') {
            s.push(' ');
            s.push_str(&crate::shell::quote_short(&b.step.apply));
        }
        s.push('\n');
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
                // A short plain line sent as text (`kf_txt`): the line and its newline.
                Some(l) if l.starts_with('=') => Ok(format!("{}\n", &l[1..]).into_bytes()),
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
