//! Events, agenda questions, pledges and garden items carry their own
//! visibility, as posts always have: what is made in a members-only working
//! group stays among its members, and the policy module (and its query
//! filters) reads this column instead of each read path working it out.
//!
//! Rows made before this migration take their group's visibility; a pledge
//! takes the narrower of its group's and that of what it is pledged on.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 4] = ["event", "question", "pledge", "garden_item"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(
                            ColumnDef::new(Alias::new("visibility"))
                                .string_len(16)
                                .not_null()
                                .default("public"),
                        )
                        .to_owned(),
                )
                .await?;
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "UPDATE {table} SET visibility = 'members' WHERE group_id IN \
                     (SELECT actor_id FROM group_settings WHERE visibility = 'members')"
                ))
                .await?;
        }
        // Posts always had a visibility; those written in a group before it
        // was made private were left public.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE post SET visibility = 'members' WHERE visibility IN ('public', 'unlisted') \
                 AND group_id IN (SELECT actor_id FROM group_settings WHERE visibility = 'members')",
            )
            .await?;
        for (column, table) in [
            ("event_id", "event"),
            ("question_id", "question"),
            ("garden_item_id", "garden_item"),
        ] {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "UPDATE pledge SET visibility = 'members' WHERE {column} IN \
                     (SELECT id FROM {table} WHERE visibility = 'members')"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new("visibility"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
