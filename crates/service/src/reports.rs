//! Reports: members flag posts or people; moderators work through the queue.
//! A report about someone on another node is also sent to that node.

use crate::{
    ServiceError, ServiceResult,
    accounts::{Account, Role},
    policy::{self, Subject},
    publish::Outgoing,
};
use healthcommons_core::text;
use healthcommons_db::{
    TransactionTrait,
    entities::{actor, report},
    queries::{self, reports::NewReport},
};
use sea_orm::ConnectionTrait;

pub const MAX_COMMENT: usize = 2000;

/// Reports as the API, the pages and the inbox see them.
pub struct Reports<'p>(pub(crate) &'p crate::Processor);

impl Reports<'_> {
    /// File a report about a post (and so its author) or about an actor.
    pub async fn file(
        &self,
        reporter: &Account,
        post_ap_id: Option<&str>,
        actor_ap_id: Option<&str>,
        comment: &str,
    ) -> ServiceResult<report::Model> {
        let (db, ctx, publisher) = (self.0.db(), self.0.node(), self.0.publisher());
        let comment = text::plain_text(comment, MAX_COMMENT);
        let post = match post_ap_id {
            Some(id) => Some(
                queries::posts::by_ap_id(db, id)
                    .await?
                    .filter(|p| p.author_id.is_some())
                    .ok_or_else(|| ServiceError::not_found("no such post"))?,
            ),
            None => None,
        };
        // Nobody reports, and so learns of, what they may not see.
        if let Some(post) = &post
            && !policy::visible_to(db, reporter.into(), Subject::Post(post)).await?
        {
            return Err(ServiceError::not_found("no such post"));
        }
        let target = match (actor_ap_id, &post) {
            (Some(id), _) => Some(
                queries::actors::by_ap_id(db, id)
                    .await?
                    .ok_or_else(|| ServiceError::not_found("no such actor"))?,
            ),
            (None, Some(post)) => match post.author_id {
                Some(id) => queries::actors::by_id(db, id).await?,
                None => None,
            },
            (None, None) => return Err(ServiceError::validation("report a post or an actor")),
        };
        let post_ids: Vec<String> = post.iter().map(|p| p.ap_id.clone()).collect();
        let ap_id = ctx.urls.new_activity("flag");
        let txn = db.begin().await?;
        let row = queries::reports::insert(
            &txn,
            NewReport {
                ap_id: &ap_id,
                reporter_id: reporter.person.id,
                target_id: target.as_ref().map(|t| t.id),
                post_ids: &post_ids,
                group_id: post.as_ref().and_then(|p| p.group_id),
                content: &comment,
                incoming: false,
            },
        )
        .await?
        .ok_or_else(|| ServiceError::conflict("that report exists"))?;
        if target.as_ref().is_some_and(|t| !t.local) {
            publisher
                .publish(&txn, Outgoing::Report { report_id: row.id })
                .await?;
        }
        txn.commit().await?;
        Ok(row)
    }
}

/// A report with the people it names, for the queue.
pub struct ReportView {
    pub report: report::Model,
    pub reporter: Option<actor::Model>,
    pub target: Option<actor::Model>,
    pub post_ids: Vec<String>,
}

/// Groups whose reports `account` may see: all for node moderators and
/// admins, else the groups they moderate.
async fn visible_groups(db: &impl ConnectionTrait, account: &Account) -> ServiceResult<Option<Vec<i64>>> {
    if account.role() >= Role::Moderator {
        return Ok(None);
    }
    let mut ids = Vec::new();
    for group in queries::actors::local_groups(db).await? {
        if queries::groups::is_moderator(db, group.id, account.person.id).await? {
            ids.push(group.id);
        }
    }
    if ids.is_empty() {
        return Err(ServiceError::forbidden("only moderators see reports"));
    }
    Ok(Some(ids))
}

pub(crate) async fn queue(db: &impl ConnectionTrait, account: &Account) -> ServiceResult<Vec<ReportView>> {
    let groups = visible_groups(db, account).await?;
    let mut out = Vec::new();
    for report in queries::reports::queue(db, groups).await? {
        let reporter = queries::actors::by_id(db, report.reporter_id).await?;
        let target = match report.target_id {
            Some(id) => queries::actors::by_id(db, id).await?,
            None => None,
        };
        let post_ids = serde_json::from_str(&report.post_ids).unwrap_or_default();
        out.push(ReportView {
            report,
            reporter,
            target,
            post_ids,
        });
    }
    Ok(out)
}

pub(crate) async fn resolve(db: &impl ConnectionTrait, account: &Account, id: i64) -> ServiceResult<()> {
    let groups = visible_groups(db, account).await?;
    let report = queries::reports::by_id(db, id)
        .await?
        .ok_or_else(|| ServiceError::not_found("no such report"))?;
    if let Some(groups) = groups
        && !report.group_id.is_some_and(|g| groups.contains(&g))
    {
        return Err(ServiceError::forbidden(
            "that report is not for a group you moderate",
        ));
    }
    queries::reports::resolve(db, id).await?;
    Ok(())
}

/// The way in for the pages and the API, on the processor's connections.
impl Reports<'_> {
    pub async fn queue(&self, account: &Account) -> ServiceResult<Vec<ReportView>> {
        queue(self.0.db(), account).await
    }

    pub async fn resolve(&self, account: &Account, id: i64) -> ServiceResult<()> {
        resolve(self.0.db(), account, id).await
    }
}
