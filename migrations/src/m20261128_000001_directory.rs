//! The directory of nodes: what this node has learned of other initiatives'
//! profiles, how far away each node is (1 = talked to directly, 2 = named by
//! such a peer…), and whether the admin hid it from the map.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DirectoryNode {
    Table,
    Host,
    Hops,
    LearnedFrom,
    Hidden,
    InitiativeName,
    Description,
    PlaceName,
    PlaceAddress,
    Latitude,
    Longitude,
    Topics,
    Website,
    Contact,
    Software,
    FirstSeenAt,
    FetchedAt,
    AttemptedAt,
    Failures,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DirectoryNode::Table)
                    .if_not_exists()
                    .col(string_len(DirectoryNode::Host, 255).primary_key())
                    .col(integer(DirectoryNode::Hops))
                    .col(string_len_null(DirectoryNode::LearnedFrom, 255))
                    .col(boolean(DirectoryNode::Hidden))
                    .col(string_len_null(DirectoryNode::InitiativeName, 200))
                    .col(text_null(DirectoryNode::Description))
                    .col(string_len_null(DirectoryNode::PlaceName, 200))
                    .col(string_len_null(DirectoryNode::PlaceAddress, 500))
                    .col(double_null(DirectoryNode::Latitude))
                    .col(double_null(DirectoryNode::Longitude))
                    .col(text(DirectoryNode::Topics))
                    .col(string_len_null(DirectoryNode::Website, 2048))
                    .col(string_len_null(DirectoryNode::Contact, 500))
                    .col(string_len_null(DirectoryNode::Software, 100))
                    .col(timestamp_with_time_zone(DirectoryNode::FirstSeenAt))
                    .col(timestamp_with_time_zone_null(DirectoryNode::FetchedAt))
                    .col(timestamp_with_time_zone_null(DirectoryNode::AttemptedAt))
                    .col(integer(DirectoryNode::Failures))
                    .col(string_len_null(DirectoryNode::LastError, 500))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DirectoryNode::Table).to_owned())
            .await
    }
}
