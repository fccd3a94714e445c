//! Runs a command in a sandbox whose root holds the host's `/usr` (read-only), as
//! `bench/sandbox.sh` times it next to `bwrap`:
//!
//! ```text
//! sandbox-run WORKDIR COMMAND [ARG...]
//! ```
//!
//! `WORKDIR` is made if missing and holds the root, scratch space and the log.

use std::path::PathBuf;
use std::time::Duration;

use cairn_sandbox::{Identity, Limits, Mount, Output, Sandbox, fixed_env};

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(work), cmd) = (args.next().map(PathBuf::from), args.collect::<Vec<_>>()) else {
        eprintln!("usage: sandbox-run WORKDIR COMMAND [ARG...]");
        std::process::exit(2);
    };
    let root = work.join("root");
    if !root.exists() {
        fs_err::create_dir_all(&root).expect("make the root");
        for (link, target) in [
            ("bin", "usr/bin"),
            ("lib", "usr/lib"),
            ("lib64", "usr/lib64"),
        ] {
            std::os::unix::fs::symlink(target, root.join(link)).expect("link");
        }
    }
    let log = fs_err::File::create(work.join("log")).expect("make the log");
    let sandbox = Sandbox {
        root,
        lower: Vec::new(),
        scratch: work.join("scratch"),
        mounts: vec![Mount {
            source: "/usr".into(),
            target: "/usr".into(),
            writable: false,
        }],
        cmd: cmd
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        env: fixed_env(0),
        workdir: "/".into(),
        limits: Limits {
            timeout: Duration::from_mins(1),
            ..Limits::default()
        },
        output: Output::File(log.into()),
        identity: Identity::Build,
    };
    match sandbox.run() {
        Ok(outcome) if outcome.success() => {}
        Ok(outcome) => {
            eprintln!("the command {outcome}");
            std::process::exit(1);
        }
        Err(error) => {
            eprintln!("error: {error}: {:?}", std::error::Error::source(&error));
            std::process::exit(1);
        }
    }
}
