#![allow(clippy::unwrap_used)]
//! Synthesized files: exact output, order independence, and the CA bundle against the
//! real `update-ca-certificates`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use cairn_image::Rootfs;
use cairn_image::synth::{
    Account, Group, NSSWITCH_CONF, StatusPackage, SynthError, accounts, alternatives, base_dirs,
    ca_bundle, dpkg_status, resolve_user,
};
use cairn_oci::{EntryKind, LayerEntry};

// ---------------------------------------------------------------------------------
// Helpers

/// One line per entry: kind, path, mode, owner (and a symlink's target).
fn render(entries: &[LayerEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let path = String::from_utf8_lossy(&e.path);
        let line = match &e.kind {
            EntryKind::Directory => format!("d {path} {:o} {}:{}", e.mode, e.uid, e.gid),
            EntryKind::Bytes(_) => format!("f {path} {:o} {}:{}", e.mode, e.uid, e.gid),
            EntryKind::Symlink { target } => {
                assert_eq!((e.mode, e.uid, e.gid), (0o777, 0, 0));
                format!("l {path} -> {}", String::from_utf8_lossy(target))
            }
            other => panic!("unexpected entry kind {other:?}"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn contents<'a>(entries: &'a [LayerEntry], path: &str) -> &'a [u8] {
    let entry = entries
        .iter()
        .find(|e| e.path == path.as_bytes())
        .unwrap_or_else(|| panic!("no entry {path}"));
    match &entry.kind {
        EntryKind::Bytes(bytes) => bytes,
        other => panic!("{path} is {other:?}"),
    }
}

fn text<'a>(entries: &'a [LayerEntry], path: &str) -> &'a str {
    std::str::from_utf8(contents(entries, path)).unwrap()
}

fn entry(path: &str, kind: EntryKind) -> LayerEntry {
    LayerEntry {
        path: path.as_bytes().to_vec(),
        mode: match kind {
            EntryKind::Directory => 0o755,
            EntryKind::Symlink { .. } => 0o777,
            _ => 0o644,
        },
        kind,
        uid: 0,
        gid: 0,
        xattrs: BTreeMap::new(),
    }
}

fn dir(path: &str) -> LayerEntry {
    entry(path, EntryKind::Directory)
}

fn file(path: &str, bytes: &[u8]) -> LayerEntry {
    entry(path, EntryKind::Bytes(bytes.to_vec()))
}

fn symlink(path: &str, target: &str) -> LayerEntry {
    entry(
        path,
        EntryKind::Symlink {
            target: target.as_bytes().to_vec(),
        },
    )
}

/// A root file system of `entries`, with every missing parent directory.
fn rootfs(entries: Vec<LayerEntry>) -> Rootfs {
    let mut rootfs = Rootfs::default();
    for e in entries {
        let mut parent = e.path.clone();
        while let Some(pos) = parent.iter().rposition(|&b| b == b'/') {
            parent.truncate(pos);
            if !rootfs.entries.contains_key(&parent) {
                rootfs.put(dir(std::str::from_utf8(&parent).unwrap()));
            }
        }
        rootfs.put(e);
    }
    rootfs
}

/// Adds the tree at host directory `host` as `at` (regular files read when needed).
fn add_host_tree(rootfs: &mut Rootfs, host: &Path, at: &str) {
    let mut parts = Vec::new();
    for component in at.split('/') {
        parts.push(component);
        let path = parts.join("/");
        if !rootfs.entries.contains_key(path.as_bytes()) {
            rootfs.put(dir(&path));
        }
    }
    let mut children: Vec<_> = fs_err::read_dir(host)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    children.sort();
    for child in children {
        let name = child.file_name().unwrap().to_str().unwrap().to_owned();
        let path = format!("{at}/{name}");
        let meta = fs_err::symlink_metadata(&child).unwrap();
        if meta.is_dir() {
            add_host_tree(rootfs, &child, &path);
        } else if meta.is_symlink() {
            let target = fs_err::read_link(&child).unwrap();
            rootfs.put(symlink(&path, target.to_str().unwrap()));
        } else {
            rootfs.put(entry(
                &path,
                EntryKind::File {
                    source: child.clone(),
                    size: meta.len(),
                },
            ));
        }
    }
}

fn account(name: &str, uid: u32, gid: u32, home: &str, shell: &str) -> Account {
    Account {
        name: name.to_owned(),
        uid,
        gid,
        home: home.to_owned(),
        shell: shell.to_owned(),
    }
}

fn group(name: &str, gid: u32, members: &[&str]) -> Group {
    Group {
        name: name.to_owned(),
        gid,
        members: members.iter().map(|m| (*m).to_owned()).collect(),
    }
}

// ---------------------------------------------------------------------------------
// Accounts

#[test]
fn accounts_builtin() {
    let entries = accounts(&[], &[]).unwrap();
    assert_eq!(
        render(&entries),
        "\
d etc 755 0:0
f etc/group 644 0:0
f etc/passwd 644 0:0
d home 755 0:0
d home/nonroot 700 65532:65532
d root 700 0:0
"
    );
    assert_eq!(
        text(&entries, "etc/passwd"),
        "\
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
"
    );
    assert_eq!(
        text(&entries, "etc/group"),
        "\
root:x:0:
tty:x:5:
staff:x:50:
nonroot:x:65532:
nobody:x:65534:
"
    );
}

fn declared() -> (Vec<Account>, Vec<Group>) {
    let users = vec![
        account("app", 1000, 1000, "/home/app", "/bin/sh"),
        account("svc", 999, 999, "/var/lib/svc", "/usr/sbin/nologin"),
        account("tool", 1001, 1000, "/home/app/tool", "/sbin/nologin"),
        // An exact repeat of a built-in is allowed.
        account("nonroot", 65532, 65532, "/home/nonroot", "/sbin/nologin"),
    ];
    let groups = vec![
        group("adm", 4, &["svc", "app", "svc"]),
        group("web", 33, &["nonroot"]),
        group("app", 1000, &[]),
    ];
    (users, groups)
}

#[test]
fn accounts_declared() {
    let (users, groups) = declared();
    let entries = accounts(&users, &groups).unwrap();
    assert_eq!(
        render(&entries),
        "\
d etc 755 0:0
f etc/group 644 0:0
f etc/passwd 644 0:0
d home 755 0:0
d home/app 700 1000:1000
d home/app/tool 700 1001:1000
d home/nonroot 700 65532:65532
d root 700 0:0
"
    );
    assert_eq!(
        text(&entries, "etc/passwd"),
        "\
root:x:0:0:root:/root:/sbin/nologin
svc:x:999:999:svc:/var/lib/svc:/usr/sbin/nologin
app:x:1000:1000:app:/home/app:/bin/sh
tool:x:1001:1000:tool:/home/app/tool:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
"
    );
    // `svc` gets a group of its own name; members sorted, once each.
    assert_eq!(
        text(&entries, "etc/group"),
        "\
root:x:0:
adm:x:4:app,svc
tty:x:5:
web:x:33:nonroot
staff:x:50:
svc:x:999:
app:x:1000:
nonroot:x:65532:
nobody:x:65534:
"
    );
}

#[test]
fn accounts_ignore_input_order() {
    let (mut users, mut groups) = declared();
    let expected = accounts(&users, &groups).unwrap();
    users.reverse();
    groups.reverse();
    groups[1].members.reverse();
    assert_eq!(accounts(&users, &groups).unwrap(), expected);
    users.rotate_left(1);
    groups.rotate_left(2);
    assert_eq!(accounts(&users, &groups).unwrap(), expected);
}

#[test]
fn accounts_refuse_duplicates() {
    let mut users = vec![
        account("bob", 1000, 1000, "/home/bob", "/bin/sh"),
        account("alice", 1000, 1000, "/home/alice", "/bin/sh"),
    ];
    let err = accounts(&users, &[]).unwrap_err();
    assert!(matches!(err, SynthError::DuplicateUid { uid: 1000, .. }));
    assert_eq!(
        err.to_string(),
        "uid 1000 is used by both `alice` and `bob`"
    );
    // The same message whatever the order.
    users.reverse();
    assert_eq!(
        accounts(&users, &[]).unwrap_err().to_string(),
        "uid 1000 is used by both `alice` and `bob`"
    );

    let err = accounts(&[account("nonroot", 1000, 1000, "/home/x", "/bin/sh")], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "two different accounts are named `nonroot`"
    );

    let err = accounts(&[account("me", 65532, 65532, "/home/me", "/bin/sh")], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "uid 65532 is used by both `nonroot` and `me`"
    );

    let err = accounts(&[], &[group("wheel", 5, &[])]).unwrap_err();
    assert_eq!(err.to_string(), "gid 5 is used by both `tty` and `wheel`");

    let err = accounts(&[], &[group("staff", 51, &[])]).unwrap_err();
    assert_eq!(err.to_string(), "two different groups are named `staff`");
}

#[test]
fn accounts_refuse_bad_input() {
    let cases: Vec<(Vec<Account>, Vec<Group>, &str)> = vec![
        (
            vec![account("a:b", 1000, 1000, "/home/a", "/bin/sh")],
            vec![],
            "invalid user name `a:b`: only ASCII letters, digits, `_`, `-` and `.` (and a final `$`)",
        ),
        (
            vec![account("1000", 1000, 1000, "/home/a", "/bin/sh")],
            vec![],
            "invalid user name `1000`: must not be a number, which would read as an id",
        ),
        (
            vec![account("a", 1000, 1000, "home/a", "/bin/sh")],
            vec![],
            "account `a`: invalid home `home/a`: must be absolute",
        ),
        (
            vec![account("a", 1000, 1000, "/home/../etc", "/bin/sh")],
            vec![],
            "account `a`: invalid home `/home/../etc`: must not contain `.` or `..` components",
        ),
        (
            vec![],
            vec![group("g", 1000, &["ghost"])],
            "group `g` lists `ghost`, which is not an account",
        ),
        (
            vec![account("staff", 1000, 1000, "/home/staff", "/bin/sh")],
            vec![],
            "account `staff` has primary gid 1000, which no group has, and the group `staff` \
             that would be made for it already exists with another gid",
        ),
    ];
    for (users, groups, message) in cases {
        assert_eq!(accounts(&users, &groups).unwrap_err().to_string(), message);
    }
}

#[test]
fn resolve_users() {
    let (users, groups) = declared();
    let resolve = |spec| resolve_user(spec, &users, &groups);
    assert_eq!(resolve("nonroot").unwrap(), (65532, 65532));
    assert_eq!(resolve("65532").unwrap(), (65532, 65532));
    assert_eq!(resolve("65532:65532").unwrap(), (65532, 65532));
    assert_eq!(resolve("root").unwrap(), (0, 0));
    assert_eq!(resolve("0").unwrap(), (0, 0));
    assert_eq!(resolve("tool").unwrap(), (1001, 1000));
    assert_eq!(resolve("app:adm").unwrap(), (1000, 4));
    assert_eq!(resolve("1000:staff").unwrap(), (1000, 50));
    assert_eq!(resolve("nobody:5").unwrap(), (65534, 5));
    // Built-ins resolve without any declaration.
    assert_eq!(resolve_user("nonroot", &[], &[]).unwrap(), (65532, 65532));
}

#[test]
fn resolve_unknown_user() {
    let (users, groups) = declared();
    let resolve = |spec| resolve_user(spec, &users, &groups).unwrap_err();
    let err = resolve("ghost");
    assert!(matches!(err, SynthError::UnknownUser { .. }));
    assert_eq!(
        err.to_string(),
        "unknown user `ghost` in `ghost`: no account has this name"
    );
    assert_eq!(
        resolve("1234:1234").to_string(),
        "unknown user `1234` in `1234:1234`: no account has this uid"
    );
    assert_eq!(
        resolve("nonroot:wheel").to_string(),
        "unknown group `wheel` in `nonroot:wheel`: no group has this name"
    );
    assert_eq!(
        resolve("nonroot:4242").to_string(),
        "unknown group `4242` in `nonroot:4242`: no group has this gid"
    );
    for spec in ["", ":0", "nonroot:"] {
        assert_eq!(
            resolve(spec).to_string(),
            format!("invalid user `{spec}`: expected `user`, `uid`, `user:group` or `uid:gid`")
        );
    }
}

// ---------------------------------------------------------------------------------
// Base directories

#[test]
fn base_dirs_exact() {
    let entries = base_dirs();
    assert_eq!(
        render(&entries),
        "\
d etc 755 0:0
f etc/nsswitch.conf 644 0:0
d tmp 1777 0:0
d var 755 0:0
d var/tmp 1777 0:0
"
    );
    assert_eq!(text(&entries, "etc/nsswitch.conf"), NSSWITCH_CONF);
    assert!(NSSWITCH_CONF.contains("\nhosts:          files dns\n"));
}

/// The constant is Debian's template, byte for byte, where this machine has it.
#[test]
fn nsswitch_is_debians_template() {
    let template = Path::new("/usr/share/libc-bin/nsswitch.conf");
    if !template.exists() {
        eprintln!("skipped: no {}", template.display());
        return;
    }
    assert_eq!(fs_err::read_to_string(template).unwrap(), NSSWITCH_CONF);
}

// ---------------------------------------------------------------------------------
// dpkg status

fn status_packages() -> Vec<StatusPackage> {
    vec![
        StatusPackage {
            name: "tzdata".to_owned(),
            control: "Package: tzdata\nVersion: 2025b-0+deb12u1\nArchitecture: all\n\
                      Description: time zone and daylight-saving time data\n This package..."
                .to_owned(),
            md5sums: None,
        },
        StatusPackage {
            name: "libc6".to_owned(),
            control: "Package: libc6\nSource: glibc\nVersion: 2.36-9+deb12u10\n\
                      Architecture: amd64\nMulti-Arch: same\n"
                .to_owned(),
            md5sums: Some(
                b"0123456789abcdef0123456789abcdef  usr/lib/x86_64-linux-gnu/libc.so.6\n".to_vec(),
            ),
        },
    ]
}

#[test]
fn dpkg_status_exact() {
    let entries = dpkg_status(&status_packages()).unwrap();
    assert_eq!(
        render(&entries),
        "\
d var 755 0:0
d var/lib 755 0:0
d var/lib/dpkg 755 0:0
d var/lib/dpkg/status.d 755 0:0
f var/lib/dpkg/status.d/libc6 644 0:0
f var/lib/dpkg/status.d/libc6.md5sums 644 0:0
f var/lib/dpkg/status.d/tzdata 644 0:0
"
    );
    assert_eq!(
        text(&entries, "var/lib/dpkg/status.d/libc6"),
        "Package: libc6\nSource: glibc\nVersion: 2.36-9+deb12u10\nArchitecture: amd64\n\
         Multi-Arch: same\n"
    );
    assert_eq!(
        contents(&entries, "var/lib/dpkg/status.d/libc6.md5sums"),
        b"0123456789abcdef0123456789abcdef  usr/lib/x86_64-linux-gnu/libc.so.6\n"
    );
    // A missing final newline is added; nothing else changes.
    assert_eq!(
        text(&entries, "var/lib/dpkg/status.d/tzdata"),
        "Package: tzdata\nVersion: 2025b-0+deb12u1\nArchitecture: all\n\
         Description: time zone and daylight-saving time data\n This package...\n"
    );

    let mut reversed = status_packages();
    reversed.reverse();
    assert_eq!(dpkg_status(&reversed).unwrap(), entries);
    assert_eq!(
        render(&dpkg_status(&[]).unwrap()),
        "d var 755 0:0\nd var/lib 755 0:0\nd var/lib/dpkg 755 0:0\nd var/lib/dpkg/status.d 755 0:0\n"
    );
}

#[test]
fn dpkg_status_refuses_bad_packages() {
    let mut packages = status_packages();
    packages.push(packages[0].clone());
    assert_eq!(
        dpkg_status(&packages).unwrap_err().to_string(),
        "package `tzdata` is listed twice"
    );
    let mut packages = status_packages();
    packages[0].name = "../evil".to_owned();
    assert!(matches!(
        dpkg_status(&packages).unwrap_err(),
        SynthError::InvalidName { .. }
    ));
    let mut packages = status_packages();
    packages[0].name = "libc-bin".to_owned();
    assert_eq!(
        dpkg_status(&packages).unwrap_err().to_string(),
        "package `libc-bin`: its control file says `Package: tzdata`"
    );
}

// ---------------------------------------------------------------------------------
// CA certificates

const UPDATE_CA_CERTIFICATES: &str = "/usr/sbin/update-ca-certificates";

/// What the real `update-ca-certificates` makes from `certs_dir` and `local_dir`, with
/// the configuration the `ca-certificates` postinst writes on a first install (every
/// `*.crt` file, `find | sort` in the C locale): the configuration, the bundle, and the
/// `.pem` links (name → target). `openssl rehash` is stubbed out.
fn real_update_ca_certificates(
    certs_dir: &Path,
    local_dir: &Path,
) -> (String, Vec<u8>, BTreeMap<String, String>) {
    let tmp = tempfile::tempdir().unwrap();
    let listing = Command::new("sh")
        .arg("-c")
        .arg("cd \"$1\" && find . -type f -name '*.crt' -print | sed -e 's/^\\.\\///' | LC_ALL=C sort")
        .arg("sh")
        .arg(certs_dir)
        .output()
        .unwrap();
    assert!(listing.status.success());
    let conf = tmp.path().join("ca-certificates.conf");
    fs_err::write(&conf, &listing.stdout).unwrap();
    let bin = tmp.path().join("bin");
    fs_err::create_dir(&bin).unwrap();
    fs_err::write(bin.join("openssl"), "#!/bin/sh\nexit 0\n").unwrap();
    fs_err::set_permissions(bin.join("openssl"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let etc = tmp.path().join("certs");
    fs_err::create_dir(&etc).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new(UPDATE_CA_CERTIFICATES)
        .arg("--certsconf")
        .arg(&conf)
        .arg("--certsdir")
        .arg(certs_dir)
        .arg("--localcertsdir")
        .arg(local_dir)
        .arg("--etccertsdir")
        .arg(&etc)
        .args(["--hooksdir", ""])
        .env("PATH", path)
        .env("TMPDIR", tmp.path())
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "update-ca-certificates failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bundle = fs_err::read(etc.join("ca-certificates.crt")).unwrap();
    let mut links = BTreeMap::new();
    for e in fs_err::read_dir(&etc).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if Path::new(&name).extension().is_some_and(|e| e == "pem") {
            let target = fs_err::read_link(e.path()).unwrap();
            links.insert(name, target.to_str().unwrap().to_owned());
        }
    }
    (String::from_utf8(listing.stdout).unwrap(), bundle, links)
}

/// The `.pem` links of synthesized entries, name → target.
fn pem_links(entries: &[LayerEntry]) -> BTreeMap<String, String> {
    entries
        .iter()
        .filter_map(|e| {
            let name = std::str::from_utf8(e.path.strip_prefix(b"etc/ssl/certs/")?).ok()?;
            let EntryKind::Symlink { target } = &e.kind else {
                return None;
            };
            Some((name.to_owned(), String::from_utf8(target.clone()).unwrap()))
        })
        .collect()
}

/// The body of `ca-certificates.conf` after the postinst's header.
fn conf_body(entries: &[LayerEntry]) -> &str {
    let conf = text(entries, "etc/ca-certificates.conf");
    let header_end = conf.rfind("#\n").unwrap() + 2;
    &conf[header_end..]
}

#[test]
fn ca_bundle_needs_ca_certificates() {
    let rootfs = rootfs(vec![file("usr/share/doc/x/copyright", b"x")]);
    assert!(ca_bundle(&rootfs).unwrap().is_none());
}

const PEM_A: &[u8] = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
const PEM_B_NO_NEWLINE: &[u8] = b"-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----";
const PEM_C_CRLF: &[u8] = b"-----BEGIN CERTIFICATE-----\r\nCCCC\r\n-----END CERTIFICATE-----\r\n";

/// Names the scripts rewrite, a file without a final newline, a symlink (not a
/// certificate for the config script's `find -type f`, one for the `find -L` of local
/// certificates), subdirectories, files that are not `*.crt`.
/// A file of a test tree: path, contents or symlink target.
type TreeFile = (&'static str, Option<&'static [u8]>, Option<&'static str>);

fn ca_tree() -> Vec<TreeFile> {
    vec![
        ("share/mozilla/Zeta.crt", Some(PEM_A), None),
        ("share/mozilla/A_(x),y.crt", Some(PEM_B_NO_NEWLINE), None),
        ("share/mozilla/Alpha.crt", Some(PEM_C_CRLF), None),
        (
            "share/mozilla/README",
            Some(b"not a certificate\n".as_slice()),
            None,
        ),
        ("share/mozilla/link.crt", None, Some("Zeta.crt")),
        ("share/extra/b.crt", Some(PEM_A), None),
        ("share/zz.crt", Some(b"".as_slice()), None),
        ("local/My CA (corp), 2.crt", Some(PEM_B_NO_NEWLINE), None),
        ("local/sub/Alpha.crt", Some(PEM_A), None),
        ("local/sub/linked.crt", None, Some("../My CA (corp), 2.crt")),
        ("local/notes.txt", Some(b"x".as_slice()), None),
    ]
}

#[test]
fn ca_bundle_matches_update_ca_certificates_on_edge_cases() {
    if !Path::new(UPDATE_CA_CERTIFICATES).exists() {
        eprintln!("skipped: no {UPDATE_CA_CERTIFICATES} (apt-get install ca-certificates)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut entries = Vec::new();
    for (rel, bytes, link) in ca_tree() {
        let host = tmp.path().join(rel);
        fs_err::create_dir_all(host.parent().unwrap()).unwrap();
        let image = rel
            .replacen("share/", "usr/share/ca-certificates/", 1)
            .replacen("local/", "usr/local/share/ca-certificates/", 1);
        if let Some(bytes) = bytes {
            fs_err::write(&host, bytes).unwrap();
            entries.push(file(&image, bytes));
        }
        if let Some(target) = link {
            std::os::unix::fs::symlink(target, &host).unwrap();
            entries.push(symlink(&image, target));
        }
    }
    let synthesized = ca_bundle(&rootfs(entries)).unwrap().unwrap();
    let (listing, bundle, links) =
        real_update_ca_certificates(&tmp.path().join("share"), &tmp.path().join("local"));

    assert_eq!(conf_body(&synthesized), listing);
    assert_eq!(
        contents(&synthesized, "etc/ssl/certs/ca-certificates.crt"),
        bundle.as_slice()
    );
    let host_prefix = tmp.path().to_str().unwrap();
    let expected: BTreeMap<String, String> = links
        .into_iter()
        .map(|(name, target)| {
            let target = target
                .replacen(
                    &format!("{host_prefix}/share"),
                    "/usr/share/ca-certificates",
                    1,
                )
                .replacen(
                    &format!("{host_prefix}/local"),
                    "/usr/local/share/ca-certificates",
                    1,
                );
            (name, target)
        })
        .collect();
    assert_eq!(pem_links(&synthesized), expected);

    // And the exact output, for the record.
    assert_eq!(
        render(&synthesized),
        "\
d etc 755 0:0
f etc/ca-certificates.conf 644 0:0
d etc/ssl 755 0:0
d etc/ssl/certs 755 0:0
l etc/ssl/certs/A_=x=_y.pem -> /usr/share/ca-certificates/mozilla/A_(x),y.crt
l etc/ssl/certs/Alpha.pem -> /usr/local/share/ca-certificates/sub/Alpha.crt
l etc/ssl/certs/My_CA_=corp=__2.pem -> /usr/local/share/ca-certificates/My CA (corp), 2.crt
l etc/ssl/certs/Zeta.pem -> /usr/share/ca-certificates/mozilla/Zeta.crt
l etc/ssl/certs/b.pem -> /usr/share/ca-certificates/extra/b.crt
f etc/ssl/certs/ca-certificates.crt 644 0:0
l etc/ssl/certs/linked.pem -> /usr/local/share/ca-certificates/sub/linked.crt
l etc/ssl/certs/zz.pem -> /usr/share/ca-certificates/zz.crt
"
    );
    assert_eq!(
        conf_body(&synthesized),
        "extra/b.crt\nmozilla/A_(x),y.crt\nmozilla/Alpha.crt\nmozilla/Zeta.crt\nzz.crt\n"
    );
}

/// This machine's certificates: the synthesized files equal what the real script makes
/// from them, and, when this machine's configuration is the one a first install writes,
/// its own `/etc/ca-certificates.conf` and `/etc/ssl/certs/ca-certificates.crt`.
#[test]
fn ca_bundle_matches_this_machine() {
    let certs_dir = Path::new("/usr/share/ca-certificates");
    let local_dir = Path::new("/usr/local/share/ca-certificates");
    if !Path::new(UPDATE_CA_CERTIFICATES).exists() || !certs_dir.is_dir() {
        eprintln!("skipped: ca-certificates is not installed (apt-get install ca-certificates)");
        return;
    }
    let mut rootfs = Rootfs::default();
    add_host_tree(&mut rootfs, certs_dir, "usr/share/ca-certificates");
    if local_dir.is_dir() {
        add_host_tree(&mut rootfs, local_dir, "usr/local/share/ca-certificates");
    }
    let synthesized = ca_bundle(&rootfs).unwrap().unwrap();
    let (listing, bundle, links) = real_update_ca_certificates(certs_dir, local_dir);
    assert!(listing.lines().count() > 100, "{listing}");
    assert_eq!(conf_body(&synthesized), listing);
    let ours = contents(&synthesized, "etc/ssl/certs/ca-certificates.crt");
    assert!(ours == bundle.as_slice(), "the bundles differ");
    assert_eq!(pem_links(&synthesized), links);

    let host_conf = fs_err::read_to_string("/etc/ca-certificates.conf").unwrap_or_default();
    if host_conf.lines().any(|l| l.starts_with('!')) || host_conf.is_empty() {
        eprintln!("/etc/ca-certificates.conf deselects certificates: not compared");
        return;
    }
    assert_eq!(text(&synthesized, "etc/ca-certificates.conf"), host_conf);
    let host_bundle = fs_err::read("/etc/ssl/certs/ca-certificates.crt").unwrap();
    assert!(
        ours == host_bundle.as_slice(),
        "differs from /etc/ssl/certs/ca-certificates.crt"
    );
}

#[test]
fn ca_bundle_ignores_entry_order() {
    let mut entries: Vec<LayerEntry> = ca_tree()
        .into_iter()
        .map(|(rel, bytes, link)| {
            let image = rel
                .replacen("share/", "usr/share/ca-certificates/", 1)
                .replacen("local/", "usr/local/share/ca-certificates/", 1);
            match (bytes, link) {
                (Some(bytes), _) => file(&image, bytes),
                (None, Some(target)) => symlink(&image, target),
                (None, None) => unreachable!(),
            }
        })
        .collect();
    let expected = ca_bundle(&rootfs(entries.clone())).unwrap();
    entries.reverse();
    assert_eq!(ca_bundle(&rootfs(entries)).unwrap(), expected);
}

// ---------------------------------------------------------------------------------
// update-alternatives

// Postinst excerpts as Debian bookworm ships them (/var/lib/dpkg/info/*.postinst).
const MAWK: &str = r#"#!/bin/sh
set -e
# Automatically added by dh_installalternatives/13.7.1
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
        update-alternatives --install /usr/bin/awk awk /usr/bin/mawk 5 \
            --slave /usr/share/man/man1/awk.1.gz awk.1.gz /usr/share/man/man1/mawk.1.gz \
            --slave /usr/bin/nawk nawk /usr/bin/mawk \
            --slave /usr/share/man/man1/nawk.1.gz nawk.1.gz /usr/share/man/man1/mawk.1.gz
fi
# End automatically added section
"#;

const LESS: &str = r#"#!/bin/sh
set -e

case "$1" in
  configure)
    update-alternatives --quiet --install /usr/bin/pager pager \
      /usr/bin/less 77 --slave /usr/share/man/man1/pager.1.gz \
      pager.1.gz /usr/share/man/man1/less.1.gz
  ;;
  abort-upgrade|abort-remove|abort-deconfigure)
  ;;
  *)
    echo "postinst called with unknown argument \`$1'" >&2
    exit 1
  ;;
esac
"#;

const ED: &str = r#"#!/bin/sh
set -e

case "$1" in
       configure|abort-upgrade|abort-remove|abort-deconfigure)
	       update-alternatives --quiet --install /usr/bin/editor editor /bin/ed -100 \
		  --slave /usr/share/man/man1/editor.1.gz editor.1.gz /usr/share/man/man1/ed.1.gz
               ;;
esac
"#;

const VIM: &str = r#"#!/bin/sh
set -e
# Automatically added by dh_installalternatives/13.11.4
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
        update-alternatives --install /usr/bin/editor editor /usr/bin/vim.basic 30 \
            --slave /usr/share/man/man1/editor.1.gz editor.1.gz /usr/share/man/man1/vim.1.gz \
            --slave /usr/share/man/da/man1/editor.1.gz editor.da.1.gz /usr/share/man/da/man1/vim.1.gz
fi
# End automatically added section
# Automatically added by dh_installalternatives/13.11.4
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
        update-alternatives --install /usr/bin/vi vi /usr/bin/vim.basic 30 \
            --slave /usr/share/man/man1/vi.1.gz vi.1.gz /usr/share/man/man1/vim.1.gz
fi
# End automatically added section
"#;

const IPTABLES: &str = r#"#!/bin/sh

set -e

if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ]; then
	update-alternatives \
	  --install /usr/sbin/iptables iptables /usr/sbin/iptables-legacy 10 \
	  --slave /usr/sbin/iptables-restore iptables-restore /usr/sbin/iptables-legacy-restore \
	  --slave /usr/sbin/iptables-save iptables-save /usr/sbin/iptables-legacy-save
        update-alternatives \
          --install /usr/sbin/iptables iptables /usr/sbin/iptables-nft 20 \
          --slave /usr/sbin/iptables-restore iptables-restore /usr/sbin/iptables-nft-restore \
          --slave /usr/sbin/iptables-save iptables-save /usr/sbin/iptables-nft-save
fi
"#;

// A continuation into a comment: the call ends at `20`.
const GCC: &str = r"#! /bin/sh -e

update-alternatives --quiet \
    --install /usr/bin/cc cc /usr/bin/gcc 20 \
    #--slave /usr/share/man/man1/cc.1.gz cc.1.gz /usr/share/man/man1/gcc.1.gz

update-alternatives --quiet \
    --install /usr/bin/c89 c89 /usr/bin/c89-gcc 20 \
    --slave /usr/share/man/man1/c89.1.gz c89.1.gz /usr/share/man/man1/c89-gcc.1.gz
";

// Slaves from a command substitution: skipped.
const XZ_UTILS: &str = r#"#!/bin/sh
set -e

slave () {
	dir=$1 filename=$2 target=$3
	echo "--slave $dir/$filename $filename $dir/$target"
}

update-alternatives --install /usr/bin/lzma lzma /usr/bin/xz 20 $(
	slave /usr/share/man/man1 lzma.1.gz xz.1.gz
	slave /usr/bin unlzma unxz
	for util in cat more less diff cmp grep egrep fgrep
	do
		slave /usr/bin lz$util xz$util
	done
)
"#;

// Variables: skipped.
const PROCPS: &str = r#"#!/bin/sh
set -e
check_alternatives() {
  BINNAME="$1"
  BINPATH="$2"
  MANSEC="$3"
  if [ -e "$BINPATH"/"$BINNAME".procps ] ; then
	update-alternatives --install "$BINPATH"/"$BINNAME" "$BINNAME" \
	    "$BINPATH"/"$BINNAME".procps 50 \
		--slave /usr/share/man/man"$MANSEC"/"$BINNAME"."$MANSEC".gz "$BINNAME"."$MANSEC".gz \
		/usr/share/man/man"$MANSEC"/"$BINNAME".procps."$MANSEC".gz
  fi
}
case "$1" in
    configure|abort-remove|abort-deconfigure)
		check_alternatives "uptime" "/usr/bin" "1"
		check_alternatives "kill" "/usr/bin" "1"
    ;;
esac
"#;

fn scripts(names: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    names
        .iter()
        .map(|(package, script)| ((*package).to_owned(), script.as_bytes().to_vec()))
        .collect()
}

fn all_scripts() -> Vec<(String, Vec<u8>)> {
    scripts(&[
        ("mawk", MAWK),
        ("less", LESS),
        ("ed", ED),
        ("vim", VIM),
        ("iptables", IPTABLES),
        ("gcc", GCC),
        ("xz-utils", XZ_UTILS),
        ("procps", PROCPS),
    ])
}

/// A merged-/usr tree where some alternatives' paths exist and some do not; man pages
/// excluded but `less.1.gz`; `/usr/bin/nawk` a real file; `usr/sbin` with unusual
/// metadata, which the synthesized layer must repeat.
fn alternatives_rootfs(with_vim: bool) -> Rootfs {
    let mut entries = vec![
        LayerEntry {
            mode: 0o750,
            gid: 4,
            ..dir("usr/sbin")
        },
        symlink("bin", "usr/bin"),
        symlink("sbin", "usr/sbin"),
        dir("etc"),
        file("usr/bin/mawk", b"ELF"),
        file("usr/bin/nawk", b"ELF"),
        file("usr/bin/less", b"ELF"),
        file("usr/bin/ed", b"ELF"),
        file("usr/bin/gcc", b"ELF"),
        file("usr/bin/c89-gcc", b"#!/bin/sh"),
        file("usr/bin/xz", b"ELF"),
        file("usr/bin/uptime.procps", b"ELF"),
        file("usr/sbin/iptables-legacy", b"ELF"),
        file("usr/sbin/iptables-legacy-restore", b"ELF"),
        file("usr/sbin/iptables-legacy-save", b"ELF"),
        symlink("usr/sbin/iptables-nft", "xtables-nft-multi"),
        symlink("usr/sbin/iptables-nft-save", "xtables-nft-multi"),
        file("usr/sbin/xtables-nft-multi", b"ELF"),
        file("usr/share/man/man1/less.1.gz", b"gz"),
    ];
    if with_vim {
        entries.push(file("usr/bin/vim.basic", b"ELF"));
    }
    rootfs(entries)
}

#[test]
fn alternatives_from_debian_postinsts() {
    let entries = alternatives(&all_scripts(), &alternatives_rootfs(true));
    assert_eq!(
        render(&entries),
        "\
d etc 755 0:0
d etc/alternatives 755 0:0
l etc/alternatives/awk -> /usr/bin/mawk
l etc/alternatives/c89 -> /usr/bin/c89-gcc
l etc/alternatives/cc -> /usr/bin/gcc
l etc/alternatives/editor -> /usr/bin/vim.basic
l etc/alternatives/iptables -> /usr/sbin/iptables-nft
l etc/alternatives/iptables-save -> /usr/sbin/iptables-nft-save
l etc/alternatives/nawk -> /usr/bin/mawk
l etc/alternatives/pager -> /usr/bin/less
l etc/alternatives/pager.1.gz -> /usr/share/man/man1/less.1.gz
l etc/alternatives/vi -> /usr/bin/vim.basic
d usr 755 0:0
d usr/bin 755 0:0
l usr/bin/awk -> /etc/alternatives/awk
l usr/bin/c89 -> /etc/alternatives/c89
l usr/bin/cc -> /etc/alternatives/cc
l usr/bin/editor -> /etc/alternatives/editor
l usr/bin/pager -> /etc/alternatives/pager
l usr/bin/vi -> /etc/alternatives/vi
d usr/sbin 750 0:4
l usr/sbin/iptables -> /etc/alternatives/iptables
l usr/sbin/iptables-save -> /etc/alternatives/iptables-save
d usr/share 755 0:0
d usr/share/man 755 0:0
d usr/share/man/man1 755 0:0
l usr/share/man/man1/pager.1.gz -> /etc/alternatives/pager.1.gz
"
    );
}

#[test]
fn alternatives_fall_back_to_lower_priority() {
    // Without vim, ed's negative priority wins; its path goes through the `bin` link.
    let entries = alternatives(
        &scripts(&[("ed", ED), ("vim", VIM)]),
        &alternatives_rootfs(false),
    );
    assert_eq!(
        render(&entries),
        "\
d etc 755 0:0
d etc/alternatives 755 0:0
l etc/alternatives/editor -> /bin/ed
d usr 755 0:0
d usr/bin 755 0:0
l usr/bin/editor -> /etc/alternatives/editor
"
    );
}

#[test]
fn alternatives_ignore_script_order() {
    let rootfs = alternatives_rootfs(true);
    let expected = alternatives(&all_scripts(), &rootfs);
    let mut reversed = all_scripts();
    reversed.reverse();
    assert_eq!(alternatives(&reversed, &rootfs), expected);
    reversed.rotate_left(3);
    assert_eq!(alternatives(&reversed, &rootfs), expected);
}

#[test]
fn alternatives_shell_edge_cases() {
    let script = r#"#!/bin/sh
# update-alternatives --install /usr/bin/commented c /usr/bin/a 99
PATH=/usr/sbin:$PATH update-alternatives --install /usr/bin/tie tie /usr/bin/b 10
if [ -x /usr/bin/update-alternatives ]; then update-alternatives --install '/usr/bin/tie' "tie" /usr/bin/a 10 >/dev/null 2>&1 || true; fi
update-alternatives --install /usr/bin/dyn dyn "$BIN" 10
update-alternatives --install /usr/bin/dyn dyn `which a` 10
update-alternatives --install /usr/bin/bad bad /usr/bin/a ten
update-alternatives --install relative rel /usr/bin/a 10
update-alternatives --install /usr/bin/two two /usr/bin/a 10 --slave /usr/bin/two two /usr/bin/b
update-alternatives --remove tie /usr/bin/a
update-alternatives --altdir /opt/alt --install /usr/bin/other other /usr/bin/a 10
/usr/bin/update-alternatives --install /usr/bin/x-a x-a /usr/bin/a 1 --slave /usr/bin/x-b x-b /usr/bin/missing
cat <<EOF
update-alternatives --install /usr/bin/heredoc heredoc /usr/bin/a 10
EOF
update-alternatives --install /usr/bin/quoted "quo"ted /usr/bin/"a" 2 \
  --slave /opt/none/link none /usr/bin/b
"#;
    let rootfs = rootfs(vec![file("usr/bin/a", b"a"), file("usr/bin/b", b"b")]);
    let entries = alternatives(&scripts(&[("p", script)]), &rootfs);
    assert_eq!(
        render(&entries),
        "\
d etc 755 0:0
d etc/alternatives 755 0:0
l etc/alternatives/quoted -> /usr/bin/a
l etc/alternatives/tie -> /usr/bin/a
l etc/alternatives/x-a -> /usr/bin/a
d usr 755 0:0
d usr/bin 755 0:0
l usr/bin/quoted -> /etc/alternatives/quoted
l usr/bin/tie -> /etc/alternatives/tie
l usr/bin/x-a -> /etc/alternatives/x-a
"
    );
    // Nothing to do: nothing at all, not even `etc`.
    assert!(alternatives(&[], &rootfs).is_empty());
}

#[test]
fn alternatives_ties_across_packages() {
    let a = "update-alternatives --install /usr/bin/x x /usr/bin/zz 5\n";
    let b = "update-alternatives --install /usr/bin/x x /usr/bin/aa 5\n";
    let rootfs = rootfs(vec![file("usr/bin/aa", b""), file("usr/bin/zz", b"")]);
    for order in [[("a", a), ("b", b)], [("b", b), ("a", a)]] {
        let entries = alternatives(&scripts(&order), &rootfs);
        assert_eq!(
            render(&entries),
            "\
d etc 755 0:0
d etc/alternatives 755 0:0
l etc/alternatives/x -> /usr/bin/aa
d usr 755 0:0
d usr/bin 755 0:0
l usr/bin/x -> /etc/alternatives/x
"
        );
    }
}
