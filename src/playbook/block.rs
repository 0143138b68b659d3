//! `block` / `rescue` / `always`, flattened: each task of a block keeps its place
//! (`Task::blocks`, outermost first) and inherits the block's `when`, `tags`, `vars`
//! and `become`. The runner decides, per host, what a failure inside a block means
//! (run the rescue, then always; or always, then fail).

use super::nodes::{bool_of, check_expression, loc, string_of, strings_of, vars_of};
use super::task::parse_tasks;
use super::{BlockPos, PlaybookError, Section, Task};
use crate::yaml::Node;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// Keys a block may have.
const BLOCK_KEYS: [&str; 10] = [
    "name",
    "block",
    "rescue",
    "always",
    "when",
    "tags",
    "become",
    "become_user",
    "become_method",
    "vars",
];

/// Block ids are unique in a process, so blocks from different files never collide.
static NEXT_BLOCK: AtomicU32 = AtomicU32::new(1);

/// Parses a `block:` item into its tasks, in order: block, rescue, always.
pub(super) fn parse_block(
    file: &str,
    item: &Node,
    base: &Path,
    role: Option<&str>,
) -> Result<Vec<Task>, PlaybookError> {
    let mut when = Vec::new();
    let mut tags = Vec::new();
    let mut vars = std::collections::BTreeMap::new();
    let mut become_ = None;
    let mut become_as = super::BecomeAs::default();
    let (mut body, mut rescue, mut always) = (None, None, None);
    for (k, v) in item.as_map().unwrap_or(&[]) {
        match k.key_string().as_str() {
            "name" => {
                string_of(file, "name", v)?;
            }
            "block" => body = Some(v),
            "rescue" => rescue = Some(v),
            "always" => always = Some(v),
            "when" => {
                for w in strings_of(file, "when", v)? {
                    check_expression(file, v, &w)?;
                    when.push(w);
                }
            }
            "tags" => tags = strings_of(file, "tags", v)?,
            "vars" => vars = vars_of(file, v)?,
            "become" => become_ = Some(bool_of(file, "become", v)?),
            k @ ("become_user" | "become_method") => {
                become_as.read(file, k, v)?;
            }
            other => {
                return Err(PlaybookError::new(
                    loc(file, k),
                    format!("'{other}' is not supported on a block"),
                    format!("a block takes: {}", BLOCK_KEYS.join(", ")),
                ))
            }
        }
    }
    let id = NEXT_BLOCK.fetch_add(1, Ordering::Relaxed);
    let pos = |section| BlockPos {
        id,
        section,
        has_rescue: rescue.is_some(),
        has_always: always.is_some(),
    };
    let mut out = Vec::new();
    for (section, node) in [
        (Section::Block, body),
        (Section::Rescue, rescue),
        (Section::Always, always),
    ] {
        let Some(node) = node else { continue };
        for mut t in parse_tasks(file, node, base, role)? {
            let mut w = when.clone();
            w.append(&mut t.when);
            t.when = w;
            for tag in &tags {
                if !t.tags.contains(tag) {
                    t.tags.push(tag.clone());
                }
            }
            for (k, v) in &vars {
                t.vars.entry(k.clone()).or_insert_with(|| v.clone());
            }
            t.become_ = t.become_.or(become_);
            t.become_as = t.become_as.or(&become_as);
            t.blocks.insert(0, pos(section));
            out.push(t);
        }
    }
    if out.iter().all(|t| {
        t.blocks
            .first()
            .is_some_and(|b| b.section != Section::Block)
    }) {
        return Err(PlaybookError::new(
            loc(file, item),
            "a block needs at least one task under block:",
            "write block: [- name: ...]",
        ));
    }
    Ok(out)
}
