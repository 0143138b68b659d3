//! What a probe's exit code means. The one place these numbers live: snippets use the
//! shell variables (`exit $KF_CHANGE`), the runner the constants.

/// Already as wanted: nothing to do.
pub const SATISFIED: i32 = 0;
/// A change is needed (the apply runs, or in check mode would).
pub const CHANGE: i32 = 10;
/// A file must be staged from the controller first (the batch ends; the runner uploads
/// and resumes with this step).
pub const UPLOAD: i32 = 12;
/// The batch script itself could not start (no temp dir).
pub const SCRIPT_FAILED: i32 = 97;

/// The codes as shell variable assignments, for the top of every script.
pub fn shell_codes() -> String {
    format!("KF_CHANGE={CHANGE}; KF_UPLOAD={UPLOAD}")
}

/// True for a probe result that is not a failure.
pub fn is_verdict(rc: i32) -> bool {
    rc == SATISFIED || rc == CHANGE || rc == UPLOAD
}
