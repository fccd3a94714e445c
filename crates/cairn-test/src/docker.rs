//! A Docker daemon of the test's own: `dockerd` with its data, state and socket in a
//! temporary directory, no network of its own (no bridge, no iptables), stopped when
//! dropped. It needs root; elsewhere the tests that use it are skipped (and fail in CI,
//! which runs as root).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::oracle::{Oracle, require_tool};

/// A running `dockerd`, reachable only through its Unix socket.
#[derive(Debug)]
pub struct DockerDaemon {
    child: Child,
    socket: PathBuf,
    client: Oracle,
    log: PathBuf,
}

impl DockerDaemon {
    /// Starts `dockerd` under `dir` and waits until it answers. `None` when dockerd is
    /// not installed or this is not root (outside CI).
    pub fn start(dir: &Path) -> Option<DockerDaemon> {
        let dockerd = require_tool("dockerd")?;
        let client = require_tool("docker")?;
        let uid = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            assert!(
                std::env::var_os("CI").is_none(),
                "dockerd needs root and CI must run this test"
            );
            eprintln!("skipping: dockerd needs root");
            return None;
        }
        fs_err::create_dir_all(dir).unwrap();
        let socket = dir.join("docker.sock");
        let log = dir.join("dockerd.log");
        let child = dockerd
            .command()
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                // Works on any file system the temporary directory is on.
                "--storage-driver=vfs",
            ])
            .stdin(Stdio::null())
            .stdout(fs_err::File::create(&log).unwrap().into_file())
            .stderr(
                fs_err::File::create(dir.join("dockerd.err"))
                    .unwrap()
                    .into_file(),
            )
            .spawn()
            .unwrap();
        let mut daemon = DockerDaemon {
            child,
            socket,
            client,
            log,
        };
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            let info = daemon.command().arg("info").output().unwrap();
            if info.status.success() {
                return Some(daemon);
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!(
                    "dockerd exited ({status}) before it answered:\n{}",
                    daemon.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not start within a minute:\n{}",
                daemon.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The `docker` client, pointed at this daemon.
    pub fn command(&self) -> Command {
        let mut command = self.client.command();
        command.arg("--host").arg(self.host());
        command
    }

    /// The daemon's Unix socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `unix://<socket>`: `DOCKER_HOST` for another program's `docker`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// What the daemon has logged (for a failure report).
    pub fn logs(&self) -> String {
        let err = self.log.with_file_name("dockerd.err");
        format!(
            "{}{}",
            fs_err::read_to_string(&self.log).unwrap_or_default(),
            fs_err::read_to_string(err).unwrap_or_default()
        )
    }
}

impl Drop for DockerDaemon {
    /// SIGTERM, so dockerd stops the containerd it started; SIGKILL if it does not stop
    /// within 30 seconds.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
