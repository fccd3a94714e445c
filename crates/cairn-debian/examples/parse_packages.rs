//! Parses a `Packages` index and prints how many packages it holds; used by
//! `bench/debian-index.sh` to time parsing.
//!
//! Usage: `cargo run --release -p cairn-debian --example parse_packages -- FILE`

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: parse_packages FILE");
        return ExitCode::from(2);
    };
    let text = match fs_err::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cairn_debian::parse_packages(&text) {
        Ok(packages) => {
            println!("{} packages", packages.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
