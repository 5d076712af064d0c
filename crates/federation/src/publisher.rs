//! Turns the service layer's `Outgoing` values into ActivityPub activities
//! and their deliveries, inside the caller's transaction.

use crate::{FederationContext, RequestData, objects::actor::host_of};
use healthcommons_db::{DatabaseTransaction, entities::actor, queries};
use healthcommons_service::{Outgoing, Publisher, ServiceError, ServiceResult};
use serde_json::{Value, json};
use url::Url;

pub const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";

pub struct OutboxPublisher {
    context: FederationContext,
}

impl OutboxPublisher {
    pub fn new(data: &RequestData) -> Self {
        OutboxPublisher {
            context: data.app_data().clone(),
        }
    }

    pub fn from_context(context: &FederationContext) -> Self {
        OutboxPublisher {
            context: context.clone(),
        }
    }
}

async fn actor_by_id(txn: &DatabaseTransaction, id: i64) -> ServiceResult<actor::Model> {
    queries::actors::by_id(txn, id)
        .await?
        .ok_or_else(|| ServiceError::Internal(format!("actor {id} vanished while publishing")))
}

fn follow_json(follow_ap_id: &str, follower: &actor::Model, target: &actor::Model) -> Value {
    json!({
        "id": follow_ap_id,
        "type": "Follow",
        "actor": follower.ap_id,
        "object": target.ap_id,
    })
}

/// The inbox for one recipient, with the peer host it belongs to.
fn inbox_of(recipient: &actor::Model) -> ServiceResult<(String, String)> {
    let url = Url::parse(&recipient.inbox)
        .map_err(|e| ServiceError::Internal(format!("stored inbox {} is invalid: {e}", recipient.inbox)))?;
    Ok((recipient.inbox.clone(), host_of(&url)))
}

#[async_trait::async_trait]
impl Publisher for OutboxPublisher {
    async fn publish(&self, txn: &DatabaseTransaction, outgoing: Outgoing) -> ServiceResult<()> {
        let (follow_id, kind) = match &outgoing {
            Outgoing::Follow { follow_id } => (*follow_id, "Follow"),
            Outgoing::UndoFollow { follow_id } => (*follow_id, "Undo"),
            Outgoing::AcceptFollow { follow_id } => (*follow_id, "Accept"),
            Outgoing::RejectFollow { follow_id } => (*follow_id, "Reject"),
        };
        let follow = queries::follows::by_id(txn, follow_id)
            .await?
            .ok_or_else(|| ServiceError::Internal(format!("follow {follow_id} vanished while publishing")))?;
        let follower = actor_by_id(txn, follow.follower_id).await?;
        let target = actor_by_id(txn, follow.target_id).await?;
        let inner = follow_json(&follow.ap_id, &follower, &target);

        // Follow and Undo go from the follower to the target; answers the other way.
        let (id, sender, recipient, mut activity) = match outgoing {
            Outgoing::Follow { .. } => (follow.ap_id.clone(), &follower, &target, inner),
            Outgoing::UndoFollow { .. } => {
                let id = self.context.node.urls.new_activity("undo");
                let activity = json!({
                    "id": id, "type": "Undo", "actor": follower.ap_id, "object": inner,
                });
                (id, &follower, &target, activity)
            }
            Outgoing::AcceptFollow { .. } | Outgoing::RejectFollow { .. } => {
                let id = self.context.node.urls.new_activity(&kind.to_ascii_lowercase());
                let activity = json!({
                    "id": id, "type": kind, "actor": target.ap_id, "object": inner,
                });
                (id, &target, &follower, activity)
            }
        };
        if let Value::Object(map) = &mut activity {
            map.insert("@context".into(), json!(AS_CONTEXT));
            map.insert("to".into(), json!([recipient.ap_id]));
        }
        let body = serde_json::to_string(&activity).map_err(|e| ServiceError::Internal(e.to_string()))?;
        queries::deliveries::enqueue(txn, &id, sender.id, kind, &body, &[inbox_of(recipient)?]).await?;
        self.context.delivery_wakeup.notify_one();
        Ok(())
    }
}
