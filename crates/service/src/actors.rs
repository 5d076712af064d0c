//! Rows for this node's own actors: persons, working groups and the
//! instance actor share their shape (ids, inboxes, collections, keys).

use crate::{NodeContext, ServiceError, keys::KeyPair, urls::NodeUrls};
use chrono::Utc;
use healthcommons_db::{
    DbError,
    entities::{ActorKind, actor},
};
use sea_orm::ActiveValue::Set;

pub struct LocalActor<'a> {
    pub kind: ActorKind,
    pub id: String,
    pub username: &'a str,
    pub display_name: String,
    pub summary_html: Option<String>,
    pub keys: KeyPair,
    pub user_id: Option<i64>,
    pub created_by: Option<i64>,
    pub manually_approves_followers: bool,
    /// Persons and groups have followers and following; the instance actor not.
    pub with_collections: bool,
}

pub fn new_row(ctx: &NodeContext, new: LocalActor<'_>) -> actor::ActiveModel {
    let now = Utc::now();
    let id = new.id;
    let collection = |make: fn(&str) -> String| new.with_collections.then(|| make(&id));
    actor::ActiveModel {
        kind: Set(new.kind),
        local: Set(true),
        username: Set(new.username.to_owned()),
        host: Set(ctx.domain.clone()),
        display_name: Set(Some(new.display_name)),
        summary_html: Set(new.summary_html),
        inbox: Set(NodeUrls::inbox_of(&id)),
        shared_inbox: Set(Some(ctx.urls.shared_inbox())),
        outbox: Set(Some(NodeUrls::outbox_of(&id))),
        followers_url: Set(collection(NodeUrls::followers_of)),
        following_url: Set(collection(NodeUrls::following_of)),
        public_key_id: Set(NodeUrls::key_of(&id)),
        public_key_pem: Set(new.keys.public_pem),
        private_key_pem: Set(Some(new.keys.private_pem)),
        user_id: Set(new.user_id),
        manually_approves_followers: Set(new.manually_approves_followers),
        discoverable: Set(new.with_collections),
        published: Set(now),
        last_fetched_at: Set(now),
        created_by: Set(new.created_by),
        url: Set(Some(id.clone())),
        ap_id: Set(id),
        ..Default::default()
    }
}

/// A unique violation on insert means the name is taken (a race lost).
pub fn name_taken(err: DbError) -> ServiceError {
    if err.is_unique_violation() {
        ServiceError::conflict("that name is taken")
    } else {
        err.into()
    }
}
