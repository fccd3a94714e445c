//! Composing images: root file systems from store objects (merged-/usr, excludes,
//! conflicts), the files an image needs that no package ships, checks before anything
//! is written, the split into layers, layer blobs cached in the store, and the build
//! that puts them together. Writing the bytes is `cairn-oci`'s job.

pub mod build;
pub mod cache;
pub mod check;
pub mod layers;
pub mod rootfs;
pub mod stack;
pub mod synth;

pub use build::{
    BuildError, BuiltImage, Contents, ImageReporter, ImageSpec, Library, NoImageReporter, Output,
    build, root_filesystem,
};
pub use cairn_oci::rfc3339;
pub use check::{CheckError, CheckOptions, check_entrypoint, multiarch_triplet, oci_architecture};
pub use layers::{DEFAULT_BUDGET, PlanError, PlannedLayer, plan_layers};
pub use rootfs::{ComposeError, Excludes, Part, Rootfs, RootfsEntry, merged_usr};
pub use stack::Stack;
