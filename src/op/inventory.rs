//! `kubeforge inventory check` and `inventory show`: load, validate and print; nothing
//! is contacted and nothing is written.

use super::{exit, print_diagnostics, OpError};
use crate::cli::{CheckFormat, InventoryArgs, ShowFormat};
use crate::cluster::Cluster;
use crate::diagnostic::Diagnostic;
use crate::inventory::{Inventory, InventoryError, LoadOptions};
use crate::report;

/// Loads the inventory for an inventory command (a load error exits 1).
pub fn load(args: &InventoryArgs) -> Result<Cluster, OpError> {
    load_inventory(args)
        .map(Cluster::build)
        .map_err(OpError::InventoryCheck)
}

/// The inventory of `-i`, with `-e` and the vault password file.
pub fn load_inventory(args: &InventoryArgs) -> Result<Inventory, InventoryError> {
    let options = LoadOptions::with_password_file(args.vault_password_file.as_deref())?;
    Inventory::load_sources(&args.inventory, &args.extra_vars, &options)
}

/// A load error as a diagnostic (for JSON output).
fn load_error_diagnostic(e: &InventoryError) -> Diagnostic {
    use InventoryError as E;
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

/// `kubeforge inventory check`.
pub fn check(inv: &InventoryArgs, format: CheckFormat) -> Result<u8, OpError> {
    let cluster = match load_inventory(inv) {
        Ok(i) => Cluster::build(i),
        Err(e) => {
            if format == CheckFormat::Json {
                let d = load_error_diagnostic(&e);
                println!("{}", report::inventory::check_json(&[d]));
            }
            return Err(OpError::InventoryCheck(e));
        }
    };
    let mut diags = crate::validate::validate(&cluster);
    match crate::state::load(&cluster.inventory.dir) {
        Ok(rec) => diags.extend(crate::state::compare(&cluster, &rec)),
        Err(e) => diags.push(
            Diagnostic::error("record-unreadable", e.to_string())
                .help("restore the file (or its .bak), or move it aside to start a new record"),
        ),
    }
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
    Ok(if errors > 0 {
        exit::CHECK_FAILED
    } else {
        exit::OK
    })
}

/// `kubeforge inventory show`.
pub fn show(
    inv: &InventoryArgs,
    host: Option<&str>,
    format: ShowFormat,
    show_secrets: bool,
    magic: bool,
) -> Result<u8, OpError> {
    let cluster = load(inv)?;
    if let Some(h) = host {
        if cluster.host(h).is_none() {
            return Err(OpError::Refused {
                diagnostics: Vec::new(),
                summary: format!("error: no host named '{h}' in {}", inv.shown()),
                exit: exit::CHECK_FAILED,
            });
        }
    }
    // A value kubeforge needs but that only run time can render (facts, a vault value
    // without the password) is shown as written; `check` and `run` refuse it.
    let fatal: Vec<Diagnostic> = cluster
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && d.code != crate::cluster::RUNTIME_CODE)
        .cloned()
        .collect();
    if !fatal.is_empty() {
        return Err(OpError::Refused {
            diagnostics: fatal,
            summary: "the inventory has errors (see above)".into(),
            exit: exit::CHECK_FAILED,
        });
    }
    let opts = report::inventory::ShowOptions {
        show_secrets,
        magic,
    };
    let doc = report::inventory::show_json_with_options(&cluster, host, opts);
    match format {
        ShowFormat::Table => print!(
            "{}",
            report::inventory::show_table_with_options(&cluster, host, opts)
        ),
        ShowFormat::Json => println!(
            "{}",
            report::inventory::show_json_text(&cluster, host, opts)
        ),
        ShowFormat::Yaml => print!("{}", serde_saphyr::to_string(&doc).unwrap_or_default()),
    }
    Ok(exit::OK)
}
