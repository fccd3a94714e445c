//! A real HTTP cache server for tests: nginx on 127.0.0.1 with its own configuration,
//! logs and document root in a temporary directory, answering `GET`/`HEAD` and
//! accepting `PUT` (`dav_methods PUT DELETE`, directories created as needed), optionally
//! behind basic authentication. Stopped when dropped.
//!
//! nginx is an oracle tool (Debian package `nginx`): missing, the tests that need it
//! fail in CI and are skipped elsewhere. Debian installs it in `/usr/sbin`, which a
//! user's `PATH` may lack, so that is looked at too.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::oracle::{Oracle, require_tool};

/// A running nginx serving [`WebDavServer::root`].
#[derive(Debug)]
pub struct WebDavServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl WebDavServer {
    /// Starts nginx and waits until it answers. `None` when nginx is not installed
    /// (outside CI).
    pub fn start() -> Option<WebDavServer> {
        Self::start_with(None)
    }

    /// Like [`WebDavServer::start`], but every request must carry these basic
    /// credentials.
    pub fn start_with_basic_auth(user: &str, password: &str) -> Option<WebDavServer> {
        Self::start_with(Some((user, password)))
    }

    fn start_with(auth: Option<(&str, &str)>) -> Option<WebDavServer> {
        let nginx = find_nginx()?;
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir(dir.path().join("root")).unwrap();
        // The port is free when we look; another process may take it before nginx
        // binds it, so a few tries.
        for _ in 0..5 {
            let port = free_port();
            write_config(dir.path(), port, auth);
            let mut child = nginx
                .command()
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(dir.path().join("nginx.conf"))
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    fs_err::File::create(dir.path().join("stderr.log"))
                        .unwrap()
                        .into_file(),
                )
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if http_status(port, "GET", "/").is_ok() {
                    return Some(WebDavServer { child, port, dir });
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx did not answer within 30 s:\n{}",
                    logs(dir.path())
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            let logs = logs(dir.path());
            assert!(
                logs.contains("Address already in use"),
                "nginx exited before it answered:\n{logs}"
            );
        }
        panic!("nginx found no free port:\n{}", logs(dir.path()));
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The directory nginx serves and writes into.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// What nginx has logged (for a failure report).
    pub fn logs(&self) -> String {
        logs(self.dir.path())
    }
}

impl Drop for WebDavServer {
    fn drop(&mut self) {
        // nginx's master stops its workers on SIGTERM; SIGKILL would leave them.
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_nginx() -> Option<Oracle> {
    let sbin = Path::new("/usr/sbin/nginx");
    if sbin.is_file() {
        return Some(Oracle {
            path: sbin.to_path_buf(),
        });
    }
    require_tool("nginx")
}

fn write_config(dir: &Path, port: u16, auth: Option<(&str, &str)>) {
    let d = dir.display();
    let mut config = String::new();
    // As root, nginx's workers would otherwise run as `nobody` and could not write
    // into the temporary directory.
    if fs_err::metadata(dir).unwrap().uid() == 0 {
        config.push_str("user root;\n");
    }
    write!(
        config,
        "daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port};
        root {d}/root;
        location / {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
"
    )
    .unwrap();
    if let Some((user, password)) = auth {
        // nginx reads `{{PLAIN}}` passwords in its user file.
        fs_err::write(
            dir.join("htpasswd"),
            format!("{user}:{{PLAIN}}{password}\n"),
        )
        .unwrap();
        writeln!(
            config,
            "            auth_basic cairn;\n            auth_basic_user_file {d}/htpasswd;"
        )
        .unwrap();
    }
    config.push_str("        }\n    }\n}\n");
    fs_err::write(dir.join("nginx.conf"), config).unwrap();
}

fn logs(dir: &Path) -> String {
    ["stderr.log", "error.log"]
        .iter()
        .map(|name| fs_err::read_to_string(dir.join(name)).unwrap_or_default())
        .collect()
}

/// A port nobody listens on now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The status of a bodiless request to `127.0.0.1:port`, or why there is none.
pub(crate) fn http_status(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let head = String::from_utf8_lossy(&response);
    head.split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head:.200}")))
}
