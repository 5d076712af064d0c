//! The processing layer. HTML pages, the JSON API and the inbox all call these
//! functions, so each rule lives in exactly one place. It knows nothing of HTTP
//! or JSON-LD: when a change must be told to other nodes it hands an
//! [`Outgoing`] value to a [`Publisher`] inside the same transaction.

pub mod account_email;
pub mod accounts;
pub mod actors;
pub mod agenda;
pub mod directory;
pub mod error;
pub mod events;
pub mod follows;
pub mod garden;
pub mod garden_archive;
pub mod groups;
pub mod keys;
pub mod mail;
pub mod map;
pub mod node;
pub mod notifications;
pub mod pledges;
pub mod policy;
pub mod posts;
pub mod processor;
pub mod publish;
pub mod reports;
pub mod urls;

pub use error::{ServiceError, ServiceResult};
pub use node::NodeContext;
pub use processor::{Processor, Resolver};
pub use publish::{Outgoing, Publisher};
