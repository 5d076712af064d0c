//! Objects as they travel: each has a wire struct and an `Object` impl.

pub mod actor;
pub mod post;
