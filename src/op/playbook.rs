//! `kubeforge run PLAYBOOK`: any playbook. Its record policy follows what the playbook
//! is: reset.yml removes its hosts from the record, health.yml writes nothing, anything
//! else (cluster.yml, the operator's own) records the hosts it completed on.

use super::session::{code_of, execute, prepare, RunSettings};
use super::{OpError, Operation};
use crate::cli::RunArgs;
use crate::state::RecordPolicy;
use std::path::Path;

/// Running a playbook.
pub struct RunPlaybook {
    policy: RecordPolicy,
    name: &'static str,
}

impl RunPlaybook {
    /// The operation for this playbook file.
    pub fn for_playbook(path: &Path) -> RunPlaybook {
        match path.file_stem().and_then(|s| s.to_str()) {
            Some("reset") => RunPlaybook {
                policy: RecordPolicy::Remove,
                name: "reset",
            },
            Some("health") => RunPlaybook {
                policy: RecordPolicy::Nothing,
                name: "health",
            },
            Some("cluster") => RunPlaybook {
                policy: RecordPolicy::Upsert,
                name: "install",
            },
            _ => RunPlaybook {
                policy: RecordPolicy::Upsert,
                name: "run",
            },
        }
    }
}

impl Operation for RunPlaybook {
    fn name(&self) -> &'static str {
        self.name
    }
    fn record_policy(&self) -> RecordPolicy {
        self.policy
    }
}

/// `kubeforge run`.
pub fn run(a: &RunArgs) -> Result<u8, OpError> {
    let op = RunPlaybook::for_playbook(&a.playbook);
    let prepared = prepare(&op, &a.inv, &a.playbook, &a.select, a.check)?;
    let ran = execute(
        &op,
        prepared,
        &RunSettings {
            check: a.check,
            diff: a.diff,
            forks: a.forks,
            timeout: a.timeout,
            outputs: &a.output,
            ssh: &a.ssh,
            playbook: &a.playbook,
            collect: false,
            verbose: a.verbose,
        },
    )?;
    Ok(code_of(&ran))
}
