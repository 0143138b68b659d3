//! kubeforge's command line: parse the flags, call one operation, map its result to an
//! exit code and render errors (miette). Nothing else lives here.

use clap::Parser;
use kubeforge::cli::{Cli, Command, EtcdCmd, InventoryCmd, OfflineCmd};
use kubeforge::op::{self, OpError};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Errors in CI logs and files stay one line per message: wrap only on a terminal.
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .wrap_lines(tty)
                .break_words(false)
                .build(),
        )
    }));
    let result = match cli.command {
        Command::Inventory(InventoryCmd::Init(a)) => op::init::run(&a),
        Command::Inventory(InventoryCmd::Check { inv, format }) => {
            op::inventory::check(&inv, format)
        }
        Command::Inventory(InventoryCmd::Show {
            inv,
            host,
            format,
            show_secrets,
            magic,
        }) => op::inventory::show(&inv, host.as_deref(), format, show_secrets, magic),
        Command::Offline(OfflineCmd::List {
            inv,
            format,
            images_only,
            files_only,
        }) => op::offline::list(
            &inv,
            format,
            op::offline::Select {
                files: !images_only,
                images: !files_only,
            },
        ),
        Command::Run(a) => op::playbook::run(&a),
        Command::Health(a) => op::health::run(&a),
        Command::Reset(a) => op::reset::run(&a),
        Command::Kubeconfig(a) => op::kubeconfig::run(&a),
        Command::Plan(a) => op::plan::run(&a),
        Command::Scale(a) => op::scale::run(&a),
        Command::RemoveNode(a) => op::remove_node::run(&a),
        Command::Upgrade(a) => op::upgrade::run(&a),
        Command::Etcd(EtcdCmd::Backup(a)) => op::etcd::backup(&a),
        Command::Etcd(EtcdCmd::Restore(a)) => op::etcd::restore(&a),
        Command::Recover(a) => op::etcd::recover(&a),
        Command::Lab(cmd) => op::lab::run(cmd),
        Command::Completions { shell } => Ok(kubeforge::cli::completions(shell)),
        Command::Man { dir } => kubeforge::cli::man(dir.as_deref()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e.exit_code();
            render(e);
            ExitCode::from(code)
        }
    }
}

/// Prints an error for a person: diagnostics with their locations and fixes, then the
/// one-line summary; anything else through miette.
fn render(e: OpError) {
    match e {
        OpError::Refused {
            diagnostics,
            summary,
            ..
        } => {
            op::print_diagnostics(&diagnostics);
            eprintln!("{summary}");
        }
        OpError::Usage(m) => eprintln!("error: {m}"),
        e @ (OpError::Host { .. } | OpError::Io { .. } | OpError::Lab(_)) => {
            eprintln!("error: {e}")
        }
        OpError::Inventory(e) | OpError::InventoryCheck(e) => {
            eprintln!("{:?}", miette::Report::new(e))
        }
        OpError::Playbook(e) => eprintln!("{:?}", miette::Report::new(e)),
        OpError::State(e) => eprintln!("{:?}", miette::Report::new(e)),
    }
}
