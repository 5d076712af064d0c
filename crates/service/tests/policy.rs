//! The policy module's rule as a table: every visibility × every kind of
//! viewer, for posts, events and garden items, and the query filter that
//! lists use held to the same answers as `visible_to` for every row; and who
//! may do what (`may`) for each kind of person. Runs on
//! SQLite, and on PostgreSQL when `HEALTHCOMMONS_TEST_POSTGRES_URL` is set.

use chrono::{Duration, Utc};
use healthcommons_core::garden::ItemStatus;
use healthcommons_db::entities::{ActorKind, FollowState, GroupVisibility, PostingPolicy};
use healthcommons_db::{
    Db,
    entities::{Visibility, actor, event, garden_item, post},
    queries::{self, posts::Page},
    testing,
};
use healthcommons_service::{
    accounts::Role,
    groups,
    policy::{self, Action, Actor, Subject, Target, Under, Viewer},
};
use sea_orm::ActiveValue::Set;

/// Who looks, and whether they may see members-only content of the circle.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    Outsider,
    Pending,
    Member,
    Moderator,
    Author,
    RemoteMember,
    Node,
}

const EVERYONE: [Who; 8] = [
    Who::Anonymous,
    Who::Outsider,
    Who::Pending,
    Who::Member,
    Who::Moderator,
    Who::Author,
    Who::RemoteMember,
    Who::Node,
];

/// The rule, written out: what each viewer may see of content in the
/// members-only circle, by its visibility.
fn expected(visibility: Visibility, who: Who) -> bool {
    match visibility {
        Visibility::Public | Visibility::Unlisted => true,
        Visibility::Members => matches!(
            who,
            Who::Member | Who::Moderator | Who::Author | Who::RemoteMember | Who::Node
        ),
        // Followers-only content of the author: here the member follows the author.
        Visibility::Followers => matches!(who, Who::Member | Who::Author | Who::Node),
    }
}

struct World {
    group: actor::Model,
    people: Vec<(Who, actor::Model)>,
}

impl World {
    fn viewer(&self, who: Who) -> Viewer<'_> {
        match who {
            Who::Anonymous => Viewer::Anonymous,
            Who::Node => Viewer::Node,
            _ => Viewer::Actor(
                self.people
                    .iter()
                    .find(|(w, _)| *w == who)
                    .map(|(_, a)| a)
                    .expect("a person for every viewer"),
            ),
        }
    }
    fn author(&self) -> &actor::Model {
        match self.viewer(Who::Author) {
            Viewer::Actor(a) => a,
            _ => unreachable!("the author is a person"),
        }
    }
}

async fn person(db: &Db, name: &str, host: &str, kind: ActorKind) -> actor::Model {
    let now = Utc::now();
    let ap_id = format!("https://{host}/u/{name}");
    queries::actors::insert(
        db,
        actor::ActiveModel {
            ap_id: Set(ap_id.clone()),
            kind: Set(kind),
            local: Set(host == "here.example"),
            username: Set(name.into()),
            host: Set(host.into()),
            inbox: Set(format!("{ap_id}/inbox")),
            followers_url: Set(Some(format!("{ap_id}/followers"))),
            public_key_id: Set(format!("{ap_id}#main-key")),
            public_key_pem: Set("pem".into()),
            manually_approves_followers: Set(true),
            discoverable: Set(true),
            published: Set(now),
            last_fetched_at: Set(now),
            ..Default::default()
        },
    )
    .await
    .expect("actor")
}

async fn world(db: &Db) -> World {
    let group = person(db, "circle", "here.example", ActorKind::Group).await;
    let mut settings = groups::default_settings(group.id);
    settings.visibility = GroupVisibility::Members;
    queries::groups::save_settings(db, settings)
        .await
        .expect("settings");
    let mut people = Vec::new();
    for (who, name, host) in [
        (Who::Outsider, "nina", "here.example"),
        (Who::Pending, "pat", "here.example"),
        (Who::Member, "mia", "here.example"),
        (Who::Moderator, "olga", "here.example"),
        (Who::Author, "ana", "here.example"),
        (Who::RemoteMember, "rhea", "far.example"),
    ] {
        people.push((who, person(db, name, host, ActorKind::Person).await));
    }
    let id = |who: Who| {
        people
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, a)| a.id)
            .expect("id")
    };
    let follow = |follower: Who, target: i64, state: FollowState| {
        let follower = id(follower);
        async move {
            queries::follows::upsert(
                db,
                &format!("https://x.example/f/{follower}/{target}"),
                follower,
                target,
                state,
            )
            .await
            .expect("follow")
        }
    };
    follow(Who::Pending, group.id, FollowState::Pending).await;
    follow(Who::Member, group.id, FollowState::Accepted).await;
    follow(Who::RemoteMember, group.id, FollowState::Accepted).await;
    follow(Who::Author, group.id, FollowState::Accepted).await;
    follow(Who::Member, id(Who::Author), FollowState::Accepted).await;
    follow(Who::Outsider, id(Who::Author), FollowState::Pending).await;
    queries::groups::add_moderator(db, group.id, id(Who::Moderator))
        .await
        .expect("moderator");
    World { group, people }
}

/// A published local garden story by `author`, in no group.
fn item_row(ap_id: &str, author: &actor::Model, visibility: Visibility) -> garden_item::ActiveModel {
    garden_item::ActiveModel {
        ap_id: Set(ap_id.into()),
        kind: Set(healthcommons_core::garden::Kind::Story),
        author_id: Set(Some(author.id)),
        visibility: Set(visibility),
        status: Set(ItemStatus::Published),
        title: Set("a story".into()),
        summary: Set(String::new()),
        content: Set("{}".into()),
        content_html: Set(String::new()),
        license: Set("CC-BY-SA-4.0".into()),
        revision: Set(1),
        provenance: Set("[]".into()),
        origin_gone: Set(false),
        local: Set(true),
        published: Set(Utc::now()),
        ..Default::default()
    }
}

const VISIBILITIES: [Visibility; 4] = [
    Visibility::Public,
    Visibility::Unlisted,
    Visibility::Members,
    Visibility::Followers,
];

#[tokio::test]
async fn every_viewer_sees_what_the_rule_says_and_lists_agree() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect("db");
        let world = world(&db).await;
        let now = Utc::now();
        let mut posts = Vec::new();
        let mut events = Vec::new();
        let mut items = Vec::new();
        for (n, visibility) in VISIBILITIES.into_iter().enumerate() {
            posts.push(
                queries::posts::insert(
                    &db,
                    post::ActiveModel {
                        ap_id: Set(format!("https://here.example/p/{n}")),
                        author_id: Set(Some(world.author().id)),
                        group_id: Set(Some(world.group.id)),
                        title: Set(Some(format!("thread {n}"))),
                        content_html: Set("<p>hello</p>".into()),
                        sensitive: Set(false),
                        visibility: Set(visibility),
                        local: Set(true),
                        published: Set(now),
                        removed: Set(false),
                        locked: Set(false),
                        likes: Set(0),
                        dislikes: Set(0),
                        boosts: Set(0),
                        replies: Set(0),
                        last_activity_at: Set(now),
                        ..Default::default()
                    },
                )
                .await
                .expect("post"),
            );
            events.push(
                queries::events::insert(
                    &db,
                    event::ActiveModel {
                        ap_id: Set(format!("https://here.example/e/{n}")),
                        kind: Set(healthcommons_core::event::EventKind::Meeting),
                        author_id: Set(Some(world.author().id)),
                        group_id: Set(Some(world.group.id)),
                        visibility: Set(visibility),
                        title: Set(format!("event {n}")),
                        description_html: Set(String::new()),
                        starts_at: Set(now + Duration::days(1)),
                        join_mode: Set(healthcommons_core::event::JoinMode::Free),
                        status: Set(healthcommons_core::event::EventStatus::Confirmed),
                        participant_count: Set(0),
                        local: Set(true),
                        published: Set(now),
                        ..Default::default()
                    },
                )
                .await
                .expect("event"),
            );
            let mut item = item_row(
                &format!("https://here.example/garden/{n}"),
                world.author(),
                visibility,
            );
            item.group_id = Set(Some(world.group.id));
            items.push(queries::garden::insert(&db, item).await.expect("item"));
        }
        for who in EVERYONE {
            let viewer = world.viewer(who);
            let scope = policy::read_scope(&db, viewer).await.expect("scope");
            let listed_threads: Vec<i64> =
                queries::posts::threads_of_group(&db, world.group.id, &scope, Page { number: 1, size: 50 })
                    .await
                    .expect("threads")
                    .iter()
                    .map(|p| p.id)
                    .collect();
            let listed_events: Vec<i64> = queries::events::upcoming(
                &db,
                &scope,
                queries::events::Listing {
                    group_id: Some(world.group.id),
                    local_only: false,
                    from: now,
                },
            )
            .await
            .expect("events")
            .iter()
            .map(|e| e.id)
            .collect();
            let filter = queries::garden::Filter {
                scope: scope.clone(),
                ..Default::default()
            };
            let listed_items: Vec<i64> = queries::garden::find(&db, &filter, Page { number: 1, size: 50 })
                .await
                .expect("items")
                .iter()
                .map(|i| i.id)
                .collect();
            for (n, visibility) in VISIBILITIES.into_iter().enumerate() {
                let want = expected(visibility, who);
                let case = format!("{backend}: {who:?} and {visibility} content");
                for (kind, subject, listed) in [
                    (
                        "post",
                        Subject::Post(&posts[n]),
                        listed_threads.contains(&posts[n].id),
                    ),
                    (
                        "event",
                        Subject::Event(&events[n]),
                        listed_events.contains(&events[n].id),
                    ),
                    (
                        "garden item",
                        Subject::GardenItem(&items[n]),
                        listed_items.contains(&items[n].id),
                    ),
                ] {
                    let seen = policy::visible_to(&db, viewer, subject)
                        .await
                        .expect("visible_to");
                    assert_eq!(seen, want, "{case}: visible_to a {kind}");
                    assert_eq!(
                        listed, want,
                        "{case}: the list filter for a {kind} agrees with visible_to"
                    );
                }
                let post = &posts[n];
                assert_eq!(
                    scope.allows(post.visibility, post.group_id, post.author_id),
                    want,
                    "{case}: the rule for rows already read agrees with visible_to"
                );
            }
            let members_listed = policy::visible_to(&db, viewer, Subject::Members(&world.group))
                .await
                .expect("members");
            assert_eq!(
                members_listed,
                expected(Visibility::Members, who),
                "{backend}: {who:?} and the circle's member list"
            );
        }
    }
}

#[tokio::test]
async fn a_draft_is_its_authors_alone() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect("db");
        let world = world(&db).await;
        let mut draft = item_row(
            "https://here.example/garden/draft",
            world.author(),
            Visibility::Public,
        );
        draft.status = Set(ItemStatus::Draft);
        let draft = queries::garden::insert(&db, draft).await.expect("draft");
        for who in EVERYONE {
            let seen = policy::visible_to(&db, world.viewer(who), Subject::GardenItem(&draft))
                .await
                .expect("visible_to");
            let want = matches!(who, Who::Author | Who::Node);
            assert_eq!(seen, want, "{backend}: {who:?} and a draft");
        }
    }
}

#[tokio::test]
async fn new_content_is_never_wider_than_its_group_or_what_it_belongs_to() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect("db");
        let world = world(&db).await;
        let open_group = person(&db, "walkers", "here.example", ActorKind::Group).await;
        let cases = [
            (Some(&world.group), None, Visibility::Public, Visibility::Members),
            (
                Some(&world.group),
                None,
                Visibility::Unlisted,
                Visibility::Members,
            ),
            (Some(&open_group), None, Visibility::Public, Visibility::Public),
            (
                Some(&open_group),
                None,
                Visibility::Followers,
                Visibility::Members,
            ),
            (
                Some(&open_group),
                Some(Visibility::Members),
                Visibility::Public,
                Visibility::Members,
            ),
            (
                Some(&open_group),
                Some(Visibility::Unlisted),
                Visibility::Public,
                Visibility::Unlisted,
            ),
            (None, None, Visibility::Followers, Visibility::Followers),
            (
                None,
                Some(Visibility::Followers),
                Visibility::Public,
                Visibility::Followers,
            ),
            (None, None, Visibility::Public, Visibility::Public),
        ];
        for (group, within, requested, want) in cases {
            let got = policy::visibility_for_new(&db, group, within, requested)
                .await
                .expect("visibility");
            assert_eq!(
                got,
                want,
                "{backend}: {requested} in {:?} within {within:?}",
                group.map(|g| &g.username)
            );
        }
    }
}

/// A thread in the circle by its author, with `visibility`.
async fn thread(db: &Db, world: &World, n: u32, visibility: Visibility) -> post::Model {
    let now = Utc::now();
    queries::posts::insert(
        db,
        post::ActiveModel {
            ap_id: Set(format!("https://here.example/p/may/{n}")),
            author_id: Set(Some(world.author().id)),
            group_id: Set(Some(world.group.id)),
            title: Set(Some("a thread".into())),
            content_html: Set("<p>hello</p>".into()),
            sensitive: Set(false),
            visibility: Set(visibility),
            local: Set(true),
            published: Set(now),
            removed: Set(false),
            locked: Set(false),
            likes: Set(0),
            dislikes: Set(0),
            boosts: Set(0),
            replies: Set(0),
            last_activity_at: Set(now),
            ..Default::default()
        },
    )
    .await
    .expect("post")
}

#[tokio::test]
async fn who_may_do_what_the_rule_says_and_nobody_acts_on_what_they_cannot_see() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect("db");
        let world = world(&db).await;
        let mut settings = queries::groups::settings(&db, world.group.id)
            .await
            .expect("settings")
            .expect("circle settings");
        settings.posting_policy = PostingPolicy::Members;
        queries::groups::save_settings(&db, settings).await.expect("save");
        // The node's admin, who does not belong to the circle.
        let admin_person = person(&db, "root", "here.example", ActorKind::Person).await;
        let admin = Actor {
            person: &admin_person,
            role: Some(Role::Admin),
        };
        let who = |who: Who| match world.viewer(who) {
            Viewer::Actor(person) => Actor::from(person),
            _ => unreachable!("people only"),
        };
        let private = thread(&db, &world, 1, Visibility::Members).await;
        let open = thread(&db, &world, 2, Visibility::Public).await;
        let mut shared = item_row(
            "https://here.example/garden/may",
            world.author(),
            Visibility::Members,
        );
        shared.group_id = Set(Some(world.group.id));
        let item = queries::garden::insert(&db, shared).await.expect("item");
        let group = Target::Group(&world.group);
        let cases: Vec<(&str, Actor<'_>, Action<'_>, Target<'_>, bool)> = vec![
            // Posting policy "members": members and moderators post, nobody else.
            (
                "member posts",
                who(Who::Member),
                Action::Contribute(Under::Nothing),
                group,
                true,
            ),
            (
                "remote member posts",
                who(Who::RemoteMember),
                Action::Contribute(Under::Nothing),
                group,
                true,
            ),
            (
                "moderator posts",
                who(Who::Moderator),
                Action::Contribute(Under::Nothing),
                group,
                true,
            ),
            (
                "pending may not post",
                who(Who::Pending),
                Action::Contribute(Under::Nothing),
                group,
                false,
            ),
            (
                "outsider may not post",
                who(Who::Outsider),
                Action::Contribute(Under::Nothing),
                group,
                false,
            ),
            (
                "admin who is no member may not post",
                admin,
                Action::Contribute(Under::Nothing),
                group,
                false,
            ),
            // Moderation needs the right to see what is moderated.
            (
                "moderator removes",
                who(Who::Moderator),
                Action::Moderate,
                Target::Content(Subject::Post(&private)),
                true,
            ),
            (
                "admin cannot remove what they cannot see",
                admin,
                Action::Moderate,
                Target::Content(Subject::Post(&private)),
                false,
            ),
            (
                "admin removes an open post of a local group",
                admin,
                Action::Moderate,
                Target::Content(Subject::Post(&open)),
                true,
            ),
            (
                "member does not moderate",
                who(Who::Member),
                Action::Moderate,
                Target::Content(Subject::Post(&open)),
                false,
            ),
            // Taking part (vote, RSVP, count on a pledge) follows who may see it.
            (
                "member takes part",
                who(Who::Member),
                Action::TakePart,
                Target::Content(Subject::Post(&private)),
                true,
            ),
            (
                "pending does not take part in members-only",
                who(Who::Pending),
                Action::TakePart,
                Target::Content(Subject::Post(&private)),
                false,
            ),
            (
                "outsider takes part in what is open",
                who(Who::Outsider),
                Action::TakePart,
                Target::Content(Subject::Post(&open)),
                true,
            ),
            // Editing is the author's.
            (
                "author edits",
                who(Who::Author),
                Action::Edit,
                Target::Content(Subject::Post(&private)),
                true,
            ),
            (
                "moderator does not edit another's post",
                who(Who::Moderator),
                Action::Edit,
                Target::Content(Subject::Post(&private)),
                false,
            ),
            (
                "admin does not edit what they cannot see",
                admin,
                Action::Edit,
                Target::Content(Subject::GardenItem(&item)),
                false,
            ),
            // Requests to join: the group's moderators, and the node's staff for a local group.
            (
                "moderator answers requests",
                who(Who::Moderator),
                Action::DecideJoin,
                group,
                true,
            ),
            (
                "admin answers requests of a local group",
                admin,
                Action::DecideJoin,
                group,
                true,
            ),
            (
                "member does not answer requests",
                who(Who::Member),
                Action::DecideJoin,
                group,
                false,
            ),
            // Sharing with the commons: a moderator of its group only.
            (
                "moderator shares",
                who(Who::Moderator),
                Action::Share,
                Target::Content(Subject::GardenItem(&item)),
                true,
            ),
            (
                "author who is no moderator does not share",
                who(Who::Author),
                Action::Share,
                Target::Content(Subject::GardenItem(&item)),
                false,
            ),
            (
                "admin does not share",
                admin,
                Action::Share,
                Target::Content(Subject::GardenItem(&item)),
                false,
            ),
        ];
        for (case, actor, action, target, want) in cases {
            let allowed = policy::may(&db, actor, action, target).await.expect("may");
            assert_eq!(allowed, want, "{backend}: {case}");
        }
        // What may not be seen is answered as not there, not as forbidden.
        let refused = policy::require(
            &db,
            admin,
            Action::Moderate,
            Target::Content(Subject::Post(&private)),
        )
        .await
        .expect_err("refused");
        assert_eq!(
            refused.kind(),
            healthcommons_core::ErrorKind::NotFound,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn an_open_threads_count_of_replies_does_not_tell_of_members_only_ones() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect("db");
        let world = world(&db).await;
        let root = thread(&db, &world, 10, Visibility::Public).await;
        for (n, visibility) in [(11, Visibility::Public), (12, Visibility::Members)] {
            let mut reply: post::ActiveModel = thread(&db, &world, n, visibility).await.into();
            reply.in_reply_to = Set(Some(root.ap_id.clone()));
            reply.parent_id = Set(Some(root.id));
            reply.root_id = Set(Some(root.id));
            sea_orm::ActiveModelTrait::update(reply, &db)
                .await
                .expect("reply");
        }
        queries::posts::touch_thread(&db, root.id, Utc::now())
            .await
            .expect("recount");
        let counted = queries::posts::by_id(&db, root.id)
            .await
            .expect("q")
            .expect("root")
            .replies;
        assert_eq!(counted, 1, "{backend}: only the reply anyone may read is counted");
    }
}
