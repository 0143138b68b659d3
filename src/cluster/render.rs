//! Rendering a host's variables while the cluster is built: failures are collected
//! once per definition, and a value only run time can render (facts, names a task
//! defines, a vault value without the password) is kept as written for `inventory
//! show`, a warning when kubeforge does not read it, an error when it does.

use crate::diagnostic::{Diagnostic, Location};
use crate::inventory::Inventory;
use crate::vars::{ResolveError, Resolver};
use serde_json::Value;
use std::collections::BTreeMap;

/// A variable left for run time: its raw value, where it was set, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Deferred {
    /// The value as written.
    pub raw: Value,
    /// Where it was set.
    pub origin: Location,
    /// Why it cannot be rendered now.
    pub reason: String,
    /// True when a vault value without a password is in the way (shown masked).
    pub locked: bool,
}

pub(super) type Failures = Vec<(ResolveError, Vec<String>)>;

/// True when a failure may resolve at run time: an undefined name (facts, set_fact,
/// registered results) or a vault value without the password. Cycles, syntax errors,
/// unknown filters and over-deep chains never will.
fn deferrable(e: &ResolveError) -> bool {
    e.message.contains("undefined") || e.message.contains(crate::vars::VAULT_LOCKED)
}

/// Where deferrable failures go while rendering everything (show/check): the values
/// kept for display, and the failures of variables kubeforge does not read (warnings)
/// or reads (errors that do not stop `show`).
pub(super) struct Deferrals<'a> {
    pub(super) wanted: &'a [String],
    pub(super) out: &'a mut BTreeMap<String, Deferred>,
    pub(super) warned: &'a mut Failures,
    pub(super) needed: &'a mut Failures,
}

/// Renders `names` for `host`, keeping every variable that renders: one broken variable
/// must not hide the host's addresses and settings (which would add made-up errors).
/// One failure per variable definition, however many hosts it fails for. With
/// `deferred`, a deferrable failure of a variable kubeforge does not read is kept
/// there (with a warning) instead of failing.
pub(super) fn render_vars(
    resolver: &Resolver,
    inv: &Inventory,
    host: &str,
    names: Vec<String>,
    failures: &mut Failures,
    mut deferred: Option<Deferrals<'_>>,
) -> BTreeMap<String, (Value, Location)> {
    let mut vars = BTreeMap::new();
    for name in names {
        match resolver.get(host, &name) {
            Ok(Some(v)) => {
                let origin = resolver
                    .origin(host, &name)
                    .unwrap_or_else(|| Location::new(crate::inventory::display_path(&inv.file), 0));
                vars.insert(name, (v, origin));
            }
            Ok(None) => {}
            Err(e) => {
                let target = match deferred.as_mut() {
                    Some(d) if deferrable(&e) => {
                        let raw = resolver.raw(host, &name).cloned().unwrap_or(Value::Null);
                        d.out.insert(
                            name.clone(),
                            Deferred {
                                locked: crate::value::has_locked_vault(&raw)
                                    || e.message.contains(crate::vars::VAULT_LOCKED),
                                raw,
                                origin: resolver
                                    .origin(host, &name)
                                    .unwrap_or_else(|| e.origin.clone()),
                                reason: e.message.clone(),
                            },
                        );
                        if d.wanted.contains(&name) {
                            &mut *d.needed
                        } else {
                            &mut *d.warned
                        }
                    }
                    _ => &mut *failures,
                };
                let same = |(f, _): &&mut (ResolveError, Vec<String>)| {
                    f.name == e.name && f.origin == e.origin && f.message == e.message
                };
                match target.iter_mut().find(same) {
                    Some((_, hosts)) => {
                        if !hosts.contains(&e.host) {
                            hosts.push(e.host.clone());
                        }
                    }
                    None => {
                        let host = e.host.clone();
                        target.push((e, vec![host]));
                    }
                }
            }
        }
    }
    vars
}

/// How a list of failures is reported.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Report {
    /// A template that cannot render: an error.
    Error,
    /// Left for run time, not read by kubeforge: a warning.
    Deferred,
    /// Left for run time but read by kubeforge: an error for check and run; `show`
    /// prints the value as written.
    Needed,
}

/// The code of an error that `inventory show` does not stop for (the value is shown
/// as left for run time).
pub const RUNTIME_CODE: &str = "template-runtime";

pub(super) fn failure_diagnostics(
    failures: Failures,
    diagnostics: &mut Vec<Diagnostic>,
    report: Report,
) {
    for (e, failed_for) in failures {
        let who = match failed_for.as_slice() {
            [one] => format!("host {one}"),
            [a, b, c, rest @ ..] if !rest.is_empty() => {
                format!("hosts {a}, {b}, {c} and {} more", rest.len())
            }
            many => format!("hosts {}", many.join(", ")),
        };
        let d = if report == Report::Needed {
            Diagnostic::error(
                RUNTIME_CODE,
                format!(
                    "variable '{}' for {who} can only be rendered at run time, but kubeforge needs it before: {}",
                    e.name, e.message
                ),
            )
            .help(e.help.clone())
        } else if report == Report::Deferred {
            Diagnostic::warning(
                "template-deferred",
                format!(
                    "variable '{}' for {who} is left for run time: {}",
                    e.name, e.message
                ),
            )
            .help("fine if a task defines it first (facts, set_fact); kubeforge itself does not read it")
        } else {
            Diagnostic::error(
                "template",
                format!("variable '{}' for {who}: {}", e.name, e.message),
            )
            .help(e.help.clone())
        }
        .at(Some(e.origin.clone()));
        if !diagnostics.contains(&d) {
            diagnostics.push(d);
        }
    }
}
