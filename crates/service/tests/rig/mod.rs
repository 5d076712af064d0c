//! The processing layer's test rig, in GoToSocial's style: a database seeded
//! with named people, working groups, threads and garden items, and a
//! processor whose publisher records what it would send and whose resolver
//! answers from this database only. These tests have no network; the real
//! resolver (signed fetches) runs in `federation-tests`, between real nodes.

#![allow(dead_code)] // each test binary uses its own part of the rig

use chrono::Utc;
use healthcommons_core::garden::{ItemStatus, Kind};
use healthcommons_db::{
    Db,
    entities::{ActorKind, FollowState, Visibility, actor, garden_item, post},
    queries, testing,
};
use healthcommons_service::{
    NodeContext, Outgoing, Processor, Publisher, Resolver, ServiceError, ServiceResult,
    accounts::{self, Account, Registration, Role},
    groups::{NewGroup, Settings},
    posts::Compose,
};
use sea_orm::{ActiveValue::Set, DatabaseTransaction};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};
use url::Url;

pub const DOMAIN: &str = "here.example";

/// Keeps every outgoing activity instead of queueing deliveries.
#[derive(Default)]
pub struct RecordingPublisher(Mutex<Vec<Outgoing>>);

#[async_trait::async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(&self, _txn: &DatabaseTransaction, outgoing: Outgoing) -> ServiceResult<()> {
        self.0
            .lock()
            .map_err(|_| ServiceError::Internal("poisoned".into()))?
            .push(outgoing);
        Ok(())
    }
}

/// Answers from what the database holds, and remembers what it was asked.
pub struct LocalResolver {
    db: Db,
    asked: Mutex<Vec<String>>,
}

impl LocalResolver {
    fn note(&self, what: &str) {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push(what.to_owned());
        }
    }
}

#[async_trait::async_trait]
impl Resolver for LocalResolver {
    async fn actor(&self, query: &str) -> ServiceResult<actor::Model> {
        self.note(query);
        queries::actors::by_ap_id(&self.db, query)
            .await?
            .ok_or_else(|| ServiceError::not_found("not found"))
    }

    async fn reply_target(&self, url: &Url) -> ServiceResult<()> {
        self.note(url.as_str());
        Ok(())
    }

    async fn garden_item(&self, id: &str) -> ServiceResult<garden_item::Model> {
        self.note(id);
        queries::garden::by_ap_id(&self.db, id)
            .await?
            .ok_or_else(|| ServiceError::not_found("not found"))
    }

    async fn refresh_origin(&self, fork: &garden_item::Model) -> ServiceResult<garden_item::Model> {
        let origin = fork
            .forked_from
            .as_deref()
            .ok_or_else(|| ServiceError::validation("this item is not a fork"))?;
        self.garden_item(origin).await
    }
}

/// Counts the statements run on the processor's read-only connections.
#[derive(Default)]
pub struct StatementCounter(AtomicUsize);

/// A processor on `db` with a recording publisher, a local resolver and a
/// count of what its reads cost.
pub fn processor_on(
    db: &Db,
) -> (
    Processor,
    Arc<RecordingPublisher>,
    Arc<LocalResolver>,
    Arc<StatementCounter>,
) {
    let publisher = Arc::new(RecordingPublisher::default());
    let resolver = Arc::new(LocalResolver {
        db: db.clone(),
        asked: Mutex::new(Vec::new()),
    });
    let counter = Arc::new(StatementCounter::default());
    let mut readers = db.clone();
    let counting = counter.clone();
    readers.set_metric_callback(move |_| {
        counting.0.fetch_add(1, Ordering::Relaxed);
    });
    let processor = Processor::new(
        db.clone(),
        readers,
        NodeContext::new(DOMAIN, true),
        publisher.clone(),
        resolver.clone(),
    );
    (processor, publisher, resolver, counter)
}

/// The seeded world. People here: `ana` moderates both groups, `ben` is a
/// member of both, `cai` of neither, `dee` asked to join the circle and
/// waits. `walkers` is public and open; `circle` is members-only with a
/// members-only thread. `mia` is a person on `far.example` with a garden
/// pattern there.
pub struct Rig {
    pub backend: &'static str,
    pub processor: Processor,
    publisher: Arc<RecordingPublisher>,
    resolver: Arc<LocalResolver>,
    reads: Arc<StatementCounter>,
    accounts: HashMap<&'static str, Account>,
    actors: HashMap<&'static str, actor::Model>,
    /// The thread start `ben` wrote in `walkers`, and the one in `circle`.
    pub walkers_thread: post::Model,
    pub circle_thread: post::Model,
    /// `mia`'s pattern on `far.example`.
    pub far_pattern: garden_item::Model,
}

pub const PEOPLE: [&str; 4] = ["ana", "ben", "cai", "dee"];

impl Rig {
    /// One rig per backend the suite covers on this machine.
    pub async fn every_backend() -> Vec<Rig> {
        let mut rigs = Vec::new();
        for backend in testing::backends() {
            rigs.push(Rig::seeded(backend).await);
        }
        rigs
    }

    pub async fn seeded(backend: &'static str) -> Rig {
        let db = testing::fresh(backend).await.expect("database");
        let (processor, publisher, resolver, reads) = processor_on(&db);
        let ctx = processor.node().clone();
        let mut accounts = HashMap::new();
        for name in PEOPLE {
            let registration = Registration {
                username: name,
                password: "a long enough passphrase",
                email: None,
            };
            let account = accounts::create_account(&db, &ctx, registration, Role::Member, true)
                .await
                .expect("account");
            accounts.insert(name, account);
        }
        let mut actors = HashMap::new();
        for (name, visibility) in [("walkers", "public"), ("circle", "members")] {
            let group = processor
                .groups()
                .create(
                    &accounts["ana"],
                    NewGroup {
                        name,
                        display_name: name,
                        summary: "",
                        manually_approves_followers: false,
                        settings: Settings {
                            visibility: Some(visibility),
                            ..Settings::default()
                        },
                    },
                )
                .await
                .expect("group");
            for (person, state) in [("ben", FollowState::Accepted), ("ana", FollowState::Accepted)] {
                follow(&db, &accounts[person].person, &group, state).await;
            }
            actors.insert(name, group);
        }
        follow(
            &db,
            &accounts["dee"].person,
            &actors["circle"],
            FollowState::Pending,
        )
        .await;
        let mia = remote_person(&db, "mia").await;
        let far_pattern = queries::garden::insert(&db, remote_pattern(&mia))
            .await
            .expect("remote pattern");
        actors.insert("mia", mia);
        let walkers_thread = thread(&processor, &accounts["ben"], "walkers", "Saturday walk").await;
        let circle_thread = thread(&processor, &accounts["ben"], "circle", "How was your week").await;
        let rig = Rig {
            backend,
            processor,
            publisher,
            resolver,
            reads,
            accounts,
            actors,
            walkers_thread,
            circle_thread,
            far_pattern,
        };
        rig.sent();
        rig
    }

    pub fn account(&self, name: &str) -> &Account {
        self.accounts
            .get(name)
            .unwrap_or_else(|| panic!("no account {name}"))
    }

    /// A group or a remote person of the seed.
    pub fn actor(&self, name: &str) -> &actor::Model {
        self.actors.get(name).unwrap_or_else(|| panic!("no actor {name}"))
    }

    pub fn db(&self) -> &Db {
        self.processor.db()
    }

    /// What was published since the last call.
    pub fn sent(&self) -> Vec<Outgoing> {
        std::mem::take(&mut *self.publisher.0.lock().expect("recorder"))
    }

    /// How many statements the processor's reads ran since the last call.
    pub fn statements_read(&self) -> usize {
        self.reads.0.swap(0, Ordering::Relaxed)
    }

    /// What the resolver was asked since the last call.
    pub fn asked(&self) -> Vec<String> {
        std::mem::take(&mut *self.resolver.asked.lock().expect("resolver"))
    }

    /// A thread start by `person` in `group`.
    pub async fn thread_by(&self, person: &str, group: &str, title: &str) -> post::Model {
        thread(&self.processor, self.account(person), group, title).await
    }
}

async fn thread(processor: &Processor, author: &Account, group: &str, title: &str) -> post::Model {
    let compose = Compose {
        title: Some(title),
        content: "Who is coming?",
        ..Compose::default()
    };
    processor
        .posts()
        .create(author, Some(group), compose)
        .await
        .expect("thread")
}

async fn follow(db: &Db, follower: &actor::Model, group: &actor::Model, state: FollowState) {
    let id = format!("https://{DOMAIN}/follows/{}-{}", follower.id, group.id);
    queries::follows::upsert(db, &id, follower.id, group.id, state)
        .await
        .expect("follow");
}

/// A person on `far.example`.
pub async fn remote_person(db: &Db, name: &str) -> actor::Model {
    let now = Utc::now();
    let ap_id = format!("https://far.example/u/{name}");
    queries::actors::insert(
        db,
        actor::ActiveModel {
            ap_id: Set(ap_id.clone()),
            kind: Set(ActorKind::Person),
            local: Set(false),
            username: Set(name.into()),
            host: Set("far.example".into()),
            inbox: Set(format!("{ap_id}/inbox")),
            followers_url: Set(Some(format!("{ap_id}/followers"))),
            public_key_id: Set(format!("{ap_id}#main-key")),
            public_key_pem: Set("pem".into()),
            manually_approves_followers: Set(false),
            discoverable: Set(true),
            published: Set(now),
            last_fetched_at: Set(now),
            ..Default::default()
        },
    )
    .await
    .expect("remote person")
}

fn remote_pattern(author: &actor::Model) -> garden_item::ActiveModel {
    garden_item::ActiveModel {
        ap_id: Set("https://far.example/garden/walking-groups".into()),
        url: Set(Some("https://far.example/garden/walking-groups".into())),
        kind: Set(Kind::Pattern),
        author_id: Set(Some(author.id)),
        visibility: Set(Visibility::Public),
        status: Set(ItemStatus::Published),
        title: Set("Walking groups".into()),
        summary: Set("Walk together weekly".into()),
        content: Set(
            r#"{"title":"Walking groups","summary":"Walk together weekly","fields":{},"license":"CC-BY-SA-4.0"}"#
                .into(),
        ),
        content_html: Set("<p>Meet at the park.</p>".into()),
        license: Set("CC-BY-SA-4.0".into()),
        revision: Set(1),
        provenance: Set("[]".into()),
        origin_gone: Set(false),
        local: Set(false),
        published: Set(Utc::now()),
        ..Default::default()
    }
}
