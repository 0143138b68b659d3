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
