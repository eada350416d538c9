//! Registrations committed together. Gap-free numbers (reg 5.7) need the office's counter row
//! locked from the number's allocation to the commit, so concurrent registrations queue on
//! that lock, each paying a commit. Here one writer takes the registrations waiting at the
//! moment, numbers and stores them, and commits them in one transaction: one lock wait and
//! one disk flush per batch. When one is refused the batch is written again with a
//! savepoint per appeal, so the refused one gives its number back and leaves no gap.
//! Nobody is answered before the commit, so an acknowledged appeal is durable.

use std::sync::Arc;

use bakylau_platform::broker::{OutboxMessage, enqueue_all};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;

use crate::domain::NewAppeal;
use crate::register::{
    BatchEntry, Prepared, RegisterError, Registrar, Registration, is_unique_violation,
};

struct Pending {
    prepared: Prepared,
    request_id: Option<String>,
    request_hash: Option<String>,
    reply: oneshot::Sender<Result<Registration, RegisterError>>,
    /// The caller's span: the appeal's event continues the caller's trace.
    span: tracing::Span,
}

/// The front of the register: the gRPC path goes through it.
#[derive(Clone)]
pub struct RegisterQueue {
    registrar: Arc<Registrar>,
    sender: mpsc::Sender<Pending>,
}

impl RegisterQueue {
    /// Starts the writer. It stops when every clone of the queue is dropped, after writing
    /// what was already queued.
    pub fn start(
        registrar: Arc<Registrar>,
        max_batch: usize,
        capacity: usize,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let writer = tokio::spawn(write_batches(registrar.clone(), receiver, max_batch.max(1)));
        (Self { registrar, sender }, writer)
    }

    /// Registers one appeal; idempotent on `request_id`.
    pub async fn register(
        &self,
        request_id: Option<&str>,
        request_hash: Option<String>,
        appeal: NewAppeal,
    ) -> Result<Registration, RegisterError> {
        if let Some(rid) = request_id
            && let Some(done) = self
                .registrar
                .replay_of(rid, request_hash.as_deref())
                .await?
        {
            return Ok(done);
        }
        let prepared = self.registrar.prepare(appeal)?;
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            prepared,
            request_id: request_id.map(str::to_owned),
            request_hash,
            reply,
            span: tracing::Span::current(),
        };
        self.sender
            .send(pending)
            .await
            .map_err(|_| RegisterError::Unavailable)?;
        answer.await.map_err(|_| RegisterError::Unavailable)?
    }
}

async fn write_batches(
    registrar: Arc<Registrar>,
    mut receiver: mpsc::Receiver<Pending>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while receiver.recv_many(&mut batch, max_batch).await > 0 {
        metrics::histogram!("bakylau_intake_registration_batch_size").record(batch.len() as f64);
        write_batch(&registrar, std::mem::take(&mut batch)).await;
    }
}

async fn write_batch(registrar: &Registrar, batch: Vec<Pending>) {
    // Most batches register every appeal: try them without savepoints (two round trips
    // less each). If one is refused, nothing of the attempt is kept and the batch goes
    // again with a savepoint per appeal, so a refused one gives its number back.
    let outcome = match write_together(registrar, &batch).await {
        Ok(Some(results)) => Ok(results),
        Ok(None) => write_one_by_one(registrar, &batch).await,
        Err(e) => Err(e),
    };
    let replies: Vec<_> = batch
        .into_iter()
        .map(|job| (job.request_id, job.request_hash, job.reply, job.span))
        .collect();
    let results = match outcome {
        Ok(results) => results,
        Err(e) => {
            // Nothing of this batch was stored (numbers included); callers retry with their
            // request_id.
            tracing::warn!(error = %e, "registration batch rolled back");
            for (_, _, reply, _) in replies {
                let _ = reply.send(Err(RegisterError::Unavailable));
            }
            return;
        }
    };
    for ((request_id, request_hash, reply, span), result) in replies.into_iter().zip(results) {
        if let Ok(registration) = &result {
            span.in_scope(|| registration.report());
        }
        let answer = match (result, request_id) {
            // Another call with the same request_id was stored first: answer with its appeal.
            (Err(RegisterError::Db(e)), Some(rid)) if is_unique_violation(&e) => {
                match registrar.replay_of(&rid, request_hash.as_deref()).await {
                    Ok(Some(done)) => Ok(done),
                    Ok(None) => Err(RegisterError::Db(e)),
                    Err(other) => Err(other),
                }
            }
            (result, _) => result,
        };
        let _ = reply.send(answer);
    }
}

type Outcomes = Vec<Result<Registration, RegisterError>>;

/// Numbers and stores one appeal; its event is for the caller to write to the outbox.
async fn register_one(
    registrar: &Registrar,
    conn: &mut sqlx::PgConnection,
    job: &Pending,
) -> Result<Registration, RegisterError> {
    registrar
        .record_in(
            conn,
            &job.prepared,
            job.request_id.as_deref(),
            job.request_hash.clone(),
        )
        .instrument(job.span.clone())
        .await
}

/// Every appeal of the batch in one transaction, no savepoints, each kind of row written
/// with as few statements as the batch allows; `None` (and nothing kept) when one of them
/// is refused.
async fn write_together(
    registrar: &Registrar,
    batch: &[Pending],
) -> Result<Option<Outcomes>, sqlx::Error> {
    let mut tx = registrar.pool.begin().await?;
    let entries: Vec<BatchEntry<'_>> = batch
        .iter()
        .map(|job| BatchEntry {
            prepared: &job.prepared,
            request_id: job.request_id.as_deref(),
            request_hash: job.request_hash.clone(),
            span: job.span.clone(),
        })
        .collect();
    let registrations = match registrar.record_batch(&mut tx, &entries).await {
        Ok(registrations) => registrations,
        Err(_) => {
            tx.rollback().await?;
            return Ok(None);
        }
    };
    let events: Vec<OutboxMessage> = registrations
        .iter()
        .filter_map(|r| r.event.clone())
        .collect();
    enqueue_all(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(Some(registrations.into_iter().map(Ok).collect()))
}

/// Each appeal of the batch in its own savepoint of one transaction.
async fn write_one_by_one(
    registrar: &Registrar,
    batch: &[Pending],
) -> Result<Outcomes, sqlx::Error> {
    let mut tx = registrar.pool.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        let mut result = register_one(registrar, &mut savepoint, job).await;
        if let Ok(Registration {
            event: Some(event), ..
        }) = &result
            && let Err(e) = enqueue_all(&mut savepoint, std::slice::from_ref(event)).await
        {
            result = Err(e.into());
        }
        if result.is_ok() {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}
