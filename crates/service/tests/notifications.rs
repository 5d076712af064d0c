//! Notifications on the seeded rig: each kind reaches the person it
//! concerns and nobody else, never the one who acted, never someone who may
//! not see what it is about (then or later), grouped by kind and subject,
//! read and chosen per kind. Runs on SQLite, and on PostgreSQL when
//! `HEALTHCOMMONS_TEST_POSTGRES_URL` is set.

mod rig;

use chrono::{Duration, Utc};
use healthcommons_core::{
    event::{EventKind, EventStatus, JoinMode},
    garden::{Content, ItemStatus, Kind},
    pledge::{PledgeStatus, PledgeTarget},
};
use healthcommons_db::{
    entities::{NotificationChoice, NotificationKind, TagKind, Visibility, notification},
    queries,
};
use healthcommons_service::{
    events::EventDraft,
    garden::{AdoptionInput, Draft},
    notifications::ListQuery,
    pledges::Offer,
    posts::{Compose, RemotePost, StoredPost},
};
use rig::{DOMAIN, PEOPLE, Rig};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::cell::Cell;

use NotificationKind::*;

/// The notifications written since the last call, as (recipient, kind).
struct Told<'r> {
    rig: &'r Rig,
    seen: Cell<i64>,
}

impl<'r> Told<'r> {
    fn new(rig: &'r Rig) -> Self {
        Told {
            rig,
            seen: Cell::new(0),
        }
    }

    async fn since(&self) -> Vec<(&'static str, NotificationKind)> {
        let rows = notification::Entity::find()
            .filter(notification::Column::Id.gt(self.seen.get()))
            .order_by_asc(notification::Column::Id)
            .all(self.rig.db())
            .await
            .expect("notifications");
        if let Some(last) = rows.last() {
            self.seen.set(last.id);
        }
        let mut told: Vec<_> = rows
            .iter()
            .map(|row| {
                let name = PEOPLE
                    .into_iter()
                    .find(|name| self.rig.account(name).person.id == row.recipient_id)
                    .unwrap_or("someone else");
                (name, row.kind)
            })
            .collect();
        told.sort_by_key(|(name, kind)| (*name, kind.as_str()));
        told
    }
}

fn reply_to<'a>(parent: &'a str, content: &'a str) -> Compose<'a> {
    Compose {
        content,
        in_reply_to: Some(parent),
        ..Compose::default()
    }
}

fn draft_event(starts_in_days: i64) -> EventDraft {
    EventDraft {
        kind: EventKind::Meeting,
        title: "Saturday walk".into(),
        description: "Meet at the park gate.".into(),
        starts_at: Utc::now() + Duration::days(starts_in_days),
        ends_at: None,
        timezone: None,
        place: None,
        online_url: None,
        capacity: None,
        join_mode: JoinMode::Restricted,
        status: EventStatus::Confirmed,
    }
}

fn pattern(title: &str) -> Draft<'static> {
    Draft {
        content: Content {
            title: title.into(),
            summary: "Walk together weekly.".into(),
            license: "CC-BY-SA-4.0".into(),
            ..Default::default()
        },
        status: ItemStatus::Published,
        message: None,
    }
}

#[tokio::test]
async fn each_kind_reaches_whom_it_concerns_and_nobody_else() {
    for rig in Rig::every_backend().await {
        let told = Told::new(&rig);
        let p = &rig.processor;
        let walkers = rig.walkers_thread.ap_id.clone();
        let circle = rig.circle_thread.ap_id.clone();
        let b = rig.backend;

        p.posts()
            .create(rig.account("cai"), None, reply_to(&walkers, "Count me in"))
            .await
            .expect("reply");
        assert_eq!(told.since().await, vec![("ben", Reply)], "a reply ({b})");

        p.posts()
            .create(rig.account("ben"), None, reply_to(&walkers, "Bring water"))
            .await
            .expect("own reply");
        assert_eq!(told.since().await, vec![], "one's own reply ({b})");

        let mentions = format!("Ask @ben@{DOMAIN} and @dee@{DOMAIN} and @cai@{DOMAIN}");
        let compose = Compose {
            title: Some("Who leads?"),
            content: &mentions,
            ..Compose::default()
        };
        p.posts()
            .create(rig.account("cai"), Some("walkers"), compose)
            .await
            .expect("thread with mentions");
        assert_eq!(
            told.since().await,
            vec![("ben", Mention), ("dee", Mention)],
            "mentions, not of oneself ({b})"
        );

        // In the members-only circle, the outsider mentioned hears nothing;
        // the author replied to hears once, of the reply.
        let members_only = format!("@cai@{DOMAIN} @ben@{DOMAIN} it was good");
        p.posts()
            .create(rig.account("ana"), None, reply_to(&circle, &members_only))
            .await
            .expect("members-only reply");
        assert_eq!(
            told.since().await,
            vec![("ben", Reply)],
            "nobody hears of what they may not see ({b})"
        );

        // A reply from another node.
        let mia = rig.actor("mia").clone();
        let remote = RemotePost {
            ap_id: "https://far.example/notes/1".into(),
            url: None,
            author: mia.clone(),
            group: None,
            in_reply_to: Some(walkers.clone()),
            title: None,
            content_html: "<p>Lovely walk</p>".into(),
            summary: None,
            sensitive: false,
            language: None,
            visibility: Visibility::Public,
            published: Utc::now(),
            updated: None,
            tags: vec![(
                TagKind::Mention,
                format!("@dee@{DOMAIN}"),
                Some(rig.account("dee").person.ap_id.clone()),
            )],
        };
        let stored = healthcommons_service::posts::store_remote(rig.db(), remote.clone())
            .await
            .expect("remote reply");
        assert!(matches!(stored, StoredPost::Created(_)));
        assert_eq!(
            told.since().await,
            vec![("ben", Reply), ("dee", Mention)],
            "from another node ({b})"
        );
        healthcommons_service::posts::store_remote(rig.db(), remote)
            .await
            .expect("the same note again");
        assert_eq!(told.since().await, vec![], "a repeated delivery tells once ({b})");

        // Requests to join, and their answers.
        let circle_group = rig.actor("circle").clone();
        let request = p
            .follows()
            .follow(&rig.account("cai").person, &circle_group)
            .await
            .expect("ask to join");
        assert_eq!(told.since().await, vec![("ana", JoinRequest)], "a request ({b})");
        p.follows()
            .decide(rig.account("ana"), "circle", request.id, true)
            .await
            .expect("accept");
        assert_eq!(told.since().await, vec![("cai", JoinAnswer)], "the answer ({b})");

        // Taking part in an event, and its changes.
        let walkers_group = rig.actor("walkers").clone();
        let event = p
            .events()
            .create(rig.account("ana"), Some(&walkers_group), draft_event(7))
            .await
            .expect("event");
        let participation = p
            .events()
            .join(rig.account("ben"), event.id, None)
            .await
            .expect("join");
        assert_eq!(told.since().await, vec![], "asking to take part ({b})");
        p.events()
            .decide(rig.account("ana"), participation.id, true)
            .await
            .expect("decide");
        assert_eq!(
            told.since().await,
            vec![("ben", ParticipationAnswer)],
            "the organiser's answer ({b})"
        );
        p.events()
            .update(rig.account("ana"), event.id, draft_event(8))
            .await
            .expect("move");
        assert_eq!(
            told.since().await,
            vec![("ben", EventChanged)],
            "a new time ({b})"
        );
        let mut cancelled = draft_event(8);
        cancelled.status = EventStatus::Cancelled;
        p.events()
            .update(rig.account("ana"), event.id, cancelled.clone())
            .await
            .expect("cancel");
        assert_eq!(told.since().await, vec![("ben", EventChanged)], "cancelled ({b})");
        p.events()
            .update(rig.account("ana"), event.id, cancelled)
            .await
            .expect("unchanged");
        assert_eq!(told.since().await, vec![], "nothing changed ({b})");

        // Pledges.
        let offer = Offer {
            target: PledgeTarget::Event,
            target_id: event.id,
            action: "bring tea".into(),
            due_on: None,
        };
        let pledge = p
            .pledges()
            .offer(rig.account("ben"), offer)
            .await
            .expect("pledge");
        p.pledges()
            .count_on(rig.account("cai"), pledge.id)
            .await
            .expect("count on");
        assert_eq!(
            told.since().await,
            vec![("ben", PledgeBacked)],
            "counted on ({b})"
        );
        p.pledges()
            .set_status(rig.account("ben"), pledge.id, PledgeStatus::InProgress)
            .await
            .expect("status");
        assert_eq!(told.since().await, vec![("cai", PledgeChanged)], "a change ({b})");

        // The garden.
        let item = p
            .garden()
            .create(
                rig.account("ana"),
                Kind::Pattern,
                Some("walkers"),
                pattern("Walk and talk"),
            )
            .await
            .expect("item");
        p.garden()
            .fork(rig.account("ben"), &item.ap_id, None)
            .await
            .expect("fork");
        assert_eq!(told.since().await, vec![("ana", GardenFork)], "a fork ({b})");
        let input = AdoptionInput {
            context: "Our street walks on Sundays.",
            outcome: "",
            story: None,
            metrics: Vec::new(),
            place: None,
        };
        p.garden()
            .adopt(rig.account("cai"), &item.ap_id, input)
            .await
            .expect("adopt");
        assert_eq!(
            told.since().await,
            vec![("ana", GardenAdoption)],
            "an adoption ({b})"
        );

        // A report goes to the group's moderators.
        p.reports()
            .file(rig.account("cai"), Some(&walkers), None, "not kind")
            .await
            .expect("report");
        assert_eq!(told.since().await, vec![("ana", Report)], "a report ({b})");
        rig.sent();
        rig.asked();
    }
}

#[tokio::test]
async fn someone_removed_from_a_group_no_longer_sees_what_they_were_told_of_it() {
    for rig in Rig::every_backend().await {
        let p = &rig.processor;
        let circle = rig.circle_thread.ap_id.clone();
        p.posts()
            .create(rig.account("ana"), None, reply_to(&circle, "Thank you all"))
            .await
            .expect("reply");
        let ben = rig.account("ben");
        let page = p
            .notifications()
            .list(ben, ListQuery::default())
            .await
            .expect("list");
        assert_eq!(page.items.len(), 1, "{}", rig.backend);
        let seen = &page.items[0];
        assert_eq!(seen.kind, Reply);
        assert_eq!(seen.subject.title, "How was your week");
        assert_eq!(seen.subject.link, format!("/threads/{}", rig.circle_thread.id));
        assert_eq!(seen.cause.as_ref().map(|c| c.username.as_str()), Some("ana"));
        assert_eq!(p.notifications().unread_count(ben).await.expect("count"), 1);

        // Ben leaves the circle (or is removed): the reply is no longer his to read.
        let follow = queries::follows::between(rig.db(), ben.person.id, rig.actor("circle").id)
            .await
            .expect("query")
            .expect("ben's membership");
        queries::follows::delete(rig.db(), follow.id)
            .await
            .expect("removed");
        let page = p
            .notifications()
            .list(ben, ListQuery::default())
            .await
            .expect("list");
        assert!(page.items.is_empty(), "{:?} ({})", page.items, rig.backend);
        assert_eq!(p.notifications().unread_count(ben).await.expect("count"), 0);
        rig.sent();
        rig.asked();
    }
}

#[tokio::test]
async fn replies_to_one_post_are_told_as_one_and_read_once() {
    for rig in Rig::every_backend().await {
        let p = &rig.processor;
        let walkers = rig.walkers_thread.ap_id.clone();
        for who in ["cai", "ana", "cai", "dee"] {
            p.posts()
                .create(rig.account(who), None, reply_to(&walkers, "Me too"))
                .await
                .expect("reply");
        }
        let other = rig.thread_by("ana", "walkers", "Picnic").await;
        let mention = format!("@ben@{DOMAIN} bring the rug");
        p.posts()
            .create(rig.account("cai"), None, reply_to(&other.ap_id, &mention))
            .await
            .expect("mention");
        let ben = rig.account("ben");
        let page = p
            .notifications()
            .list(ben, ListQuery::default())
            .await
            .expect("list");
        assert_eq!(page.items.len(), 5);
        let groups = page.grouped();
        assert_eq!(groups.len(), 2, "{groups:?}");
        assert_eq!(groups[0].latest.kind, Mention, "the newest first");
        let replies = &groups[1];
        assert_eq!(replies.latest.kind, Reply);
        assert_eq!(replies.count, 4);
        let causes: Vec<&str> = replies.causes.iter().map(|c| c.username.as_str()).collect();
        assert_eq!(causes, vec!["dee", "cai", "ana"], "each once, newest first");
        assert!(replies.unread);

        // Only some kinds, a page at a time.
        let mentions = ListQuery {
            kinds: vec![Mention],
            ..ListQuery::default()
        };
        let only = p.notifications().list(ben, mentions).await.expect("mentions");
        assert_eq!(only.items.len(), 1);
        let first = p
            .notifications()
            .list(
                ben,
                ListQuery {
                    limit: Some(2),
                    ..ListQuery::default()
                },
            )
            .await
            .expect("first page");
        assert_eq!(first.items.len(), 2);
        let next = p
            .notifications()
            .list(
                ben,
                ListQuery {
                    max_id: first.next_max_id,
                    limit: Some(10),
                    ..ListQuery::default()
                },
            )
            .await
            .expect("next page");
        assert_eq!(next.items.len(), 3);
        assert!(next.next_max_id.is_none());

        // Read one, then all; nobody reads another's.
        assert_eq!(p.notifications().unread_count(ben).await.expect("count"), 5);
        let newest = page.items[0].id;
        p.notifications().mark_read(ben, newest).await.expect("read one");
        assert_eq!(p.notifications().unread_count(ben).await.expect("count"), 4);
        let refused = p.notifications().mark_read(rig.account("cai"), newest).await;
        assert!(refused.is_err(), "not cai's");
        assert_eq!(p.notifications().mark_all_read(ben).await.expect("all"), 4);
        assert_eq!(p.notifications().unread_count(ben).await.expect("count"), 0);
        let page = p
            .notifications()
            .list(ben, ListQuery::default())
            .await
            .expect("list");
        assert!(page.items.iter().all(|n| n.read));
        rig.sent();
        rig.asked();
    }
}

#[tokio::test]
async fn a_person_chooses_how_to_hear_of_each_kind() {
    for rig in Rig::every_backend().await {
        let p = &rig.processor;
        let ben = rig.account("ben");
        let choices = p.notifications().preferences(ben).await.expect("preferences");
        assert_eq!(choices.len(), 13, "every kind");
        assert!(choices.iter().all(|(_, c)| *c == NotificationChoice::OnNode));
        p.notifications()
            .set_preferences(
                ben,
                &[
                    (Reply, NotificationChoice::Off),
                    (Mention, NotificationChoice::EmailDigest),
                ],
            )
            .await
            .expect("set");
        p.notifications()
            .set_preferences(ben, &[(Mention, NotificationChoice::EmailNow)])
            .await
            .expect("set again");
        let choices = p.notifications().preferences(ben).await.expect("preferences");
        assert!(choices.contains(&(Reply, NotificationChoice::Off)));
        assert!(choices.contains(&(Mention, NotificationChoice::EmailNow)));
        assert!(choices.contains(&(Report, NotificationChoice::OnNode)));

        let walkers = rig.walkers_thread.ap_id.clone();
        let mention = format!("@ben@{DOMAIN} thanks");
        p.posts()
            .create(rig.account("cai"), None, reply_to(&walkers, "no reply notice"))
            .await
            .expect("reply");
        let other = rig.thread_by("ana", "walkers", "Picnic").await;
        p.posts()
            .create(rig.account("cai"), None, reply_to(&other.ap_id, &mention))
            .await
            .expect("mention");
        let page = p
            .notifications()
            .list(ben, ListQuery::default())
            .await
            .expect("list");
        let kinds: Vec<_> = page.items.iter().map(|n| n.kind).collect();
        assert_eq!(kinds, vec![Mention], "replies off, mentions still on the node");
        rig.sent();
        rig.asked();
    }
}

#[tokio::test]
async fn the_clock_reminds_of_events_and_tells_of_closed_questions_once() {
    for rig in Rig::every_backend().await {
        let told = Told::new(&rig);
        let p = &rig.processor;
        let circle = rig.actor("circle").clone();
        let mut soon = draft_event(0);
        soon.starts_at = Utc::now() + Duration::hours(12);
        soon.join_mode = JoinMode::Free;
        let event = p
            .events()
            .create(rig.account("ana"), Some(&circle), soon)
            .await
            .expect("event");
        p.events()
            .join(rig.account("ben"), event.id, None)
            .await
            .expect("join");
        let later = p
            .events()
            .create(rig.account("ana"), Some(&circle), draft_event(3))
            .await
            .expect("a later event");
        p.events()
            .join(rig.account("ben"), later.id, None)
            .await
            .expect("join the later one");
        let ask = healthcommons_service::agenda::Ask {
            question: "Meet on Mondays?".into(),
            options: vec!["Yes".into(), "No".into()],
            multiple: false,
            closes_at: Some(Utc::now() + Duration::hours(1)),
        };
        let question = p
            .agenda()
            .ask(rig.account("ana"), &circle, ask)
            .await
            .expect("question");
        p.agenda()
            .vote(rig.account("ben"), question.id, &[0])
            .await
            .expect("vote");
        told.since().await;

        let now = Utc::now();
        let sent = healthcommons_service::notifications::send_due(rig.db(), now)
            .await
            .expect("due");
        assert_eq!(sent, 1, "{}", rig.backend);
        assert_eq!(
            told.since().await,
            vec![("ben", EventReminder)],
            "only the event within a day"
        );
        let again = healthcommons_service::notifications::send_due(rig.db(), now)
            .await
            .expect("due again");
        assert_eq!(again, 0, "told once");

        let after_closing = now + Duration::hours(2);
        healthcommons_service::notifications::send_due(rig.db(), after_closing)
            .await
            .expect("closed");
        assert_eq!(
            told.since().await,
            vec![("ana", QuestionClosed), ("ben", QuestionClosed)],
            "who asked and who voted ({})",
            rig.backend
        );
        let page = p
            .notifications()
            .list(rig.account("ben"), ListQuery::default())
            .await
            .expect("list");
        assert_eq!(page.items[0].subject.kind, "question");
        assert_eq!(page.items[0].subject.link, format!("/questions/{}", question.id));
        assert_eq!(page.items[1].subject.link, format!("/events/{}", event.id));
        rig.sent();
        rig.asked();
    }
}
