//! Email, as the service layer sees it: what a mail says (one data value per
//! kind, rendered by askama into a plain-text and an HTML part from the same
//! data), and [`enqueue`], which writes it to the `outgoing_email` queue in
//! the caller's transaction. The server's mail worker sends the queue over
//! SMTP; nothing here opens a connection.
//!
//! Who gets what is decided here, once: no mail while email is off; nothing to
//! an address that bounces; notification-like mail (not transactional) only
//! to a checked address and only while the person has not turned its kind
//! off. Each such mail carries its own one-click unsubscribe link (RFC 8058).

use crate::{NodeContext, ServiceError, ServiceResult, accounts::secret_hash, events::EventView, node};
use askama::Template;
use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use healthcommons_core::{
    calendar::{self, CalendarEvent},
    event::when_text,
};
use healthcommons_db::{entities::user, queries};
use rand::RngCore;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

/// The kinds of mail. Transactional ones answer something the person just
/// did (checking an address, resetting a password) and cannot be turned
/// off; the others carry an unsubscribe link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    AddressCheck,
    PasswordReset,
    EventReminder,
}

impl EmailKind {
    pub const ALL: [EmailKind; 3] = [
        EmailKind::AddressCheck,
        EmailKind::PasswordReset,
        EmailKind::EventReminder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::AddressCheck => "address_check",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::EventReminder => "event_reminder",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    pub fn is_transactional(self) -> bool {
        matches!(self, EmailKind::AddressCheck | EmailKind::PasswordReset)
    }

    /// How the kind is named to the person ("you will no longer get …").
    pub fn plural_name(self) -> &'static str {
        match self {
            EmailKind::AddressCheck => "address checks",
            EmailKind::PasswordReset => "password reset links",
            EmailKind::EventReminder => "event reminders",
        }
    }
}

/// An email to one account.
#[derive(Debug, Clone)]
pub struct Email {
    /// The `user` row it is for.
    pub to_user: i64,
    pub message: Message,
}

/// What a mail says; one variant per kind.
#[derive(Debug, Clone)]
pub enum Message {
    /// Goes to `address`, the one being checked, which need not be the
    /// account's current address yet.
    AddressCheck(AddressCheck),
    PasswordReset(PasswordReset),
    EventReminder(EventReminder),
}

impl Message {
    pub fn kind(&self) -> EmailKind {
        match self {
            Message::AddressCheck(_) => EmailKind::AddressCheck,
            Message::PasswordReset(_) => EmailKind::PasswordReset,
            Message::EventReminder(_) => EmailKind::EventReminder,
        }
    }

    fn attachments(&self) -> Vec<Attachment> {
        match self {
            Message::EventReminder(reminder) => vec![Attachment {
                filename: "event.ics".into(),
                content_type: "text/calendar; charset=utf-8; method=PUBLISH".into(),
                body_base64: STANDARD.encode(reminder.ics.as_bytes()),
            }],
            Message::AddressCheck(_) | Message::PasswordReset(_) => Vec::new(),
        }
    }

    fn render(&self, letter: &Letter) -> Result<Rendered, askama::Error> {
        match self {
            Message::AddressCheck(m) => m.render(letter),
            Message::PasswordReset(m) => m.render(letter),
            Message::EventReminder(m) => m.render(letter),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AddressCheck {
    pub address: String,
    pub link: String,
    pub hours: i64,
}

#[derive(Debug, Clone)]
pub struct PasswordReset {
    pub link: String,
    pub minutes: i64,
}

/// A reminder of an event the person takes part in, with the event as an
/// `.ics` attachment. Build it with [`EventReminder::new`] at send time,
/// from what the person may see.
#[derive(Debug, Clone)]
pub struct EventReminder {
    pub title: String,
    pub when: String,
    pub place: Option<String>,
    pub url: String,
    /// The one-event calendar attached to the mail.
    pub ics: String,
}

impl EventReminder {
    /// The reminder of an event as `view` shows it: build the view for the
    /// person it goes to (`events::view` with them as viewer), at send time.
    pub fn of(view: &EventView, node: &NodeContext) -> Self {
        Self::new(&view.calendar_event(node), view.event.timezone.as_deref())
    }

    pub fn new(event: &CalendarEvent, time_zone: Option<&str>) -> Self {
        EventReminder {
            title: event.summary.clone(),
            when: when_text(event.starts_at, event.ends_at, time_zone),
            place: event.location.clone().filter(|p| !p.is_empty()),
            url: event.url.clone(),
            ics: calendar::calendar(&event.summary, time_zone, std::slice::from_ref(event), Utc::now()),
        }
    }
}

/// A file attached to a mail, as the queue keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub body_base64: String,
}

/// Read the attachments a queued row carries.
pub fn attachments_of(stored: &str) -> Result<Vec<Attachment>, serde_json::Error> {
    serde_json::from_str(stored)
}

/// What every mail's templates know besides their own data.
pub struct Letter {
    /// How the person is greeted: their name here.
    pub name: String,
    pub node_name: String,
    pub node_url: String,
    /// Where the person chooses which mail they get.
    pub preferences_url: String,
    /// The one-click unsubscribe link, on mail that is not transactional.
    pub unsubscribe_url: Option<String>,
}

struct Rendered {
    subject: String,
    text: String,
    html: String,
}

/// One data value, two templates: `$text` and `$html` see the same `m`.
macro_rules! email_templates {
    ($data:ty, $text:ident = $text_path:tt, $html:ident = $html_path:tt, |$m:ident, $l:ident| $subject:expr) => {
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            l: &'a Letter,
            m: &'a $data,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            l: &'a Letter,
            m: &'a $data,
        }

        impl $data {
            fn render(&self, letter: &Letter) -> Result<Rendered, askama::Error> {
                let subject = {
                    let $m = self;
                    let $l = letter;
                    $subject
                };
                Ok(Rendered {
                    subject,
                    text: $text { l: letter, m: self }.render()?,
                    html: $html { l: letter, m: self }.render()?,
                })
            }
        }
    };
}

email_templates!(
    AddressCheck,
    AddressCheckText = "email/address_check.txt",
    AddressCheckHtml = "email/address_check.html",
    |_m, l| format!("Please confirm your email address for {}", l.node_name)
);
email_templates!(
    PasswordReset,
    PasswordResetText = "email/password_reset.txt",
    PasswordResetHtml = "email/password_reset.html",
    |_m, l| format!("Choose a new password for {}", l.node_name)
);
email_templates!(
    EventReminder,
    EventReminderText = "email/event_reminder.txt",
    EventReminderHtml = "email/event_reminder.html",
    |m, _l| format!("Reminder: {}, {}", m.title, m.when)
);

/// What [`enqueue`] did with a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued as row `id` of `outgoing_email`.
    Queued(i64),
    Skipped(Skipped),
}

/// Why a mail was not queued. None of these is an error: the cause of the
/// mail (a reply, an event change) goes ahead without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    /// No SMTP server is configured.
    EmailOff,
    NoAddress,
    /// Not transactional, and the address has not been checked yet.
    AddressNotChecked,
    /// The mail server refused the address for good.
    AddressBouncing,
    /// The person turned this kind of mail off.
    TurnedOff,
}

/// Queue `email` in the caller's transaction (or connection), so the mail
/// exists exactly when what caused it does. The worker sends it later.
pub async fn enqueue(db: &impl ConnectionTrait, node: &NodeContext, email: Email) -> ServiceResult<Enqueued> {
    if !node.email {
        return Ok(Enqueued::Skipped(Skipped::EmailOff));
    }
    let kind = email.message.kind();
    let user = queries::users::by_id(db, email.to_user)
        .await?
        .ok_or_else(|| ServiceError::not_found("no such account"))?;
    let recipient = match &email.message {
        Message::AddressCheck(check) => check.address.clone(),
        _ => match recipient_of(db, &user, kind).await? {
            Ok(address) => address,
            Err(skipped) => return Ok(Enqueued::Skipped(skipped)),
        },
    };
    let unsubscribe_url = if kind.is_transactional() {
        None
    } else {
        let secret = new_secret();
        queries::email::insert_unsubscribe(db, &secret_hash(&secret), user.id, kind.as_str()).await?;
        Some(format!("{}/unsubscribe/{secret}", node.urls.base()))
    };
    let profile = node::profile(db, node).await?;
    let letter = Letter {
        name: user.username.clone(),
        node_name: profile.initiative_name,
        node_url: node.urls.base().to_owned(),
        preferences_url: format!("{}/settings/email", node.urls.base()),
        unsubscribe_url,
    };
    let rendered = email
        .message
        .render(&letter)
        .map_err(|e| ServiceError::Internal(format!("email template: {e}")))?;
    let attachments = serde_json::to_string(&email.message.attachments())
        .map_err(|e| ServiceError::Internal(format!("email attachments: {e}")))?;
    let message_id = format!("<{}@{}>", new_secret(), host_of(&node.domain));
    let row = queries::email::enqueue(
        db,
        queries::email::NewEmail {
            user_id: Some(user.id),
            recipient: &recipient,
            kind: kind.as_str(),
            message_id: &message_id,
            subject: &rendered.subject,
            text_body: &rendered.text,
            html_body: &rendered.html,
            list_unsubscribe: letter.unsubscribe_url.as_deref(),
            attachments: &attachments,
        },
    )
    .await?;
    Ok(Enqueued::Queued(row.id))
}

/// The account's address for a mail of `kind`, or why it gets none.
async fn recipient_of(
    db: &impl ConnectionTrait,
    user: &user::Model,
    kind: EmailKind,
) -> ServiceResult<Result<String, Skipped>> {
    let Some(address) = user.email.clone().filter(|a| !a.is_empty()) else {
        return Ok(Err(Skipped::NoAddress));
    };
    if user.email_bouncing_since.is_some() {
        return Ok(Err(Skipped::AddressBouncing));
    }
    if kind.is_transactional() {
        return Ok(Ok(address));
    }
    if user.email_verified_at.is_none() {
        return Ok(Err(Skipped::AddressNotChecked));
    }
    let turned_off = queries::email::opted_out_kinds(db, user.id).await?;
    if turned_off.iter().any(|k| k == kind.as_str()) {
        return Ok(Err(Skipped::TurnedOff));
    }
    Ok(Ok(address))
}

/// The kind of mail a one-click link turned off, and for whom; `None` for a
/// link this node never made. Using it twice is harmless.
pub async fn unsubscribe(db: &impl ConnectionTrait, secret: &str) -> ServiceResult<Option<EmailKind>> {
    let Some(link) = queries::email::unsubscribe_by_hash(db, &secret_hash(secret)).await? else {
        return Ok(None);
    };
    let Some(kind) = EmailKind::parse(&link.kind) else {
        return Ok(None);
    };
    queries::email::opt_out(db, link.user_id, kind.as_str()).await?;
    Ok(Some(kind))
}

/// Which kind a one-click link is for, without using it (the page that asks
/// "turn off …?" before the button).
pub async fn unsubscribe_kind(db: &impl ConnectionTrait, secret: &str) -> ServiceResult<Option<EmailKind>> {
    Ok(queries::email::unsubscribe_by_hash(db, &secret_hash(secret))
        .await?
        .and_then(|link| EmailKind::parse(&link.kind)))
}

/// The person wants `kind` of mail again.
pub async fn turn_back_on(db: &impl ConnectionTrait, user_id: i64, kind: EmailKind) -> ServiceResult<()> {
    queries::email::opt_back_in(db, user_id, kind.as_str()).await?;
    Ok(())
}

/// Emails neither sent nor given up on, for the admin.
pub async fn waiting_count(db: &impl ConnectionTrait) -> ServiceResult<u64> {
    Ok(queries::email::count_pending(db).await?)
}

/// Check an address as typed: trimmed, lowercased, and parsable by the mail
/// library, so that the queue never holds one the worker cannot send to.
pub fn parse_address(raw: &str) -> ServiceResult<String> {
    let address = raw.trim().to_lowercase();
    if address.len() > 254 || address.parse::<lettre::Address>().is_err() {
        return Err(ServiceError::validation("that email address is not valid"));
    }
    Ok(address)
}

pub(crate) fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn host_of(domain: &str) -> &str {
    domain.split(':').next().unwrap_or(domain)
}
