//! Faults: kills, full disks, unreadable files, concurrent processes.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Ctx, big_tree, is_root, stderr};

/// A tiny deterministic generator for kill delays (no dependency, reproducible runs).
struct Lcg(u64);
impl Lcg {
    fn next_below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound.max(1)
    }
}

#[test]
fn sigkill_at_random_points_of_add_never_registers_a_broken_object() {
    let ctx = Ctx::new();
    let src = ctx.path("big");
    big_tree(&src, 400, 40_000);
    // Calibrate: how long does one add take here?
    let start = Instant::now();
    ctx.ok(&[
        "store",
        "add",
        src.to_str().unwrap(),
        "--name",
        "calibration",
    ]);
    let span = u64::try_from(start.elapsed().as_micros())
        .unwrap()
        .max(1000);
    let mut rng = Lcg(0x00c0_ffee);
    let (mut killed, mut finished) = (0, 0);
    for i in 0..50 {
        let name = format!("obj-{i}");
        let mut child = ctx
            .cmd(&["store", "add", src.to_str().unwrap(), "--name", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next_below(span * 5 / 4)));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if status.success() {
            finished += 1;
        } else {
            killed += 1;
        }
        let out = ctx.run(&["store", "verify"]);
        assert!(out.status.success(), "after kill {i}: {}", stderr(&out));
    }
    eprintln!("{killed} killed, {finished} finished");
    assert!(
        killed > 10,
        "the kills must land inside add ({killed} killed, {finished} finished)"
    );
    // The store still works, and staging debris is gone after the next open.
    ctx.ok(&["store", "add", src.to_str().unwrap(), "--name", "after"]);
    assert_eq!(
        fs_err::read_dir(ctx.store.join("v1/tmp")).unwrap().count(),
        0
    );
    ctx.ok(&["store", "gc"]);
    ctx.ok(&["store", "verify"]);
}

/// Runs a shell script in a private mount namespace (as root, or in a user namespace).
fn in_mount_namespace(script: &str) -> Option<std::process::Output> {
    let mut cmd = Command::new("unshare");
    if is_root() {
        cmd.arg("-m")
    } else {
        cmd.args(["-r", "-m"])
    };
    let out = cmd.args(["sh", "-c", script]).output().ok()?;
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("unshare failed")
        || err.contains("Operation not permitted") && !err.contains("cairn")
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to create a mount namespace: {err}"
        );
        eprintln!("skipping: cannot create a mount namespace here: {err}");
        return None;
    }
    Some(out)
}

#[test]
fn a_full_disk_leaves_no_half_registered_object() {
    let ctx = Ctx::new();
    let small = ctx.tree("small", "fits");
    let big = ctx.path("big");
    big_tree(&big, 8, 1 << 20);
    let mnt = ctx.path("mnt");
    fs_err::create_dir(&mnt).unwrap();
    let cairn = env!("CARGO_BIN_EXE_cairn");
    let script = format!(
        "set -u; mount -t tmpfs -o size=4m tmpfs {mnt} || exit 90; S={mnt}/store; \
         {cairn} --store $S store add {small} >/dev/null; echo small=$?; \
         {cairn} --store $S store add {big} >/dev/null 2>{mnt}/err; echo big=$?; cat {mnt}/err >&2; \
         {cairn} --store $S store verify; echo verify=$?; \
         echo tmp=$(ls $S/v1/tmp | wc -l) objects=$(ls $S/v1/objects | wc -l); \
         {cairn} --store $S store gc --dry-run | wc -l | sed 's/^/unreachable=/'",
        mnt = mnt.display(),
        small = small.display(),
        big = big.display(),
    );
    let Some(out) = in_mount_namespace(&script) else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let err = stderr(&out);
    assert!(!stdout.contains("exit 90"), "{stdout}{err}");
    for expected in [
        "small=0",
        "big=1",
        "verify=0",
        "tmp=0 objects=1",
        "unreachable=1",
    ] {
        assert!(
            stdout.contains(expected),
            "expected {expected}:\n{stdout}\n{err}"
        );
    }
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("hint: free some disk space"), "{err}");
}

#[test]
fn unreadable_files_are_reported_with_their_path() {
    let ctx = Ctx::new();
    let src = ctx.tree("secret", "top secret");
    let file = src.join("file");
    fs_err::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = if is_root() {
        // Root reads everything: run cairn as `nobody` with a store it may write.
        fs_err::set_permissions(ctx.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let store = ctx.path("nobody-store");
        fs_err::create_dir(&store).unwrap();
        fs_err::set_permissions(&store, std::fs::Permissions::from_mode(0o777)).unwrap();
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_cairn"),
                "--store",
            ])
            .arg(&store)
            .args(["store", "add"])
            .arg(&src)
            .env("HOME", "/nonexistent")
            .output()
            .unwrap()
    } else {
        ctx.run(&["store", "add", src.to_str().unwrap()])
    };
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("Failed to read `{}`", file.display())),
        "{err}"
    );
    assert!(err.contains("Permission denied"), "{err}");
    assert!(err.contains("hint: make the file readable"), "{err}");
}

#[test]
fn concurrent_processes_share_one_store() {
    let ctx = Ctx::new();
    let shared = ctx.path("shared");
    big_tree(&shared, 50, 20_000);
    let uniques: Vec<_> = (0..6)
        .map(|i| ctx.tree(&format!("u{i}"), &format!("unique {i}")))
        .collect();
    let children: Vec<_> = uniques
        .iter()
        .flat_map(|u| [shared.clone(), u.clone()])
        .map(|src| {
            ctx.cmd(&["store", "add", src.to_str().unwrap()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for out in &outputs {
        assert!(out.status.success(), "{}", stderr(out));
    }
    let shared_paths: std::collections::BTreeSet<_> = outputs
        .iter()
        .step_by(2)
        .map(|o| o.stdout.clone())
        .collect();
    assert_eq!(
        shared_paths.len(),
        1,
        "every process got the same object for the same tree"
    );
    assert_eq!(ctx.ok(&["store", "gc", "--dry-run"]).lines().count(), 7);
    ctx.ok(&["store", "verify"]);
}
