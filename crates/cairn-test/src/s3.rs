//! A real S3-compatible server for tests: moto in server mode
//! (`python3 -m moto.server`) on 127.0.0.1, with one bucket created, killed when
//! dropped. moto accepts any credentials and unsigned requests.
//!
//! moto is an oracle tool, installed with `python3 -m pip install 'moto[server]'`:
//! missing, the tests that need it fail in CI and are skipped elsewhere.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::oracle::require_tool;
use crate::webdav::{free_port, http_status};

/// The bucket [`S3Server::start`] creates.
const BUCKET: &str = "cairn-test";

/// A running moto server.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts moto, waits until it answers and creates [`S3Server::bucket`]. `None` when
    /// Python or moto is not installed (outside CI).
    pub fn start() -> Option<S3Server> {
        let python = require_tool("python3")?;
        let probe = python
            .command()
            .args(["-c", "import moto.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        if !probe.success() {
            assert!(
                std::env::var_os("CI").is_none(),
                "moto is not installed, but CI must run this test: python3 -m pip install 'moto[server]'"
            );
            eprintln!("skipping: moto is not installed (python3 -m pip install 'moto[server]')");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = free_port();
            let log = fs_err::File::create(dir.path().join("moto.log")).unwrap();
            let mut child = python
                .command()
                .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(log.file().try_clone().unwrap())
                .stderr(log.into_file())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_mins(1);
            loop {
                if http_status(port, "GET", "/").is_ok() {
                    let server = S3Server { child, port, dir };
                    server.create_bucket(BUCKET);
                    return Some(server);
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "moto did not answer within a minute:\n{}",
                    logs(dir.path())
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            let logs = logs(dir.path());
            assert!(
                logs.contains("Address already in use"),
                "moto exited before it answered:\n{logs}"
            );
        }
        panic!("moto found no free port:\n{}", logs(dir.path()));
    }

    /// `http://127.0.0.1:PORT`: the `endpoint` of an S3 client.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The bucket created at start.
    pub fn bucket(&self) -> &str {
        BUCKET
    }

    /// Creates another bucket (in `us-east-1`).
    pub fn create_bucket(&self, name: &str) {
        let status = http_status(self.port, "PUT", &format!("/{name}")).unwrap();
        assert_eq!(
            status,
            200,
            "moto did not create bucket `{name}`:\n{}",
            self.logs()
        );
    }

    /// `s3://<bucket>/<prefix>?endpoint=…&region=us-east-1`: a cache in the bucket.
    pub fn cache_url(&self, prefix: &str) -> String {
        format!(
            "s3://{BUCKET}/{prefix}?endpoint={}&region=us-east-1",
            self.endpoint()
        )
    }

    /// What moto has logged (for a failure report).
    pub fn logs(&self) -> String {
        logs(self.dir.path())
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn logs(dir: &Path) -> String {
    fs_err::read_to_string(dir.join("moto.log")).unwrap_or_default()
}
