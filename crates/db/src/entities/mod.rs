//! One module per table. Column names match the migrations.

pub mod actor;
pub mod api_token;
pub mod delivery;
pub mod follow;
pub mod inbox_activity;
pub mod outbox_activity;
pub mod peer;
pub mod session;
pub mod setting;
pub mod user;
