//! `Match` blocks of an ssh config (ssh_config(5)), evaluated as OpenSSH evaluates them
//! but without running anything: every criterion of a `Match` line must hold (a `!`
//! before one negates it), and the block is decided once, at its first option, with
//! what is known by then (the first value obtained wins, as for options).
//!
//! - `all`: always (alone, or after `canonical` / `final`);
//! - `host LIST`: the name after HostName substitution (HostName's `%h` is the name
//!   given), else the name given; `originalhost LIST`: the name given (ansible_host);
//! - `user LIST`: the login user known so far (the inventory's, `-l`, an earlier User),
//!   else the default (root); `localuser LIST`: who runs kubeforge;
//! - `tagged LIST`: the `Tag` option known so far (empty when none);
//! - `canonical`, `final`: kubeforge never canonicalizes names (CanonicalizeHostname is
//!   not read), so as OpenSSH does with CanonicalizeHostname no, they hold only in the
//!   second ("final") pass, which happens when some `Match final` line exists. In that
//!   pass `Host` lines test the HostName-substituted name too; options already set keep
//!   their value.
//!
//! LISTs are OpenSSH pattern lists: `a,b*,!c` (a `!` pattern that matches rejects; host
//! patterns ignore case, user patterns do not). `exec` would run a program for every
//! connection and is refused, naming file and line, when the block's outcome depends
//! on it; so are `localnetwork`, `version`, `sessiontype` and `command`, which kubeforge
//! cannot decide. An unknown criterion is an error when the file is read.

use super::ssh_config::{bad, wildcard_case, ConfigError, Origin};

/// One `Match` line.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchBlock {
    /// Its criteria, in order.
    pub criteria: Vec<Criterion>,
    /// Where it is.
    pub at: Origin,
}

/// One criterion, maybe negated.
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    /// Written with `!`.
    pub negate: bool,
    /// What it tests.
    pub test: Test,
}

/// What a criterion tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `all`.
    All,
    /// `canonical`.
    Canonical,
    /// `final`.
    Final,
    /// `host LIST`.
    Host(String),
    /// `originalhost LIST`.
    OriginalHost(String),
    /// `user LIST`.
    User(String),
    /// `localuser LIST`.
    LocalUser(String),
    /// `tagged LIST`.
    Tagged(String),
    /// `exec COMMAND`: refused.
    Exec(String),
    /// A criterion kubeforge cannot decide (name, argument): refused.
    Undecidable(String, String),
}

/// What the criteria are tested against.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// The name after HostName substitution.
    pub host: &'a str,
    /// The name given.
    pub original: &'a str,
    /// The login user known so far, else the default.
    pub user: &'a str,
    /// Who runs kubeforge.
    pub local_user: &'a str,
    /// The Tag option so far.
    pub tag: &'a str,
    /// The final pass.
    pub final_pass: bool,
}

/// OpenSSH's `match_pattern_list`: true when a positive pattern matches and no negated
/// one does.
pub fn pattern_list(text: &str, list: &str, fold_case: bool) -> bool {
    let mut hit = false;
    for p in list.split(',').filter(|p| !p.is_empty()) {
        match p.strip_prefix('!') {
            Some(neg) if wildcard_case(neg, text, fold_case) => return false,
            Some(_) => {}
            None => hit |= wildcard_case(p, text, fold_case),
        }
    }
    hit
}

impl MatchBlock {
    /// Reads a `Match` line's words.
    pub fn parse(args: &[String], at: &Origin) -> Result<MatchBlock, ConfigError> {
        if args.is_empty() {
            return Err(bad(at, "Match needs criteria (e.g. `Match host NAME`)"));
        }
        let mut criteria = Vec::new();
        let mut words = args.iter();
        while let Some(word) = words.next() {
            let (negate, name) = match word.strip_prefix('!') {
                Some(n) => (true, n.to_ascii_lowercase()),
                None => (false, word.to_ascii_lowercase()),
            };
            let test = match name.as_str() {
                "all" => {
                    let only_pass = criteria
                        .iter()
                        .all(|c: &Criterion| matches!(c.test, Test::Canonical | Test::Final));
                    if !only_pass || words.len() > 0 {
                        return Err(bad(
                            at,
                            "Match all cannot be combined with other criteria (except a canonical or final before it)",
                        ));
                    }
                    Test::All
                }
                "canonical" => Test::Canonical,
                "final" => Test::Final,
                _ => {
                    let Some(arg) = words.next() else {
                        return Err(bad(at, format!("Match {name} needs an argument")));
                    };
                    let arg = arg.clone();
                    match name.as_str() {
                        "host" => Test::Host(arg),
                        "originalhost" => Test::OriginalHost(arg),
                        "user" => Test::User(arg),
                        "localuser" => Test::LocalUser(arg),
                        "tagged" => Test::Tagged(arg),
                        "exec" => Test::Exec(arg),
                        "localnetwork" | "version" | "sessiontype" | "command" => {
                            Test::Undecidable(name.clone(), arg)
                        }
                        _ => {
                            return Err(bad(
                                at,
                                format!("Match {name}: unknown criterion (ssh_config(5) has all, canonical, final, exec, host, originalhost, user, localuser, tagged, localnetwork, version, sessiontype, command)"),
                            ))
                        }
                    }
                }
            };
            criteria.push(Criterion { negate, test });
        }
        Ok(MatchBlock {
            criteria,
            at: at.clone(),
        })
    }

    /// True when some criterion is `final` (the configuration then has a final pass).
    pub fn wants_final_pass(&self) -> bool {
        self.criteria.iter().any(|c| c.test == Test::Final)
    }

    /// Whether the block applies. A criterion kubeforge cannot decide (`exec`...) is an
    /// error naming the line, unless another criterion already rules the block out.
    pub fn applies(&self, f: &Facts<'_>) -> Result<bool, ConfigError> {
        let mut undecided = None;
        for c in &self.criteria {
            let r = match &c.test {
                Test::All => true,
                Test::Canonical | Test::Final => f.final_pass,
                Test::Host(l) => pattern_list(f.host, l, true),
                Test::OriginalHost(l) => pattern_list(f.original, l, true),
                Test::User(l) => pattern_list(f.user, l, false),
                Test::LocalUser(l) => pattern_list(f.local_user, l, false),
                Test::Tagged(l) => pattern_list(f.tag, l, false),
                Test::Exec(_) | Test::Undecidable(..) => {
                    undecided.get_or_insert(c);
                    continue;
                }
            };
            if r == c.negate {
                return Ok(false);
            }
        }
        match undecided.map(|c| &c.test) {
            None => Ok(true),
            Some(Test::Exec(cmd)) => Err(bad(
                &self.at,
                format!("Match exec \"{cmd}\" would run a program for every connection, and kubeforge runs none from an ssh config: select these hosts with Match host/originalhost/user/localuser (or a Host block), or give the options as inventory variables (ansible_ssh_common_args: -o Option=value)"),
            )),
            Some(Test::Undecidable(name, arg)) => Err(bad(
                &self.at,
                format!("Match {name} {arg}: kubeforge cannot decide this criterion; select these hosts with Match host/originalhost/user/localuser (or a Host block) instead"),
            )),
            Some(_) => Ok(true),
        }
    }
}

/// The name of the user running kubeforge (its passwd entry, else $USER).
pub fn local_login() -> String {
    // SAFETY: getuid cannot fail; getpwuid_r writes only into the buffers we pass.
    unsafe {
        let uid = libc::getuid();
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut out: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) == 0
            && !out.is_null()
            && !pw.pw_name.is_null()
        {
            return std::ffi::CStr::from_ptr(pw.pw_name)
                .to_string_lossy()
                .into_owned();
        }
    }
    std::env::var("USER").unwrap_or_default()
}

#[cfg(test)]
#[path = "ssh_match_tests.rs"]
mod tests;
