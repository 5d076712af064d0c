//! Group commit for the inbox: activities verified at the same moment are
//! stored in one transaction, so a busy inbox syncs the disk once per batch
//! instead of once per activity. Each sender is answered only after its
//! row is committed, so a 202 still means the activity is kept.

use healthcommons_db::{
    Db, DbError,
    queries::{
        self,
        inbox::{NewActivity, Stored},
    },
};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Most activities in one transaction.
const BATCH: usize = 256;
/// Activities waiting for the writer before senders wait to hand theirs over.
const QUEUE: usize = 4096;

struct Job {
    activity: NewActivity,
    reply: oneshot::Sender<Result<Stored, DbError>>,
}

/// Hands verified activities to the one task that stores them.
#[derive(Clone)]
pub struct InboxWriter {
    db: Db,
    jobs: mpsc::Sender<Job>,
}

impl InboxWriter {
    /// Start the writer task; it ends when every handle is dropped.
    pub fn spawn(db: Db) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(db.clone(), queue));
        InboxWriter { db, jobs }
    }

    /// Store one activity with whatever else is waiting; returns once it is
    /// committed (or found to be a duplicate).
    pub async fn store(&self, activity: NewActivity) -> Result<Stored, WriteError> {
        let (reply, answer) = oneshot::channel();
        match self.jobs.send(Job { activity, reply }).await {
            // Dropped unanswered only if the writer died with the job in
            // hand; the sender is asked to retry, and a row that did get in
            // is then a duplicate.
            Ok(()) => answer
                .await
                .map_err(|_| WriteError::Stopped)?
                .map_err(WriteError::from),
            Err(mpsc::error::SendError(job)) => Ok(queries::inbox::store(&self.db, &job.activity).await?),
        }
    }
}

/// Why an activity could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("the inbox writer stopped")]
    Stopped,
}

impl WriteError {
    pub fn is_storage_full(&self) -> bool {
        matches!(self, WriteError::Database(err) if err.is_storage_full())
    }
}

async fn write_batches(db: Db, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut jobs, BATCH).await > 0 {
        let (activities, replies): (Vec<NewActivity>, Vec<_>) =
            jobs.drain(..).map(|job| (job.activity, job.reply)).unzip();
        match queries::inbox::store_many(&db, &activities).await {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(err) => {
                // Nothing of the batch was kept. Store each on its own, so
                // one failing row cannot fail the others and each sender
                // gets its own answer (a full disk fails them all alike).
                warn!(%err, activities = activities.len(), "an inbox batch failed; storing one by one");
                for (activity, reply) in activities.iter().zip(replies) {
                    let _ = reply.send(queries::inbox::store(&db, activity).await);
                }
            }
        }
    }
}
