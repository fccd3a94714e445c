pub(crate) mod debian;
pub(crate) mod store;
