//! The mail worker: sends what the `outgoing_email` queue holds over SMTP
//! (lettre), like the delivery worker sends activities.
//!
//! A row is claimed with a lease, so two workers never send it at once, and
//! marked sent as soon as the server has accepted it. A worker that dies
//! leaves its claims to expire and the next one sends them; only a crash in
//! the moment between the server's "250" and that mark sends a mail twice,
//! and then with the same Message-ID. Temporary refusals (4xx), a server that
//! is down or slow are retried with backoff; a permanent refusal of the
//! recipient (550, 551, 553) marks the address bouncing.

use crate::config::{Config, SmtpTls};
use anyhow::Context;
use chrono::Utc;
use healthcommons_db::{Db, entities::outgoing_email, queries};
use healthcommons_service::mail::attachments_of;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Attachment, Mailbox, MultiPart, SinglePart,
        header::{ContentType, Header, HeaderName, HeaderValue},
    },
    transport::smtp::{authentication::Credentials, extension::ClientId},
};
use rand::Rng;
use std::time::Duration;
use tracing::{error, info, warn};

/// How often an idle worker looks for due mail.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Mails claimed at once, sent one after another within the lease.
const BATCH: u64 = 4;
/// The longest an SMTP conversation step may take. The default lease
/// (`mail_claim_lease_secs`) is well over `BATCH` times this.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest wait between two attempts.
const RETRY_CAP: Duration = Duration::from_secs(3600);

/// The SMTP server and the queue's retry policy.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    retry_base: Duration,
    retry_for: chrono::Duration,
    lease: chrono::Duration,
}

impl Mailer {
    /// `None` when no SMTP server is configured.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Mailer>> {
        if !config.email_enabled() {
            return Ok(None);
        }
        let host = config.smtp_host.trim();
        let builder = match config.smtp_tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .with_context(|| format!("cannot use {host} for SMTP"))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .with_context(|| format!("cannot use {host} for SMTP"))?,
        };
        let port = match config.smtp_port {
            0 => config.smtp_tls.default_port(),
            port => port,
        };
        let hello = config.domain.split(':').next().unwrap_or(&config.domain);
        let mut builder = builder
            .port(port)
            .timeout(Some(SMTP_TIMEOUT))
            .hello_name(ClientId::Domain(hello.to_owned()));
        if !config.smtp_username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.smtp_username.clone(),
                config.smtp_password.clone(),
            ));
        }
        Ok(Some(Mailer {
            transport: builder.build(),
            from: config.smtp_sender()?,
            retry_base: Duration::from_secs(config.mail_retry_base_secs.max(1)),
            retry_for: chrono::Duration::hours(config.mail_retry_hours.clamp(1, 24 * 365) as i64),
            lease: chrono::Duration::seconds(config.mail_claim_lease_secs.clamp(1, 86_400) as i64),
        }))
    }

    /// Send the queue for as long as the node runs.
    pub async fn run(self, db: Db) {
        info!("the mail worker is running");
        loop {
            let claimed = match queries::email::claim_due(&db, BATCH, self.lease).await {
                Ok(claimed) => claimed,
                Err(err) => {
                    warn!(%err, "could not claim emails");
                    tokio::time::sleep(IDLE_POLL).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
            for row in claimed {
                self.send(&db, row).await;
            }
        }
    }

    async fn send(&self, db: &Db, row: outgoing_email::Model) {
        let outcome = match self.message(&row) {
            Ok(message) => match self.transport.send(message).await {
                Ok(_) => Outcome::Sent,
                Err(err) => classify(&err),
            },
            Err(err) => Outcome::Refused(format!("cannot build the email: {err:#}")),
        };
        let recorded = match outcome {
            Outcome::Sent => queries::email::mark_sent(db, row.id).await,
            Outcome::Bouncing(reason) => {
                warn!(id = row.id, kind = %row.kind, %reason, "the mail server refuses an address for good");
                queries::email::mark_bouncing(db, &row.recipient, &reason).await
            }
            Outcome::Refused(reason) => {
                warn!(id = row.id, kind = %row.kind, %reason, "an email was refused for good");
                queries::email::mark_attempt_failed(db, row.id, row.attempts + 1, &reason, None).await
            }
            Outcome::Retry(reason) => {
                let attempts = row.attempts + 1;
                let retry_at = (Utc::now() - row.created_at < self.retry_for)
                    .then(|| Utc::now() + self.backoff(attempts));
                if retry_at.is_none() {
                    error!(id = row.id, %reason, "an email could not be sent in time and is given up");
                } else {
                    warn!(id = row.id, attempts, %reason, "an email will be tried again");
                }
                queries::email::mark_attempt_failed(db, row.id, attempts, &reason, retry_at).await
            }
        };
        if let Err(err) = recorded {
            // The claim expires and the row is tried again: possibly sent twice, never lost.
            error!(id = row.id, %err, "could not record an email's outcome");
        }
    }

    /// Delay before attempt `attempts + 1`: base × 2ⁿ, capped, with ±20 % jitter.
    fn backoff(&self, attempts: i32) -> Duration {
        let exponent = attempts.saturating_sub(1).clamp(0, 20) as u32;
        let delay = self
            .retry_base
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(RETRY_CAP);
        delay.mul_f64(rand::thread_rng().gen_range(0.8..1.2))
    }

    fn message(&self, row: &outgoing_email::Model) -> anyhow::Result<Message> {
        let to: Mailbox = row.recipient.parse().context("the recipient")?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.subject.clone())
            .message_id(Some(row.message_id.clone()))
            .date_now();
        if let Some(url) = &row.list_unsubscribe {
            builder = builder
                .header(ListUnsubscribe(format!("<{url}>")))
                .header(ListUnsubscribePost);
        }
        let body = MultiPart::alternative_plain_html(row.text_body.clone(), row.html_body.clone());
        let attachments = attachments_of(&row.attachments).context("the stored attachments")?;
        if attachments.is_empty() {
            return Ok(builder.multipart(body)?);
        }
        let mut mixed = MultiPart::mixed().multipart(body);
        for attachment in attachments {
            let bytes = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                &attachment.body_base64,
            )
            .context("an attachment's body")?;
            let content_type = ContentType::parse(&attachment.content_type)
                .map_err(|e| anyhow::anyhow!("an attachment's content type: {e}"))?;
            let part: SinglePart = Attachment::new(attachment.filename).body(bytes, content_type);
            mixed = mixed.singlepart(part);
        }
        Ok(builder.multipart(mixed)?)
    }
}

/// What an attempt came to.
enum Outcome {
    Sent,
    /// The server refused the recipient for good.
    Bouncing(String),
    /// The server refused this email for good, for another reason.
    Refused(String),
    Retry(String),
}

/// SMTP's answer, as the queue sees it. Authentication failures (530, 534,
/// 535, 538) are permanent codes but the node's own configuration is at
/// fault, not the mail: those are retried while an admin fixes it.
fn classify(err: &lettre::transport::smtp::Error) -> Outcome {
    let reason = err.to_string();
    if !err.is_permanent() {
        return Outcome::Retry(reason);
    }
    match err.status().map(|code| code.to_string()).as_deref() {
        Some("550" | "551" | "553") => Outcome::Bouncing(reason),
        Some("530" | "534" | "535" | "538") => Outcome::Retry(reason),
        _ => Outcome::Refused(reason),
    }
}

/// `List-Unsubscribe: <https://node/unsubscribe/…>` (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): mail
/// programs may unsubscribe with one POST, without opening a page.
#[derive(Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}
