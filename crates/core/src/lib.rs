//! Domain vocabulary of Health Commons, free of databases and HTTP.
//!
//! Everything here is pure: newtypes that can only hold valid values, the text
//! pipeline (markdown to sanitised HTML), and the error kinds every other crate
//! maps its failures onto.

pub mod calendar;
pub mod error;
pub mod event;
pub mod garden;
pub mod handle;
pub mod pledge;
pub mod text;

pub use error::ErrorKind;
pub use handle::{Handle, Username, UsernameError};
