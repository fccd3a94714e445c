//! Wheels from no index: made by a build step (`python_env(wheels = [run(...)])`) or
//! kept in the project (`files()`).
//!
//! They are not resolved: a step's output is known only once it has run, and `cairn
//! lock` runs nothing. So a local wheel is installed as it is, as `pip install
//! --no-deps` would, and what it requires must already be in the environment: each
//! `Requires-Dist` that applies to the target is checked against the locked wheels
//! (name, version, extras) and the other local wheels. What is missing is an error
//! that says to add it to the requirements, which the lock then resolves. A local
//! wheel must fit the target's tags and `Requires-Python`, and may not have the name
//! of a locked wheel.
//!
//! Each becomes an object as a locked wheel does ([`crate::install`]): addressed by
//! its SHA-256, file name, scheme and references (the interpreter, and the objects of
//! what it requires).

use std::collections::BTreeMap;
use std::path::PathBuf;

use cairn_store::{Addressing, Store, StoreError, StorePath};

use crate::install::{InstalledWheels, input_hash};
use crate::lock::PypiLock;
use crate::metadata::{Metadata, MetadataError, read_from_wheel};
use crate::name::PackageName;
use crate::object::{stage_wheel, wheel_object_name};
use crate::requirement::Requirement;
use crate::tags::{CompatibleTags, TagIncompatibility};
use crate::target::Target;
use crate::version::Version;
use crate::wheel::{InstallScheme, WheelError};
use crate::wheel_name::WheelName;

/// The most a local wheel's `METADATA` may be.
const METADATA_LIMIT: u64 = 16 << 20;

/// A wheel file to install, and where it comes from (for messages: `step \`wheels\``).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalWheel {
    pub file: PathBuf,
    /// Its SHA-256, lowercase hex (the store's listing has it).
    pub sha256: String,
    pub origin: String,
}

/// A local wheel installed: its name, version and object, and whether the object was
/// made now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledLocal {
    pub name: WheelName,
    pub object: StorePath,
    pub fresh: bool,
}

/// Why local wheels could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum LocalWheelError {
    #[error("{origin}: `{file}` is not a wheel's file name")]
    Name {
        origin: String,
        file: String,
        #[source]
        source: crate::wheel_name::WheelNameError,
    },
    #[error("{origin}: the wheel `{file}` does not fit CPython {python}: {source}")]
    Tags {
        origin: String,
        file: String,
        python: String,
        #[source]
        source: TagIncompatibility,
    },
    #[error("{origin}: the wheel `{file}` cannot be read: {reason}")]
    Read {
        origin: String,
        file: String,
        reason: String,
    },
    #[error("{origin}: the wheel `{file}`")]
    Metadata {
        origin: String,
        file: String,
        #[source]
        source: Box<MetadataError>,
    },
    #[error("{origin}: the wheel `{file}` says it is {name} {version} in its metadata")]
    Mismatch {
        origin: String,
        file: String,
        name: String,
        version: String,
    },
    #[error(
        "{origin}: the wheel `{file}` needs Python {requires}, and the environment's is {python}"
    )]
    RequiresPython {
        origin: String,
        file: String,
        requires: String,
        python: String,
    },
    #[error("`{name}` is a local wheel ({file}, {origin}) and a locked one ({locked}) too")]
    Locked {
        name: String,
        file: String,
        origin: String,
        locked: String,
    },
    #[error("two local wheels are `{name}`: {first} and {second}")]
    Twice {
        name: String,
        first: String,
        second: String,
    },
    #[error("{origin}: the wheel `{file}` requires `{requirement}`, and the environment {has}")]
    Unmet {
        origin: String,
        file: String,
        requirement: String,
        /// What the environment has instead: `has no ` + name, or `has 1.0`.
        has: String,
    },
    #[error("local wheels require each other in a cycle: {0}")]
    Cycle(String),
    #[error(transparent)]
    Wheel(Box<WheelError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LocalWheelError {
    /// A suggestion, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Unmet { requirement, .. } => Some(format!(
                "a local wheel is installed as it is: add `{requirement}` to the \
                 python_env()'s requirements and run `cairn lock`"
            )),
            Self::Locked { .. } => {
                Some("remove it from the requirements, or from the python_env()'s `wheels`".into())
            }
            _ => None,
        }
    }
}

impl From<WheelError> for LocalWheelError {
    fn from(error: WheelError) -> Self {
        Self::Wheel(Box::new(error))
    }
}

/// One wheel, checked and read.
struct Checked<'a> {
    wheel: &'a LocalWheel,
    name: WheelName,
    /// The requirements that apply to the target.
    requires: Vec<Requirement>,
}

impl Checked<'_> {
    fn file(&self) -> String {
        self.name.filename().to_owned()
    }
}

fn file_name(wheel: &LocalWheel) -> String {
    wheel
        .file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

fn check<'a>(
    wheel: &'a LocalWheel,
    target: &Target,
    tags: &CompatibleTags,
) -> Result<Checked<'a>, LocalWheelError> {
    let file = file_name(wheel);
    let origin = wheel.origin.clone();
    let name = WheelName::parse(&file).map_err(|source| LocalWheelError::Name {
        origin: origin.clone(),
        file: file.clone(),
        source,
    })?;
    tags.check(&name).map_err(|source| LocalWheelError::Tags {
        origin: origin.clone(),
        file: file.clone(),
        python: target.python_full_version().to_string(),
        source,
    })?;
    let read = |reason: String| LocalWheelError::Read {
        origin: origin.clone(),
        file: file.clone(),
        reason,
    };
    let bytes = read_from_wheel(&wheel.file, METADATA_LIMIT).map_err(read)?;
    let metadata = Metadata::parse(&bytes, &file).map_err(|source| LocalWheelError::Metadata {
        origin: origin.clone(),
        file: file.clone(),
        source: Box::new(source),
    })?;
    if &metadata.name != name.name() || &metadata.version != name.version() {
        return Err(LocalWheelError::Mismatch {
            origin,
            file,
            name: metadata.name.to_string(),
            version: metadata.version.to_string(),
        });
    }
    if let Some(requires) = &metadata.requires_python
        && !requires.allows(target)
    {
        return Err(LocalWheelError::RequiresPython {
            origin,
            file,
            requires: match requires {
                crate::simple::RequiresPython::Specifiers(s) => s.to_string(),
                crate::simple::RequiresPython::Invalid(text) => text.clone(),
            },
            python: target.python_full_version().to_string(),
        });
    }
    let requires = metadata
        .requires_dist
        .into_iter()
        .filter(|r| target.evaluate(&r.marker, &[]))
        .collect();
    Ok(Checked {
        wheel,
        name,
        requires,
    })
}

/// Installs `wheels` for `target` by `scheme` into objects referring to
/// `interpreter` and to the objects of what each requires: the wheels of `lock`
/// (installed as `installed`) and each other.
pub fn install_local(
    store: &Store,
    wheels: &[LocalWheel],
    target: &Target,
    scheme: &InstallScheme,
    interpreter: &[StorePath],
    lock: &PypiLock,
    installed: &InstalledWheels,
) -> Result<Vec<InstalledLocal>, LocalWheelError> {
    let tags = CompatibleTags::for_target(target);
    let locked = lock.by_name();
    let mut checked: BTreeMap<PackageName, Checked<'_>> = BTreeMap::new();
    for wheel in wheels {
        let one = check(wheel, target, &tags)?;
        let name = one.name.name().clone();
        if let Some(l) = locked.get(name.as_ref()) {
            return Err(LocalWheelError::Locked {
                name: name.to_string(),
                file: one.file(),
                origin: wheel.origin.clone(),
                locked: l.wheel.clone(),
            });
        }
        if let Some(first) = checked.get(&name) {
            return Err(LocalWheelError::Twice {
                name: name.to_string(),
                first: format!("{} ({})", first.file(), first.wheel.origin),
                second: format!("{} ({})", one.file(), wheel.origin),
            });
        }
        checked.insert(name, one);
    }

    let needs = requirements(&checked, interpreter, lock, installed)?;

    // Dependencies first; a cycle among local wheels has no order to install in.
    let mut done: BTreeMap<&PackageName, StorePath> = BTreeMap::new();
    let mut out = Vec::new();
    while done.len() < checked.len() {
        let ready: Vec<&PackageName> = needs
            .iter()
            .filter(|(name, (_, local))| {
                !done.contains_key(*name) && local.iter().all(|l| done.contains_key(l))
            })
            .map(|(name, _)| *name)
            .collect();
        if ready.is_empty() {
            let left: Vec<String> = checked
                .keys()
                .filter(|n| !done.contains_key(n))
                .map(ToString::to_string)
                .collect();
            return Err(LocalWheelError::Cycle(left.join(", ")));
        }
        for name in ready {
            let one = &checked[name];
            let (objects, local) = &needs[name];
            let mut references = objects.clone();
            references.extend(local.iter().map(|l| done[l].clone()));
            references.sort();
            references.dedup();
            let hash = input_hash(&one.wheel.sha256, one.name.filename(), scheme, &references);
            let object_name = wheel_object_name(one.name.name(), one.name.version());
            let path = Store::input_path(&object_name, &hash)?;
            store.add_temp_roots(std::slice::from_ref(&path))?;
            let fresh = !store.is_valid(&path)?;
            if fresh {
                let batch = store.batch()?;
                stage_wheel(
                    &batch,
                    &one.wheel.file,
                    &one.name,
                    scheme,
                    references,
                    Some(Addressing::Input { node_hash: hash }),
                )?;
                batch.commit()?;
            }
            out.push(InstalledLocal {
                name: one.name.clone(),
                object: path.clone(),
                fresh,
            });
            done.insert(name, path);
        }
    }
    Ok(out)
}

/// The objects of the locked wheels a local wheel requires (and the interpreter's),
/// and the local wheels it requires.
type Needs<'c> = (Vec<StorePath>, Vec<&'c PackageName>);

/// What each local wheel requires: the objects of locked wheels (and `interpreter`),
/// and the other local wheels, by name.
fn requirements<'c>(
    checked: &'c BTreeMap<PackageName, Checked<'_>>,
    interpreter: &[StorePath],
    lock: &PypiLock,
    installed: &InstalledWheels,
) -> Result<BTreeMap<&'c PackageName, Needs<'c>>, LocalWheelError> {
    let locked = lock.by_name();
    let mut needs: BTreeMap<&PackageName, (Vec<StorePath>, Vec<&PackageName>)> = BTreeMap::new();
    for (name, one) in checked {
        let mut objects = interpreter.to_vec();
        let mut local = Vec::new();
        for requirement in &one.requires {
            let unmet = |has: String| LocalWheelError::Unmet {
                origin: one.wheel.origin.clone(),
                file: one.file(),
                requirement: requirement_text(requirement),
                has,
            };
            let key: &str = requirement.name.as_ref();
            if let Some(l) = locked.get(key) {
                let version: Version = l
                    .version
                    .parse()
                    .map_err(|_| unmet(format!("locks it at `{}`", l.version)))?;
                if !requirement.specifiers.contains(&version) {
                    return Err(unmet(format!("has {} {}", l.name, l.version)));
                }
                let extras: Vec<String> = requirement
                    .extras
                    .iter()
                    .map(ToString::to_string)
                    .filter(|e| !l.extras.contains(e))
                    .collect();
                if !extras.is_empty() {
                    return Err(unmet(format!(
                        "has {} without the extras {}",
                        l.name,
                        extras.join(", ")
                    )));
                }
                objects.push(installed.get(key).cloned().ok_or_else(|| {
                    StoreError::NotFound(format!("the object of the locked wheel {key}"))
                })?);
            } else if let Some(other) = checked.get(&requirement.name) {
                if !requirement.specifiers.contains(other.name.version()) {
                    return Err(unmet(format!(
                        "has the local wheel {}",
                        other.name.filename()
                    )));
                }
                local.push(&requirement.name);
            } else {
                return Err(unmet(format!("has no {}", requirement.name)));
            }
        }
        needs.insert(name, (objects, local));
    }
    Ok(needs)
}

/// A requirement as PEP 508 text, without its marker (it applies).
fn requirement_text(requirement: &Requirement) -> String {
    let mut text = requirement.name.to_string();
    if !requirement.extras.is_empty() {
        let extras: Vec<String> = requirement.extras.iter().map(ToString::to_string).collect();
        text.push('[');
        text.push_str(&extras.join(","));
        text.push(']');
    }
    text.push_str(&requirement.specifiers.to_string());
    text
}
