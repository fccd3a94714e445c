pub(crate) mod debian;
pub(crate) mod image;
pub(crate) mod store;
