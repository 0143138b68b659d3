//! The command line: flags and subcommands (clap). Parsing only: `main` hands each
//! subcommand to one operation in `op`. Also the source of completions and the man page.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// kubeforge's command line.
#[derive(Parser)]
#[command(
    name = "kubeforge",
    version,
    long_version = long_version(),
    about = "Kubernetes clusters over SSH from Kubespray-compatible inventories"
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Inspect and validate an inventory (nothing is contacted).
    #[command(subcommand)]
    Inventory(InventoryCmd),
    /// Offline installs: every artifact URL and checksum the cluster needs.
    #[command(subcommand)]
    Offline(OfflineCmd),
    /// Run a playbook on the inventory's hosts.
    Run(Box<RunArgs>),
    /// Check each host's health by its roles; a table host x check.
    Health(Box<HealthArgs>),
    /// Remove what cluster.yml installed (playbooks/reset.yml); needs --yes.
    Reset(Box<ResetArgs>),
    /// Write the admin kubeconfig with an API address this machine reaches.
    Kubeconfig(Box<KubeconfigArgs>),
    /// Show which tasks run on which host, in order, checked before any SSH.
    Plan(Box<PlanArgs>),
    /// Add the hosts named by --limit to the running cluster (playbooks/scale.yml).
    Scale(Box<ScaleArgs>),
    /// Remove nodes from the cluster, alive or dead (playbooks/remove-node.yml); needs --yes.
    RemoveNode(Box<RemoveNodeArgs>),
    /// Move the cluster to the versions the inventory names (playbooks/upgrade.yml).
    Upgrade(Box<UpgradeArgs>),
    /// etcd snapshots: backup, restore.
    #[command(subcommand)]
    Etcd(EtcdCmd),
    /// Bring etcd back: rebuild broken members, or restore a snapshot when quorum is lost.
    Recover(Box<RecoverArgs>),
    /// Throwaway Debian hosts on this machine (systemd-nspawn) with an inventory for them.
    #[command(subcommand)]
    Lab(LabCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (kubeforge.1 and one per subcommand), or kubeforge.1 to stdout.
    Man {
        /// Directory for the pages; stdout (kubeforge.1 only) when absent.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// `kubeforge kubeconfig`.
#[derive(Args)]
pub struct KubeconfigArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Output file (mode 0600); stdout when absent.
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kubeforge plan`.
#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// The playbook (e.g. playbooks/cluster.yml).
    pub playbook: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
}

/// `kubeforge offline ...`.
#[derive(Subcommand)]
pub enum OfflineCmd {
    /// List every file (URL and sha256) and container image the cluster's hosts need, for
    /// a files repository and a registry mirror.
    List {
        /// The inventory.
        #[command(flatten)]
        inv: InventoryArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        /// Images only (text: one upstream reference per line, Kubespray's images.list).
        #[arg(long, conflicts_with = "files_only")]
        images_only: bool,
        /// Files only (text: one upstream URL per line, Kubespray's files.list).
        #[arg(long)]
        files_only: bool,
    },
}

/// `kubeforge health`.
#[derive(Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Events: `json` (stdout), `json=FILE`, or a JUnit report `junit=FILE`; repeat for several.
    #[arg(long)]
    pub output: Vec<String>,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kubeforge reset`.
#[derive(Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Proceed (required: kubeforge never asks).
    #[arg(long)]
    pub yes: bool,
    /// The reset playbook.
    #[arg(long, default_value = "playbooks/reset.yml")]
    pub playbook: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Change nothing; report what would be removed.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Events: `json` (stdout), `json=FILE`, or a JUnit report `junit=FILE`; repeat for several.
    #[arg(long)]
    pub output: Vec<String>,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kubeforge run`.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// The playbook (e.g. playbooks/cluster.yml).
    pub playbook: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Change nothing; report what would change.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Show unified diffs of file contents (secret-looking values masked).
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// Hosts worked on at once (default: all).
    #[arg(short = 'f', long)]
    pub forks: Option<usize>,
    /// Seconds a remote command may run unless its task sets `timeout`.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Events: `json` (stdout; human output goes to stderr), `json=FILE`, or a JUnit
    /// report `junit=FILE`; repeat for several.
    #[arg(long)]
    pub output: Vec<String>,
    /// On a terminal, print every step's result (`ok` and `skipped` too) above the
    /// progress line; without a terminal every result is printed anyway.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// How to reach hosts.
#[derive(Args, Clone, Default)]
pub struct SshArgs {
    /// Private key for every host without ansible_ssh_private_key_file.
    #[arg(long)]
    pub private_key: Option<PathBuf>,
    /// known_hosts file (default ~/.ssh/known_hosts).
    #[arg(long)]
    pub known_hosts: Option<PathBuf>,
    /// Record the keys of hosts not yet in known_hosts (a changed key is always refused).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Seconds to wait for an SSH connection (default: the ssh config's ConnectTimeout,
    /// else 10).
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<u64>,
    /// SSH handshakes in flight at once; other hosts wait, and the connect timeout does
    /// not count their wait (default: kubeforge_max_handshakes, else 64).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_handshakes: Option<u32>,
}

/// Which hosts and tasks.
#[derive(Args, Clone, Default)]
pub struct SelectArgs {
    /// Only these hosts (a pattern: group, host, a:b, a:&b, a:!b).
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// Only tasks with these tags (comma-separated).
    #[arg(short = 't', long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Skip tasks with these tags (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub skip_tags: Vec<String>,
}

/// The inventory and extra variables.
#[derive(Args, Clone)]
pub struct InventoryArgs {
    /// Inventory source: a file, a directory (every file in it, as Ansible reads it) or
    /// an executable inventory script; repeat -i to merge several in order.
    #[arg(short = 'i', long = "inventory", required = true)]
    pub inventory: Vec<PathBuf>,
    /// Extra variables: key=value, @file.yml, or a JSON/YAML mapping (highest precedence).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// File holding the Ansible Vault password (an executable prints it) for `!vault`
    /// values and encrypted files.
    #[arg(long, env = "ANSIBLE_VAULT_PASSWORD_FILE", value_name = "FILE")]
    pub vault_password_file: Option<PathBuf>,
}

impl InventoryArgs {
    /// The `-i` sources for messages, comma-separated.
    pub fn shown(&self) -> String {
        self.inventory
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `kubeforge inventory ...`.
#[derive(Subcommand)]
pub enum InventoryCmd {
    /// Write an inventory directory (hosts.yaml, group_vars) from machine addresses.
    Init(Box<InitArgs>),
    /// Report every error and warning; exit 1 when there are errors.
    Check {
        /// The inventory.
        #[command(flatten)]
        inv: InventoryArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Hosts with roles, components, addresses and every resolved variable.
    Show {
        /// The inventory.
        #[command(flatten)]
        inv: InventoryArgs,
        /// Only this host (and its variables, in table format).
        #[arg(long)]
        host: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ShowFormat::Table)]
        format: ShowFormat,
        /// Print secret-looking values (tokens, keys, passwords) instead of masking them.
        #[arg(long)]
        show_secrets: bool,
        /// Also list Ansible's magic variables among each host's variables
        /// (inventory_hostname, inventory_dir, inventory_file, group_names).
        #[arg(long)]
        magic: bool,
    },
}

/// Output of check-like commands.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

/// Output of `inventory show`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// A table.
    Table,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// `kubeforge scale`.
#[derive(Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// `--limit` names the new hosts (required); `--tags`/`--skip-tags` as for run.
    #[command(flatten)]
    pub select: SelectArgs,
    /// The scale playbook.
    #[arg(long, default_value = "playbooks/scale.yml")]
    pub playbook: PathBuf,
    /// Go on when existing hosts do not answer (reported; they are not touched).
    #[arg(long)]
    pub skip_unreachable: bool,
    /// Change nothing; report what would change.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Hosts worked on at once (default: all).
    #[arg(short = 'f', long)]
    pub forks: Option<usize>,
    /// Seconds a remote command may run unless its task sets `timeout`.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// Events: `json` (stdout), `json=FILE`, or a JUnit report `junit=FILE`; repeat for several.
    #[arg(long)]
    pub output: Vec<String>,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kubeforge remove-node`.
#[derive(Args)]
pub struct RemoveNodeArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// The nodes to remove (inventory hostnames; a host already deleted from the
    /// inventory is accepted when the last-applied record knows it).
    #[arg(required = true)]
    pub nodes: Vec<String>,
    /// Proceed (required: kubeforge never asks).
    #[arg(long)]
    pub yes: bool,
    /// The nodes are dead: nothing is run on them (found unreachable nodes are treated so).
    #[arg(long)]
    pub dead: bool,
    /// Go on when a drain fails (Kubespray's allow_ungraceful_removal).
    #[arg(long)]
    pub ungraceful: bool,
    /// Proceed even when the remaining etcd members would be an even number or too few
    /// to keep quorum if another fails.
    #[arg(long)]
    pub force: bool,
    /// Do not reset the removed nodes (leave their files; Kubespray's reset_nodes=false).
    #[arg(long)]
    pub no_reset: bool,
    /// The remove-node playbook.
    #[arg(long, default_value = "playbooks/remove-node.yml")]
    pub playbook: PathBuf,
    /// Seconds a remote command may run unless its task sets `timeout`.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// Events: `json` (stdout), `json=FILE`, or a JUnit report `junit=FILE`; repeat for several.
    #[arg(long)]
    pub output: Vec<String>,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kubeforge upgrade`.
#[derive(Args)]
pub struct UpgradeArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// `--limit` leaves hosts out (an unreachable host must be left out); tags as for run.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Workers per batch: a number, a percentage, or a list such as `1,20%` (default 20%).
    #[arg(long)]
    pub serial: Option<String>,
    /// Seconds to wait between nodes (kubeforge never pauses for a person).
    #[arg(long)]
    pub pause_between: Option<u64>,
    /// The upgrade playbook.
    #[arg(long, default_value = "playbooks/upgrade.yml")]
    pub playbook: PathBuf,
    /// Change nothing; report what would change.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Hosts worked on at once (default: all).
    #[arg(short = 'f', long)]
    pub forks: Option<usize>,
    /// Seconds a remote command may run unless its task sets `timeout`.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
    /// Events: `json` (stdout), `json=FILE`, or a JUnit report `junit=FILE`; repeat for several.
    #[arg(long)]
    pub output: Vec<String>,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kubeforge etcd ...`.
#[derive(Subcommand)]
pub enum EtcdCmd {
    /// A verified snapshot from a healthy member, copied here with its sha256.
    Backup(Box<EtcdBackupArgs>),
    /// Replace etcd's data with a snapshot (one member, then the others re-added); needs --yes.
    Restore(Box<EtcdRestoreArgs>),
}

/// `kubeforge etcd backup`.
#[derive(Args)]
pub struct EtcdBackupArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// Directory for the snapshot (default: .kubeforge/backups beside the inventory).
    #[arg(short = 'o', long)]
    pub dir: Option<PathBuf>,
    /// Keep only the newest N snapshots of this cluster in that directory.
    #[arg(long)]
    pub keep: Option<usize>,
    /// The backup playbook.
    #[arg(long, default_value = "playbooks/etcd-backup.yml")]
    pub playbook: PathBuf,
    /// Events: `json` (stdout), `json=FILE`, or a JUnit report `junit=FILE`; repeat for several.
    #[arg(long)]
    pub output: Vec<String>,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kubeforge etcd restore`.
#[derive(Args)]
pub struct EtcdRestoreArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// The snapshot (checked against FILE.sha256 when present).
    #[arg(long)]
    pub snapshot: PathBuf,
    /// Proceed (required: kubeforge never asks).
    #[arg(long)]
    pub yes: bool,
    /// The restore playbook.
    #[arg(long, default_value = "playbooks/etcd-restore.yml")]
    pub playbook: PathBuf,
    /// Events: `json` (stdout), `json=FILE`, or a JUnit report `junit=FILE`; repeat for several.
    #[arg(long)]
    pub output: Vec<String>,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kubeforge recover`.
#[derive(Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub inv: InventoryArgs,
    /// A snapshot to restore when quorum is lost.
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Proceed (required: kubeforge never asks).
    #[arg(long)]
    pub yes: bool,
    /// The restore playbook (used for both cases).
    #[arg(long, default_value = "playbooks/etcd-restore.yml")]
    pub playbook: PathBuf,
    /// Events: `json` (stdout), `json=FILE`, or a JUnit report `junit=FILE`; repeat for several.
    #[arg(long)]
    pub output: Vec<String>,
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// `kubeforge inventory init`.
#[derive(Args)]
#[command(
    after_help = "Addresses: 10.0.0.11, a range 10.0.0.10-10.0.0.19 (or 10.0.0.10-19), or IPV4+IPV6 \
for a dual-stack host (with --ipv6); repeat the flag, list several after it, or separate them with commas. \
Hosts are named node1, node2, ... (control planes, workers, then etcd hosts)."
)]
pub struct InitArgs {
    /// The inventory directory to write (created; it must be empty unless --force).
    pub dir: PathBuf,
    /// Control-plane addresses (at least one).
    #[arg(long = "control-plane", required = true, num_args = 1.., value_delimiter = ',', value_name = "ADDR")]
    pub control_plane: Vec<String>,
    /// Worker addresses (a control plane's address here makes it a worker too).
    #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "ADDR")]
    pub worker: Vec<String>,
    /// Separate etcd hosts (an odd count); without them etcd runs on the control planes.
    #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "ADDR")]
    pub etcd: Vec<String>,
    /// separate (etcd hosts apart) or stacked (etcd on the control planes); default: separate with --etcd, else stacked.
    #[arg(long, value_enum)]
    pub layout: Option<InitLayout>,
    /// SSH login for every host (ansible_user).
    #[arg(long, default_value = "root")]
    pub user: String,
    /// SSH private key for every host (ansible_ssh_private_key_file; written as an absolute path).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// IPv6: IPv6 addresses alone give an IPv6-only cluster, IPV4+IPV6 pairs a dual-stack one.
    #[arg(long)]
    pub ipv6: bool,
    /// Write into a non-empty DIR: init's files are replaced, other files are kept.
    #[arg(long)]
    pub force: bool,
}

/// Where etcd runs, for `inventory init`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InitLayout {
    /// etcd on hosts of its own (--etcd).
    Separate,
    /// etcd on the control planes.
    Stacked,
}

/// `kubeforge --version`: its version and the version of everything it installs when the
/// inventory sets none (the artifact table, and Cilium from the network plugin role).
pub fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let mut rows: Vec<(String, String, String)> = crate::artifacts::all()
            .iter()
            .map(|a| {
                (
                    a.name.clone(),
                    a.default_version.clone(),
                    a.version_var.clone(),
                )
            })
            .collect();
        if let Some(v) = cilium_version() {
            rows.push(("cilium".into(), v, "cilium_version".into()));
        }
        let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let v = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        let mut s = format!(
            "{}\n\nDefault versions (set the variable in the inventory to change one):\n",
            env!("CARGO_PKG_VERSION")
        );
        for (name, version, var) in rows {
            s.push_str(&format!("  {name:<w$}  {version:<v$}  {var}\n"));
        }
        s
    })
}

/// Cilium's default version, from the built-in defaults role (the image table reads it too).
fn cilium_version() -> Option<String> {
    let text = include_str!("../roles/kubeforge_defaults/defaults/main.yml");
    let map: std::collections::BTreeMap<String, serde_json::Value> =
        serde_saphyr::from_str(text).ok()?;
    map.get("cilium_version")?.as_str().map(str::to_string)
}

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> u8 {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "kubeforge", &mut std::io::stdout());
    0
}

/// Writes the man pages into `dir`, or kubeforge.1 to stdout.
pub fn man(dir: Option<&std::path::Path>) -> Result<u8, crate::op::OpError> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let io = |what: String| move |source| crate::op::OpError::Io { what, source };
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(io(format!("cannot create {}", d.display())))?;
            clap_mangen::generate_to(cmd, d)
                .map_err(io(format!("cannot write man pages into {}", d.display())))?;
            eprintln!("wrote man pages into {}", d.display());
        }
        None => clap_mangen::Man::new(cmd)
            .render(&mut std::io::stdout())
            .map_err(io("cannot write the man page".into()))?,
    }
    Ok(0)
}

/// `kubeforge lab ...`.
#[derive(Subcommand)]
pub enum LabCmd {
    /// Boot N hosts (missing ones only) and write their inventory; prints its directory.
    Up(LabUpArgs),
    /// Every lab (or one) and its hosts: running or stopped, pid, addresses.
    Status {
        /// Only this lab.
        #[arg(long)]
        name: Option<String>,
    },
    /// Run a command on a host as root (kubeforge's SSH, the lab's key and known_hosts).
    Ssh {
        /// The lab.
        #[arg(long, default_value = crate::lab::names::DEFAULT_NAME)]
        name: String,
        /// Deadline for the command, in seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// The host: NAME-nodeK, nodeK or K.
        host: String,
        /// The command (after --).
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Orderly poweroff of one host (SIGKILL by pid after 10 s); its disk is kept.
    Stop(LabHostArgs),
    /// Boot a stopped host again on its disk and wait for SSH.
    Start(LabHostArgs),
    /// Stop a host and drop its disk: the next start is a clean OS with a new host key.
    Wipe(LabHostArgs),
    /// Remove everything the lab made (by its record and pids) but the rootfs cache.
    Down {
        /// The lab.
        #[arg(default_value = crate::lab::names::DEFAULT_NAME)]
        name: String,
    },
}

/// `kubeforge lab up`.
#[derive(Args)]
pub struct LabUpArgs {
    /// Number of hosts.
    #[arg(short = 'n', long = "hosts", default_value_t = 3)]
    pub hosts: usize,
    /// Inventory layout (Kubespray's CI modes).
    #[arg(long, value_enum, default_value_t = crate::lab::Layout::Separate)]
    pub layout: crate::lab::Layout,
    /// The lab's name (1-8 of a-z0-9): several labs run side by side by name.
    #[arg(long, default_value = crate::lab::names::DEFAULT_NAME)]
    pub name: String,
    /// The lab's directory (key, inventory, hosts' disks); default /var/lib/kubeforge/labs/NAME.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Give the hosts this machine's outbound network (NAT); default: they reach only this machine.
    #[arg(long)]
    pub nat: bool,
    /// Serve DIR over HTTP on the lab bridge (port 8080) as the inventory's files_repo.
    #[arg(long, value_name = "DIR")]
    pub files_repo: Option<PathBuf>,
    /// Give each host a directory of its own at /var/lib/containerd (overlayfs snapshotter).
    #[arg(long)]
    pub bind_containerd: bool,
    /// Seconds each host may take to answer SSH.
    #[arg(long, default_value_t = 90)]
    pub boot_timeout: u64,
}

/// `kubeforge lab stop|start|wipe`.
#[derive(Args)]
pub struct LabHostArgs {
    /// The lab.
    #[arg(long, default_value = crate::lab::names::DEFAULT_NAME)]
    pub name: String,
    /// The host: NAME-nodeK, nodeK or K.
    pub host: String,
}
