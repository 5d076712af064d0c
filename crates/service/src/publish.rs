//! What a change must tell other nodes. The federation layer implements
//! [`Publisher`]: it turns an [`Outgoing`] into an activity and its deliveries,
//! written in the caller's transaction so neither exists without the other.

use crate::ServiceResult;
use sea_orm::DatabaseTransaction;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// Our actor asks to follow a remote one (the follow row holds both).
    Follow { follow_id: i64 },
    /// Our actor withdraws a follow. Sent before the row is removed.
    UndoFollow { follow_id: i64 },
    /// Our actor (usually a working group) accepts a remote follower.
    AcceptFollow { follow_id: i64 },
    /// Our actor refuses a remote follower.
    RejectFollow { follow_id: i64 },
}

#[async_trait::async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, txn: &DatabaseTransaction, outgoing: Outgoing) -> ServiceResult<()>;
}
