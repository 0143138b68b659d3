//! What a failure inside `block:` means for a host, as in Ansible: the block's other
//! tasks are skipped, its `rescue:` runs (a rescue that completes makes the host carry
//! on), its `always:` runs in every case; a failure no block handles fails the host. The
//! state lives in the host's runtime, so it holds across segments and barriers.

use super::HostRt;
use crate::playbook::{BlockPos, Section, Task};

/// A failure being handled by a block on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct Failing {
    /// The block handling it.
    pub block: u32,
    /// The block's rescue may still run (it has one, and no rescue task failed).
    pub can_rescue: bool,
    /// The rescue has started.
    pub rescuing: bool,
    /// Blocks outside `block`, outermost first (where the failure goes if unhandled).
    pub outer: Vec<BlockPos>,
    /// The host's failure, if nothing rescues it.
    pub message: String,
}

/// What to do with the next task.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Run it.
    Run,
    /// Skip it silently (the rest of a failed block, or a rescue not needed).
    Skip,
    /// The failure left its block unrescued: the host fails with this message.
    Fail(String),
}

/// Records a failed task: returns false when a block takes it over (the host goes on
/// with the block's rescue/always), true when the host must fail now.
pub fn failed(rt: &mut HostRt, task: &Task, message: &str) -> bool {
    handle(rt, &task.blocks, message)
}

fn handle(rt: &mut HostRt, blocks: &[BlockPos], message: &str) -> bool {
    for (i, pos) in blocks.iter().enumerate().rev() {
        let catch = match pos.section {
            Section::Block => pos.has_rescue || pos.has_always,
            Section::Rescue => pos.has_always,
            Section::Always => false,
        };
        if catch {
            rt.failing = Some(Failing {
                block: pos.id,
                can_rescue: pos.section == Section::Block && pos.has_rescue,
                rescuing: false,
                outer: blocks[..i].to_vec(),
                message: message.to_string(),
            });
            return false;
        }
    }
    rt.failing = None;
    true
}

/// Decides the next task for a host that may be handling a failure.
pub fn gate(rt: &mut HostRt, task: &Task) -> Gate {
    loop {
        let Some(f) = rt.failing.clone() else {
            // A rescue runs only for a failure of its block.
            if task.blocks.iter().any(|b| b.section == Section::Rescue) {
                return Gate::Skip;
            }
            return Gate::Run;
        };
        match task
            .blocks
            .iter()
            .find(|b| b.id == f.block)
            .map(|b| b.section)
        {
            Some(Section::Block) => return Gate::Skip,
            Some(Section::Rescue) => {
                if f.can_rescue {
                    if let Some(cur) = rt.failing.as_mut() {
                        cur.rescuing = true;
                    }
                    return Gate::Run;
                }
                return Gate::Skip;
            }
            Some(Section::Always) => return Gate::Run,
            None => {
                // Left the block: rescued, or the failure moves outward.
                if let Some(g) = leave(rt, &f) {
                    return g;
                }
            }
        }
    }
}

/// The failure's block is over (end of play or a task outside it). Returns a gate to
/// stop with, or None to look again with the new state.
fn leave(rt: &mut HostRt, f: &Failing) -> Option<Gate> {
    if f.rescuing {
        rt.rescued += 1;
        rt.failing = None;
        return Some(Gate::Run);
    }
    if handle(rt, &f.outer, &f.message) {
        return Some(Gate::Fail(f.message.clone()));
    }
    None
}

/// At the end of a play: a failure still pending either was rescued or fails the host.
pub fn settle(rt: &mut HostRt) -> Option<String> {
    while let Some(f) = rt.failing.clone() {
        if f.rescuing {
            rt.rescued += 1;
            rt.failing = None;
            return None;
        }
        if handle(rt, &f.outer, &f.message) {
            return Some(f.message);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Location;

    fn task(blocks: &[(u32, Section, bool, bool)]) -> Task {
        let mut t = Task::new(
            "t",
            "debug",
            serde_json::json!({}),
            Location::new("x", 1),
            None,
        );
        t.blocks = blocks
            .iter()
            .map(|(id, section, r, a)| BlockPos {
                id: *id,
                section: *section,
                has_rescue: *r,
                has_always: *a,
            })
            .collect();
        t
    }

    #[test]
    fn rescue_then_always_then_carry_on() {
        let mut rt = HostRt::default();
        let b = task(&[(1, Section::Block, true, true)]);
        let r = task(&[(1, Section::Rescue, true, true)]);
        let a = task(&[(1, Section::Always, true, true)]);
        let after = task(&[]);
        assert!(!failed(&mut rt, &b, "boom"));
        assert_eq!(gate(&mut rt, &b), Gate::Skip);
        assert_eq!(gate(&mut rt, &r), Gate::Run);
        assert_eq!(gate(&mut rt, &a), Gate::Run);
        assert_eq!(gate(&mut rt, &after), Gate::Run);
        assert_eq!(rt.failing, None);
        assert_eq!(rt.rescued, 1);
        // Without a failure the rescue is skipped, block and always run.
        let mut ok = HostRt::default();
        assert_eq!(gate(&mut ok, &b), Gate::Run);
        assert_eq!(gate(&mut ok, &r), Gate::Skip);
        assert_eq!(gate(&mut ok, &a), Gate::Run);
    }

    #[test]
    fn always_without_rescue_runs_then_fails() {
        let mut rt = HostRt::default();
        let b = task(&[(1, Section::Block, false, true)]);
        let a = task(&[(1, Section::Always, false, true)]);
        assert!(!failed(&mut rt, &b, "boom"));
        assert_eq!(gate(&mut rt, &a), Gate::Run);
        assert_eq!(gate(&mut rt, &task(&[])), Gate::Fail("boom".into()));
    }

    #[test]
    fn a_failing_rescue_skips_the_rest_of_it_and_fails_after_always() {
        let mut rt = HostRt::default();
        let b = task(&[(1, Section::Block, true, true)]);
        let r = task(&[(1, Section::Rescue, true, true)]);
        assert!(!failed(&mut rt, &b, "first"));
        assert_eq!(gate(&mut rt, &r), Gate::Run);
        assert!(!failed(&mut rt, &r, "rescue broke"));
        assert_eq!(gate(&mut rt, &r), Gate::Skip);
        assert_eq!(settle(&mut rt), Some("rescue broke".into()));
    }

    #[test]
    fn an_inner_failure_without_handling_goes_to_the_outer_rescue() {
        let mut rt = HostRt::default();
        let inner = task(&[
            (1, Section::Block, true, false),
            (2, Section::Block, false, true),
        ]);
        let inner_always = task(&[
            (1, Section::Block, true, false),
            (2, Section::Always, false, true),
        ]);
        let outer_rescue = task(&[(1, Section::Rescue, true, false)]);
        assert!(!failed(&mut rt, &inner, "deep"));
        assert_eq!(gate(&mut rt, &inner_always), Gate::Run);
        assert_eq!(gate(&mut rt, &outer_rescue), Gate::Run);
        assert_eq!(settle(&mut rt), None);
        // No block at all: the host fails at once.
        assert!(failed(&mut rt, &task(&[]), "plain"));
    }
}
