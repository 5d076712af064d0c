//! Following: people follow people and working groups (following a group is
//! joining it), here and on other nodes.

use crate::{
    ServiceError, ServiceResult,
    accounts::Account,
    policy::{self, Action, Target},
    publish::{Outgoing, Publisher},
};
use healthcommons_db::entities::{ActorKind, FollowState};
use healthcommons_db::{
    TransactionTrait,
    entities::{actor, follow},
    queries::{self},
};
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// Following and joining as the API, the pages and the inbox see them.
pub struct Follows<'p>(pub(crate) &'p crate::Processor);

impl Follows<'_> {
    /// A person here (by name) or elsewhere (`@name@host` or a URL),
    /// fetched when this node has not met them yet.
    pub async fn find_person(&self, reference: &str) -> ServiceResult<actor::Model> {
        let reference = reference.trim();
        let person = if reference.contains('@') || reference.contains("://") {
            self.0.resolver().actor(reference).await?
        } else {
            queries::actors::local_by_username(self.0.db(), reference)
                .await?
                .ok_or_else(|| ServiceError::not_found(format!("no one here is named {reference}")))?
        };
        if person.kind != ActorKind::Person {
            return Err(ServiceError::validation(format!("{reference} is not a person")));
        }
        Ok(person)
    }

    /// `follower` follows whoever `reference` names: `@name@host` or an
    /// actor URL, fetched when not known here yet.
    pub async fn follow_named(
        &self,
        follower: &actor::Model,
        reference: &str,
    ) -> ServiceResult<follow::Model> {
        let target = self.0.resolver().actor(reference).await?;
        self.follow(follower, &target).await
    }

    /// `follower` (local) follows `target` (local or remote).
    pub async fn follow(
        &self,
        follower: &actor::Model,
        target: &actor::Model,
    ) -> ServiceResult<follow::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        if follower.id == target.id {
            return Err(ServiceError::validation("an actor cannot follow itself"));
        }
        if target.kind == ActorKind::Application {
            return Err(ServiceError::validation(
                "a node's instance actor cannot be followed",
            ));
        }
        if let Some(existing) = queries::follows::between(db, follower.id, target.id).await?
            && existing.state != FollowState::Rejected
        {
            return Ok(existing);
        }
        let txn = db.begin().await?;
        let row = if target.local {
            let state = if target.manually_approves_followers {
                FollowState::Pending
            } else {
                FollowState::Accepted
            };
            let ap_id = ctx.urls.new_activity("follow");
            let row = queries::follows::upsert(&txn, &ap_id, follower.id, target.id, state).await?;
            if state == FollowState::Pending && target.kind == ActorKind::Group {
                crate::notifications::join_requested(&txn, target, follower.id).await?;
            }
            row
        } else {
            let ap_id = ctx.urls.new_activity("follow");
            let row =
                queries::follows::upsert(&txn, &ap_id, follower.id, target.id, FollowState::Pending).await?;
            publisher
                .publish(&txn, Outgoing::Follow { follow_id: row.id })
                .await?;
            row
        };
        txn.commit().await?;
        Ok(row)
    }

    /// `follower` (local) stops following `target`.
    pub async fn unfollow(&self, follower: &actor::Model, target: &actor::Model) -> ServiceResult<()> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let Some(existing) = queries::follows::between(db, follower.id, target.id).await? else {
            return Err(ServiceError::not_found("not following that actor"));
        };
        let txn = db.begin().await?;
        if !target.local {
            publisher
                .publish(
                    &txn,
                    Outgoing::UndoFollow {
                        follow_id: existing.id,
                    },
                )
                .await?;
        }
        queries::follows::delete(&txn, existing.id).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A moderator of the local working group `group_name` decides on a
    /// pending request to join it: only its moderators (or the node's) may, and
    /// only on a request to that group.
    pub async fn decide(
        &self,
        moderator: &Account,
        group_name: &str,
        follow_id: i64,
        accept: bool,
    ) -> ServiceResult<()> {
        let (db, publisher) = (self.0.db(), self.0.publisher());
        let group = crate::groups::local(db, group_name).await?;
        policy::require(db, moderator.into(), Action::DecideJoin, Target::Group(&group)).await?;
        let txn = db.begin().await?;
        let row = queries::follows::by_id(&txn, follow_id)
            .await?
            .filter(|f| f.state == FollowState::Pending && f.target_id == group.id)
            .ok_or_else(|| ServiceError::not_found("no pending request to join with that id"))?;
        // The node's staff may decide on others' requests, never on their own.
        if row.follower_id == moderator.person.id {
            return Err(ServiceError::forbidden(
                "nobody decides on their own request to join",
            ));
        }
        let follower = queries::actors::by_id(&txn, row.follower_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("follower is gone"))?;
        let state = if accept {
            FollowState::Accepted
        } else {
            FollowState::Rejected
        };
        queries::follows::set_state(&txn, row.id, state).await?;
        crate::notifications::join_answered(&txn, &group, follower.id, Some(moderator.person.id), accept)
            .await?;
        if !follower.local {
            let outgoing = if accept {
                Outgoing::AcceptFollow { follow_id: row.id }
            } else {
                Outgoing::RejectFollow { follow_id: row.id }
            };
            publisher.publish(&txn, outgoing).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// A remote actor asked to follow one of ours. A target that does not approve
/// followers by hand accepts at once; a repeated request gets a fresh answer.
pub async fn receive_follow(
    db: &DatabaseConnection,
    publisher: &dyn Publisher,
    follow_ap_id: &str,
    follower: &actor::Model,
    target: &actor::Model,
) -> ServiceResult<follow::Model> {
    if !target.local || target.kind == ActorKind::Application {
        return Err(ServiceError::not_found("no such local actor to follow"));
    }
    let txn = db.begin().await?;
    let already_accepted = queries::follows::between(&txn, follower.id, target.id)
        .await?
        .is_some_and(|f| f.state == FollowState::Accepted);
    let state = if already_accepted || !target.manually_approves_followers {
        FollowState::Accepted
    } else {
        FollowState::Pending
    };
    let row = queries::follows::upsert(&txn, follow_ap_id, follower.id, target.id, state).await?;
    if state == FollowState::Accepted {
        publisher
            .publish(&txn, Outgoing::AcceptFollow { follow_id: row.id })
            .await?;
    } else if target.kind == ActorKind::Group {
        crate::notifications::join_requested(&txn, target, follower.id).await?;
    }
    txn.commit().await?;
    Ok(row)
}

/// The target of a follow we sent answered. Only the target itself may answer,
/// and only a follow we actually sent.
pub async fn receive_answer(
    db: &impl ConnectionTrait,
    answering_actor: &actor::Model,
    follow_ap_id: Option<&str>,
    follower_ap_id: Option<&str>,
    accepted: bool,
) -> ServiceResult<()> {
    let row = match follow_ap_id {
        Some(ap_id) => queries::follows::by_ap_id(db, ap_id).await?,
        None => None,
    };
    let row = match (row, follower_ap_id) {
        (Some(row), _) => Some(row),
        // Some servers answer with only the follower's id; match the pending pair.
        (None, Some(follower)) => match queries::actors::by_ap_id(db, follower).await? {
            Some(follower) => queries::follows::between(db, follower.id, answering_actor.id).await?,
            None => None,
        },
        (None, None) => None,
    };
    let row = row.ok_or_else(|| ServiceError::not_found("no follow of ours matches this answer"))?;
    if row.target_id != answering_actor.id {
        return Err(ServiceError::forbidden(
            "only the followed actor may answer a follow",
        ));
    }
    let state = if accepted {
        FollowState::Accepted
    } else {
        FollowState::Rejected
    };
    queries::follows::set_state(db, row.id, state).await?;
    // A repeated answer tells nobody anything new.
    if row.state != state {
        crate::notifications::join_answered(db, answering_actor, row.follower_id, None, accepted).await?;
    }
    Ok(())
}

/// A remote follower withdrew. Only the follower itself may undo its follow.
pub async fn receive_undo_follow(
    db: &impl ConnectionTrait,
    undoing_actor: &actor::Model,
    follow_ap_id: Option<&str>,
    target_ap_id: Option<&str>,
) -> ServiceResult<()> {
    let mut row = match follow_ap_id {
        Some(ap_id) => queries::follows::by_ap_id(db, ap_id).await?,
        None => None,
    };
    if row.is_none()
        && let Some(target) = target_ap_id
        && let Some(target) = queries::actors::by_ap_id(db, target).await?
    {
        row = queries::follows::between(db, undoing_actor.id, target.id).await?;
    }
    let Some(row) = row else {
        // Nothing to undo: already gone, which is the state the sender wants.
        return Ok(());
    };
    if row.follower_id != undoing_actor.id {
        return Err(ServiceError::forbidden("only the follower may undo a follow"));
    }
    queries::follows::delete(db, row.id).await?;
    Ok(())
}
