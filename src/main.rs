//! kubeforge's command line: parse, call the library, map errors to exit codes.

use clap::{Args, Parser, Subcommand, ValueEnum};
use kubeforge::cluster::Cluster;
use kubeforge::diagnostic::Diagnostic;
use kubeforge::inventory::Inventory;
use kubeforge::report;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code: a check found errors (inventory commands).
const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code: invalid input (inventory, playbook, flags) for plan and run.
const EXIT_INVALID: u8 = 4;

#[derive(Parser)]
#[command(name = "kubeforge", version, about = "Kubernetes clusters over SSH from Kubespray-compatible inventories")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect and validate an inventory (nothing is contacted).
    #[command(subcommand)]
    Inventory(InventoryCmd),
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
            let cluster = match load(&inv) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let diags = kubeforge::validate::validate(&cluster);
            let errors = diags.iter().filter(|d| d.is_error()).count();
            let warnings = diags.len() - errors;
            match format {
                CheckFormat::Text => {
                    print_diagnostics(&diags);
                    let hosts = cluster.hosts.len();
                    if errors == 0 {
                        println!("inventory ok: {hosts} host(s), layout {}, {warnings} warning(s)", cluster.layout.as_str());
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
            let fatal: Vec<Diagnostic> = cluster.diagnostics.iter().filter(|d| d.is_error()).cloned().collect();
            if !fatal.is_empty() {
                print_diagnostics(&fatal);
                return ExitCode::from(EXIT_CHECK_FAILED);
            }
            let doc = report::inventory::show_json(&cluster, host.as_deref(), show_secrets);
            match format {
                ShowFormat::Table => print!("{}", report::inventory::show_table(&cluster, host.as_deref(), show_secrets)),
                ShowFormat::Json => println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default()),
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
    let mut inventory = Inventory::load(&args.inventory, &args.extra_vars).map_err(|e| {
        eprintln!("{:?}", miette::Report::new(e));
        invalid()
    })?;
    for (k, v) in kubeforge::plan::role_defaults(&book) {
        inventory.defaults.entry(k).or_insert(v);
    }
    let cluster = Cluster::build(inventory);
    let diags = kubeforge::validate::validate(&cluster);
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

fn plan(args: &InventoryArgs, playbook: &std::path::Path, select: &SelectArgs, format: CheckFormat) -> ExitCode {
    let (cluster, plan) = match prepare(args, playbook, select) {
        Ok(x) => x,
        Err(code) => return code,
    };
    match format {
        CheckFormat::Text => print!("{}", kubeforge::plan::plan_text(&cluster, &plan)),
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&kubeforge::plan::plan_json(&cluster, &plan)).unwrap_or_default()
        ),
    }
    ExitCode::SUCCESS
}
