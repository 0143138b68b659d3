//! Root and the programs a lab runs: what is missing is installed with apt-get
//! (non-interactive, with a message), or refused naming the command to run.

use super::error::LabError;
use super::exec;
use std::path::Path;
use std::time::Duration;

/// Program -> Debian package, for every program `lab up` runs.
pub const NEEDED: &[(&str, &str)] = &[
    ("debootstrap", "debootstrap"),
    ("systemd-nspawn", "systemd-container"),
    ("ssh-keygen", "openssh-client"),
    ("ip", "iproute2"),
    ("setsid", "util-linux"),
    ("sysctl", "procps"),
];

/// Refuses unless the effective user is root.
pub fn need_root(what: &str) -> Result<(), LabError> {
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } == 0 {
        Ok(())
    } else {
        Err(LabError::NotRoot(what.to_string()))
    }
}

/// True when `program` is found in PATH.
pub fn have(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).any(|d| is_executable(&d.join(program)))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Installs the packages of the `needed` programs that are missing (apt-get, no
/// prompts), or refuses naming the command a person would run.
pub fn ensure(needed: &[(&str, &str)]) -> Result<(), LabError> {
    let mut missing: Vec<(&str, &str)> = needed.iter().copied().filter(|(p, _)| !have(p)).collect();
    if !Path::new("/usr/share/keyrings/debian-archive-keyring.gpg").exists()
        && needed.iter().any(|(p, _)| *p == "debootstrap")
    {
        missing.push(("debian-archive-keyring.gpg", "debian-archive-keyring"));
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
    packages.sort();
    packages.dedup();
    let install = format!(
        "apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    );
    if !have("apt-get") {
        let (tool, package) = missing[0];
        return Err(LabError::MissingTool {
            tool: tool.into(),
            package: package.into(),
            install,
        });
    }
    eprintln!(
        "lab: installing {} (missing: {}) with apt-get",
        packages.join(" "),
        missing
            .iter()
            .map(|(t, _)| *t)
            .collect::<Vec<_>>()
            .join(", ")
    );
    exec::run_ok("apt-get", &["update", "-q"], Duration::from_secs(300))?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(packages.iter().copied());
    exec::run_ok("apt-get", &args, Duration::from_secs(600))?;
    if let Some((tool, package)) = missing.iter().find(|(t, _)| !t.contains('.') && !have(t)) {
        return Err(LabError::MissingTool {
            tool: (*tool).into(),
            package: (*package).into(),
            install,
        });
    }
    Ok(())
}
