//! Every activity this node sends, built by its constructor from plain
//! rows: it reads back as the same value (round trip, through the type and,
//! where it has one, the inbox enum's variant), and what goes on the wire is
//! pinned by a snapshot with ids and dates redacted.

use super::*;
use crate::{
    activities::{
        announce::UndoAnnounce, answer_join::Answer, create_event::EventChange,
        create_garden_item::GardenChange, create_pledge::PledgeChange, create_question::QuestionChange,
        like::LikeKind, moderator_change::ModeratorChangeKind, undo_moderation::UndoneModeration,
        vote::VoteNote,
    },
    objects::{
        actor::ap_actor, adoption::ApAdoption, event::ApEvent, garden_item::ApGardenItem, pledge::ApPledge,
        question::ApQuestion,
    },
    relay::wire_body,
};
use chrono::{DateTime, TimeZone, Utc};
use healthcommons_db::entities::{
    ActorKind, ParticipantState, ReportState, event_participant, pledge_backer, report, vote,
};
use healthcommons_service::urls::NodeUrls;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::fmt::Debug;

const ANA: &str = "https://alpha.test/u/ana";
const WALKERS: &str = "https://alpha.test/g/walkers";
const BEN: &str = "https://beta.test/u/ben";
const RUNNERS: &str = "https://beta.test/g/runners";
const POST: &str = "https://alpha.test/posts/7";

fn when() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 9, 30, 0)
        .single()
        .expect("a valid date")
}

fn url(s: &str) -> Url {
    Url::parse(s).expect("a valid URL")
}

fn activity_id(kind: &str) -> Url {
    url(&format!("https://alpha.test/activities/{kind}/1"))
}

fn actor(ap_id: &str, kind: ActorKind) -> actor::Model {
    let id_url = url(ap_id);
    let host = id_url.host_str().unwrap_or_default().to_owned();
    let local = host == "alpha.test";
    let username = ap_id.rsplit('/').next().unwrap_or_default().to_owned();
    actor::Model {
        id: 1,
        ap_id: ap_id.to_owned(),
        kind,
        local,
        username: username.clone(),
        host,
        display_name: Some(username.to_uppercase()),
        summary_html: Some("<p>Walking for health</p>".into()),
        url: Some(ap_id.to_owned()),
        inbox: format!("{ap_id}/inbox"),
        shared_inbox: None,
        outbox: Some(format!("{ap_id}/outbox")),
        followers_url: Some(format!("{ap_id}/followers")),
        following_url: Some(format!("{ap_id}/following")),
        public_key_id: format!("{ap_id}#main-key"),
        public_key_pem: "-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----\n".into(),
        private_key_pem: None,
        user_id: None,
        manually_approves_followers: kind == ActorKind::Group,
        discoverable: true,
        published: when(),
        last_fetched_at: when(),
        created_by: None,
    }
}

fn ana() -> actor::Model {
    actor(ANA, ActorKind::Person)
}
fn ben() -> actor::Model {
    actor(BEN, ActorKind::Person)
}
fn walkers() -> actor::Model {
    actor(WALKERS, ActorKind::Group)
}

/// Addressed as a public post in the walkers group.
fn in_walkers() -> Addressing {
    Addressing {
        to: vec![public(), url(WALKERS)],
        cc: vec![
            url(&format!("{ANA}/followers")),
            url(&format!("{WALKERS}/followers")),
        ],
        audience: Some(url(WALKERS)),
    }
}

/// Addressed as a post outside any group, to the author's followers only.
fn outside_groups() -> Addressing {
    Addressing {
        to: vec![url(&format!("{ANA}/followers"))],
        cc: vec![],
        audience: None,
    }
}

/// Serialise as the delivery queue does, read back as `A`, compare.
fn round_trip<A>(activity: &A) -> Value
where
    A: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let (_, _, body) = wire_body(activity).expect("an activity serialises");
    let read: A = serde_json::from_str(&body).expect("an activity we send reads back");
    assert_eq!(&read, activity);
    serde_json::from_str(&body).expect("the body is JSON")
}

/// What the inbox makes of it.
fn inbox(json: &Value) -> InboxActivity {
    serde_json::from_value(json.clone()).expect("the inbox reads it")
}

macro_rules! snapshot {
    ($name:expr, $json:expr) => {
        insta::assert_json_snapshot!($name, $json, {
            ".id" => "[id]",
            ".object.id" => "[id]",
            ".object.object.id" => "[id]",
            ".**.published" => "[date]",
            ".**.updated" => "[date]",
        })
    };
}

#[test]
fn follow() {
    let sent = Follow::new(
        "https://alpha.test/follows/1",
        &ana(),
        &actor(RUNNERS, ActorKind::Group),
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::Follow(read) if read == sent));
    snapshot!("follow", json);
}

#[test]
fn undo_follow() {
    let runners = actor(RUNNERS, ActorKind::Group);
    let sent = UndoFollow::new(
        activity_id("undo"),
        "https://alpha.test/follows/1",
        &ana(),
        &runners,
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::UndoFollow(read) if read == sent));
    snapshot!("undo_follow", json);
}

#[test]
fn accept_follow() {
    let sent = AcceptFollow::new(
        activity_id("accept"),
        "https://beta.test/follows/9",
        &ben(),
        &walkers(),
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::AcceptFollow(read) if read == sent));
    snapshot!("accept_follow", json);
}

#[test]
fn reject_follow() {
    let sent = RejectFollow::new(
        activity_id("reject"),
        "https://beta.test/follows/9",
        &ben(),
        &walkers(),
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::RejectFollow(read) if read == sent));
    snapshot!("reject_follow", json);
}

#[test]
fn flag() {
    let report = report::Model {
        id: 1,
        ap_id: "https://alpha.test/reports/1".into(),
        reporter_id: 2,
        target_id: Some(3),
        post_ids: String::new(),
        group_id: None,
        content: "Selling things".into(),
        state: ReportState::Open,
        incoming: false,
        created_at: when(),
        resolved_at: None,
    };
    let instance = actor("https://alpha.test/actor", ActorKind::Application);
    let sent = Flag::new(
        &report,
        &instance,
        &ben(),
        &["https://beta.test/notes/3".to_owned()],
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::Flag(read) if read == sent));
    snapshot!("flag", json);
}

fn ban(reason: Option<&str>, members_only: bool) -> BlockUser {
    BlockUser::new(
        activity_id("block"),
        &ana(),
        &ben(),
        &walkers(),
        reason,
        Addressing::moderation(&walkers(), members_only).expect("addressed"),
    )
    .expect("built")
}

#[test]
fn block_user() {
    let sent = ban(Some("Selling things"), false);
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::BlockUser(read) if read == sent));
    snapshot!("block_user", json);
}

#[test]
fn block_user_in_a_members_only_group_without_a_reason() {
    let sent = ban(None, true);
    let json = round_trip(&sent);
    assert_eq!(json["summary"], Value::Null, "sent as null, as Lemmy reads it");
    assert_eq!(json["to"], json!([format!("{WALKERS}/followers")]));
    snapshot!("block_user_members_only", json);
}

#[test]
fn undo_block_user() {
    let sent = UndoModeration::new(
        activity_id("undo"),
        &ana(),
        UndoneModeration::Block(ban(Some("Selling things"), false)),
        Addressing::moderation(&walkers(), false).expect("addressed"),
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::UndoModeration(read) if read == sent));
    snapshot!("undo_block_user", json);
}

#[test]
fn undo_block_user_in_a_members_only_group() {
    let sent = UndoModeration::new(
        activity_id("undo"),
        &ana(),
        UndoneModeration::Block(ban(Some("Selling things"), true)),
        Addressing::moderation(&walkers(), true).expect("addressed"),
    )
    .expect("built");
    let json = round_trip(&sent);
    let members = json!([format!("{WALKERS}/followers")]);
    assert_eq!(json["to"], members);
    assert_eq!(
        json["object"]["to"], members,
        "the undone ban's reason is addressed to the members alone"
    );
    assert!(matches!(inbox(&json), InboxActivity::UndoModeration(read) if read == sent));
}

#[test]
fn moderator_change() {
    for (kind, name) in [
        (ModeratorChangeKind::Add, "add_moderator"),
        (ModeratorChangeKind::Remove, "remove_moderator"),
    ] {
        let sent = ModeratorChange::new(
            activity_id(name),
            kind,
            &ana(),
            &ben(),
            &walkers(),
            Addressing::moderation(&walkers(), false).expect("addressed"),
        )
        .expect("built");
        let json = round_trip(&sent);
        assert!(matches!(inbox(&json), InboxActivity::ModeratorChange(read) if read == sent));
        snapshot!(name, json);
    }
}

#[test]
fn update_actor() {
    let group = walkers();
    let profile = ap_actor(&group, None, &NodeUrls::new("https", "alpha.test")).expect("a profile");
    let sent = UpdateActor::new(activity_id("update"), &group, profile).expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::UpdateActor(read) if read == sent));
    snapshot!("update_actor", json);
}

fn note() -> ApPost {
    serde_json::from_value(json!({
        "type": "Note",
        "id": POST,
        "attributedTo": ANA,
        "to": [public(), WALKERS],
        "cc": [format!("{ANA}/followers"), format!("{WALKERS}/followers")],
        "audience": WALKERS,
        "content": "<p><strong>Sunday walk</strong></p><p>Meet at the bridge</p>",
        "contentMap": {"en": "<p><strong>Sunday walk</strong></p><p>Meet at the bridge</p>"},
        "mediaType": "text/html",
        "source": {"content": "Meet at the bridge", "mediaType": "text/markdown"},
        "sensitive": false,
        "published": when(),
        "tag": [{"type": "Hashtag", "href": "https://alpha.test/tags/walking", "name": "#walking"}],
        "context": format!("{POST}/context"),
    }))
    .expect("a note")
}

#[test]
fn create_post() {
    let sent = CreatePost::new(activity_id("create"), &note()).expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::CreatePost(read) if read == sent));
    let object: ApPost = serde_json::from_value(json["object"].clone()).expect("the post reads back");
    assert_eq!(
        serde_json::to_value(object).ok(),
        serde_json::to_value(note()).ok()
    );
    snapshot!("create_post", json);
}

#[test]
fn update_post() {
    let sent = UpdatePost::new(activity_id("update"), &note()).expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::UpdatePost(read) if read == sent));
    snapshot!("update_post", json);
}

#[test]
fn delete_post() {
    let sent = DeletePost::new(activity_id("delete"), &ana(), POST, in_walkers(), None).expect("built");
    let json = round_trip(&sent);
    assert!(json.get("summary").is_none(), "an author's Delete has no reason");
    assert!(matches!(inbox(&json), InboxActivity::DeletePost(read) if read == sent));
    snapshot!("delete_post", json);
}

#[test]
fn remove_post() {
    let sent = DeletePost::new(
        activity_id("delete"),
        &ben(),
        POST,
        in_walkers(),
        Some("Off topic".into()),
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::DeletePost(read) if read == sent));
    snapshot!("remove_post", json);
}

fn lock() -> LockThread {
    LockThread::new(activity_id("lock"), &ana(), POST, in_walkers()).expect("built")
}

#[test]
fn lock_thread() {
    let sent = lock();
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::LockThread(read) if read == sent));
    snapshot!("lock_thread", json);
}

#[test]
fn unlock_thread() {
    let sent = UndoModeration::new(
        activity_id("undo"),
        &ana(),
        UndoneModeration::Lock(lock()),
        in_walkers(),
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::UndoModeration(read) if read == sent));
    snapshot!("unlock_thread", json);
}

fn like(kind: LikeKind, addressing: Addressing) -> Like {
    Like::new(url("https://beta.test/likes/4"), kind, &ben(), POST, addressing).expect("built")
}

#[test]
fn like_and_dislike() {
    for (kind, name) in [(LikeKind::Like, "like"), (LikeKind::Dislike, "dislike")] {
        let sent = like(kind, in_walkers());
        let json = round_trip(&sent);
        assert!(matches!(inbox(&json), InboxActivity::Like(read) if read == sent));
        snapshot!(name, json);
    }
}

#[test]
fn like_outside_groups() {
    let json = round_trip(&like(LikeKind::Like, outside_groups()));
    assert_eq!(json["audience"], Value::Null, "sent as null outside a group");
    assert_eq!(json["cc"], json!([]));
}

#[test]
fn undo_reaction() {
    let sent = UndoReaction::new(
        activity_id("undo"),
        &ben(),
        like(LikeKind::Like, in_walkers()),
        in_walkers(),
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::UndoReaction(read) if read == sent));
    snapshot!("undo_reaction", json);
}

fn counting() -> CountOnPledge {
    let backer = pledge_backer::Model {
        id: 1,
        pledge_id: 2,
        actor_id: 3,
        ap_id: "https://alpha.test/pledges/5/backers/1".into(),
        created_at: when(),
    };
    CountOnPledge::new(&backer, &ana(), "https://beta.test/pledges/5", &ben()).expect("built")
}

#[test]
fn count_on_pledge() {
    let sent = counting();
    let json = round_trip(&sent);
    // The inbox takes any Like first; `process` finds the pledge it names.
    assert!(matches!(inbox(&json), InboxActivity::Like(_)));
    snapshot!("count_on_pledge", json);
}

#[test]
fn stop_counting_on_pledge() {
    let sent = StopCountingOnPledge::new(activity_id("undo"), counting());
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::UndoReaction(_)));
    snapshot!("stop_counting_on_pledge", json);
}

fn event() -> ApEvent {
    serde_json::from_value(json!({
        "type": "Event",
        "id": "https://alpha.test/events/3",
        "attributedTo": WALKERS,
        "actor": ANA,
        "name": "Sunday walk",
        "content": "<p>Sunday 4 May, 10:00 · The bridge</p><p>Boots</p>",
        "description": "<p>Boots</p>",
        "url": "https://alpha.test/events/3",
        "startTime": when(),
        "timezone": "Europe/London",
        "location": {"type": "Place", "name": "The bridge"},
        "attachment": [],
        "isOnline": false,
        "participantCount": 4,
        "joinMode": "free",
        "ical:status": "CONFIRMED",
        "eventKind": "meeting",
        "anonymousParticipationEnabled": false,
        "to": [public(), WALKERS],
        "cc": [format!("{ANA}/followers"), format!("{WALKERS}/followers")],
        "published": when(),
    }))
    .expect("an event")
}

#[test]
fn create_and_update_event() {
    for (change, name) in [
        (EventChange::Create, "create_event"),
        (EventChange::Update, "update_event"),
    ] {
        let sent = CreateEvent::new(activity_id(name), change, &ana(), event()).expect("built");
        let json = round_trip(&sent);
        snapshot!(name, json);
    }
}

#[test]
fn delete_event() {
    let addressing = in_walkers();
    let sent = DeleteEvent::new(
        activity_id("delete"),
        &ana(),
        "https://alpha.test/events/3",
        addressing.to,
        addressing.cc,
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::DeletePost(_)));
    snapshot!("delete_event", json);
}

fn participant(message: Option<&str>) -> event_participant::Model {
    event_participant::Model {
        id: 1,
        event_id: 2,
        actor_id: 3,
        ap_id: "https://alpha.test/joins/1".into(),
        state: ParticipantState::Accepted,
        message: message.map(str::to_owned),
        created_at: when(),
    }
}

#[test]
fn join_event() {
    let runners = actor(RUNNERS, ActorKind::Group);
    for (message, name) in [
        (Some("I bring tea"), "join_event"),
        (None, "join_event_without_a_message"),
    ] {
        let sent = JoinEvent::new(
            &participant(message),
            &ana(),
            "https://beta.test/events/8",
            &runners,
        )
        .expect("built");
        let json = round_trip(&sent);
        assert!(matches!(inbox(&json), InboxActivity::JoinEvent(read) if read == sent));
        snapshot!(name, json);
    }
}

#[test]
fn leave_event() {
    let runners = actor(RUNNERS, ActorKind::Group);
    let sent = LeaveEvent::new(
        activity_id("leave"),
        &ana(),
        "https://beta.test/events/8",
        &runners,
    )
    .expect("built");
    let json = round_trip(&sent);
    assert!(matches!(inbox(&json), InboxActivity::LeaveEvent(read) if read == sent));
    snapshot!("leave_event", json);
}

#[test]
fn answer_join() {
    for (answer, name) in [(Answer::Accept, "accept_join"), (Answer::Reject, "reject_join")] {
        let sent = AnswerJoin::new(
            activity_id(name),
            answer,
            &walkers(),
            &participant(None),
            &ben(),
            "https://alpha.test/events/3",
        )
        .expect("built");
        let json = round_trip(&sent);
        assert!(matches!(inbox(&json), InboxActivity::AnswerJoin(read) if read == sent));
        snapshot!(name, json);
    }
}

fn garden_item() -> ApGardenItem {
    serde_json::from_value(json!({
        "type": "Note",
        "id": "https://alpha.test/garden/2",
        "attributedTo": ANA,
        "to": [public(), WALKERS],
        "cc": [format!("{ANA}/followers"), format!("{WALKERS}/followers")],
        "audience": WALKERS,
        "title": "Walking prescriptions",
        "abstract": "GPs prescribe a weekly group walk.",
        "content": "<p><strong>Walking prescriptions</strong></p><p>GPs prescribe a weekly group walk.</p>",
        "mediaType": "text/html",
        "published": when(),
        "gardenKind": "pattern",
        "revision": 2,
        "revisionMessage": "Clearer problem",
        "license": "CC-BY-SA-4.0",
        "problem": "Loneliness",
    }))
    .expect("a garden item")
}

#[test]
fn create_and_update_garden_item() {
    for (change, name) in [
        (GardenChange::Create, "create_garden_item"),
        (GardenChange::Update, "update_garden_item"),
    ] {
        let sent = CreateGardenItem::new(activity_id(name), change, &ana(), garden_item()).expect("built");
        let json = round_trip(&sent);
        snapshot!(name, json);
    }
}

#[test]
fn delete_garden_item() {
    let addressing = in_walkers();
    let sent = DeleteGardenItem::new(
        activity_id("delete"),
        &ana(),
        "https://alpha.test/garden/2",
        addressing.to,
        addressing.cc,
    )
    .expect("built");
    let json = round_trip(&sent);
    snapshot!("delete_garden_item", json);
}

#[test]
fn create_adoption() {
    let adoption: ApAdoption = serde_json::from_value(json!({
        "type": "Adoption",
        "id": "https://alpha.test/adoptions/1",
        "attributedTo": ANA,
        "object": "https://beta.test/garden/4",
        "to": [public()],
        "cc": [format!("{ANA}/followers")],
        "content": "<p>In our village</p>",
        "outcome": "<p>Twelve walkers</p>",
        "measuredBy": ["https://beta.test/garden/5"],
        "published": when(),
    }))
    .expect("an adoption");
    let sent = CreateAdoption::new(activity_id("create"), &ana(), adoption).expect("built");
    let json = round_trip(&sent);
    snapshot!("create_adoption", json);
}

fn question() -> ApQuestion {
    serde_json::from_value(json!({
        "type": "Question",
        "id": "https://alpha.test/questions/6",
        "attributedTo": ANA,
        "audience": WALKERS,
        "content": "<p>Which day?</p>",
        "oneOf": [
            {"type": "Note", "name": "Saturday", "replies": {"type": "Collection", "totalItems": 3}},
            {"type": "Note", "name": "Sunday", "replies": {"type": "Collection", "totalItems": 5}},
        ],
        "endTime": when(),
        "votersCount": 8,
        "to": [public(), WALKERS],
        "cc": [format!("{ANA}/followers"), format!("{WALKERS}/followers")],
        "published": when(),
    }))
    .expect("a question")
}

#[test]
fn create_and_update_question() {
    for (change, name) in [
        (QuestionChange::Create, "create_question"),
        (QuestionChange::Update, "update_question"),
    ] {
        let sent = CreateQuestion::new(activity_id(name), change, &ana(), question()).expect("built");
        let json = round_trip(&sent);
        snapshot!(name, json);
    }
}

#[test]
fn vote() {
    let row = vote::Model {
        id: 1,
        question_id: 2,
        option_id: 3,
        actor_id: 4,
        ap_id: "https://alpha.test/votes/1".into(),
        created_at: when(),
    };
    let sent = Vote::new(&row, &ana(), "Sunday", "https://beta.test/questions/6", &ben()).expect("built");
    let json = round_trip(&sent);
    let note: VoteNote = serde_json::from_value(json["object"].clone()).expect("the vote's note reads back");
    assert_eq!(note.name, "Sunday");
    assert_eq!(
        crate::objects::question::vote_parts(&json["object"]),
        Some(("Sunday".to_owned(), url("https://beta.test/questions/6"))),
        "the inbox takes it for a vote"
    );
    snapshot!("vote", json);
}

fn pledge() -> ApPledge {
    serde_json::from_value(json!({
        "type": "Note",
        "id": "https://alpha.test/pledges/5",
        "attributedTo": ANA,
        "inReplyTo": "https://alpha.test/events/3",
        "audience": WALKERS,
        "content": "<p>I will bring tea.</p>",
        "pledgeAction": "bring tea",
        "pledgeStatus": "open",
        "pledgeDue": "2026-05-04",
        "backersCount": 2,
        "to": [public(), WALKERS],
        "cc": [format!("{ANA}/followers"), format!("{WALKERS}/followers")],
        "published": when(),
    }))
    .expect("a pledge")
}

#[test]
fn create_and_update_pledge() {
    for (change, name) in [
        (PledgeChange::Create, "create_pledge"),
        (PledgeChange::Update, "update_pledge"),
    ] {
        let sent = CreatePledge::new(activity_id(name), change, &ana(), pledge()).expect("built");
        let json = round_trip(&sent);
        snapshot!(name, json);
    }
}

#[test]
fn announce_of_an_activity() {
    let create = serde_json::to_value(CreatePost::new(activity_id("create"), &note()).expect("built"))
        .expect("serialises");
    for (members_only, name) in [(false, "announce"), (true, "announce_members_only")] {
        let sent = Announce::relay(activity_id("announce"), &walkers(), create.clone(), members_only)
            .expect("built");
        let json = round_trip(&sent);
        assert!(matches!(inbox(&json), InboxActivity::Announce(read) if read == sent));
        snapshot!(name, json);
    }
}

#[test]
fn boost_and_its_undo() {
    let boost =
        Announce::boost(url(&format!("{WALKERS}/boosts/7")), &walkers(), POST, when()).expect("built");
    let json = round_trip(&boost);
    assert!(matches!(inbox(&json), InboxActivity::Announce(read) if read == boost));
    snapshot!("boost", json);

    let undo = UndoAnnounce::new(activity_id("undo"), boost);
    let json = round_trip(&undo);
    assert!(matches!(inbox(&json), InboxActivity::UndoReaction(_)));
    snapshot!("undo_boost", json);
}
