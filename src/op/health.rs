//! `kubeforge health`: each host's checks by its roles (playbooks/health.yml, or the
//! copy built into the binary), shown as a table host x check. Writes no record.

use super::playbook::RunPlaybook;
use super::session::{code_of, execute, prepare, RunSettings};
use super::{exit, OpError};
use crate::cli::HealthArgs;
use std::path::PathBuf;

/// The health playbook: the file in playbooks/ when present, else the copy built in.
fn health_playbook() -> Result<(PathBuf, Option<tempfile::TempDir>), OpError> {
    let local = PathBuf::from("playbooks/health.yml");
    if local.is_file() {
        return Ok((local, None));
    }
    let dir = tempfile::tempdir().map_err(|source| OpError::Io {
        what: "cannot create a temp dir".into(),
        source,
    })?;
    let path = dir.path().join("health.yml");
    std::fs::write(&path, include_str!("../../playbooks/health.yml")).map_err(|source| {
        OpError::Io {
            what: format!("cannot write {}", path.display()),
            source,
        }
    })?;
    Ok((path, Some(dir)))
}

/// `kubeforge health`.
pub fn run(a: &HealthArgs) -> Result<u8, OpError> {
    let (path, _keep) = health_playbook()?;
    let op = RunPlaybook::for_playbook(&path);
    let prepared = prepare(&op, &a.inv, &path, &a.select, false)?;
    let ran = execute(
        &op,
        prepared,
        &RunSettings {
            check: false,
            diff: false,
            forks: None,
            timeout: 120,
            outputs: &a.output,
            ssh: &a.ssh,
            playbook: &path,
            collect: true,
            verbose: false,
        },
    )?;
    let table = crate::report::health::table(&ran.events);
    if !a.output.iter().any(|o| o == "json") {
        print!("{}", crate::report::health::render(&table));
    }
    let code = code_of(&ran);
    let failed = table.iter().any(|r| r.status == "fail");
    Ok(if code == exit::OK && failed {
        exit::FAILED
    } else {
        code
    })
}
