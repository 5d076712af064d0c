//! Who gets which mail, and the queue's claims, on every backend. The SMTP
//! side runs against a real server in `crates/server/tests/email.rs`.

use chrono::Utc;
use healthcommons_core::calendar::CalendarEvent;
use healthcommons_db::{entities::outgoing_email, queries, testing};
use healthcommons_service::{
    NodeContext,
    account_email::{self, AddressChange},
    accounts::{self, Registration, Role},
    mail::{self, Email, EmailKind, Enqueued, EventReminder, Message, Skipped, attachments_of},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

const DOMAIN: &str = "here.example";

fn reminder(to_user: i64) -> Email {
    let event = CalendarEvent {
        uid: format!("https://{DOMAIN}/events/7"),
        url: format!("https://{DOMAIN}/events/7"),
        summary: "Carers' circle".into(),
        description: "Tea and talk.".into(),
        starts_at: Utc::now() + chrono::Duration::days(1),
        ends_at: None,
        location: Some("Library, room 2".into()),
        geo: None,
        status: "CONFIRMED",
        organizer: None,
        categories: vec![],
        created: Utc::now(),
        last_modified: None,
    };
    Email {
        to_user,
        message: Message::EventReminder(EventReminder::new(&event, None)),
    }
}

async fn rows(db: &healthcommons_db::Db) -> Vec<outgoing_email::Model> {
    outgoing_email::Entity::find()
        .order_by_asc(outgoing_email::Column::Id)
        .all(db)
        .await
        .expect("rows")
}

#[tokio::test]
async fn mail_goes_only_where_and_when_it_may() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let off = NodeContext::new(DOMAIN, true);
        let on = off.clone().with_email(true);
        let account = accounts::create_account(
            &db,
            &on,
            Registration {
                username: "rosa",
                password: "a long password",
                email: Some(" Rosa@Example.org "),
            },
            Role::Member,
            true,
        )
        .await
        .expect("an account");
        let user = account.user.id;
        assert_eq!(account.user.email.as_deref(), Some("rosa@example.org"));

        // Registration queued the address check in its transaction.
        let queued = rows(&db).await;
        assert_eq!(queued.len(), 1, "{backend}");
        let check = &queued[0];
        assert_eq!(check.kind, EmailKind::AddressCheck.as_str());
        assert_eq!(check.recipient, "rosa@example.org");
        assert!(check.list_unsubscribe.is_none(), "transactional");
        assert!(check.text_body.contains("/email/verify/"), "{}", check.text_body);
        assert!(check.html_body.contains("/email/verify/"), "{}", check.html_body);
        assert!(
            check.message_id.ends_with("@here.example>"),
            "{}",
            check.message_id
        );

        assert_eq!(
            mail::enqueue(&db, &off, reminder(user)).await.expect("enqueue"),
            Enqueued::Skipped(Skipped::EmailOff)
        );
        assert_eq!(
            mail::enqueue(&db, &on, reminder(user)).await.expect("enqueue"),
            Enqueued::Skipped(Skipped::AddressNotChecked)
        );
        let secret = check
            .text_body
            .split("/email/verify/")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the link's secret");
        assert_eq!(
            account_email::confirm_address(&db, secret)
                .await
                .expect("confirm"),
            Some("rosa@example.org".to_owned())
        );
        assert_eq!(
            account_email::confirm_address(&db, secret).await.expect("again"),
            None
        );

        let Enqueued::Queued(id) = mail::enqueue(&db, &on, reminder(user)).await.expect("enqueue") else {
            panic!("a reminder to a confirmed address is queued ({backend})");
        };
        let row = outgoing_email::Entity::find_by_id(id)
            .one(&db)
            .await
            .expect("row")
            .expect("the reminder");
        let unsubscribe = row.list_unsubscribe.clone().expect("an unsubscribe link");
        assert!(unsubscribe.starts_with("https://here.example/unsubscribe/"));
        assert!(row.text_body.contains(&unsubscribe) && row.html_body.contains(&unsubscribe));
        assert!(row.text_body.contains("https://here.example/settings/email"));
        let attachments = attachments_of(&row.attachments).expect("attachments");
        assert_eq!(attachments.len(), 1);
        assert_eq!(attachments[0].filename, "event.ics");

        let token = unsubscribe.rsplit('/').next().expect("token");
        assert_eq!(
            mail::unsubscribe(&db, token).await.expect("unsubscribe"),
            Some(EmailKind::EventReminder)
        );
        assert_eq!(
            mail::enqueue(&db, &on, reminder(user)).await.expect("enqueue"),
            Enqueued::Skipped(Skipped::TurnedOff)
        );
        assert_eq!(mail::unsubscribe(&db, "made-up").await.expect("unknown"), None);
        queries::email::opt_back_in(&db, user, EmailKind::EventReminder.as_str())
            .await
            .expect("opt in");

        // A refused address: nothing more goes there, queued mail included.
        queries::email::mark_bouncing(&db, "rosa@example.org", "550 no such mailbox")
            .await
            .expect("bounce");
        assert_eq!(
            mail::enqueue(&db, &on, reminder(user)).await.expect("enqueue"),
            Enqueued::Skipped(Skipped::AddressBouncing)
        );
        let pending = outgoing_email::Entity::find()
            .filter(outgoing_email::Column::Recipient.eq("rosa@example.org"))
            .filter(outgoing_email::Column::FailedPermanently.eq(false))
            .filter(outgoing_email::Column::SentAt.is_null())
            .all(&db)
            .await
            .expect("pending");
        assert!(pending.is_empty(), "{pending:?}");

        // A new address is checked before it replaces the old one.
        let account = accounts::authenticate(&db, "rosa", "a long password")
            .await
            .expect("signed in");
        let change = account_email::change_address(&db, &on, &account, "rosa@new.example")
            .await
            .expect("change");
        assert_eq!(change, AddressChange::CheckSent("rosa@new.example".into()));
        let status = account_email::address_status(&db, &account.user)
            .await
            .expect("status");
        assert_eq!(status.address.as_deref(), Some("rosa@example.org"));
        assert_eq!(status.waiting_for.as_deref(), Some("rosa@new.example"));
        assert!(
            account_email::change_address(&db, &on, &account, "not an address")
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn two_workers_never_claim_the_same_mail() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let on = NodeContext::new(DOMAIN, true).with_email(true);
        for name in ["ada", "ben", "cai"] {
            accounts::create_account(
                &db,
                &on,
                Registration {
                    username: name,
                    password: "a long password",
                    email: Some(&format!("{name}@example.org")),
                },
                Role::Member,
                true,
            )
            .await
            .expect("an account");
        }
        let lease = chrono::Duration::minutes(3);
        let first = queries::email::claim_due(&db, 2, lease).await.expect("claim");
        let second = queries::email::claim_due(&db, 2, lease).await.expect("claim");
        assert_eq!(first.len(), 2, "{backend}");
        assert_eq!(second.len(), 1, "{backend}");
        assert!(first.iter().all(|a| second.iter().all(|b| a.id != b.id)));
        assert!(
            queries::email::claim_due(&db, 2, lease)
                .await
                .expect("claim")
                .is_empty()
        );

        // A failed attempt gives the row back for later; a sent one is done.
        queries::email::mark_attempt_failed(&db, first[0].id, 1, "421 try later", Some(Utc::now()))
            .await
            .expect("retry");
        queries::email::mark_sent(&db, first[1].id).await.expect("sent");
        let again = queries::email::claim_due(&db, 5, lease).await.expect("claim");
        assert_eq!(again.iter().map(|r| r.id).collect::<Vec<_>>(), vec![first[0].id]);
        assert_eq!(again[0].attempts, 1);
        assert_eq!(queries::email::count_pending(&db).await.expect("count"), 2);
    }
}

#[tokio::test]
async fn a_reset_link_works_once_and_answers_nothing_about_unknown_accounts() {
    let db = testing::fresh("sqlite").await.expect("sqlite");
    let on = NodeContext::new(DOMAIN, true).with_email(true);
    accounts::create_account(
        &db,
        &on,
        Registration {
            username: "mia",
            password: "old password",
            email: Some("mia@example.org"),
        },
        Role::Member,
        true,
    )
    .await
    .expect("an account");
    let before = rows(&db).await.len();
    account_email::request_password_reset(&db, &on, "nobody")
        .await
        .expect("same answer");
    account_email::request_password_reset(&db, &on, "nobody@example.org")
        .await
        .expect("same answer");
    assert_eq!(rows(&db).await.len(), before, "nothing sent for unknown accounts");
    account_email::request_password_reset(&db, &on, "MIA@example.org")
        .await
        .expect("by address");
    let mail = rows(&db).await.pop().expect("the reset mail");
    assert_eq!(mail.kind, EmailKind::PasswordReset.as_str());
    let secret = mail
        .text_body
        .split("/password/reset/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the secret")
        .to_owned();
    assert!(
        account_email::reset_link_is_live(&db, &secret)
            .await
            .expect("live")
    );
    assert_eq!(
        account_email::reset_password(&db, &secret, "a new password")
            .await
            .expect("reset"),
        "mia"
    );
    assert!(
        account_email::reset_password(&db, &secret, "another password")
            .await
            .is_err()
    );
    assert!(accounts::authenticate(&db, "mia", "a new password").await.is_ok());
    assert!(accounts::authenticate(&db, "mia", "old password").await.is_err());
}
