//! The queries on every backend the suite has: SQLite always, PostgreSQL when
//! `HEALTHCOMMONS_TEST_POSTGRES_URL` is set (CI starts a real server).

use chrono::{Duration, Utc};
use healthcommons_core::event::EventStatus;
use healthcommons_core::event::JoinMode;
use healthcommons_core::garden::ItemStatus;
use healthcommons_db::entities::{
    ActorKind, DeliveryState, FollowState, GroupVisibility, InboxState, PostingPolicy, Role,
};
use healthcommons_db::queries::audience::ReadScope;
use healthcommons_db::{
    entities::actor,
    queries::{self, inbox::Stored},
    testing,
};
use sea_orm::ActiveValue::Set;

fn actor_row(ap_id: &str, username: &str, host: &str, local: bool) -> actor::ActiveModel {
    let now = Utc::now();
    actor::ActiveModel {
        ap_id: Set(ap_id.into()),
        kind: Set(ActorKind::Person),
        local: Set(local),
        username: Set(username.into()),
        host: Set(host.into()),
        display_name: Set(None),
        summary_html: Set(None),
        url: Set(None),
        inbox: Set(format!("{ap_id}/inbox")),
        shared_inbox: Set(None),
        outbox: Set(None),
        followers_url: Set(None),
        following_url: Set(None),
        public_key_id: Set(format!("{ap_id}#main-key")),
        public_key_pem: Set("pem".into()),
        private_key_pem: Set(None),
        user_id: Set(None),
        manually_approves_followers: Set(false),
        discoverable: Set(true),
        published: Set(now),
        last_fetched_at: Set(now),
        created_by: Set(None),
        ..Default::default()
    }
}

/// The local working group that sends the deliveries of the queue tests.
async fn walkers(db: &sea_orm::DatabaseConnection) -> actor::Model {
    queries::actors::insert(
        db,
        actor_row("https://a.test/g/walkers", "walkers", "a.test", true),
    )
    .await
    .expect("the walkers group")
}

/// One inbox on each of `count` hosts, `p0.test` onwards.
/// An approved member's account.
fn member(username: &str) -> queries::users::NewUser<'_> {
    queries::users::NewUser {
        username,
        email: None,
        password_hash: "hash",
        role: Role::Member,
        approved: true,
    }
}

fn inboxes_on_hosts(count: usize) -> Vec<(String, String)> {
    (0..count)
        .map(|i| (format!("https://p{i}.test/inbox"), format!("p{i}.test")))
        .collect()
}

#[tokio::test]
async fn migrations_apply_and_are_current_on_every_backend() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        assert!(
            healthcommons_db::migrations_current(&db).await.expect("check"),
            "{backend}"
        );
        // Running them again is a no-op.
        healthcommons_db::migrate(&db).await.expect(backend);
    }
}

/// `.cargo/config.toml` builds SQLite with its query planner stability
/// guarantee, so statements with a bound `LIMIT` are not compiled again on
/// every run. A build without it still works, only slower: this says which.
#[tokio::test]
async fn sqlite_is_built_with_stable_query_plans() {
    use sea_orm::{ConnectionTrait, Statement};
    let db = healthcommons_db::connect_in_memory().await.expect("sqlite");
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT sqlite_compileoption_used('ENABLE_QPSG') AS used",
        ))
        .await
        .expect("query")
        .expect("a row");
    let used: i32 = row.try_get("", "used").expect("used");
    assert_eq!(used, 1, "SQLite was built without SQLITE_ENABLE_QPSG");
}

#[tokio::test]
async fn users_and_actors_share_one_namespace_per_host() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let user = queries::users::insert(&db, member("ana")).await.expect("user");
        let duplicate = queries::users::insert(&db, member("ana"))
            .await
            .expect_err("duplicate name");
        assert!(duplicate.is_unique_violation(), "{backend}: {duplicate}");
        assert_eq!(queries::users::count_active(&db).await.expect("count"), 1);
        queries::users::set_role(&db, user.id, Role::Admin)
            .await
            .expect("role");
        assert_eq!(
            queries::users::by_username(&db, "ana")
                .await
                .expect("q")
                .expect("row")
                .role,
            Role::Admin
        );

        queries::actors::insert(&db, actor_row("https://a.test/u/ana", "ana", "a.test", true))
            .await
            .expect("actor");
        let clash = queries::actors::insert(&db, actor_row("https://a.test/g/ana", "ana", "a.test", true))
            .await
            .expect_err("same name, same host");
        assert!(clash.is_unique_violation(), "{backend}");
        // The same name on another host is another actor.
        queries::actors::insert(&db, actor_row("https://b.test/u/ana", "ana", "b.test", false))
            .await
            .expect("remote namesake");
    }
}

/// An activity from `https://b.test/u/x` for the inbox queries.
fn inbox_activity(ap_id: &str, kind: &str, body: &str) -> queries::inbox::NewActivity {
    queries::inbox::NewActivity {
        ap_id: ap_id.into(),
        actor_ap_id: "https://b.test/u/x".into(),
        kind: kind.into(),
        body: body.into(),
    }
}

#[tokio::test]
async fn inbox_activities_are_stored_once_per_id() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let first = queries::inbox::store(&db, &inbox_activity("https://b.test/a/1", "Follow", "{}"))
            .await
            .expect("store");
        assert!(matches!(first, Stored::New(_)), "{backend}");
        let again = queries::inbox::store(&db, &inbox_activity("https://b.test/a/1", "Follow", "{}"))
            .await
            .expect("store");
        assert_eq!(again, Stored::Duplicate, "{backend}");
        let claimed = queries::inbox::claim_due(&db, 10, Duration::seconds(60))
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 1, "{backend}");
        assert!(
            queries::inbox::claim_due(&db, 10, Duration::seconds(60))
                .await
                .expect("claim")
                .is_empty()
        );
        queries::inbox::mark_done(&db, &[claimed[0].id])
            .await
            .expect("done");
        assert_eq!(
            queries::inbox::count_in_state(&db, InboxState::Done)
                .await
                .expect("count"),
            1
        );
    }
}

#[tokio::test]
async fn a_batch_of_inbox_activities_is_stored_in_one_go_and_repeats_are_duplicates() {
    let activity = |n: u32| {
        let ap_id = format!("https://b.test/a/{n}");
        inbox_activity(&ap_id, "Create", &format!(r#"{{"id":"{ap_id}"}}"#))
    };
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let Stored::New(earlier) =
            queries::inbox::store(&db, &inbox_activity("https://b.test/a/1", "Create", "{}"))
                .await
                .expect("store")
        else {
            panic!("{backend}: the first store is new");
        };
        let results = queries::inbox::store_many(&db, &[activity(2), activity(1), activity(3), activity(2)])
            .await
            .expect(backend);
        let [
            Stored::New(second),
            Stored::Duplicate,
            Stored::New(third),
            Stored::Duplicate,
        ] = results[..]
        else {
            panic!("{backend}: new, stored before, new, repeated in the batch; got {results:?}");
        };
        assert!(
            earlier < second && second < third,
            "{backend}: rows in batch order"
        );
        let stored = queries::inbox::claim_due(&db, 10, Duration::seconds(60))
            .await
            .expect(backend);
        let stored: Vec<(i64, &str, &str)> = stored
            .iter()
            .map(|row| (row.id, row.ap_id.as_str(), row.body.as_str()))
            .collect();
        assert_eq!(
            stored,
            [
                (earlier, "https://b.test/a/1", "{}"),
                (second, "https://b.test/a/2", r#"{"id":"https://b.test/a/2"}"#),
                (third, "https://b.test/a/3", r#"{"id":"https://b.test/a/3"}"#),
            ],
            "{backend}: each id once, the earlier row untouched, pending"
        );
        queries::inbox::mark_done(&db, &[earlier, third])
            .await
            .expect(backend);
        for (state, expected) in [(InboxState::Done, 2), (InboxState::Pending, 1)] {
            assert_eq!(
                queries::inbox::count_in_state(&db, state).await.expect(backend),
                expected,
                "{backend}: the two named rows are done, the other still pending"
            );
        }
        assert!(
            queries::inbox::store_many(&db, &[])
                .await
                .expect(backend)
                .is_empty(),
            "{backend}: an empty batch stores nothing"
        );
    }
}

#[tokio::test]
async fn deliveries_are_claimed_once_and_come_back_when_a_lease_expires() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let sender = walkers(&db).await;
        // p0's inbox twice: one row.
        let mut inboxes = inboxes_on_hosts(5);
        inboxes.push(inboxes[0].clone());
        queries::deliveries::enqueue(
            &db,
            "https://a.test/activities/1",
            sender.id,
            "Accept",
            "{\"x\":1}",
            &inboxes,
        )
        .await
        .expect("enqueue");
        assert_eq!(
            queries::deliveries::count_pending(&db).await.expect("count"),
            5,
            "{backend}: one per inbox"
        );

        // Two workers claim at the same time: no row goes to both.
        let (a, b) = tokio::join!(
            queries::deliveries::claim_due(&db, 3, Duration::seconds(60), &[]),
            queries::deliveries::claim_due(&db, 3, Duration::seconds(60), &[])
        );
        let (a, b) = (a.expect("claim a"), b.expect("claim b"));
        let mut ids: Vec<i64> = a.iter().chain(b.iter()).map(|d| d.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), a.len() + b.len(), "{backend}: a row was claimed twice");
        assert_eq!(ids.len(), 5, "{backend}");
        let outgoing = queries::deliveries::outgoing_activities(&db, vec![a[0].outbox_activity_id])
            .await
            .expect("outgoing");
        assert_eq!(outgoing.len(), 1, "{backend}");
        assert_eq!(outgoing[0].json, "{\"x\":1}");
        assert_eq!(outgoing[0].ap_id, "https://a.test/activities/1");
        assert_eq!(outgoing[0].key_id, "https://a.test/g/walkers#main-key");

        // A crashed worker's claims expire and the rows are due again.
        let db2 = testing::fresh(backend).await.expect(backend);
        let sender = queries::actors::insert(&db2, actor_row("https://a.test/g/w", "w", "a.test", true))
            .await
            .expect("actor");
        queries::deliveries::enqueue(
            &db2,
            "https://a.test/activities/2",
            sender.id,
            "Accept",
            "{}",
            &inboxes[..2],
        )
        .await
        .expect("enqueue");
        let short = queries::deliveries::claim_due(&db2, 10, Duration::milliseconds(200), &[])
            .await
            .expect("claim");
        assert_eq!(short.len(), 2);
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let again = queries::deliveries::claim_due(&db2, 10, Duration::seconds(60), &[])
            .await
            .expect("claim");
        assert_eq!(again.len(), 2, "{backend}: expired claims come back");

        queries::deliveries::mark_delivered(&db2, again[0].id, 202)
            .await
            .expect("delivered");
        queries::deliveries::mark_attempt_failed(&db2, again[1].id, 1, Some(503), "busy", Some(Utc::now()))
            .await
            .expect("retry");
        let due = queries::deliveries::claim_due(&db2, 10, Duration::seconds(60), &[])
            .await
            .expect("claim");
        assert_eq!(due.len(), 1, "{backend}: only the failed one is due");
        assert_eq!(due[0].attempts, 1);
        queries::deliveries::mark_attempt_failed(&db2, due[0].id, 2, Some(410), "gone", None)
            .await
            .expect("final");
        assert_eq!(queries::deliveries::count_pending(&db2).await.expect("count"), 0);
        let rows = queries::deliveries::queue_by_peer(&db2).await.expect("queue");
        assert!(
            rows.iter()
                .any(|r| r.state == DeliveryState::Failed && r.count == 1),
            "{backend}: {rows:?}"
        );
    }
}

#[tokio::test]
async fn actors_by_many_ids_skip_repeats_and_unknown_ids() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let group = walkers(&db).await;
        let person =
            queries::actors::upsert_remote(&db, actor_row("https://b.test/u/ana", "ana", "b.test", false))
                .await
                .expect("ana");
        let found = queries::actors::map_by_ids(&db, vec![person.id, group.id, person.id, 999_999])
            .await
            .expect("map");
        assert_eq!(found.len(), 2, "{backend}");
        assert_eq!(found[&person.id].username, "ana", "{backend}");
        assert_eq!(found[&group.id].id, group.id, "{backend}");
        let none = queries::actors::map_by_ids(&db, vec![]).await.expect("empty");
        assert!(none.is_empty(), "{backend}");
    }
}

#[tokio::test]
async fn batched_marks_and_hand_backs_change_exactly_the_rows_named() {
    use healthcommons_db::entities::delivery;
    use sea_orm::EntityTrait;
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let sender = walkers(&db).await;
        queries::deliveries::enqueue(
            &db,
            "https://a.test/activities/5",
            sender.id,
            "Create",
            "{}",
            &inboxes_on_hosts(5),
        )
        .await
        .expect("enqueue");
        let claimed = queries::deliveries::claim_due(&db, 10, Duration::seconds(60), &[])
            .await
            .expect("claim");
        let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
        assert_eq!(ids.len(), 5, "{backend}");

        queries::deliveries::mark_many_delivered(&db, &ids[..3], 202)
            .await
            .expect("mark");
        queries::deliveries::postpone_many(&db, &ids[3..4], Duration::seconds(30))
            .await
            .expect("hand back");
        let rows = delivery::Entity::find().all(&db).await.expect("rows");
        let row = |id: i64| rows.iter().find(|r| r.id == id).expect("row");
        for &id in &ids[..3] {
            assert_eq!(row(id).state, DeliveryState::Delivered, "{backend}");
            assert_eq!(row(id).last_status, Some(202), "{backend}");
            assert!(row(id).finished_at.is_some(), "{backend}");
        }
        let handed_back = row(ids[3]);
        assert_eq!(handed_back.state, DeliveryState::Pending, "{backend}");
        assert!(handed_back.claimed_until.is_none(), "{backend}");
        assert!(
            handed_back.next_attempt_at > Utc::now() + Duration::seconds(20),
            "{backend}"
        );
        let untouched = row(ids[4]);
        assert_eq!(untouched.state, DeliveryState::Pending, "{backend}");
        assert!(untouched.claimed_until.is_some(), "{backend}: still claimed");
        assert_eq!(
            queries::deliveries::count_pending(&db).await.expect("count"),
            2,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn claims_skip_busy_hosts_and_rows_handed_back_wait_their_pause() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let sender = walkers(&db).await;
        let inboxes: Vec<(String, String)> = (0..6)
            .map(|i| {
                (
                    format!("https://p{}.test/users/{i}/inbox", i % 3),
                    format!("p{}.test", i % 3),
                )
            })
            .collect();
        queries::deliveries::enqueue(
            &db,
            "https://a.test/activities/9",
            sender.id,
            "Create",
            "{}",
            &inboxes,
        )
        .await
        .expect("enqueue");

        let busy = ["p0.test".to_owned(), "p1.test".to_owned()];
        let claimed = queries::deliveries::claim_due(&db, 10, Duration::seconds(60), &busy)
            .await
            .expect("claim");
        assert_eq!(claimed.len(), 2, "{backend}: only p2's rows");
        assert!(claimed.iter().all(|d| d.peer_host == "p2.test"), "{backend}");

        let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
        queries::deliveries::postpone_many(&db, &ids, Duration::seconds(30))
            .await
            .expect("hand back");
        let rest = queries::deliveries::claim_due(&db, 10, Duration::seconds(60), &[])
            .await
            .expect("claim");
        assert_eq!(rest.len(), 4, "{backend}: the handed-back rows wait their pause");
        assert!(rest.iter().all(|d| d.peer_host != "p2.test"), "{backend}");

        queries::peers::set_blocked(&db, "p1.test", true)
            .await
            .expect("block");
        let hosts: Vec<String> = ["p0.test", "p1.test", "p9.test"].map(str::to_owned).into();
        let blocked = queries::peers::blocked_among(&db, &hosts).await.expect("blocked");
        assert_eq!(
            blocked.into_iter().collect::<Vec<_>>(),
            vec!["p1.test".to_owned()],
            "{backend}"
        );
    }
}

#[tokio::test]
async fn peers_become_unreachable_and_recover_when_seen() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let peer = queries::peers::record_failure(&db, "down.test", Duration::zero())
            .await
            .expect("failure");
        assert!(peer.unreachable, "{backend}");
        assert!(
            queries::peers::get(&db, "down.test")
                .await
                .expect("q")
                .expect("row")
                .unreachable
        );
        assert!(
            queries::peers::record_seen(&db, "down.test").await.expect("seen"),
            "{backend}: was failing"
        );
        assert!(
            !queries::peers::get(&db, "down.test")
                .await
                .expect("q")
                .expect("row")
                .unreachable
        );
        queries::peers::set_blocked(&db, "spam.test", true)
            .await
            .expect("block");
        assert!(queries::peers::is_blocked(&db, "spam.test").await.expect("q"));
        assert!(!queries::peers::is_blocked(&db, "down.test").await.expect("q"));
    }
}

#[tokio::test]
async fn a_healthy_peer_is_written_once_a_minute_not_on_every_request() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        queries::peers::record_successes(&db, &["busy.test".to_owned()])
            .await
            .expect("success");
        assert!(!queries::peers::record_seen(&db, "busy.test").await.expect("seen"));
        let first = queries::peers::get(&db, "busy.test")
            .await
            .expect("q")
            .expect("row");
        assert!(
            first.last_success_at.is_some() && first.last_seen_at.is_some(),
            "{backend}"
        );
        queries::peers::record_successes(&db, &["busy.test".to_owned()])
            .await
            .expect("success");
        assert!(!queries::peers::record_seen(&db, "busy.test").await.expect("seen"));
        let again = queries::peers::get(&db, "busy.test")
            .await
            .expect("q")
            .expect("row");
        assert_eq!(
            again.last_success_at, first.last_success_at,
            "{backend}: not rewritten"
        );
        assert_eq!(again.last_seen_at, first.last_seen_at, "{backend}: not rewritten");

        // A failure is always recorded, and the next success clears it at once.
        queries::peers::record_failure(&db, "busy.test", Duration::hours(1))
            .await
            .expect("failure");
        queries::peers::record_successes(&db, &["busy.test".to_owned()])
            .await
            .expect("success");
        let healed = queries::peers::get(&db, "busy.test")
            .await
            .expect("q")
            .expect("row");
        assert_eq!(healed.consecutive_failures, 0, "{backend}");
        assert!(healed.failing_since.is_none(), "{backend}");
    }
}

#[tokio::test]
async fn the_directory_learns_hosts_keeps_the_nearest_route_and_records_fetches() {
    use healthcommons_db::{entities::group_settings, queries::directory};
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        queries::actors::insert(&db, actor_row("https://a.test/u/ana", "ana", "a.test", true))
            .await
            .expect("local");
        queries::actors::insert(&db, actor_row("https://b.test/u/bo", "bo", "b.test", false))
            .await
            .expect("remote");
        let mut group = actor_row("https://c.test/g/walkers", "walkers", "c.test", false);
        group.kind = Set(ActorKind::Group);
        group.display_name = Set(Some("Walkers".into()));
        let group = queries::actors::insert(&db, group).await.expect("group");
        queries::peers::record_seen(&db, "d.test").await.expect("seen");
        queries::peers::set_blocked(&db, "e.test", true)
            .await
            .expect("block");

        let met: Vec<String> = directory::hosts_met(&db)
            .await
            .expect("met")
            .into_iter()
            .collect();
        assert_eq!(met, ["b.test", "c.test", "d.test"], "{backend}");
        let blocked: Vec<String> = directory::blocked_hosts(&db)
            .await
            .expect("blocked")
            .into_iter()
            .collect();
        assert_eq!(blocked, ["e.test"], "{backend}");

        assert!(
            directory::learn(&db, "b.test", 1, None).await.expect("learn"),
            "{backend}"
        );
        assert!(
            !directory::learn(&db, "b.test", 1, None).await.expect("again"),
            "{backend}"
        );
        assert!(
            directory::learn(&db, "f.test", 3, Some("x.test"))
                .await
                .expect("far")
        );
        directory::learn(&db, "f.test", 2, Some("b.test"))
            .await
            .expect("nearer");
        directory::learn(&db, "f.test", 3, Some("y.test"))
            .await
            .expect("further");
        let far = directory::get(&db, "f.test").await.expect("get").expect("row");
        assert_eq!(
            (far.hops, far.learned_from.as_deref()),
            (2, Some("b.test")),
            "{backend}"
        );
        let order: Vec<String> = directory::all(&db)
            .await
            .expect("all")
            .into_iter()
            .map(|n| n.host)
            .collect();
        assert_eq!(order, ["b.test", "f.test"], "{backend}: nearest first");

        let profile = directory::FetchedProfile {
            initiative_name: Some("Bee Circle".into()),
            latitude: Some(48.85),
            longitude: Some(2.35),
            topics: r#"["walking"]"#.into(),
            ..Default::default()
        };
        directory::record_profile(&db, "b.test", profile)
            .await
            .expect("profile");
        directory::record_failure(&db, "b.test", "HTTP 502")
            .await
            .expect("failure");
        let b = directory::get(&db, "b.test").await.expect("get").expect("row");
        assert_eq!(
            b.initiative_name.as_deref(),
            Some("Bee Circle"),
            "{backend}: a failure keeps the profile"
        );
        assert_eq!(
            (b.failures, b.last_error.as_deref()),
            (1, Some("HTTP 502")),
            "{backend}"
        );
        assert!(
            b.fetched_at.is_some() && b.attempted_at >= b.fetched_at,
            "{backend}"
        );

        assert!(
            !directory::set_hidden(&db, "unknown.test", true)
                .await
                .expect("unknown")
        );
        assert!(directory::set_hidden(&db, "b.test", true).await.expect("hide"));
        assert!(
            directory::get(&db, "b.test")
                .await
                .expect("get")
                .expect("row")
                .hidden
        );

        queries::groups::save_settings(
            &db,
            group_settings::Model {
                actor_id: group.id,
                posting_policy: PostingPolicy::Open,
                visibility: GroupVisibility::Public,
                announce_replies: true,
                list_followers: false,
                rules_html: None,
                topics: "[]".into(),
                place_name: Some("The park".into()),
                place_address: None,
                latitude: Some(52.5),
                longitude: Some(13.4),
                icon_url: None,
                moderators_url: None,
            },
        )
        .await
        .expect("settings");
        let placed = queries::map::groups_with_places(&db).await.expect("groups");
        assert_eq!(placed.len(), 1, "{backend}");
        assert_eq!(
            (placed[0].0.username.as_str(), placed[0].1.latitude),
            ("walkers", Some(52.5))
        );
        let stories = queries::map::garden_items_with_places(
            &db,
            &ReadScope::Open,
            healthcommons_core::garden::Kind::Story,
        )
        .await
        .expect("stories");
        assert!(stories.is_empty(), "{backend}");
    }
}

#[tokio::test]
async fn the_map_takes_only_published_stories_and_open_events_with_coordinates() {
    use healthcommons_db::entities::{event, garden_item};
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let story = |n: u32, status: ItemStatus, place: Option<(f64, f64)>| garden_item::ActiveModel {
            ap_id: Set(format!("https://a.test/garden/{n}")),
            kind: Set(healthcommons_core::garden::Kind::Story),
            status: Set(status),
            title: Set(format!("Story {n}")),
            summary: Set(String::new()),
            content: Set("{}".into()),
            content_html: Set(String::new()),
            license: Set("CC-BY-SA-4.0".into()),
            latitude: Set(place.map(|p| p.0)),
            longitude: Set(place.map(|p| p.1)),
            revision: Set(1),
            provenance: Set("[]".into()),
            origin_gone: Set(false),
            local: Set(true),
            published: Set(Utc::now()),
            ..Default::default()
        };
        for row in [
            story(1, ItemStatus::Published, Some((53.8, -1.55))),
            story(2, ItemStatus::Published, None),
            story(3, ItemStatus::Draft, Some((53.8, -1.55))),
        ] {
            queries::garden::insert(&db, row).await.expect("story");
        }
        let stories = queries::map::garden_items_with_places(
            &db,
            &ReadScope::Open,
            healthcommons_core::garden::Kind::Story,
        )
        .await
        .expect("stories");
        let titles: Vec<&str> = stories.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Story 1"], "{backend}");

        let now = Utc::now();
        let event =
            |n: u32, starts: Duration, status: EventStatus, place: Option<(f64, f64)>| event::ActiveModel {
                ap_id: Set(format!("https://a.test/e/{n}")),
                kind: Set(healthcommons_core::event::EventKind::Meeting),
                title: Set(format!("Event {n}")),
                description_html: Set(String::new()),
                starts_at: Set(now + starts),
                join_mode: Set(JoinMode::Free),
                status: Set(status),
                participant_count: Set(0),
                latitude: Set(place.map(|p| p.0)),
                longitude: Set(place.map(|p| p.1)),
                local: Set(true),
                published: Set(now),
                ..Default::default()
            };
        for row in [
            event(1, Duration::days(2), EventStatus::Confirmed, Some((51.45, -2.58))),
            event(2, Duration::days(2), EventStatus::Cancelled, Some((51.45, -2.58))),
            event(3, Duration::days(2), EventStatus::Confirmed, None),
            event(
                4,
                -Duration::days(2),
                EventStatus::Confirmed,
                Some((51.45, -2.58)),
            ),
            event(5, Duration::days(1), EventStatus::Tentative, Some((52.5, 13.4))),
        ] {
            queries::events::insert(&db, row).await.expect("event");
        }
        let events = queries::map::events_with_places(&db, &ReadScope::Open, now)
            .await
            .expect("events");
        let titles: Vec<&str> = events.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(
            titles,
            ["Event 5", "Event 1"],
            "{backend}: soonest first, open, placed"
        );
    }
}

#[tokio::test]
async fn pledges_are_listed_by_what_they_are_on_and_counted_on_once_per_actor() {
    use healthcommons_db::entities::{pledge, pledge_backer, question};
    use queries::pledges::Listing;
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let ana = queries::actors::insert(&db, actor_row("https://a.test/u/ana", "ana", "a.test", true))
            .await
            .expect("ana");
        let bea = queries::actors::insert(&db, actor_row("https://b.test/u/bea", "bea", "b.test", false))
            .await
            .expect("bea");
        let question = |n: u32| question::ActiveModel {
            ap_id: Set(format!("https://a.test/q/{n}")),
            content_html: Set(format!("<p>Question {n}?</p>")),
            multiple: Set(false),
            voters_count: Set(0),
            local: Set(true),
            published: Set(Utc::now()),
            ..Default::default()
        };
        let first = queries::agenda::insert(&db, question(1)).await.expect("q1");
        let second = queries::agenda::insert(&db, question(2)).await.expect("q2");
        let pledge_on = |n: u32, question_id: i64| pledge::ActiveModel {
            ap_id: Set(format!("https://a.test/pl/{n}")),
            author_id: Set(ana.id),
            question_id: Set(Some(question_id)),
            action: Set(format!("action {n}")),
            due_on: Set(chrono::NaiveDate::from_ymd_opt(2026, 12, 31)),
            status: Set(healthcommons_core::pledge::PledgeStatus::Offered),
            backers_count: Set(0),
            local: Set(true),
            published: Set(Utc::now() + Duration::seconds(i64::from(n))),
            ..Default::default()
        };
        for (n, on) in [(1, first.id), (2, second.id), (3, first.id)] {
            queries::pledges::insert(&db, pledge_on(n, on))
                .await
                .expect("pledge");
        }
        let on_first = queries::pledges::list(
            &db,
            &ReadScope::Open,
            Listing {
                question_id: Some(first.id),
                ..Listing::default()
            },
        )
        .await
        .expect("list");
        let actions: Vec<&str> = on_first.iter().map(|p| p.action.as_str()).collect();
        assert_eq!(actions, ["action 3", "action 1"], "{backend}");
        assert_eq!(on_first[1].due_on, chrono::NaiveDate::from_ymd_opt(2026, 12, 31));

        let pledge = &on_first[0];
        let backer = |actor_id: i64, n: u32| pledge_backer::ActiveModel {
            pledge_id: Set(pledge.id),
            actor_id: Set(actor_id),
            ap_id: Set(format!("https://b.test/likes/{n}")),
            created_at: Set(Utc::now()),
            ..Default::default()
        };
        queries::pledges::insert_backer(&db, backer(bea.id, 1))
            .await
            .expect("bea counts on it");
        assert!(
            queries::pledges::insert_backer(&db, backer(bea.id, 2))
                .await
                .is_err(),
            "a second row for bea on {backend}"
        );
        queries::pledges::recount(&db, pledge.id).await.expect("recount");
        let counted = queries::pledges::by_id(&db, pledge.id)
            .await
            .expect("read")
            .expect("pledge");
        assert_eq!(counted.backers_count, 1, "{backend}");
        let backed = queries::pledges::backed_by(&db, bea.id, on_first.iter().map(|p| p.id).collect())
            .await
            .expect("backed");
        assert_eq!(backed.len(), 1, "{backend}");
    }
}

#[tokio::test]
async fn the_directory_forgets_hosts_a_peer_no_longer_lists_and_routes_through_gone_nodes() {
    use queries::directory;
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        directory::learn(&db, "b.test", 1, None).await.expect("met");
        for host in ["f.test", "g.test"] {
            directory::learn(&db, host, 2, Some("b.test"))
                .await
                .expect("listed");
        }
        directory::learn(&db, "h.test", 3, Some("gone.test"))
            .await
            .expect("through a gone node");
        let forgotten = directory::forget_unlisted(&db, "b.test", vec!["f.test".into()])
            .await
            .expect("forget");
        assert_eq!(forgotten, 2, "{backend}");
        let hosts: Vec<String> = directory::all(&db)
            .await
            .expect("all")
            .into_iter()
            .map(|n| n.host)
            .collect();
        assert_eq!(hosts, ["b.test", "f.test"], "{backend}");
        // A node met directly stays, whoever lists it.
        assert_eq!(
            directory::forget_unlisted(&db, "f.test", Vec::new())
                .await
                .expect("again"),
            0,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn follower_inboxes_and_ids_are_the_accepted_followers_in_follow_order() {
    use queries::follows::{FollowerInbox, remote_follower_inboxes, upsert};
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let group = queries::actors::insert(
            &db,
            actor_row("http://here.test/g/walkers", "walkers", "here.test", true),
        )
        .await
        .expect("group");
        let remote = |n: u32, shared: bool| {
            let mut row = actor_row(
                &format!("https://n{n}.example/users/u{n}"),
                &format!("u{n}"),
                &format!("n{n}.example"),
                false,
            );
            if shared {
                row.shared_inbox = Set(Some(format!("https://n{n}.example/inbox")));
            }
            row
        };
        let late = queries::actors::insert(&db, remote(1, true))
            .await
            .expect("actor");
        let early = queries::actors::insert(&db, remote(2, false))
            .await
            .expect("actor");
        let pending = queries::actors::insert(&db, remote(3, false))
            .await
            .expect("actor");
        let local =
            queries::actors::insert(&db, actor_row("http://here.test/u/ana", "ana", "here.test", true))
                .await
                .expect("actor");
        let mut neighbour_row = actor_row("https://n1.example/users/v1", "v1", "n1.example", false);
        neighbour_row.shared_inbox = Set(Some("https://n1.example/inbox".into()));
        let neighbour = queries::actors::insert(&db, neighbour_row).await.expect("actor");
        for (n, (follower, state)) in [
            (early.id, FollowState::Accepted),
            (pending.id, FollowState::Pending),
            (late.id, FollowState::Accepted),
            (local.id, FollowState::Accepted),
            (neighbour.id, FollowState::Accepted),
        ]
        .into_iter()
        .enumerate()
        {
            upsert(
                &db,
                &format!("https://x.example/follows/{n}"),
                follower,
                group.id,
                state,
            )
            .await
            .expect("follow");
        }
        let inbox = |inbox: &str, host: &str| FollowerInbox {
            inbox: inbox.into(),
            host: host.into(),
        };
        let own = remote_follower_inboxes(&db, group.id, false)
            .await
            .expect(backend);
        assert_eq!(
            own,
            vec![
                inbox("https://n2.example/users/u2/inbox", "n2.example"),
                inbox("https://n1.example/users/u1/inbox", "n1.example"),
                inbox("https://n1.example/users/v1/inbox", "n1.example"),
            ],
            "{backend}: each follower's own inbox, no pending or local followers, in the order they followed"
        );
        let shared = remote_follower_inboxes(&db, group.id, true).await.expect(backend);
        assert_eq!(
            shared,
            vec![
                inbox("https://n2.example/users/u2/inbox", "n2.example"),
                inbox("https://n1.example/inbox", "n1.example"),
            ],
            "{backend}: a node's shared inbox once for its two followers, its own inbox for a follower without one"
        );
        let listed = queries::follows::accepted_follower_ap_ids(&db, group.id)
            .await
            .expect(backend);
        assert_eq!(
            listed,
            [early.ap_id, late.ap_id, local.ap_id, neighbour.ap_id],
            "{backend}: the followers collection lists accepted followers, local ones too, in follow order"
        );
    }
}

#[tokio::test]
async fn sqlite_readers_see_every_commit_and_cannot_write() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("node.db").display());
    let writer = healthcommons_db::connect(&url).await.expect("writer");
    let readers = healthcommons_db::open_readers(&url, &writer)
        .await
        .expect("readers");
    let actor = queries::actors::insert(&writer, actor_row("https://a.test/u/ana", "ana", "a.test", true))
        .await
        .expect("insert");
    let seen = queries::actors::by_id(&readers, actor.id).await.expect("read");
    assert_eq!(
        seen.map(|a| a.username),
        Some("ana".to_owned()),
        "a commit is seen at once"
    );
    let refused =
        queries::actors::insert(&readers, actor_row("https://a.test/u/bo", "bo", "a.test", true)).await;
    assert!(refused.is_err(), "the readers are read-only");
}

#[tokio::test]
async fn moderated_among_names_only_the_groups_that_list_the_actor_and_moderators_come_in_order() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect("database");
        let group = |name: &str| actor_row(&format!("https://a.test/g/{name}"), name, "a.test", true);
        let walkers = queries::actors::insert(&db, group("walkers"))
            .await
            .expect("walkers");
        let gardeners = queries::actors::insert(&db, group("gardeners"))
            .await
            .expect("gardeners");
        let singers = queries::actors::insert(&db, group("singers"))
            .await
            .expect("singers");
        let ana = queries::actors::insert(&db, actor_row("https://a.test/u/ana", "ana", "a.test", true))
            .await
            .expect("ana");
        let bo = queries::actors::insert(&db, actor_row("https://a.test/u/bo", "bo", "a.test", true))
            .await
            .expect("bo");
        queries::groups::add_moderator(&db, walkers.id, ana.id)
            .await
            .expect("ana moderates");
        queries::groups::add_moderator(&db, singers.id, ana.id)
            .await
            .expect("ana moderates");
        queries::groups::add_moderator(&db, gardeners.id, bo.id)
            .await
            .expect("bo moderates");

        let asked = vec![walkers.id, gardeners.id];
        let found = queries::groups::moderated_among(&db, ana.id, asked)
            .await
            .expect("query");
        assert_eq!(
            found,
            [walkers.id].into(),
            "{backend}: only the asked groups that list ana"
        );
        let none = queries::groups::moderated_among(&db, ana.id, vec![])
            .await
            .expect("query");
        assert!(none.is_empty(), "{backend}: no groups asked, none found");

        queries::groups::add_moderator(&db, walkers.id, bo.id)
            .await
            .expect("bo moderates too");
        let names: Vec<String> = queries::groups::moderator_actors(&db, walkers.id)
            .await
            .expect("moderators")
            .into_iter()
            .map(|a| a.username)
            .collect();
        assert_eq!(
            names,
            ["ana", "bo"],
            "{backend}: in the order they were appointed"
        );
    }
}

#[tokio::test]
async fn a_delivery_listener_hears_an_enqueue_when_it_commits_not_before() {
    use healthcommons_db::TransactionTrait;
    use queries::deliveries::DeliveryListener;
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let Some(mut listener) = DeliveryListener::connect(&db).await.expect("listen") else {
            assert_eq!(backend, "sqlite", "only SQLite goes without a listener");
            continue;
        };
        let sender = walkers(&db).await;
        let txn = db.begin().await.expect("begin");
        let inboxes = [("https://p.test/inbox".to_owned(), "p.test".to_owned())];
        queries::deliveries::enqueue(
            &txn,
            "https://a.test/activities/1",
            sender.id,
            "Create",
            "{}",
            &inboxes,
        )
        .await
        .expect("enqueue");
        let early = tokio::time::timeout(std::time::Duration::from_millis(300), listener.next()).await;
        assert!(
            early.is_err(),
            "{backend}: nothing is heard while the transaction is open"
        );
        txn.commit().await.expect("commit");
        let enqueued = tokio::time::timeout(std::time::Duration::from_secs(5), listener.next())
            .await
            .unwrap_or_else(|_| panic!("{backend}: the commit is heard"))
            .expect("notification");
        assert_eq!(enqueued, 1, "{backend}: it says how many rows were enqueued");
        assert_eq!(
            queries::deliveries::count_pending(&db).await.expect("count"),
            1,
            "{backend}: and the row is there to claim"
        );
    }
}

#[tokio::test]
async fn a_large_enqueue_refreshes_the_planner_statistics_on_postgres() {
    use sea_orm::ConnectionTrait;
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let sender = walkers(&db).await;
        let inboxes = inboxes_on_hosts(2000);
        queries::deliveries::enqueue(
            &db,
            "https://a.test/activities/1",
            sender.id,
            "Create",
            "{}",
            &inboxes,
        )
        .await
        .expect("enqueue");
        let small = queries::deliveries::refresh_statistics_after(&db, 10)
            .await
            .expect("refresh");
        assert!(
            !small,
            "{backend}: a small enqueue leaves the statistics to autovacuum"
        );
        let large = queries::deliveries::refresh_statistics_after(&db, 2000)
            .await
            .expect("refresh");
        assert_eq!(
            large,
            backend == "postgres",
            "{backend}: only PostgreSQL is analysed"
        );
        if backend == "postgres" {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    "SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = 'delivery'::regclass",
                ))
                .await
                .expect("pg_class")
                .expect("row");
            let rows: f64 = row.try_get("", "rows").expect("reltuples");
            assert_eq!(rows, 2000.0, "the planner now knows the rows are there");
        }
    }
}

#[tokio::test]
async fn a_session_or_token_finds_its_user_and_person_in_one_query() {
    use queries::auth;
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let user = queries::users::insert(&db, member("ana")).await.expect("user");
        let mut person = actor_row("https://a.test/u/ana", "ana", "a.test", true);
        person.user_id = Set(Some(user.id));
        let person = queries::actors::insert(&db, person).await.expect("person");
        // A group the user created is theirs too, but not their person.
        let mut group = actor_row("https://a.test/g/walkers", "walkers", "a.test", true);
        group.kind = Set(ActorKind::Group);
        group.user_id = Set(Some(user.id));
        queries::actors::insert(&db, group).await.expect("group");

        let now = Utc::now();
        auth::insert_session(&db, "live", user.id, now + Duration::days(1))
            .await
            .expect("session");
        auth::insert_session(&db, "stale", user.id, now - Duration::minutes(1))
            .await
            .expect("session");
        auth::insert_api_token(&db, "token", user.id)
            .await
            .expect("token");

        let (found_user, found_person) = auth::session_account(&db, "live")
            .await
            .expect("query")
            .expect("a live session finds its account");
        assert_eq!(
            (found_user.id, found_person.id),
            (user.id, person.id),
            "{backend}"
        );
        let by_token = auth::api_token_account(&db, "token").await.expect("query");
        assert_eq!(by_token.map(|(_, p)| p.id), Some(person.id), "{backend}");
        for missing in ["stale", "unknown"] {
            let none = auth::session_account(&db, missing).await.expect("query");
            assert!(none.is_none(), "{backend}: {missing} session finds nothing");
        }
        let none = auth::api_token_account(&db, "unknown").await.expect("query");
        assert!(none.is_none(), "{backend}: unknown token finds nothing");
    }
}
