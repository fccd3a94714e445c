//! Files an image needs that no package ships, or that a package's maintainer scripts
//! would have made: accounts, `/tmp`, `nsswitch.conf`, the CA bundle, the dpkg status
//! that scanners read, and the symlinks of `update-alternatives`.
//!
//! Every function here returns the entries of one small, self-contained set of files, so
//! each can go into an object (and a layer) of its own whose digest changes only when
//! its inputs do. The output is a pure function of the arguments: entries sorted
//! bytewise by path, parent directories included (with the metadata the root file
//! system gives them when it is an argument, else `0755 root:root` unless said
//! otherwise), contents as [`EntryKind::Bytes`], no clock and nothing from the host.
//! Nothing is executed: what the Debian scripts would do is reproduced from reading
//! them (`update-ca-certificates`, the `ca-certificates` and `libc-bin` postinsts,
//! dpkg's `update-alternatives.c`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use cairn_oci::{EntryKind, LayerEntry};

use crate::rootfs::{Rootfs, RootfsEntry};

/// uid and gid of `nonroot`, as in distroless.
pub const NONROOT_ID: u32 = 65532;
/// uid and gid of `nobody`, as in Debian and distroless.
pub const NOBODY_ID: u32 = 65534;

/// Why a synthesized file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid {what} name `{name}`: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error("account `{account}`: invalid {field} `{value}`: {reason}")]
    InvalidField {
        account: String,
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("two different accounts are named `{name}`")]
    DuplicateAccountName { name: String },
    #[error("uid {uid} is used by both `{first}` and `{second}`")]
    DuplicateUid {
        uid: u32,
        first: String,
        second: String,
    },
    #[error("two different groups are named `{name}`")]
    DuplicateGroupName { name: String },
    #[error("gid {gid} is used by both `{first}` and `{second}`")]
    DuplicateGid {
        gid: u32,
        first: String,
        second: String,
    },
    #[error(
        "account `{account}` has primary gid {gid}, which no group has, and the group \
         `{account}` that would be made for it already exists with another gid"
    )]
    MissingPrimaryGroup { account: String, gid: u32 },
    #[error("group `{group}` lists `{member}`, which is not an account")]
    UnknownMember { group: String, member: String },
    #[error("invalid user `{spec}`: expected `user`, `uid`, `user:group` or `uid:gid`")]
    InvalidUserSpec { spec: String },
    #[error("unknown user `{user}` in `{spec}`: no account has this {kind}")]
    UnknownUser {
        spec: String,
        user: String,
        kind: &'static str,
    },
    #[error("unknown group `{group}` in `{spec}`: no group has this {kind}")]
    UnknownGroup {
        spec: String,
        group: String,
        kind: &'static str,
    },
    #[error("package `{name}` is listed twice")]
    DuplicatePackage { name: String },
    #[error("package `{name}`: its control file says `Package: {found}`")]
    PackageMismatch { name: String, found: String },
    #[error("cannot read `/{path}` from the root file system: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

// ---------------------------------------------------------------------------------
// Entries

/// Entries by path; parents are added when missing. A directory the root file system
/// already has keeps its metadata there; others are as asked (parents `0755 root:root`).
#[derive(Default)]
struct Entries<'r> {
    map: BTreeMap<Vec<u8>, LayerEntry>,
    rootfs: Option<&'r Rootfs>,
}

impl<'r> Entries<'r> {
    fn on(rootfs: &'r Rootfs) -> Self {
        Self {
            map: BTreeMap::new(),
            rootfs: Some(rootfs),
        }
    }

    fn dir(&mut self, path: &[u8], mode: u32, uid: u32, gid: u32) {
        self.parents(path);
        let existing = self
            .rootfs
            .and_then(|r| r.entries.get(path))
            .filter(|e| matches!(e.entry.kind, EntryKind::Directory))
            .map(|e| e.entry.clone());
        self.map.entry(path.to_vec()).or_insert_with(|| {
            existing.unwrap_or_else(|| LayerEntry {
                path: path.to_vec(),
                kind: EntryKind::Directory,
                mode,
                uid,
                gid,
                xattrs: BTreeMap::new(),
            })
        });
    }

    fn file(&mut self, path: &[u8], bytes: Vec<u8>) {
        self.parents(path);
        self.map.insert(
            path.to_vec(),
            LayerEntry {
                path: path.to_vec(),
                kind: EntryKind::Bytes(bytes),
                mode: 0o644,
                uid: 0,
                gid: 0,
                xattrs: BTreeMap::new(),
            },
        );
    }

    /// A symlink; a later one at the same path replaces it (`ln -sf`).
    fn symlink(&mut self, path: &[u8], target: &[u8]) {
        self.parents(path);
        self.map.insert(
            path.to_vec(),
            LayerEntry {
                path: path.to_vec(),
                kind: EntryKind::Symlink {
                    target: target.to_vec(),
                },
                mode: 0o777,
                uid: 0,
                gid: 0,
                xattrs: BTreeMap::new(),
            },
        );
    }

    fn parents(&mut self, path: &[u8]) {
        let mut end = 0;
        while let Some(pos) = path[end..].iter().position(|&b| b == b'/') {
            end += pos;
            self.dir(&path[..end], 0o755, 0, 0);
            end += 1;
        }
    }

    fn into_vec(self) -> Vec<LayerEntry> {
        self.map.into_values().collect()
    }
}

/// `/a/b` → `a/b`.
fn relative(path: &str) -> &[u8] {
    path.trim_start_matches('/').as_bytes()
}

// ---------------------------------------------------------------------------------
// Accounts

/// A user account (`/etc/passwd` line; the GECOS field is the name, as in distroless).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Absolute. Created (`0700`, owned by the account) when under `/home/`.
    pub home: String,
    /// Absolute.
    pub shell: String,
}

/// A group (`/etc/group` line).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    /// Account names; written sorted, without duplicates.
    pub members: Vec<String>,
}

/// The accounts every image has, as distroless writes them: `root`, `nonroot` and
/// `nobody`, all with `/sbin/nologin`.
pub fn builtin_accounts() -> Vec<Account> {
    let account = |name: &str, id: u32, home: &str| Account {
        name: name.to_owned(),
        uid: id,
        gid: id,
        home: home.to_owned(),
        shell: "/sbin/nologin".to_owned(),
    };
    vec![
        account("root", 0, "/root"),
        account("nonroot", NONROOT_ID, "/home/nonroot"),
        account("nobody", NOBODY_ID, "/nonexistent"),
    ]
}

/// The groups every image has, as distroless writes them: `root`, `tty` (5, the group
/// container runtimes mount `/dev/pts` with), `staff` (50), `nonroot` and `nobody`.
pub fn builtin_groups() -> Vec<Group> {
    let group = |name: &str, gid: u32| Group {
        name: name.to_owned(),
        gid,
        members: Vec::new(),
    };
    vec![
        group("root", 0),
        group("tty", 5),
        group("staff", 50),
        group("nonroot", NONROOT_ID),
        group("nobody", NOBODY_ID),
    ]
}

/// Every account and group of an image, checked; accounts sorted by uid, groups by gid.
struct Table {
    accounts: Vec<Account>,
    groups: Vec<Group>,
}

fn check_name(what: &'static str, name: &str) -> Result<(), SynthError> {
    let invalid = |reason| {
        Err(SynthError::InvalidName {
            what,
            name: name.to_owned(),
            reason,
        })
    };
    let body = name.strip_suffix('$').unwrap_or(name);
    if body.is_empty() || name.len() > 32 {
        return invalid("must be 1 to 32 characters");
    }
    if !body
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return invalid("only ASCII letters, digits, `_`, `-` and `.` (and a final `$`)");
    }
    if body.starts_with('-') {
        return invalid("must not start with `-`");
    }
    if body.bytes().all(|b| b.is_ascii_digit()) {
        return invalid("must not be a number, which would read as an id");
    }
    Ok(())
}

fn check_path(account: &Account, field: &'static str, value: &str) -> Result<(), SynthError> {
    let reason = if !value.starts_with('/') {
        Some("must be absolute")
    } else if value.contains([':', '\n']) {
        Some("must not contain `:` or a newline")
    } else if value.split('/').any(|c| c == "." || c == "..") {
        Some("must not contain `.` or `..` components")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(SynthError::InvalidField {
            account: account.name.clone(),
            field,
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

impl Table {
    fn new(users: &[Account], groups: &[Group]) -> Result<Self, SynthError> {
        let mut accounts = builtin_accounts();
        let mut declared = users.to_vec();
        declared.sort();
        for user in declared {
            check_name("user", &user.name)?;
            check_path(&user, "home", &user.home)?;
            check_path(&user, "shell", &user.shell)?;
            if accounts.contains(&user) {
                continue;
            }
            if accounts.iter().any(|a| a.name == user.name) {
                return Err(SynthError::DuplicateAccountName { name: user.name });
            }
            if let Some(a) = accounts.iter().find(|a| a.uid == user.uid) {
                return Err(SynthError::DuplicateUid {
                    uid: user.uid,
                    first: a.name.clone(),
                    second: user.name,
                });
            }
            accounts.push(user);
        }
        accounts.sort_by(|a, b| (a.uid, &a.name).cmp(&(b.uid, &b.name)));

        let mut all_groups = builtin_groups();
        let mut declared = groups.to_vec();
        declared.sort();
        for mut group in declared {
            check_name("group", &group.name)?;
            group.members.sort();
            group.members.dedup();
            if all_groups.contains(&group) {
                continue;
            }
            add_group(&mut all_groups, group)?;
        }
        // A user private group for an account whose gid no group has, as adduser makes.
        for account in &accounts {
            if all_groups.iter().any(|g| g.gid == account.gid) {
                continue;
            }
            if all_groups.iter().any(|g| g.name == account.name) {
                return Err(SynthError::MissingPrimaryGroup {
                    account: account.name.clone(),
                    gid: account.gid,
                });
            }
            all_groups.push(Group {
                name: account.name.clone(),
                gid: account.gid,
                members: Vec::new(),
            });
        }
        for group in &all_groups {
            if let Some(member) = group
                .members
                .iter()
                .find(|m| !accounts.iter().any(|a| &a.name == *m))
            {
                return Err(SynthError::UnknownMember {
                    group: group.name.clone(),
                    member: member.clone(),
                });
            }
        }
        all_groups.sort_by(|a, b| (a.gid, &a.name).cmp(&(b.gid, &b.name)));
        Ok(Self {
            accounts,
            groups: all_groups,
        })
    }
}

fn add_group(groups: &mut Vec<Group>, group: Group) -> Result<(), SynthError> {
    if groups.iter().any(|g| g.name == group.name) {
        return Err(SynthError::DuplicateGroupName { name: group.name });
    }
    if let Some(g) = groups.iter().find(|g| g.gid == group.gid) {
        return Err(SynthError::DuplicateGid {
            gid: group.gid,
            first: g.name.clone(),
            second: group.name,
        });
    }
    groups.push(group);
    Ok(())
}

/// `etc/passwd` and `etc/group` (`0644 root:root`) with the built-in accounts and groups
/// ([`builtin_accounts`], [`builtin_groups`]) and `users` and `groups`, sorted by id;
/// an account whose gid no group has gets a group of its own name. Home directories:
/// `root` (`0700 root:root`) and, for every account whose home is under `/home/`, that
/// directory (`0700`, owned by the account; the lowest uid wins a shared one), with
/// `home` `0755 root:root`. Homes elsewhere (`/nonexistent`, `/var/lib/<daemon>`, a
/// system directory) are not made: they belong to packages, and an entry here would
/// override their owner and mode.
///
/// No `/etc/shadow`: distroless ships none, nothing in such an image authenticates a
/// user, and glibc answers "no entry" without one.
///
/// Errors: invalid names or paths, the same name or id twice (an exact repeat of a
/// built-in is allowed), a member that is not an account.
pub fn accounts(users: &[Account], groups: &[Group]) -> Result<Vec<LayerEntry>, SynthError> {
    let table = Table::new(users, groups)?;
    let (mut passwd, mut group) = (String::new(), String::new());
    for a in &table.accounts {
        writeln!(
            passwd,
            "{name}:x:{uid}:{gid}:{name}:{home}:{shell}",
            name = a.name,
            uid = a.uid,
            gid = a.gid,
            home = a.home,
            shell = a.shell,
        )
        .expect("writing to a String cannot fail");
    }
    for g in &table.groups {
        writeln!(group, "{}:x:{}:{}", g.name, g.gid, g.members.join(","))
            .expect("writing to a String cannot fail");
    }
    let mut entries = Entries::default();
    entries.dir(b"etc", 0o755, 0, 0);
    entries.file(b"etc/passwd", passwd.into_bytes());
    entries.file(b"etc/group", group.into_bytes());
    // Shorter paths first, so that a home inside another is made after it; on a shared
    // home, the lowest uid first.
    let mut homes: Vec<(&[u8], u32, u32)> = table
        .accounts
        .iter()
        .map(|a| (relative(&a.home), a.uid, a.gid))
        .filter(|&(home, uid, _)| {
            (uid == 0 && home == b"root")
                || home
                    .strip_prefix(b"home/")
                    .is_some_and(|rest| !rest.is_empty())
        })
        .collect();
    homes.sort_unstable();
    for (home, uid, gid) in homes {
        entries.dir(home, 0o700, uid, gid);
    }
    Ok(entries.into_vec())
}

/// The uid and gid an image's `User` names: `name`, `uid`, `name:group`, `uid:gid` (and
/// mixes), looked up in the built-in and declared accounts and groups, as a container
/// runtime looks them up in `/etc/passwd` and `/etc/group`. Without a group, the
/// account's primary gid. Any user or group that the image's files do not have is an
/// error: a process whose uid has no name breaks `getpwuid`-based code.
pub fn resolve_user(
    spec: &str,
    users: &[Account],
    groups: &[Group],
) -> Result<(u32, u32), SynthError> {
    let table = Table::new(users, groups)?;
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(SynthError::InvalidUserSpec {
            spec: spec.to_owned(),
        });
    }
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let account = if numeric(user) {
        let uid: Option<u32> = user.parse().ok();
        table.accounts.iter().find(|a| Some(a.uid) == uid)
    } else {
        table.accounts.iter().find(|a| a.name == user)
    }
    .ok_or_else(|| SynthError::UnknownUser {
        spec: spec.to_owned(),
        user: user.to_owned(),
        kind: if numeric(user) { "uid" } else { "name" },
    })?;
    let Some(group) = group else {
        return Ok((account.uid, account.gid));
    };
    let found = if numeric(group) {
        let gid: Option<u32> = group.parse().ok();
        table.groups.iter().find(|g| Some(g.gid) == gid)
    } else {
        table.groups.iter().find(|g| g.name == group)
    }
    .ok_or_else(|| SynthError::UnknownGroup {
        spec: spec.to_owned(),
        group: group.to_owned(),
        kind: if numeric(group) { "gid" } else { "name" },
    })?;
    Ok((account.uid, found.gid))
}

// ---------------------------------------------------------------------------------
// Base directories

/// Debian's `/etc/nsswitch.conf`: the template `libc-bin` ships as
/// `/usr/share/libc-bin/nsswitch.conf` and its postinst copies to `/etc` on a first
/// install (libc-bin 2.36, bookworm; a test compares it with this machine's copy).
/// Services that are not installed (`db`, `nis`) are skipped by glibc.
pub const NSSWITCH_CONF: &str = "\
# /etc/nsswitch.conf
#
# Example configuration of GNU Name Service Switch functionality.
# If you have the `glibc-doc-reference' and `info' packages installed, try:
# `info libc \"Name Service Switch\"' for information about this file.

passwd:         files
group:          files
shadow:         files
gshadow:        files

hosts:          files dns
networks:       files

protocols:      db files
services:       db files
ethers:         db files
rpc:            db files

netgroup:       nis
";

/// `tmp` and `var/tmp` (`1777 root:root`, as base-files ships them) and
/// `etc/nsswitch.conf` ([`NSSWITCH_CONF`]), which also tells programs without glibc
/// (Go's resolver) to read `/etc/hosts` before DNS.
pub fn base_dirs() -> Vec<LayerEntry> {
    let mut entries = Entries::default();
    entries.dir(b"etc", 0o755, 0, 0);
    entries.file(b"etc/nsswitch.conf", NSSWITCH_CONF.as_bytes().to_vec());
    entries.dir(b"tmp", 0o1777, 0, 0);
    entries.dir(b"var", 0o755, 0, 0);
    entries.dir(b"var/tmp", 0o1777, 0, 0);
    entries.into_vec()
}

// ---------------------------------------------------------------------------------
// CA certificates

const CERTS_DIR: &[u8] = b"usr/share/ca-certificates";
const LOCAL_CERTS_DIR: &[u8] = b"usr/local/share/ca-certificates";

/// The header the `ca-certificates` postinst writes to a new `/etc/ca-certificates.conf`.
const CA_CONF_HEADER: &str = "\
# This file lists certificates that you wish to use or to ignore to be
# installed in /etc/ssl/certs.
# update-ca-certificates(8) will update /etc/ssl/certs by reading this file.
#
# This is autogenerated by dpkg-reconfigure ca-certificates.
# Certificates should be installed under /usr/share/ca-certificates
# and files with extension '.crt' is recognized as available certs.
#
# line begins with # is comment.
# line begins with ! is certificate filename to be deselected.
#
";

fn is_regular(entry: &RootfsEntry) -> bool {
    matches!(
        entry.entry.kind,
        EntryKind::File { .. } | EntryKind::Bytes(_) | EntryKind::HardLink { .. }
    )
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// What a fresh install of `ca-certificates` leaves in `/etc`, when the root file
/// system has `/usr/share/ca-certificates` (else `None`): its postinst writes
/// `/etc/ca-certificates.conf` enabling every `*.crt` regular file under
/// `/usr/share/ca-certificates` (`find -type f`, sorted bytewise as `sort` does in the
/// C locale of a build), then runs `update-ca-certificates`, which, for each enabled
/// certificate and then each `*.crt` under `/usr/local/share/ca-certificates` (sorted
/// full paths, symlinks followed):
///
/// - appends the file to `etc/ssl/certs/ca-certificates.crt` (`0644`), adding a final
///   newline when it lacks one (`sed -e '$a\'`);
/// - links `etc/ssl/certs/<name>.pem` to the certificate's absolute path, `<name>`
///   being the file's name without `.crt` and with ` ` and `,` made `_`, `(` and `)`
///   made `=` (a later certificate with the same `<name>` wins, as `ln -sf`).
///
/// Not made: the `<subject hash>.0` links of `openssl rehash` (OpenSSL's hash of the
/// canonical subject name needs an X.509 parser; OpenSSL, Go, rustls-native-certs and
/// others read the bundle, and distroless ships none of these links either). A system
/// certificate whose path has a space or tab is left out, as the config script's word
/// splitting leaves it out.
pub fn ca_bundle(rootfs: &Rootfs) -> Result<Option<Vec<LayerEntry>>, SynthError> {
    match rootfs.resolve(CERTS_DIR) {
        Some((_, e)) if matches!(e.entry.kind, EntryKind::Directory) => {}
        _ => return Ok(None),
    }
    let mut certs: Vec<(Vec<u8>, &RootfsEntry)> = Vec::new();
    let mut conf = CA_CONF_HEADER.as_bytes().to_vec();
    let prefix = [CERTS_DIR, b"/"].concat();
    for (path, entry) in rootfs.entries.range(prefix.clone()..) {
        let Some(rel) = path.strip_prefix(prefix.as_slice()) else {
            break;
        };
        if is_regular(entry)
            && basename(rel).ends_with(b".crt")
            && !rel.iter().any(|b| matches!(b, b' ' | b'\t' | b'\n'))
        {
            conf.extend_from_slice(rel);
            conf.push(b'\n');
            certs.push((path.clone(), entry));
        }
    }
    let prefix = [LOCAL_CERTS_DIR, b"/"].concat();
    for path in rootfs.entries.range(prefix.clone()..).map(|(p, _)| p) {
        if !path.starts_with(&prefix) {
            break;
        }
        if !basename(path).ends_with(b".crt") {
            continue;
        }
        // `find -L -type f`: a symlink counts as what it points to.
        if let Some((_, target)) = rootfs.resolve(path)
            && is_regular(target)
        {
            certs.push((path.clone(), target));
        }
    }

    let mut entries = Entries::on(rootfs);
    entries.dir(b"etc", 0o755, 0, 0);
    entries.file(b"etc/ca-certificates.conf", conf);
    entries.dir(b"etc/ssl", 0o755, 0, 0);
    entries.dir(b"etc/ssl/certs", 0o755, 0, 0);
    let mut bundle = Vec::new();
    for (path, entry) in &certs {
        let bytes = rootfs.read(entry).map_err(|source| SynthError::Read {
            path: String::from_utf8_lossy(path).into_owned(),
            source,
        })?;
        bundle.extend_from_slice(&bytes);
        if bytes.last().is_some_and(|&b| b != b'\n') {
            bundle.push(b'\n');
        }
        let name = basename(path);
        let stem = match name.strip_suffix(b".crt") {
            Some(stem) if !stem.is_empty() => stem,
            _ => name,
        };
        let mut pem = b"etc/ssl/certs/".to_vec();
        pem.extend(stem.iter().map(|&b| match b {
            b' ' | b',' => b'_',
            b'(' | b')' => b'=',
            b => b,
        }));
        pem.extend_from_slice(b".pem");
        entries.symlink(&pem, &[b"/".as_slice(), path].concat());
    }
    if !certs.is_empty() {
        entries.file(b"etc/ssl/certs/ca-certificates.crt", bundle);
    }
    Ok(Some(entries.into_vec()))
}

// ---------------------------------------------------------------------------------
// dpkg status

/// A package for [`dpkg_status`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusPackage {
    pub name: String,
    /// The package's control file (`deb.control`).
    pub control: String,
    /// The package's `md5sums` (`deb.md5sums`), when it has one.
    pub md5sums: Option<Vec<u8>>,
}

/// Debian policy 5.6.1: lower-case letters, digits, `+`, `-`, `.`; at least two
/// characters, starting with a letter or digit.
fn check_package_name(name: &str) -> Result<(), SynthError> {
    let b = name.as_bytes();
    let ok = b.len() >= 2
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(SynthError::InvalidName {
            what: "package",
            name: name.to_owned(),
            reason: "Debian package names are lower-case letters, digits, `+`, `-` and `.`",
        })
    }
}

/// The distroless dpkg database that SBOM and vulnerability scanners (syft, trivy,
/// grype) read when there is no `/var/lib/dpkg/status`: for each package,
/// `var/lib/dpkg/status.d/<name>` holding its control file as shipped (what
/// rules_distroless's `dpkg_statusd` writes; no `Status:` field is added, a final
/// newline is) and, when it has one, `var/lib/dpkg/status.d/<name>.md5sums`, as
/// shipped; all `0644`, directories `0755`. Errors: an invalid or repeated name, or a
/// control file for another package.
pub fn dpkg_status(packages: &[StatusPackage]) -> Result<Vec<LayerEntry>, SynthError> {
    let mut entries = Entries::default();
    entries.dir(b"var/lib/dpkg/status.d", 0o755, 0, 0);
    let mut seen = BTreeSet::new();
    let mut sorted: Vec<&StatusPackage> = packages.iter().collect();
    sorted.sort();
    for p in sorted {
        check_package_name(&p.name)?;
        if !seen.insert(p.name.as_str()) {
            return Err(SynthError::DuplicatePackage {
                name: p.name.clone(),
            });
        }
        let found = p
            .control
            .lines()
            .find_map(|l| l.strip_prefix("Package:"))
            .map(str::trim);
        if found != Some(p.name.as_str()) {
            return Err(SynthError::PackageMismatch {
                name: p.name.clone(),
                found: found.unwrap_or("").to_owned(),
            });
        }
        let mut control = p.control.clone().into_bytes();
        if control.last() != Some(&b'\n') {
            control.push(b'\n');
        }
        let path = format!("var/lib/dpkg/status.d/{}", p.name);
        entries.file(path.as_bytes(), control);
        if let Some(md5sums) = &p.md5sums {
            entries.file(format!("{path}.md5sums").as_bytes(), md5sums.clone());
        }
    }
    Ok(entries.into_vec())
}

// ---------------------------------------------------------------------------------
// update-alternatives

/// One shell word: its text after quote removal, and whether it holds an expansion
/// (`$x`, `$(…)`, `` `…` ``, a glob) whose value a reader cannot know.
#[derive(Debug, Default)]
struct Word {
    text: Vec<u8>,
    dynamic: bool,
}

/// Splits a shell script into simple commands (words between newlines, `;`, `&`, `|`,
/// `(` and `)`), with `\`-newline continuations, quotes, comments, redirections and
/// here-documents handled as `sh` does. Good enough to find literal commands; compound
/// commands just split into their parts.
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    word: Option<Word>,
    command: Vec<Word>,
    commands: Vec<Vec<Word>>,
    heredocs: Vec<(Vec<u8>, bool)>,
    drop_next: bool,
}

impl<'a> Lexer<'a> {
    fn split(s: &'a [u8]) -> Vec<Vec<Word>> {
        let mut lexer = Lexer {
            s,
            i: 0,
            word: None,
            command: Vec::new(),
            commands: Vec::new(),
            heredocs: Vec::new(),
            drop_next: false,
        };
        lexer.run();
        lexer.commands
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.s.get(self.i + ahead).copied()
    }

    fn run(&mut self) {
        while let Some(c) = self.peek(0) {
            match c {
                b' ' | b'\t' | b'\r' => {
                    self.end_word();
                    self.i += 1;
                }
                b'\n' => {
                    self.end_word();
                    self.end_command();
                    self.i += 1;
                    self.skip_heredocs();
                }
                b';' | b'&' | b'|' | b'(' | b')' => {
                    self.end_word();
                    self.end_command();
                    self.i += 1;
                }
                b'#' if self.word.is_none() => {
                    while self.peek(0).is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                b'\\' => {
                    // `\`-newline joins lines; otherwise the next byte is literal.
                    if let Some(n) = self.peek(1)
                        && n != b'\n'
                    {
                        self.push(n);
                    }
                    self.i += 2;
                }
                b'\'' => {
                    self.start();
                    self.i += 1;
                    while let Some(c) = self.peek(0) {
                        self.i += 1;
                        if c == b'\'' {
                            break;
                        }
                        self.push(c);
                    }
                }
                b'"' => {
                    self.start();
                    self.i += 1;
                    self.double_quoted();
                }
                b'$' => self.dollar(),
                b'`' => self.backquoted(),
                b'<' | b'>' => self.redirect(),
                b'*' | b'?' | b'[' => {
                    self.push(c);
                    self.mark_dynamic();
                    self.i += 1;
                }
                b'~' if self.word.is_none() => {
                    self.push(c);
                    self.mark_dynamic();
                    self.i += 1;
                }
                _ => {
                    self.push(c);
                    self.i += 1;
                }
            }
        }
        self.end_word();
        self.end_command();
    }

    fn start(&mut self) {
        self.word.get_or_insert_with(Word::default);
    }

    fn push(&mut self, c: u8) {
        self.word.get_or_insert_with(Word::default).text.push(c);
    }

    fn mark_dynamic(&mut self) {
        self.word.get_or_insert_with(Word::default).dynamic = true;
    }

    fn end_word(&mut self) {
        if let Some(word) = self.word.take() {
            if self.drop_next {
                self.drop_next = false;
            } else {
                self.command.push(word);
            }
        }
    }

    fn end_command(&mut self) {
        self.drop_next = false;
        if !self.command.is_empty() {
            self.commands.push(std::mem::take(&mut self.command));
        }
    }

    fn double_quoted(&mut self) {
        while let Some(c) = self.peek(0) {
            match c {
                b'"' => {
                    self.i += 1;
                    return;
                }
                b'\\' => {
                    match self.peek(1) {
                        Some(n @ (b'$' | b'`' | b'"' | b'\\')) => self.push(n),
                        Some(b'\n') => {}
                        _ => {
                            self.push(b'\\');
                            self.i += 1;
                            continue;
                        }
                    }
                    self.i += 2;
                }
                b'$' => self.dollar(),
                b'`' => self.backquoted(),
                _ => {
                    self.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// At a `$`: an expansion (consumed, the word marked dynamic) or a literal `$`.
    fn dollar(&mut self) {
        match self.peek(1) {
            Some(b'(') => {
                self.mark_dynamic();
                self.i += 1;
                self.skip_balanced(b'(', b')');
            }
            Some(b'{') => {
                self.mark_dynamic();
                self.i += 1;
                self.skip_balanced(b'{', b'}');
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
                self.mark_dynamic();
                self.i += 1;
                while self
                    .peek(0)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.i += 1;
                }
            }
            Some(c) if c.is_ascii_digit() || b"@*#?$!-".contains(&c) => {
                self.mark_dynamic();
                self.i += 2;
            }
            _ => {
                self.push(b'$');
                self.i += 1;
            }
        }
    }

    /// From an opening `open` to its matching `close`, over quotes and escapes.
    fn skip_balanced(&mut self, open: u8, close: u8) {
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'\'' => {
                    while self.peek(0).is_some_and(|c| c != b'\'') {
                        self.i += 1;
                    }
                    self.i += 1;
                }
                b'"' => {
                    while let Some(c) = self.peek(0) {
                        self.i += if c == b'\\' { 2 } else { 1 };
                        if c == b'"' {
                            break;
                        }
                    }
                }
                c if c == open => depth += 1,
                c if c == close => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn backquoted(&mut self) {
        self.mark_dynamic();
        self.i += 1;
        while let Some(c) = self.peek(0) {
            self.i += if c == b'\\' { 2 } else { 1 };
            if c == b'`' {
                break;
            }
        }
    }

    /// At `<` or `>`: drops the redirection (a file descriptor number just before it and
    /// its target), and records a here-document's delimiter.
    fn redirect(&mut self) {
        if self.word.as_ref().is_some_and(|w| {
            !w.dynamic && !w.text.is_empty() && w.text.iter().all(u8::is_ascii_digit)
        }) {
            self.word = None;
        } else {
            self.end_word();
        }
        let c = self.s[self.i];
        self.i += 1;
        if c == b'<' && self.peek(0) == Some(b'<') {
            self.i += 1;
            if self.peek(0) == Some(b'<') {
                // A here-string: its word is the input.
                self.i += 1;
                self.drop_next = true;
                return;
            }
            let strip_tabs = self.peek(0) == Some(b'-');
            if strip_tabs {
                self.i += 1;
            }
            while matches!(self.peek(0), Some(b' ' | b'\t')) {
                self.i += 1;
            }
            let mut delimiter = Vec::new();
            while let Some(c) = self.peek(0) {
                if b" \t\n;&|()<>".contains(&c) {
                    break;
                }
                if !matches!(c, b'\'' | b'"' | b'\\') {
                    delimiter.push(c);
                }
                self.i += 1;
            }
            self.heredocs.push((delimiter, strip_tabs));
            return;
        }
        if matches!(
            (c, self.peek(0)),
            (b'>', Some(b'>' | b'&' | b'|')) | (b'<', Some(b'&' | b'>'))
        ) {
            self.i += 1;
        }
        self.drop_next = true;
    }

    /// After a newline: skips the bodies of the here-documents that line opened.
    fn skip_heredocs(&mut self) {
        for (delimiter, strip_tabs) in std::mem::take(&mut self.heredocs) {
            while self.i < self.s.len() {
                let end = self.s[self.i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(self.s.len(), |p| self.i + p);
                let mut line = &self.s[self.i..end];
                if strip_tabs {
                    while let [b'\t', rest @ ..] = line {
                        line = rest;
                    }
                }
                self.i = end + 1;
                if line == delimiter.as_slice() {
                    break;
                }
            }
        }
    }
}

/// One `update-alternatives --install` call.
#[derive(Debug, Clone)]
struct Install {
    link: Vec<u8>,
    name: Vec<u8>,
    path: Vec<u8>,
    priority: i32,
    /// (link, name, path)
    slaves: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
}

/// Words before a command's name that do not change which command it is.
fn is_prefix_word(w: &Word) -> bool {
    const RESERVED: &[&[u8]] = &[
        b"if", b"then", b"else", b"elif", b"do", b"while", b"until", b"!", b"{", b"}", b"time",
    ];
    if !w.dynamic && RESERVED.contains(&w.text.as_slice()) {
        return true;
    }
    // A variable assignment, `NAME=value`.
    match w.text.iter().position(|&b| b == b'=') {
        Some(eq) if eq > 0 => {
            let name = &w.text[..eq];
            !name[0].is_ascii_digit()
                && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        }
        _ => false,
    }
}

fn valid_alternative_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| b == b'/' || b.is_ascii_whitespace())
}

/// The `--install` call of a command, when it is one whose every word is known.
fn install_call(words: &[Word]) -> Option<Install> {
    let start = words.iter().position(|w| !is_prefix_word(w))?;
    let command = &words[start];
    if command.dynamic
        || !(command.text == b"update-alternatives"
            || command.text.ends_with(b"/update-alternatives"))
    {
        return None;
    }
    let args = &words[start + 1..];
    if args.iter().any(|w| w.dynamic) {
        return None;
    }
    let text = |i: usize| args.get(i).map(|w| w.text.clone());
    let mut install: Option<Install> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].text.as_slice() {
            b"--quiet" | b"--verbose" | b"--force" | b"--skip-auto" | b"--debug" => i += 1,
            b"--admindir" | b"--log" => i += 2,
            b"--install" if install.is_none() => {
                let priority = std::str::from_utf8(&text(i + 4)?).ok()?.parse().ok()?;
                install = Some(Install {
                    link: text(i + 1)?,
                    name: text(i + 2)?,
                    path: text(i + 3)?,
                    priority,
                    slaves: Vec::new(),
                });
                i += 5;
            }
            b"--slave" => {
                let slave = (text(i + 1)?, text(i + 2)?, text(i + 3)?);
                install.as_mut()?.slaves.push(slave);
                i += 4;
            }
            // Another command (`--remove`, `--set`…), another root (`--altdir`,
            // `--instdir`, `--root`) or an unknown option.
            _ => return None,
        }
    }
    let install = install?;
    // What update-alternatives itself refuses.
    let mut names = BTreeSet::from([install.name.as_slice()]);
    let mut links = BTreeSet::from([install.link.as_slice()]);
    let valid = install.link.starts_with(b"/")
        && install.path.starts_with(b"/")
        && valid_alternative_name(&install.name)
        && install.slaves.iter().all(|(link, name, path)| {
            link.starts_with(b"/")
                && path.starts_with(b"/")
                && valid_alternative_name(name)
                && names.insert(name)
                && links.insert(link)
        });
    valid.then_some(install)
}

/// Where a symlink at absolute `link` lands in the root file system: its parent
/// directory resolved (so `/bin/x` lands in `usr/bin` under merged-/usr), or `None`
/// when there is no such directory.
fn link_path(rootfs: &Rootfs, link: &[u8]) -> Option<Vec<u8>> {
    let link = link.strip_prefix(b"/").unwrap_or(link);
    let (parent, name) = match link.iter().rposition(|&b| b == b'/') {
        Some(pos) => (&link[..pos], &link[pos + 1..]),
        None => (&b""[..], link),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return None;
    }
    if parent.is_empty() {
        return Some(name.to_vec());
    }
    let (resolved, entry) = rootfs.resolve(parent)?;
    if !matches!(entry.entry.kind, EntryKind::Directory) {
        return None;
    }
    Some([resolved.as_slice(), b"/", name].concat())
}

/// What `update-alternatives` leaves after every `--install` call in `scripts`
/// (package, postinst), in automatic mode. The calls are found by reading the scripts
/// as `sh` would split them (continuations, quotes, comments, here-documents); a call
/// with a word whose value cannot be known without running the script (`$var`,
/// `$(…)`, `` `…` ``, globs) is skipped, as is any call `update-alternatives` would
/// refuse. Conditions around calls are not evaluated: every literal call counts, as a
/// first `configure` would run it. Other commands (`--remove`…) are ignored.
///
/// For each alternative name, the choices are the calls' paths that exist in `rootfs`
/// (following symlinks); the highest priority wins, and on a tie the path that sorts
/// first (as dpkg, whose database keeps choices sorted by path, picks the first of the
/// highest). Then, as `update-alternatives` does:
/// `etc/alternatives/<name>` → the path, and the link → `/etc/alternatives/<name>`,
/// unless something that is not a symlink is at the link ("not replacing … with a
/// link"); each slave of the winning call likewise when its path exists. The links are
/// the winning call's. An alternative whose link's directory does not exist is left
/// out (the real call would fail), as is a slave's; a name or link already taken by an
/// alternative whose name sorts first is left out (dpkg would refuse it). Scripts are
/// read in (package, text) order; for the same name and path, the later call replaces
/// the earlier, as in dpkg.
pub fn alternatives(scripts: &[(String, Vec<u8>)], rootfs: &Rootfs) -> Vec<LayerEntry> {
    let mut sorted: Vec<&(String, Vec<u8>)> = scripts.iter().collect();
    sorted.sort();
    // name → path → the call that registered it.
    let mut choices: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Install>> = BTreeMap::new();
    for (_, script) in sorted {
        for command in Lexer::split(script) {
            if let Some(install) = install_call(&command) {
                choices
                    .entry(install.name.clone())
                    .or_default()
                    .insert(install.path.clone(), install);
            }
        }
    }
    let mut entries = Entries::on(rootfs);
    let mut taken_names: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut taken_links: BTreeSet<Vec<u8>> = BTreeSet::new();
    // Master names first: a slave may not take one.
    taken_names.extend(choices.keys().cloned());
    for (name, by_path) in &choices {
        let best = by_path
            .values()
            .filter(|c| rootfs.resolve(&c.path).is_some())
            .fold(None::<&Install>, |best, c| match best {
                Some(b) if b.priority >= c.priority => Some(b),
                _ => Some(c),
            });
        let Some(best) = best else { continue };
        let Some(link) = link_path(rootfs, &best.link) else {
            continue;
        };
        if !taken_links.insert(link.clone()) {
            continue;
        }
        install_link(&mut entries, rootfs, name, &link, &best.path);
        for (slave_link, slave_name, slave_path) in &best.slaves {
            if rootfs.resolve(slave_path).is_none() || !taken_names.insert(slave_name.clone()) {
                continue;
            }
            let Some(slave_link) = link_path(rootfs, slave_link) else {
                continue;
            };
            if taken_links.insert(slave_link.clone()) {
                install_link(&mut entries, rootfs, slave_name, &slave_link, slave_path);
            }
        }
    }
    if !entries.map.is_empty() {
        entries.dir(b"etc/alternatives", 0o755, 0, 0);
    }
    entries.into_vec()
}

/// `etc/alternatives/<name>` → `path`, and `link` → `/etc/alternatives/<name>` unless a
/// file that is not a symlink is there.
fn install_link(entries: &mut Entries<'_>, rootfs: &Rootfs, name: &[u8], link: &[u8], path: &[u8]) {
    let alt = [b"etc/alternatives/".as_slice(), name].concat();
    entries.symlink(&alt, path);
    let occupied = rootfs
        .entries
        .get(link)
        .is_some_and(|e| !matches!(e.entry.kind, EntryKind::Symlink { .. }));
    if !occupied {
        entries.symlink(link, &[b"/".as_slice(), &alt].concat());
    }
}
