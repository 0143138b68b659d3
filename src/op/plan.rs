//! `kubeforge plan`: which tasks run on which host, checked before any SSH (placement,
//! tags, --limit). Takes no lock and writes nothing.

use super::playbook::RunPlaybook;
use super::session::prepare;
use super::{exit, OpError};
use crate::cli::{CheckFormat, PlanArgs};

/// `kubeforge plan`.
pub fn run(a: &PlanArgs) -> Result<u8, OpError> {
    let op = RunPlaybook::for_playbook(&a.playbook);
    let p = prepare(&op, &a.inv, &a.playbook, &a.select, true)?;
    match a.format {
        CheckFormat::Text => print!("{}", crate::plan::plan_text(&p.cluster, &p.plan)),
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&crate::plan::plan_json(&p.cluster, &p.plan))
                .unwrap_or_default()
        ),
    }
    Ok(exit::OK)
}
