//! Schema history. Each file is frozen once released; a change is a new file.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_spine;
mod m20261124_000001_create_discussions;
mod m20261125_000001_create_garden;
mod m20261126_000001_discuss_garden;
mod m20261127_000001_create_events;
mod m20261127_000002_create_agenda;
mod m20261128_000001_directory;
mod m20261129_000001_create_pledges;
mod m20261129_000002_index_follow_target;
mod m20261130_000001_index_delivery_claim_order;
mod m20261201_000001_index_inbox_claim_order;
mod m20261207_000001_content_visibility;
mod m20261207_000002_calendar_key;
mod m20261207_000003_peer_refusals;
mod m20261208_000001_notifications;
mod m20261208_000002_email;
mod postgres_only;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_spine::Migration),
            Box::new(m20261124_000001_create_discussions::Migration),
            Box::new(m20261125_000001_create_garden::Migration),
            Box::new(m20261126_000001_discuss_garden::Migration),
            Box::new(m20261127_000001_create_events::Migration),
            Box::new(m20261127_000002_create_agenda::Migration),
            Box::new(m20261128_000001_directory::Migration),
            Box::new(m20261129_000001_create_pledges::Migration),
            Box::new(m20261129_000002_index_follow_target::Migration),
            Box::new(m20261130_000001_index_delivery_claim_order::Migration),
            Box::new(m20261201_000001_index_inbox_claim_order::Migration),
            Box::new(m20261207_000001_content_visibility::Migration),
            Box::new(m20261207_000002_calendar_key::Migration),
            Box::new(m20261207_000003_peer_refusals::Migration),
            Box::new(m20261208_000001_notifications::Migration),
            Box::new(m20261208_000002_email::Migration),
        ]
    }
}
