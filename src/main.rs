//! Parse, dispatch, map errors to exit codes. All logic lives in the library.

use secrets::cmd::{self, Cli, Command};
use secrets::{agenix, error};

fn main() {
    let mut args: Vec<_> = std::env::args_os().collect();
    // Started as `agenix` or `ragenix` (or with agenix's flags): that tool's command line.
    if let Some(flavor) = agenix::flavor(
        args.first().map(|a| a.as_os_str()),
        &args[1.min(args.len())..],
    ) {
        args.remove(0);
        std::process::exit(agenix::main(flavor, args));
    }
    let cli = Cli::parse_args(args);
    let g = &cli.global;
    let result = match &cli.command {
        Command::Edit(a) => cmd::edit::run(a, g),
        Command::Decrypt(a) => cmd::decrypt::run(a, g),
        Command::Encrypt(a) => cmd::encrypt::run(a, g),
        Command::Rekey(a) => cmd::rekey::run(a, g),
        Command::Check(a) => cmd::check::run(a, g),
        Command::List(a) => cmd::list::run(a, g),
        Command::Generate(a) => cmd::generate::run(a, g),
        Command::Install(a) => cmd::install::run(a, g),
        Command::Schema(a) => cmd::schema::run(a, g),
        Command::Completions(a) => cmd::completions::run(a, g),
        Command::Man(a) => cmd::man::run(a, g),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(if e.code() == error::EXIT_OK {
                error::EXIT_ERROR
            } else {
                e.code()
            });
        }
    }
}
