//! `kubeforge lab ...`: hands each subcommand to the lab module and prints its result
//! (progress on stderr; `up` prints the inventory directory alone on stdout).

use super::{exit, OpError};
use crate::cli::LabCmd;
use crate::lab::{self, UpOptions};
use std::time::Duration;

/// Runs one `lab` subcommand; the exit code.
pub fn run(cmd: LabCmd) -> Result<u8, OpError> {
    match cmd {
        LabCmd::Up(a) => {
            let r = lab::up(&UpOptions {
                name: a.name,
                hosts: a.hosts,
                layout: a.layout,
                dir: a.dir,
                nat: a.nat,
                files_repo: a.files_repo,
                bind_containerd: a.bind_containerd,
                boot_timeout: Duration::from_secs(a.boot_timeout),
            })?;
            for n in &r.notes {
                eprintln!("lab: {n}");
            }
            let nothing = r.booted.is_empty() && r.written.is_empty();
            eprintln!(
                "lab up: {} host(s) running, {} booted now, {} already running{}, in {:.1} s",
                r.booted.len() + r.running.len(),
                r.booted.len(),
                r.running.len(),
                if nothing { " (nothing to do)" } else { "" },
                r.took.as_secs_f64()
            );
            println!("{}", r.inventory.display());
            Ok(exit::OK)
        }
        LabCmd::Status { name } => {
            let labs = lab::status(name.as_deref())?;
            if labs.is_empty() {
                eprintln!("no labs");
            }
            for l in labs {
                println!(
                    "lab {} ({}, layout {}{}{}) in {}",
                    l.name,
                    l.net4,
                    l.layout.name(),
                    if l.nat { ", nat" } else { "" },
                    l.files.map(|u| format!(", files {u}")).unwrap_or_default(),
                    l.dir.display()
                );
                println!(
                    "  {:<16} {:<8} {:<8} {:<14} IPV6",
                    "NAME", "STATE", "PID", "IPV4"
                );
                for h in l.hosts {
                    let (state, pid) = match h.pid {
                        Some(p) => ("running", p.to_string()),
                        None => ("stopped", "-".to_string()),
                    };
                    println!(
                        "  {:<16} {state:<8} {pid:<8} {:<14} {}",
                        h.name, h.ip4, h.ip6
                    );
                }
            }
            Ok(exit::OK)
        }
        LabCmd::Ssh {
            name,
            timeout,
            host,
            command,
        } => Ok(lab::ssh_run(
            &name,
            &host,
            &command,
            Duration::from_secs(timeout),
        )?),
        LabCmd::Stop(a) => {
            if lab::stop(&a.name, &a.host)? {
                eprintln!("lab {}: {} stopped", a.name, a.host);
            } else {
                eprintln!("lab {}: {} was not running", a.name, a.host);
            }
            Ok(exit::OK)
        }
        LabCmd::Start(a) => {
            match lab::start(&a.name, &a.host, Duration::from_secs(90))? {
                Some(d) => eprintln!(
                    "lab {}: {} up, ssh after {:.1} s",
                    a.name,
                    a.host,
                    d.as_secs_f64()
                ),
                None => eprintln!("lab {}: {} already running", a.name, a.host),
            }
            Ok(exit::OK)
        }
        LabCmd::Wipe(a) => {
            lab::wipe(&a.name, &a.host)?;
            eprintln!(
                "lab {}: {} wiped (new host key; `kubeforge lab start --name {} {}` boots it clean)",
                a.name, a.host, a.name, a.host
            );
            Ok(exit::OK)
        }
        LabCmd::Down { name } => {
            let r = lab::down(&name)?;
            for (h, killed) in &r.stopped {
                eprintln!(
                    "lab: {h} stopped{}",
                    if *killed { " (SIGKILL after 10 s)" } else { "" }
                );
            }
            for x in &r.removed {
                eprintln!("lab: removed {x}");
            }
            if r.left.is_empty() {
                eprintln!(
                    "lab down {name}: done in {:.1} s (rootfs cache kept)",
                    r.took.as_secs_f64()
                );
                Ok(exit::OK)
            } else {
                for x in &r.left {
                    eprintln!("lab: could not remove {x}");
                }
                eprintln!("lab down {name}: incomplete; the record is kept, run it again");
                Ok(exit::FAILED)
            }
        }
    }
}
