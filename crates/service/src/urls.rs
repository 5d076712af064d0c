//! The shape of every URL this node mints. Ids never change once published,
//! so these functions are the only place that builds them.

/// Scheme and host of this node, e.g. `https://health.example`.
#[derive(Debug, Clone)]
pub struct NodeUrls {
    base: String,
}

impl NodeUrls {
    pub fn new(scheme: &str, domain: &str) -> Self {
        NodeUrls {
            base: format!("{scheme}://{domain}"),
        }
    }
    pub fn base(&self) -> &str {
        &self.base
    }
    /// The home page of another node, with the scheme this node federates over.
    pub fn peer_home(&self, host: &str) -> String {
        let scheme = self.base.split_once("://").map_or("https", |(scheme, _)| scheme);
        format!("{scheme}://{host}/")
    }
    /// The page of a garden item (written here or learned from a peer) on this node.
    pub fn garden_item_page(&self, id: i64) -> String {
        format!("{}/garden/items/{id}", self.base)
    }
    /// The page of an event (organised here or learned from a peer) on this node.
    pub fn event_page(&self, id: i64) -> String {
        format!("{}/events/{id}", self.base)
    }
    pub fn person(&self, name: &str) -> String {
        format!("{}/u/{name}", self.base)
    }
    pub fn group(&self, name: &str) -> String {
        format!("{}/g/{name}", self.base)
    }
    pub fn instance_actor(&self) -> String {
        format!("{}/actor", self.base)
    }
    pub fn shared_inbox(&self) -> String {
        format!("{}/inbox", self.base)
    }
    pub fn inbox_of(actor_id: &str) -> String {
        format!("{actor_id}/inbox")
    }
    pub fn outbox_of(actor_id: &str) -> String {
        format!("{actor_id}/outbox")
    }
    pub fn followers_of(actor_id: &str) -> String {
        format!("{actor_id}/followers")
    }
    pub fn following_of(actor_id: &str) -> String {
        format!("{actor_id}/following")
    }
    pub fn key_of(actor_id: &str) -> String {
        format!("{actor_id}#main-key")
    }
    /// A fresh id for a post.
    pub fn new_post(&self) -> String {
        format!("{}/p/{}", self.base, uuid_like_token())
    }
    /// A fresh id for a garden item.
    pub fn new_garden_item(&self) -> String {
        format!("{}/garden/{}", self.base, uuid_like_token())
    }
    /// A fresh id for an event (also its page).
    pub fn new_event(&self) -> String {
        format!("{}/e/{}", self.base, uuid_like_token())
    }
    /// A fresh id for an agenda question.
    pub fn new_question(&self) -> String {
        format!("{}/q/{}", self.base, uuid_like_token())
    }
    /// A fresh id for a pledge (its JSON-LD; people are sent to its page).
    pub fn new_pledge(&self) -> String {
        format!("{}/pl/{}", self.base, uuid_like_token())
    }
    /// The page of a pledge (made here or learned from a peer) on this node.
    pub fn pledge_page(&self, id: i64) -> String {
        format!("{}/pledges/{id}", self.base)
    }
    /// A fresh id for an adoption.
    pub fn new_adoption(&self) -> String {
        format!("{}/adoptions/{}", self.base, uuid_like_token())
    }
    /// The garden's JSON-LD context document.
    pub fn garden_context(&self) -> String {
        format!("{}/ns/garden", self.base)
    }
    /// The page of a hashtag.
    pub fn tag(&self, tag: &str) -> String {
        format!("{}/tags/{tag}", self.base)
    }
    /// The moderators collection of a local working group.
    pub fn moderators_of(actor_id: &str) -> String {
        format!("{actor_id}/moderators")
    }
    /// The FEP-7888 context collection of a thread.
    pub fn context_of(post_id: &str) -> String {
        format!("{post_id}/context")
    }
    /// A fresh id for an activity of `kind` (lowercase), e.g. `…/activities/follow/…`.
    pub fn new_activity(&self, kind: &str) -> String {
        format!("{}/activities/{kind}/{}", self.base, uuid_like_token())
    }
}

fn uuid_like_token() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().r#gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
