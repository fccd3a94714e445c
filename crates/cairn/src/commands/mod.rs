pub(crate) mod cache;
pub(crate) mod debian;
pub(crate) mod engine;
pub(crate) mod image;
pub(crate) mod project;
pub(crate) mod registry;
pub(crate) mod store;
