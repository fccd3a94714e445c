//! Signed fixture Debian repositories, generated for tests: real `.deb`s built with
//! `dpkg-deb`, a `Packages` index (plain, `.xz`, and by-hash copies), a `Contents-amd64.gz`
//! index (of the packages built here), a `Release` with
//! SHA-256 entries, and an `InRelease` signed with a test key derived from a fixed seed.
//! The layout is the archive's (`dists/<suite>/…`, `pool/main/…`), so the same code
//! paths that read the real mirror read these.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, KeyType, SecretKeyParamsBuilder, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::types::{KeyDetails, Password, Timestamp};
use rand::SeedableRng;
use sha2::Digest;

use crate::write_file;

/// A package to put in a fixture repository.
#[derive(Debug, Clone)]
pub struct FixturePackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// Extra control fields, e.g. `("Depends", "libfoo (>= 1)")`, in order.
    pub fields: Vec<(String, String)>,
    /// Files in the data tree: relative path, contents, mode.
    pub files: Vec<(String, Vec<u8>, u32)>,
    /// The `.deb` to publish as it is, instead of one built by `dpkg-deb` (for hostile
    /// or malformed packages that the index still lists with their right size and hash).
    pub raw_deb: Option<Vec<u8>>,
}

impl FixturePackage {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            architecture: "amd64".into(),
            fields: Vec::new(),
            files: vec![(
                format!("usr/share/doc/{name}/copyright"),
                b"fixture\n".to_vec(),
                0o644,
            )],
            raw_deb: None,
        }
    }

    /// Adds a control field.
    #[must_use]
    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// Adds a file to the data tree.
    #[must_use]
    pub fn file(mut self, path: &str, contents: &[u8], mode: u32) -> Self {
        self.files.push((path.into(), contents.to_vec(), mode));
        self
    }

    /// Publishes `deb` as this package's file instead of building one.
    #[must_use]
    pub fn raw_deb(mut self, deb: Vec<u8>) -> Self {
        self.raw_deb = Some(deb);
        self
    }
}

/// A generated repository on disk.
pub struct FixtureRepo {
    /// The mirror root (what `http://…/debian` would serve).
    pub root: PathBuf,
    pub suite: String,
    /// The armored public key that signed `InRelease`.
    pub public_key: String,
    key: SignedSecretKey,
}

impl std::fmt::Debug for FixtureRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureRepo")
            .field("root", &self.root)
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// The fixed test signing key for `seed`.
pub fn test_key(seed: u64) -> SignedSecretKey {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_sign(true)
        .can_certify(true)
        .primary_user_id("cairn fixture archive <fixtures@cairn.invalid>".into());
    params.build().unwrap().generate(&mut rng).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(bytes))
}

fn build_deb(dir: &Path, package: &FixturePackage) -> Vec<u8> {
    let root = dir.join(format!("build-{}", package.name));
    fs_err::create_dir_all(root.join("DEBIAN")).unwrap();
    let mut control = format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: cairn fixtures <fixtures@cairn.invalid>\n",
        package.name, package.version, package.architecture
    );
    for (name, value) in &package.fields {
        let _ = writeln!(control, "{name}: {value}");
    }
    control.push_str("Description: a cairn test fixture\n");
    write_file(&root.join("DEBIAN/control"), control.as_bytes(), 0o644);
    for (path, contents, mode) in &package.files {
        let target = root.join(path);
        fs_err::create_dir_all(target.parent().unwrap()).unwrap();
        write_file(&target, contents, *mode);
    }
    let out = dir.join(format!("{}.deb", package.name));
    let status = std::process::Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&root)
        .arg(&out)
        .output()
        .expect("dpkg-deb runs (the test command installs dpkg)");
    assert!(
        status.status.success(),
        "dpkg-deb: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    fs_err::read(&out).unwrap()
}

impl FixtureRepo {
    /// Builds a repository for `suite` (component `main`, architecture amd64) at `dir`,
    /// signed by [`test_key`]`(seed)`.
    pub fn build(dir: &Path, suite: &str, packages: &[FixturePackage], seed: u64) -> Self {
        let root = dir.join("mirror");
        let work = dir.join("work");
        fs_err::create_dir_all(&work).unwrap();
        let mut index = String::new();
        // `Contents-amd64`: every file of the packages built here (not of raw debs).
        let mut contents: Vec<(String, String)> = Vec::new();
        for package in packages {
            if package.raw_deb.is_none() {
                let section = package
                    .fields
                    .iter()
                    .find(|(name, _)| name == "Section")
                    .map_or("misc", |(_, value)| value.as_str());
                for (path, _, _) in &package.files {
                    contents.push((path.clone(), format!("{section}/{}", package.name)));
                }
            }
            let deb = match &package.raw_deb {
                Some(raw) => raw.clone(),
                None => build_deb(&work, package),
            };
            let first = package.name.chars().next().unwrap();
            let filename = format!(
                "pool/main/{first}/{0}/{0}_{1}_{2}.deb",
                package.name, package.version, package.architecture
            );
            let target = root.join(&filename);
            fs_err::create_dir_all(target.parent().unwrap()).unwrap();
            fs_err::write(&target, &deb).unwrap();
            let _ = writeln!(
                index,
                "Package: {}\nVersion: {}\nArchitecture: {}",
                package.name, package.version, package.architecture
            );
            for (name, value) in &package.fields {
                let _ = writeln!(index, "{name}: {value}");
            }
            let _ = writeln!(
                index,
                "Filename: {filename}\nSize: {}\nSHA256: {}\n",
                deb.len(),
                sha256_hex(&deb)
            );
        }
        let binary = root.join(format!("dists/{suite}/main/binary-amd64"));
        fs_err::create_dir_all(binary.join("by-hash/SHA256")).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(index.as_bytes()).unwrap();
        let compressed = xz.finish().unwrap();
        let mut release = format!(
            "Origin: cairn-test\nLabel: cairn-test\nSuite: {suite}\nCodename: {suite}\nDate: Sat, 01 Nov 2025 00:00:00 UTC\n\
             Acquire-By-Hash: yes\nArchitectures: amd64\nComponents: main\nDescription: cairn fixture repository\nSHA256:\n"
        );
        for (name, bytes) in [
            ("Packages", index.as_bytes()),
            ("Packages.xz", compressed.as_slice()),
        ] {
            fs_err::write(binary.join(name), bytes).unwrap();
            fs_err::write(binary.join("by-hash/SHA256").join(sha256_hex(bytes)), bytes).unwrap();
            let _ = writeln!(
                release,
                " {} {:>8} main/binary-amd64/{name}",
                sha256_hex(bytes),
                bytes.len()
            );
        }
        let dists = root.join(format!("dists/{suite}"));
        contents.sort();
        let mut listing = String::new();
        for (path, package) in &contents {
            let _ = writeln!(listing, "{path:<60} {package}");
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(listing.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        fs_err::create_dir_all(dists.join("main/by-hash/SHA256")).unwrap();
        fs_err::write(dists.join("main/Contents-amd64.gz"), &gz).unwrap();
        fs_err::write(dists.join("main/by-hash/SHA256").join(sha256_hex(&gz)), &gz).unwrap();
        let _ = writeln!(
            release,
            " {} {:>8} main/Contents-amd64.gz",
            sha256_hex(&gz),
            gz.len()
        );
        fs_err::write(dists.join("Release"), &release).unwrap();
        let key = test_key(seed);
        let repo = Self {
            root,
            suite: suite.into(),
            public_key: key
                .to_public_key()
                .to_armored_string(ArmorOptions::default())
                .unwrap(),
            key,
        };
        fs_err::write(dists.join("InRelease"), repo.sign(&release)).unwrap();
        repo
    }

    /// `text` as an `InRelease` (cleartext-signed) by this repository's key.
    pub fn sign(&self, text: &str) -> String {
        let mut config = SignatureConfig::v4(
            SignatureType::Text,
            self.key.primary_key.algorithm(),
            HashAlgorithm::Sha256,
        );
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::now())).unwrap(),
            Subpacket::regular(SubpacketData::IssuerFingerprint(
                self.key.primary_key.fingerprint(),
            ))
            .unwrap(),
        ];
        CleartextSignedMessage::new(text, config, &self.key.primary_key, &Password::empty())
            .unwrap()
            .to_armored_string(ArmorOptions::default())
            .unwrap()
    }

    /// The suite's directory (`<root>/dists/<suite>`).
    pub fn dists(&self) -> PathBuf {
        self.root.join("dists").join(&self.suite)
    }
}

/// The smallest static x86-64 program: one loadable segment whose code is `exit(0)`.
/// Fixture packages ship it where a program must be: an image's entrypoint checks
/// read it as a real ELF executable.
pub fn tiny_elf() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    let code: &[u8] = &[0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]; // mov eax,60; xor edi,edi; syscall
    let size = (64 + 56 + code.len()) as u64;
    let mut elf = Vec::new();
    elf.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(BASE + 64 + 56).to_le_bytes()); // entry: the code
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes());
    for half in [64u16, 56, 1, 64, 0, 0] {
        elf.extend_from_slice(&half.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for word in [0, BASE, BASE, size, size, 0x1000] {
        elf.extend_from_slice(&word.to_le_bytes());
    }
    elf.extend_from_slice(code);
    elf
}
