//! `kubeforge reset --yes`: reset.yml on the inventory's hosts; the hosts it completed
//! on leave the record. Without `--yes` it refuses (kubeforge never asks).

use super::playbook::RunPlaybook;
use super::session::{code_of, execute, prepare, RunSettings};
use super::{exit, OpError};
use crate::cli::ResetArgs;

/// `kubeforge reset`.
pub fn run(a: &ResetArgs) -> Result<u8, OpError> {
    if !a.yes {
        use std::io::IsTerminal;
        if std::io::stdin().is_terminal() {
            eprintln!(
                "kubeforge reset removes Kubernetes, etcd (with its data) and the container runtime from every host of {}.",
                a.inv.shown()
            );
        }
        return Err(OpError::Refused {
            diagnostics: Vec::new(),
            summary: "refusing to reset without --yes (kubeforge never asks; say --yes to proceed)"
                .into(),
            exit: exit::INVALID,
        });
    }
    let op = RunPlaybook::for_playbook(std::path::Path::new("reset.yml"));
    let prepared = prepare(&op, &a.inv, &a.playbook, &a.select, a.check)?;
    let ran = execute(
        &op,
        prepared,
        &RunSettings {
            check: a.check,
            diff: false,
            forks: None,
            timeout: 600,
            outputs: &a.output,
            ssh: &a.ssh,
            playbook: &a.playbook,
            collect: false,
            verbose: false,
        },
    )?;
    Ok(code_of(&ran))
}
