//! Queries grouped per aggregate. Functions take any `ConnectionTrait` so the
//! same query runs on a plain connection or inside a transaction.

pub mod actors;
pub mod agenda;
pub mod auth;
pub mod deliveries;
pub mod directory;
pub mod events;
pub mod follows;
pub mod garden;
pub mod groups;
pub mod inbox;
pub mod map;
pub mod peers;
pub mod pledges;
pub mod posts;
pub mod reports;
pub mod settings;
pub mod users;
