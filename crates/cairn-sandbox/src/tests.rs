use super::*;

/// The sandbox tests run the host's own programs: `/usr` bound read-only into an
/// otherwise empty root (Debian's merged-/usr layout).
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs_err::create_dir_all(&root).unwrap();
        for (link, target) in [
            ("bin", "usr/bin"),
            ("lib", "usr/lib"),
            ("lib64", "usr/lib64"),
            ("sbin", "usr/sbin"),
        ] {
            std::os::unix::fs::symlink(target, root.join(link)).unwrap();
        }
        fs_err::create_dir_all(dir.path().join("out")).unwrap();
        Self { dir }
    }

    pub(crate) fn sandbox(&self, script: &str) -> Sandbox {
        let log = fs_err::File::create(self.dir.path().join("log")).unwrap();
        Sandbox {
            root: self.dir.path().join("root"),
            lower: Vec::new(),
            scratch: self.dir.path().join("scratch"),
            mounts: vec![
                Mount {
                    source: "/usr".into(),
                    target: "/usr".into(),
                    writable: false,
                },
                Mount {
                    source: self.dir.path().join("out"),
                    target: OUT.into(),
                    writable: true,
                },
            ],
            cmd: vec!["/bin/bash".into(), "-c".into(), script.into()],
            env: fixed_env(0),
            workdir: "/".into(),
            limits: Limits {
                timeout: Duration::from_mins(1),
                ..Limits::default()
            },
            output: Output::File(log.into()),
            identity: Identity::Build,
        }
    }

    /// Two layers to stack under the root: `/opt/t/x` in both (the upper one's wins),
    /// `/opt/t/y` in the lower one only, a symbolic link `/opt/link`.
    pub(crate) fn layers(&self) -> Vec<PathBuf> {
        let upper = self.dir.path().join("upper");
        let lower = self.dir.path().join("lower");
        if upper.exists() {
            return vec![upper, lower];
        }
        fs_err::create_dir_all(upper.join("opt/t")).unwrap();
        fs_err::create_dir_all(lower.join("opt/t")).unwrap();
        fs_err::write(upper.join("opt/t/x"), "upper\n").unwrap();
        fs_err::write(lower.join("opt/t/x"), "lower\n").unwrap();
        fs_err::write(lower.join("opt/t/y"), "y\n").unwrap();
        std::os::unix::fs::symlink("t", lower.join("opt/link")).unwrap();
        vec![upper, lower]
    }

    /// Runs `script` over [`Self::layers`], expecting it to succeed.
    pub(crate) fn ok_layered(&self, script: &str) -> String {
        let mut sandbox = self.sandbox(script);
        sandbox.lower = self.layers();
        let outcome = sandbox.run().unwrap();
        let log = self.log();
        assert_eq!(outcome, Outcome::Exited(0), "{script}:\n{log}");
        log
    }

    /// Adds the fixture's `out` directory, read-only, at `target`.
    pub(crate) fn mount_out(&self, sandbox: &mut Sandbox, target: &str) {
        sandbox.mounts.push(Mount {
            source: self.dir.path().join("out"),
            target: target.into(),
            writable: false,
        });
    }

    pub(crate) fn log(&self) -> String {
        fs_err::read_to_string(self.dir.path().join("log")).unwrap()
    }

    /// Runs `script`, expecting it to succeed, and returns its output.
    pub(crate) fn ok(&self, script: &str) -> String {
        let outcome = self.sandbox(script).run().unwrap();
        let log = self.log();
        assert_eq!(outcome, Outcome::Exited(0), "{script}:\n{log}");
        log
    }
}

#[test]
fn exit_status_and_output() {
    let fixture = Fixture::new();
    assert_eq!(fixture.ok("echo hello"), "hello\n");
    let outcome = fixture.sandbox("echo failing >&2; exit 3").run().unwrap();
    assert_eq!(outcome, Outcome::Exited(3));
    assert_eq!(fixture.log(), "failing\n");
}

#[test]
fn the_environment_is_fixed() {
    let fixture = Fixture::new();
    let log = fixture.ok("env | sort; id -u; id -g; hostname; umask; pwd; echo $$");
    let expected = "HOME=/homeless-shelter\nLANG=C.UTF-8\nOLDPWD=/\n\
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
        PWD=/\nSHLVL=1\nSOURCE_DATE_EPOCH=0\nTMPDIR=/tmp\nTZ=UTC\n_=/usr/bin/env\nout=/out\n\
        0\n0\ncairn\n0022\n/\n1\n";
    // bash adds PWD, SHLVL and `_` itself; OLDPWD only in some versions.
    assert_eq!(
        log.replace("OLDPWD=/\n", ""),
        expected.replace("OLDPWD=/\n", "")
    );
}

#[test]
fn writable_only_out_tmp_and_home() {
    let fixture = Fixture::new();
    fixture.ok("echo data > /out/file && mkdir -p /out/dir/sub && touch /tmp/x $HOME/y");
    assert_eq!(
        fs_err::read_to_string(fixture.dir.path().join("out/file")).unwrap(),
        "data\n"
    );
    for path in ["/x", "/usr/x", "/dev/x", "/proc/x", "/etc/x", "/bin/x"] {
        let outcome = fixture.sandbox(&format!("touch {path}")).run().unwrap();
        assert_ne!(outcome, Outcome::Exited(0), "{path} was writable");
    }
    // Remounting is not allowed either.
    let outcome = fixture
        .sandbox("mount -o remount,rw /usr || mount -o remount,rw /")
        .run()
        .unwrap();
    assert_ne!(outcome, Outcome::Exited(0), "{}", fixture.log());
    let outcome = fixture.sandbox("umount /usr").run().unwrap();
    assert_ne!(outcome, Outcome::Exited(0), "{}", fixture.log());
}

#[test]
fn nothing_of_the_host_is_visible() {
    let fixture = Fixture::new();
    let secret = fixture.dir.path().join("secret");
    fs_err::write(&secret, "host data").unwrap();
    let secret = secret.display().to_string();
    let host_tmp = tempfile::NamedTempFile::new().unwrap();
    let host_tmp = host_tmp.path().display().to_string();
    for path in [
        secret.as_str(),
        host_tmp.as_str(),
        "/etc/hostname",
        "/etc/passwd",
        "/root",
        "/home",
        "/sys/class",
    ] {
        let outcome = fixture
            .sandbox(&format!("cat {path} || ls {path}"))
            .run()
            .unwrap();
        assert_ne!(
            outcome,
            Outcome::Exited(0),
            "{path} is visible: {}",
            fixture.log()
        );
    }
    // Only the sandbox's own processes: bash (pid 1) and ls.
    let log = fixture.ok("echo /proc/[0-9]*");
    assert_eq!(log, "/proc/1\n");
    let log = fixture.ok("ls /dev | tr '\\n' ' '");
    assert_eq!(
        log,
        "fd full null random shm stderr stdin stdout tty urandom zero "
    );
}

#[test]
fn no_network_but_loopback() {
    let fixture = Fixture::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let outcome = fixture
        .sandbox(&format!("exec 3<>/dev/tcp/127.0.0.1/{port}"))
        .run()
        .unwrap();
    assert_ne!(outcome, Outcome::Exited(0), "reached the host's loopback");
    for address in ["1.1.1.1/53", "151.101.2.132/80"] {
        let outcome = fixture
            .sandbox(&format!("timeout 5 bash -c 'exec 3<>/dev/tcp/{address}'"))
            .run()
            .unwrap();
        assert_ne!(outcome, Outcome::Exited(0), "reached {address}");
    }
    let log = fixture.ok("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    assert_eq!(log, "lo\n");
    // The sandbox's own loopback works (a build's tests may serve on it).
    fixture.ok("exec 3<>/dev/tcp/127.0.0.1/1 2>/dev/null; [ $? -ne 0 ] && ip=$(cat /proc/net/if_inet6 2>/dev/null); true");
}

/// Processes whose command line holds `marker`.
fn processes_with(marker: &str) -> usize {
    let mut count = 0;
    for entry in fs_err::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = fs_err::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(marker)
        {
            count += 1;
        }
    }
    count
}

#[test]
fn the_process_tree_dies_with_the_step() {
    let fixture = Fixture::new();
    let marker = "1234.25";
    fixture.ok(&format!("sleep {marker} & sleep {marker} & echo started"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(processes_with(marker), 0, "a process outlived its step");
}

#[test]
fn timeout_kills_everything() {
    let fixture = Fixture::new();
    let marker = "4321.75";
    let mut sandbox = fixture.sandbox(&format!("sleep {marker} & sleep {marker}"));
    sandbox.limits.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let outcome = sandbox.run().unwrap();
    assert_eq!(outcome, Outcome::TimedOut(Duration::from_millis(500)));
    assert!(started.elapsed() < Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(processes_with(marker), 0, "a process outlived the timeout");
}

#[test]
fn a_fork_bomb_is_bounded() {
    let fixture = Fixture::new();
    let mut sandbox = fixture.sandbox("bomb() { bomb | bomb & }; bomb; sleep 3; echo survived");
    sandbox.limits.processes = 64;
    sandbox.limits.timeout = Duration::from_secs(20);
    let outcome = sandbox.run().unwrap();
    // Whatever the bomb's shell did, the host is fine and nothing is left.
    assert!(
        matches!(outcome, Outcome::Exited(_) | Outcome::TimedOut(_)),
        "{outcome:?}"
    );
    assert!(
        fixture.log().contains("fork"),
        "the limit was not hit: {}",
        fixture.log()
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(processes_with("bomb"), 0);
}

#[test]
fn a_missing_program_is_named() {
    let fixture = Fixture::new();
    let mut sandbox = fixture.sandbox("");
    sandbox.cmd = vec!["no-such-compiler".into()];
    let error = sandbox.run().unwrap_err();
    assert!(matches!(error, SandboxError::Spawn { .. }), "{error:?}");
    assert!(error.hint().unwrap().contains("deps"), "{:?}", error.hint());
}

#[test]
fn bad_mounts_are_refused() {
    let fixture = Fixture::new();
    for (target, expect) in [
        ("/tmp/x", "sandbox's own"),
        ("/proc", "sandbox's own"),
        ("usr/x", "normalized"),
        ("/a/../b", "normalized"),
        ("/bin/x", "symbolic link"),
        ("/out/inner", "inside the mount point"),
    ] {
        let mut sandbox = fixture.sandbox("true");
        if target == "/out/inner" {
            // `/out-x` sorts between `/out` and `/out/inner`.
            fixture.mount_out(&mut sandbox, "/out-x");
        }
        fixture.mount_out(&mut sandbox, target);
        let error = sandbox.run().unwrap_err().to_string();
        assert!(error.contains(expect), "{target}: {error}");
    }
    let mut sandbox = fixture.sandbox("true");
    sandbox.workdir = "/missing".into();
    let error = sandbox.run().unwrap_err();
    assert!(error.to_string().contains("working directory"), "{error}");
}

#[test]
fn a_root_of_layers() {
    let fixture = Fixture::new();
    let log = fixture.ok_layered(
        "cat /opt/t/x /opt/t/y; ls /opt/t; readlink /opt/link; \
         touch /opt/t/z /opt/new 2>/dev/null || echo read-only; ls /",
    );
    let mut lines = log.lines();
    assert_eq!(lines.next(), Some("upper"), "the top layer wins: {log}");
    assert_eq!(lines.next(), Some("y"), "{log}");
    assert_eq!(lines.next(), Some("x"), "{log}");
    assert_eq!(lines.next(), Some("y"), "{log}");
    assert_eq!(lines.next(), Some("t"), "{log}");
    assert_eq!(lines.next(), Some("read-only"), "{log}");
    let top: Vec<&str> = lines.collect();
    assert!(top.contains(&"opt") && top.contains(&"bin"), "{log}");
    // The layers are as they were, and nothing was added to them.
    assert!(!fixture.dir.path().join("upper/opt/t/z").exists());
    assert!(!fixture.dir.path().join("lower/opt/new").exists());
    assert!(!fixture.dir.path().join("lower/dev").exists());

    // A mount point in a lower layer's directory is made in the top one; one on a
    // lower layer's symbolic link or under its file is refused.
    let mut sandbox = fixture.sandbox("cat /opt/t/mnt/file");
    sandbox.lower = fixture.layers();
    fixture.mount_out(&mut sandbox, "/opt/t/mnt");
    fs_err::write(fixture.dir.path().join("out/file"), "mounted\n").unwrap();
    assert_eq!(
        sandbox.run().unwrap(),
        Outcome::Exited(0),
        "{}",
        fixture.log()
    );
    assert_eq!(fixture.log(), "mounted\n");
    for (target, expect) in [
        ("/opt/link/m", "`/opt/link` is a symbolic link"),
        ("/opt/t/y/m", "`/opt/t/y` is a file"),
    ] {
        let mut sandbox = fixture.sandbox("true");
        sandbox.lower = fixture.layers();
        fixture.mount_out(&mut sandbox, target);
        let error = sandbox.run().unwrap_err().to_string();
        assert!(error.contains(expect), "{target}: {error}");
    }

    let mut sandbox = fixture.sandbox("true");
    sandbox.lower = vec![PathBuf::from("relative")];
    let error = sandbox.run().unwrap_err().to_string();
    assert!(error.contains("relative"), "{error}");
    let mut sandbox = fixture.sandbox("true");
    sandbox.lower = vec![fixture.dir.path().join("upper"); MAX_LOWER + 1];
    let error = sandbox.run().unwrap_err();
    assert!(error.is_overlay_failure(), "{error}");
}

/// Set in the test process that `works_for_an_unprivileged_user` starts as `nobody`.
const INNER: &str = "CAIRN_SANDBOX_TEST_UNPRIVILEGED";

#[test]
fn works_for_an_unprivileged_user() {
    if std::env::var_os(INNER).is_some() {
        // This is the inner run, as `nobody`: the whole sandbox, without root.
        assert_ne!(rustix::process::geteuid().as_raw(), 0);
        let fixture = Fixture::new();
        let log = fixture.ok("id -u; echo made > /out/file; ls -ln /out/file | cut -d' ' -f3; cat /proc/self/uid_map");
        let mut lines = log.lines();
        assert_eq!(lines.next(), Some("0"));
        assert_eq!(lines.next(), Some("0"));
        let map: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(map, ["0", "65534", "1"]);
        let owner = std::os::unix::fs::MetadataExt::uid(
            &fs_err::metadata(fixture.dir.path().join("out/file")).unwrap(),
        );
        assert_eq!(owner, 65534);
        let outcome = fixture.sandbox("touch /usr/x").run().unwrap();
        assert_ne!(outcome, Outcome::Exited(0));
        assert_eq!(fixture.ok_layered("cat /opt/t/x /opt/t/y"), "upper\ny\n");
        return;
    }
    if !rustix::process::geteuid().is_root() {
        // Already unprivileged: every other test covers this case.
        return;
    }
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::works_for_an_unprivileged_user",
            "--nocapture",
        ])
        .env(INNER, "1")
        .env("TMPDIR", "/tmp")
        .output()
        .expect("setpriv (util-linux) runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}
