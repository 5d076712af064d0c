//! Domain vocabulary of Health Commons, free of database access and HTTP.
//!
//! Everything here is pure: the words of stored states (each derives only how
//! it is written in a column, so entities hold the enum, never a string), newtypes that can only hold valid values, the text
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
