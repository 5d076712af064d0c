use sea_orm::entity::prelude::*;

/// One email waiting for the SMTP server, or sent, or refused for good.
/// Pending means neither `sent_at` nor `failed_permanently`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outgoing_email")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: Option<i64>,
    pub recipient: String,
    pub kind: String,
    /// Chosen at enqueue time, so a mail sent again after a crash carries the same id.
    pub message_id: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// The one-click unsubscribe URL (RFC 8058), for mail that is not transactional.
    pub list_unsubscribe: Option<String>,
    /// JSON list of attachments (file name, content type, base64 body).
    pub attachments: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A worker owns the row until then; a crashed worker's claim just expires.
    pub claimed_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub failed_permanently: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
