//! kubeforge's command line: parse, call the library, map errors to exit codes.

use clap::{Args, Parser, Subcommand, ValueEnum};
use kubeforge::cluster::Cluster;
use kubeforge::diagnostic::Diagnostic;
use kubeforge::inventory::Inventory;
use kubeforge::report;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code: a check found errors (inventory commands).
const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code: invalid input (inventory, playbook, flags) for plan and run.
const EXIT_INVALID: u8 = 4;

#[derive(Parser)]
#[command(
    name = "kubeforge",
    version,
    about = "Kubernetes clusters over SSH from Kubespray-compatible inventories"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    Kubeconfig {
        #[command(flatten)]
        inv: InventoryArgs,
        /// Output file (mode 0600); stdout when absent.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        ssh: SshArgs,
    },
    /// Show which tasks run on which host, in order, checked before any SSH.
    Plan {
        #[command(flatten)]
        inv: InventoryArgs,
        /// The playbook (e.g. playbooks/cluster.yml).
        playbook: PathBuf,
        #[command(flatten)]
        select: SelectArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
}

#[derive(Subcommand)]
enum OfflineCmd {
    /// List every artifact (URL and sha256) the cluster's hosts download, for a mirror.
    List {
        #[command(flatten)]
        inv: InventoryArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
}

#[derive(Args)]
struct HealthArgs {
    #[command(flatten)]
    inv: InventoryArgs,
    #[command(flatten)]
    select: SelectArgs,
    /// JSON Lines events: `--output json` or `--output json=FILE`.
    #[arg(long)]
    output: Option<String>,
    #[command(flatten)]
    ssh: SshArgs,
}

#[derive(Args)]
struct ResetArgs {
    #[command(flatten)]
    inv: InventoryArgs,
    /// Proceed (required: kubeforge never asks).
    #[arg(long)]
    yes: bool,
    /// The reset playbook.
    #[arg(long, default_value = "playbooks/reset.yml")]
    playbook: PathBuf,
    #[command(flatten)]
    select: SelectArgs,
    /// Change nothing; report what would be removed.
    #[arg(short = 'C', long)]
    check: bool,
    /// JSON Lines events.
    #[arg(long)]
    output: Option<String>,
    #[command(flatten)]
    ssh: SshArgs,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    inv: InventoryArgs,
    /// The playbook (e.g. playbooks/cluster.yml).
    playbook: PathBuf,
    #[command(flatten)]
    select: SelectArgs,
    /// Change nothing; report what would change.
    #[arg(short = 'C', long)]
    check: bool,
    /// Show unified diffs of file contents (secret-looking values masked).
    #[arg(short = 'D', long)]
    diff: bool,
    /// Hosts worked on at once (default: all).
    #[arg(short = 'f', long)]
    forks: Option<usize>,
    /// Seconds a remote command may run unless its task sets `timeout`.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// JSON Lines events: `--output json` (stdout; human output goes to stderr) or `--output json=FILE`.
    #[arg(long)]
    output: Option<String>,
    #[command(flatten)]
    ssh: SshArgs,
}

#[derive(Args, Clone, Default)]
struct SshArgs {
    /// Private key for every host without ansible_ssh_private_key_file.
    #[arg(long)]
    private_key: Option<PathBuf>,
    /// known_hosts file (default ~/.ssh/known_hosts).
    #[arg(long)]
    known_hosts: Option<PathBuf>,
    /// Record the keys of hosts not yet in known_hosts (a changed key is always refused).
    #[arg(long)]
    accept_new_host_keys: bool,
    /// Seconds to wait for an SSH connection.
    #[arg(long, default_value_t = 10)]
    connect_timeout: u64,
}

#[derive(Args, Clone, Default)]
struct SelectArgs {
    /// Only these hosts (a pattern: group, host, a:b, a:&b, a:!b).
    #[arg(short = 'l', long)]
    limit: Option<String>,
    /// Only tasks with these tags (comma-separated).
    #[arg(short = 't', long, value_delimiter = ',')]
    tags: Vec<String>,
    /// Skip tasks with these tags (comma-separated).
    #[arg(long, value_delimiter = ',')]
    skip_tags: Vec<String>,
}

#[derive(Args, Clone)]
struct InventoryArgs {
    /// Inventory file, or a directory holding hosts.yaml / inventory.ini.
    #[arg(short = 'i', long = "inventory")]
    inventory: PathBuf,
    /// Extra variables: key=value, @file.yml, or a JSON/YAML mapping (highest precedence).
    #[arg(short = 'e', long = "extra-vars")]
    extra_vars: Vec<String>,
}

#[derive(Subcommand)]
enum InventoryCmd {
    /// Report every error and warning; exit 1 when there are errors.
    Check {
        #[command(flatten)]
        inv: InventoryArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Hosts with roles, components, addresses and every resolved variable.
    Show {
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
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ShowFormat {
    Table,
    Json,
    Yaml,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inventory(cmd) => inventory(cmd),
        Command::Run(args) => run(*args),
        Command::Health(h) => {
            let h = *h;
            health(RunArgs {
                inv: h.inv,
                playbook: PathBuf::new(),
                select: h.select,
                check: false,
                diff: false,
                forks: None,
                timeout: 120,
                output: h.output,
                ssh: h.ssh,
            })
        }
        Command::Reset(r) => {
            let r = *r;
            let yes = r.yes;
            reset(
                RunArgs {
                    inv: r.inv,
                    playbook: r.playbook,
                    select: r.select,
                    check: r.check,
                    diff: false,
                    forks: None,
                    timeout: 600,
                    output: r.output,
                    ssh: r.ssh,
                },
                yes,
            )
        }
        Command::Kubeconfig { inv, output, ssh } => kubeconfig(&inv, &ssh, output.as_deref()),
        Command::Offline(OfflineCmd::List { inv, format }) => offline_list(&inv, format),
        Command::Plan {
            inv,
            playbook,
            select,
            format,
        } => plan(&inv, &playbook, &select, format),
    }
}

fn load(args: &InventoryArgs) -> Result<Cluster, ExitCode> {
    match Inventory::load(&args.inventory, &args.extra_vars) {
        Ok(inv) => Ok(Cluster::build(inv)),
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            Err(ExitCode::from(EXIT_CHECK_FAILED))
        }
    }
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}\n");
    }
}

fn inventory(cmd: InventoryCmd) -> ExitCode {
    match cmd {
        InventoryCmd::Check { inv, format } => {
            let cluster = match Inventory::load(&inv.inventory, &inv.extra_vars) {
                Ok(i) => Cluster::build(i),
                Err(e) => {
                    if let CheckFormat::Json = format {
                        let d = load_error_diagnostic(&e);
                        println!("{}", report::inventory::check_json(&[d]));
                    }
                    eprintln!("{:?}", miette::Report::new(e));
                    return ExitCode::from(EXIT_CHECK_FAILED);
                }
            };
            let mut diags = kubeforge::validate::validate(&cluster);
            diags.extend(kubeforge::state::compare(&cluster));
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let warnings = diags.len() - errors;
            match format {
                CheckFormat::Text => {
                    print_diagnostics(&diags);
                    let hosts = cluster.hosts.len();
                    if errors == 0 {
                        println!(
                            "inventory ok: {hosts} host(s), layout {}, {warnings} warning(s)",
                            cluster.layout.as_str()
                        );
                    } else {
                        println!("inventory has {errors} error(s) and {warnings} warning(s)");
                    }
                }
                CheckFormat::Json => println!("{}", report::inventory::check_json(&diags)),
            }
            if errors > 0 {
                ExitCode::from(EXIT_CHECK_FAILED)
            } else {
                ExitCode::SUCCESS
            }
        }
        InventoryCmd::Show {
            inv,
            host,
            format,
            show_secrets,
        } => {
            let cluster = match load(&inv) {
                Ok(c) => c,
                Err(code) => return code,
            };
            if let Some(h) = &host {
                if cluster.host(h).is_none() {
                    eprintln!("error: no host named '{h}' in {}", inv.inventory.display());
                    return ExitCode::from(EXIT_CHECK_FAILED);
                }
            }
            let fatal: Vec<Diagnostic> = cluster
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .cloned()
                .collect();
            if !fatal.is_empty() {
                print_diagnostics(&fatal);
                return ExitCode::from(EXIT_CHECK_FAILED);
            }
            let doc = report::inventory::show_json(&cluster, host.as_deref(), show_secrets);
            match format {
                ShowFormat::Table => print!(
                    "{}",
                    report::inventory::show_table(&cluster, host.as_deref(), show_secrets)
                ),
                ShowFormat::Json => {
                    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default())
                }
                ShowFormat::Yaml => print!("{}", serde_saphyr::to_string(&doc).unwrap_or_default()),
            }
            ExitCode::SUCCESS
        }
    }
}

/// Loads inventory and playbook, validates both, and builds the plan. Any problem is
/// printed and mapped to EXIT_INVALID; nothing has been contacted yet.
fn prepare(
    args: &InventoryArgs,
    playbook: &std::path::Path,
    select: &SelectArgs,
) -> Result<(Cluster, kubeforge::plan::Plan), ExitCode> {
    let invalid = || ExitCode::from(EXIT_INVALID);
    let book = kubeforge::playbook::load(playbook).map_err(|e| {
        eprintln!("{:?}", miette::Report::new(e));
        invalid()
    })?;
    let inventory = Inventory::load(&args.inventory, &args.extra_vars).map_err(|e| {
        eprintln!("{:?}", miette::Report::new(e));
        invalid()
    })?;
    let builtin = kubeforge::defaults::builtin().map_err(|e| {
        eprintln!("{:?}", miette::Report::new(e));
        invalid()
    })?;
    let defaults = kubeforge::defaults::with_roles(builtin, kubeforge::plan::role_defaults(&book));
    let cluster = Cluster::build_with(inventory, &defaults, kubeforge::cluster::Render::Lazy);
    let mut diags = kubeforge::validate::validate(&cluster);
    diags.extend(kubeforge::state::compare(&cluster));
    print_diagnostics(&diags);
    if diags.iter().any(|d| d.is_error()) {
        eprintln!("the inventory has errors; nothing was run (see `kubeforge inventory check`)");
        return Err(invalid());
    }
    let opts = kubeforge::plan::PlanOptions {
        limit: select.limit.clone(),
        tags: select.tags.clone(),
        skip_tags: select.skip_tags.clone(),
    };
    let plan = kubeforge::plan::build(&cluster, &book, &opts).map_err(|e| {
        print_diagnostics(&e.0);
        eprintln!("{e}; nothing was run");
        invalid()
    })?;
    Ok((cluster, plan))
}

fn plan(
    args: &InventoryArgs,
    playbook: &std::path::Path,
    select: &SelectArgs,
    format: CheckFormat,
) -> ExitCode {
    let (cluster, plan) = match prepare(args, playbook, select) {
        Ok(x) => x,
        Err(code) => return code,
    };
    match format {
        CheckFormat::Text => print!("{}", kubeforge::plan::plan_text(&cluster, &plan)),
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&kubeforge::plan::plan_json(&cluster, &plan))
                .unwrap_or_default()
        ),
    }
    ExitCode::SUCCESS
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("kubeforge")
}

fn run(args: RunArgs) -> ExitCode {
    let (cluster, plan) = match prepare(&args.inv, &args.playbook, &args.select) {
        Ok(x) => x,
        Err(code) => return code,
    };
    match execute(&args, cluster, plan, false) {
        Ok((code, _)) => ExitCode::from(code),
        Err(code) => code,
    }
}

/// Runs a prepared plan; prints the human stream and JSON events. With `collect`, the
/// events are also returned (for `health`).
fn execute(
    args: &RunArgs,
    cluster: Cluster,
    plan: kubeforge::plan::Plan,
    collect: bool,
) -> Result<(u8, Vec<kubeforge::report::events::Event>), ExitCode> {
    let book = match kubeforge::playbook::load(&args.playbook) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            return Err(ExitCode::from(EXIT_INVALID));
        }
    };
    let (json_target, human_to_stderr) = match args.output.as_deref() {
        None => (None, false),
        Some("json") => (Some(None), true),
        Some(o) => match o.strip_prefix("json=") {
            Some(f) if !f.is_empty() => (Some(Some(PathBuf::from(f))), false),
            _ => {
                eprintln!("error: --output takes json or json=FILE, not '{o}'");
                return Err(ExitCode::from(EXIT_INVALID));
            }
        },
    };
    let json_writer: Option<Box<dyn std::io::Write + Send>> = match &json_target {
        None => None,
        Some(None) => Some(Box::new(std::io::stdout())),
        Some(Some(path)) => match std::fs::File::create(path) {
            Ok(f) => Some(Box::new(std::io::BufWriter::new(f))),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                return Err(ExitCode::from(EXIT_INVALID));
            }
        },
    };
    let forks = args.forks.unwrap_or(cluster.hosts.len()).max(1);
    let opts = kubeforge::run::RunOptions {
        check: args.check,
        diff: args.diff,
        forks,
        default_timeout: args.timeout.max(1),
        cache_dir: cache_dir(),
        playbook_dir: args
            .playbook
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let connector = kubeforge::connect::connector(connect_options(&args.ssh, &cluster));
    let record_for = (!args.check && !collect).then(|| cluster.clone());
    let playbook_name = kubeforge::inventory::display_path(&args.playbook);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return Err(ExitCode::from(EXIT_INVALID));
        }
    };
    let quiet_human = collect && json_target.is_none();
    let out = runtime.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: finishing running steps, starting no new ones");
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let printer = tokio::task::spawn_blocking(move || {
            use std::io::IsTerminal;
            let (out, tty): (Box<dyn std::io::Write + Send>, bool) =
                if human_to_stderr || quiet_human {
                    (Box::new(std::io::stderr()), std::io::stderr().is_terminal())
                } else {
                    (Box::new(std::io::stdout()), std::io::stdout().is_terminal())
                };
            let mut human = kubeforge::report::human::Human::new(out, tty);
            let mut json = json_writer;
            let mut kept = Vec::new();
            while let Some(ev) = rx.blocking_recv() {
                human.event(&ev);
                if let Some(w) = json.as_mut() {
                    if let Ok(line) = serde_json::to_string(&ev) {
                        let _ = writeln!(w, "{line}");
                    }
                }
                if collect {
                    kept.push(ev);
                }
            }
            if let Some(w) = json.as_mut() {
                let _ = w.flush();
            }
            kept
        });
        let summary =
            kubeforge::run::run(cluster, book, plan, opts, connector, tx, interrupted).await;
        let kept = printer.await.unwrap_or_default();
        // The last-applied record: hosts this run completed on (not in check mode).
        if let Some(c) = &record_for {
            let completed: Vec<String> = summary
                .states
                .iter()
                .filter(|(_, s)| matches!(s, kubeforge::run::HostState::Active))
                .map(|(h, _)| h.clone())
                .collect();
            if !summary.interrupted {
                if let Err(e) = kubeforge::state::record(c, &completed, &playbook_name) {
                    eprintln!("warning: cannot write the last-applied record: {e}");
                }
            }
        }
        (summary.exit_code(), kept)
    });
    Ok(out)
}

fn connect_options(ssh: &SshArgs, cluster: &Cluster) -> kubeforge::connect::ConnectOptions {
    kubeforge::connect::ConnectOptions {
        private_key: ssh.private_key.clone(),
        known_hosts: ssh.known_hosts.clone(),
        accept_new_host_keys: ssh.accept_new_host_keys,
        connect_timeout: std::time::Duration::from_secs(ssh.connect_timeout.max(1)),
        bastion: kubeforge::connect::bastion_of(cluster),
    }
}

/// The health playbook: the file in playbooks/ when present, else the copy built in.
fn health_playbook() -> Result<(PathBuf, Option<tempfile::TempDir>), ExitCode> {
    let local = PathBuf::from("playbooks/health.yml");
    if local.is_file() {
        return Ok((local, None));
    }
    let dir = tempfile::tempdir().map_err(|e| {
        eprintln!("error: cannot create a temp dir: {e}");
        ExitCode::from(EXIT_INVALID)
    })?;
    let path = dir.path().join("health.yml");
    std::fs::write(&path, include_str!("../playbooks/health.yml")).map_err(|e| {
        eprintln!("error: cannot write {}: {e}", path.display());
        ExitCode::from(EXIT_INVALID)
    })?;
    Ok((path, Some(dir)))
}

fn health(mut args: RunArgs) -> ExitCode {
    let (path, _keep) = match health_playbook() {
        Ok(x) => x,
        Err(c) => return c,
    };
    args.playbook = path;
    args.check = false;
    let (cluster, plan) = match prepare(&args.inv, &args.playbook, &args.select) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let (code, events) = match execute(&args, cluster, plan, true) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let table = kubeforge::report::health::table(&events);
    if args.output.as_deref() != Some("json") {
        print!("{}", kubeforge::report::health::render(&table));
    }
    let failed = table.iter().any(|r| r.status == "fail");
    if code == 0 && failed {
        ExitCode::from(2)
    } else {
        ExitCode::from(code)
    }
}

fn reset(args: RunArgs, yes: bool) -> ExitCode {
    use std::io::IsTerminal;
    if !yes {
        if std::io::stdin().is_terminal() {
            eprintln!("kubeforge reset removes Kubernetes, etcd (with its data) and the container runtime from every host of {}.", args.inv.inventory.display());
        }
        eprintln!("refusing to reset without --yes (kubeforge never asks; say --yes to proceed)");
        return ExitCode::from(EXIT_INVALID);
    }
    run(args)
}

fn kubeconfig(args: &InventoryArgs, ssh: &SshArgs, output: Option<&std::path::Path>) -> ExitCode {
    let cluster = match load(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(cp) = cluster
        .with_role(kubeforge::topology::Role::ControlPlane)
        .first()
        .map(|h| (*h).clone())
    else {
        eprintln!("error: no host in kube_control_plane");
        return ExitCode::from(EXIT_INVALID);
    };
    let connector = kubeforge::connect::connector(connect_options(ssh, &cluster));
    let config_dir = cp
        .var("kube_config_dir")
        .and_then(|v| v.as_str())
        .unwrap_or("/etc/kubernetes")
        .to_string();
    let port = cp
        .var("kube_apiserver_port")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(6443);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let name = cp.name.clone();
    let shown_dir = config_dir.clone();
    let address = kubeforge::kubeconfig::api_address(&cp);
    let fetched = runtime.block_on(async move {
        let conn = connector(cp).await?;
        let out = conn
            .exec(kubeforge::transport::ExecRequest {
                script: format!("cat {}/admin.conf", kubeforge::shell::quote(&config_dir)),
                become_: true,
                timeout: std::time::Duration::from_secs(30),
            })
            .await;
        conn.close().await;
        out
    });
    let out = match fetched {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {name}: {e}");
            return ExitCode::from(if e.is_unreachable() { 3 } else { 2 });
        }
    };
    if out.exit_code != Some(0) {
        eprintln!(
            "error: {name}: cannot read {shown_dir}/admin.conf ({}); has the cluster been bootstrapped (kubeadm init)?",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return ExitCode::from(2);
    }
    let text = kubeforge::kubeconfig::rewrite_server(
        &String::from_utf8_lossy(&out.stdout),
        &address,
        port,
    );
    match output {
        Some(path) => match kubeforge::kubeconfig::write_private(path, &text) {
            Ok(()) => {
                eprintln!(
                    "wrote {} (API server https://{}:{port})",
                    path.display(),
                    address
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                ExitCode::from(EXIT_INVALID)
            }
        },
        None => {
            print!("{text}");
            ExitCode::SUCCESS
        }
    }
}

fn offline_list(args: &InventoryArgs, format: CheckFormat) -> ExitCode {
    let cluster = match load(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut rows: Vec<kubeforge::artifacts::Resolved> = Vec::new();
    let mut errors = Vec::new();
    for h in &cluster.hosts {
        let get = |n: &str| h.vars.get(n).map(|(v, _)| v.clone());
        for a in kubeforge::artifacts::for_components(&h.components) {
            match kubeforge::artifacts::resolve(&a.name, &get) {
                Ok(r) => {
                    if !rows.iter().any(|x| {
                        x.name == r.name
                            && x.version == r.version
                            && x.arch == r.arch
                            && x.url == r.url
                    }) {
                        rows.push(r);
                    }
                }
                Err(e) => {
                    let msg = format!("{}: {e}", h.name);
                    if !errors.contains(&msg) {
                        errors.push(msg);
                    }
                }
            }
        }
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    match format {
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        ),
        CheckFormat::Text => {
            for r in &rows {
                println!(
                    "{} {} {}",
                    r.sha256,
                    r.upstream_url,
                    if r.url != r.upstream_url {
                        format!("(fetched from {})", r.url)
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    }
}

/// A load error as a diagnostic (for JSON output).
fn load_error_diagnostic(e: &kubeforge::inventory::InventoryError) -> Diagnostic {
    use kubeforge::inventory::InventoryError as E;
    let (location, message, help) = match e {
        E::Syntax {
            location,
            message,
            help,
            ..
        } => (Some(location.clone()), message.clone(), Some(help.clone())),
        E::Template { origin, help, .. } => {
            (Some(origin.clone()), e.to_string(), Some(help.clone()))
        }
        other => (None, other.to_string(), None),
    };
    let mut d = Diagnostic::error(e.code(), message).at(location);
    d.help = help;
    d
}
