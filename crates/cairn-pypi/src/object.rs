//! Wheels as store objects: each installed wheel ([`crate::wheel`]) is an object of
//! its own, a root-file-system fragment (`usr/local/lib/python3.X/dist-packages/…`,
//! `usr/local/bin/…`) that an image's root file system is the union of.
//!
//! The object is content-addressed: its identity is its tree, the objects it
//! refers to (the wheels it depends on) and its metadata, `pypi.wheel` (the wheel's
//! file name) and `pypi.metadata` (its `METADATA`, for resolving and listing
//! without reading the tree). Permissions are normalized, as the store keeps them
//! by default: files and directories owned by root, executable bits kept.

use std::path::Path;

use cairn_store::{
    AddOptions, Addressing, Batch, ObjectMetadata, PermissionsSource, StorePath, sanitize_name,
};

use crate::name::PackageName;
use crate::version::Version;
use crate::wheel::{InstallScheme, InstalledWheel, WheelError, install_wheel};
use crate::wheel_name::WheelName;

/// The metadata key holding the wheel's file name.
pub const WHEEL_KEY: &str = "pypi.wheel";
/// The metadata key holding the wheel's `METADATA` file.
pub const METADATA_KEY: &str = "pypi.metadata";

/// The object name of an installed wheel: `pypi-<normalized name>-<version>`,
/// sanitized to the characters object names allow (an epoch's `!` becomes `-`).
pub fn wheel_object_name(name: &PackageName, version: &Version) -> String {
    sanitize_name(&format!("pypi-{name}-{version}"))
}

/// Installs `wheel` into a tree of `batch` and stages it as an object referring to
/// `references` (registered already), content-addressed unless `addressing` says
/// otherwise (`cairn_pypi::install` addresses wheels by their inputs). Returns the object's path and
/// what was installed.
pub fn stage_wheel(
    batch: &Batch<'_>,
    wheel: &Path,
    expected: &WheelName,
    scheme: &InstallScheme,
    references: Vec<StorePath>,
    addressing: Option<Addressing>,
) -> Result<(StorePath, InstalledWheel), WheelError> {
    let store_error = |source| WheelError::Store {
        wheel: expected.filename().to_owned(),
        source,
    };
    let tree = batch.tree_path().map_err(store_error)?;
    let installed = install_wheel(wheel, expected, scheme, tree.path())?;
    let mut metadata = ObjectMetadata::default();
    metadata.insert(WHEEL_KEY, expected.filename());
    metadata.insert(METADATA_KEY, installed.metadata_bytes.clone());
    let options = AddOptions {
        name: Some(wheel_object_name(expected.name(), expected.version())),
        references,
        permissions: PermissionsSource::Normalized,
        metadata,
        addressing,
    };
    let path = batch.stage(tree, &options).map_err(store_error)?;
    Ok((path, installed))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use cairn_store::Store;

    use super::*;
    use crate::wheel::testing::{file, minimal_entries, scheme, wheel_with_record, write_wheel};

    #[test]
    fn object_names() {
        let name = crate::name::parse_package_name("Zope.Interface").unwrap();
        let version: Version = "1!2.0+local.1".parse().unwrap();
        assert_eq!(
            wheel_object_name(&name, &version),
            "pypi-zope-interface-1-2.0+local.1"
        );
    }

    #[test]
    fn staged_wheels_are_objects_with_references_and_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();

        // A dependency, then a wheel that refers to it.
        let dep = write_wheel(
            dir.path(),
            "dep-0.1-py3-none-any.whl",
            &wheel_with_record(&minimal_entries("dep", "0.1"), "dep-0.1.dist-info"),
        );
        let dep_name = WheelName::parse("dep-0.1-py3-none-any.whl").unwrap();
        let batch = store.batch().unwrap();
        let (dep_path, _) =
            stage_wheel(&batch, &dep, &dep_name, &scheme(), Vec::new(), None).unwrap();
        assert_eq!(batch.commit().unwrap(), 1);

        let mut entries = minimal_entries("My_App", "2.0");
        entries.push(file(
            "My_App-2.0.dist-info/entry_points.txt",
            b"[console_scripts]\nmy-app = My_App:main\n",
        ));
        let filename = "My_App-2.0-py3-none-any.whl";
        let wheel = write_wheel(
            dir.path(),
            filename,
            &wheel_with_record(&entries, "My_App-2.0.dist-info"),
        );
        let expected = WheelName::parse(filename).unwrap();
        let batch = store.batch().unwrap();
        let (path, installed) = stage_wheel(
            &batch,
            &wheel,
            &expected,
            &scheme(),
            vec![dep_path.clone()],
            None,
        )
        .unwrap();
        // Staging the same wheel again in the batch gives the same object.
        let (again, _) = stage_wheel(
            &batch,
            &wheel,
            &expected,
            &scheme(),
            vec![dep_path.clone()],
            None,
        )
        .unwrap();
        assert_eq!(again, path);
        assert_eq!(batch.commit().unwrap(), 1);

        assert_eq!(path.name(), "pypi-my-app-2.0");
        assert_eq!(installed.scripts, ["my-app"]);
        assert!(store.is_valid(&path).unwrap());
        let info = store.info(&path).unwrap();
        assert_eq!(info.references, [dep_path]);
        assert_eq!(info.metadata.get(WHEEL_KEY), Some(filename.as_bytes()));
        assert_eq!(
            info.metadata.get(METADATA_KEY),
            Some(installed.metadata_bytes.as_slice())
        );
        assert!(
            installed
                .metadata_bytes
                .starts_with(b"Metadata-Version: 2.1\nName: My_App\n")
        );

        let root = store.object_dir(&path);
        let script = root.join("usr/local/bin/my-app");
        let mode = fs_err::metadata(&script).unwrap().permissions().mode();
        assert_ne!(mode & 0o111, 0, "the launcher is executable");
        assert!(
            root.join("usr/local/lib/python3.13/dist-packages/My_App/__init__.py")
                .is_file()
        );

        // A bad wheel stages nothing and names the wheel.
        let bad = write_wheel(dir.path(), "bad-1.0-py3-none-any.whl", b"not a zip");
        let batch = store.batch().unwrap();
        let err = stage_wheel(
            &batch,
            &bad,
            &WheelName::parse("bad-1.0-py3-none-any.whl").unwrap(),
            &scheme(),
            Vec::new(),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, WheelError::Zip { .. }), "{err:?}");
        assert_eq!(batch.commit().unwrap(), 0);
    }
}
