//! Realising a plan: `cairn lock` ([`lock_plan`]) and `cairn build` ([`build_images`]).
//!
//! Building never resolves: every `debian` and `python_env` node comes from
//! `cairn.lock`, whose packages and wheels are fetched (only what the store lacks) and
//! unpacked or installed; the project's files and
//! generated files become content-addressed objects; the image is composed by
//! `cairn-image`, which reuses every layer blob the store has. Work already in the
//! store is not done again, and the report says what was done.

mod files;
mod lock;
mod lock_plan;
mod lock_python;
mod realise;
mod step;

pub use files::{CAIRNIGNORE, FilesError, stage_files, stage_symlink, stage_write_file};
pub use lock::{
    LockedDebianNode, LockedPythonEnv, PROJECT_LOCK_VERSION, ProjectLock, ProjectLockError,
};
pub use lock_plan::{LockPlanError, LockReport, Upgrade, lock_plan};
pub use lock_python::{PythonOfLock, python_of};
pub use realise::{BuildOptions, BuildPlanError, ImageReport, build_images, check_steps, shell};
pub use step::{CheckReport, NoStepReporter, StepError, StepReporter};
