//! Checks of a playbook against itself, made before anything runs: a `notify:` that no
//! handler answers (Ansible fails at run time, after the notifying task has changed the
//! host), and `--tags` that select nothing (a typo runs an empty play and reports
//! success).

use super::PlanOptions;
use crate::diagnostic::Diagnostic;
use crate::playbook::{Play, Playbook, Task};
use std::collections::BTreeSet;

/// Every task of a play (pre_tasks, its roles' tasks, tasks, post_tasks, handlers).
fn tasks_of<'a>(play: &'a Play, book: &'a Playbook) -> Vec<&'a Task> {
    let mut out: Vec<&Task> = play.pre_tasks.iter().collect();
    for r in &play.roles {
        if let Some(role) = book.roles.get(&r.name) {
            out.extend(role.tasks.iter());
            out.extend(role.handlers.iter());
        }
    }
    out.extend(play.tasks.iter());
    out.extend(play.post_tasks.iter());
    out.extend(play.handlers.iter());
    out
}

/// A `notify:` entry naming no handler of the play (by name, `role : name`, or a
/// `listen:` topic) is an error at the notifying task's line. Templated entries are
/// decided at run time and skipped.
pub(super) fn unknown_notifications(
    play: &Play,
    book: &Playbook,
    handlers: &[Task],
) -> Vec<Diagnostic> {
    let mut known: BTreeSet<String> = BTreeSet::new();
    for h in handlers {
        known.insert(h.name.clone());
        if let Some(role) = &h.role {
            known.insert(format!("{role} : {}", h.name));
        }
        // On a handler, `listen:` topics are kept with its notify list.
        known.extend(h.notify.iter().cloned());
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for t in tasks_of(play, book) {
        for n in &t.notify {
            if n.contains("{{")
                || known.contains(n)
                || !seen.insert((t.location.to_string(), n.clone()))
            {
                continue;
            }
            let names: Vec<&str> = handlers.iter().map(|h| h.name.as_str()).collect();
            out.push(
                Diagnostic::error(
                    "unknown-handler",
                    format!("task '{}' notifies '{n}', but no handler of play '{}' has that name or listens to it", t.name, play.name),
                )
                .at(Some(t.location.clone()))
                .help(if names.is_empty() {
                    "this play has no handlers: add one under `handlers:` (or in the role's handlers/main.yml)".to_string()
                } else {
                    format!("handlers of this play: {}", names.join(", "))
                }),
            );
        }
    }
    out
}

/// `--tags` naming a tag no task carries: a warning naming the tag and the tags the
/// playbook has.
pub(super) fn unmatched_tags(book: &Playbook, opts: &PlanOptions) -> Vec<Diagnostic> {
    let special = ["all", "always", "never", "tagged", "untagged"];
    let mut have: BTreeSet<&str> = BTreeSet::new();
    for play in &book.plays {
        have.extend(play.tags.iter().map(String::as_str));
        for r in &play.roles {
            have.extend(r.tags.iter().map(String::as_str));
        }
        for t in tasks_of(play, book) {
            have.extend(t.tags.iter().map(String::as_str));
        }
    }
    for role in book.roles.values() {
        for t in role.tasks.iter().chain(role.handlers.iter()) {
            have.extend(t.tags.iter().map(String::as_str));
        }
    }
    let listed: Vec<&str> = have
        .iter()
        .copied()
        .filter(|t| !special.contains(t))
        .collect();
    opts.tags
        .iter()
        .filter(|t| !special.contains(&t.as_str()) && !have.contains(t.as_str()))
        .map(|t| {
            Diagnostic::warning(
                "unmatched-tag",
                format!(
                    "--tags {t} matches no task in {}",
                    crate::inventory::display_path(&book.path)
                ),
            )
            .help(if listed.is_empty() {
                "the playbook has no tags".to_string()
            } else {
                format!("its tags: {}", listed.join(", "))
            })
        })
        .collect()
}
