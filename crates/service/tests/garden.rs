//! The garden on every backend: full-text search finds the same items in the
//! same order on SQLite (FTS5) and PostgreSQL (tsvector) for a fixed corpus,
//! and items from other nodes change only by their author. CI sets
//! `HEALTHCOMMONS_TEST_POSTGRES_URL` so both run; without it only SQLite does.

mod rig;

use chrono::{Duration, TimeZone, Utc};
use healthcommons_core::garden::{Content, Kind, Place};
use healthcommons_db::{Db, entities::actor, queries, queries::posts::Page, testing};
use healthcommons_service::garden::{self, Query, RemoteItem, StoredItem};

/// kind, title, summary, a field's text, tags, place
type CorpusItem = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
);

const CORPUS: &[CorpusItem] = &[
    (
        "pattern",
        "Walking prescriptions",
        "GPs prescribe a weekly walk.",
        "Walk together every Monday.",
        &["walking", "prescribing"],
        "Leeds",
    ),
    (
        "pattern",
        "Peer support circles",
        "Patients meet to share what helps.",
        "Self-help groups meet monthly.",
        &["peer-support"],
        "Zürich",
    ),
    (
        "pattern",
        "Community kitchens",
        "Cook and eat together.",
        "A café opens its kitchen on Sundays.",
        &["food"],
        "Lyon",
    ),
    (
        "pattern",
        "Green social prescribing",
        "Gardening as therapy.",
        "Walkers and gardeners share plots.",
        &["gardening", "prescribing"],
        "Leeds",
    ),
    (
        "pattern",
        "Health champions",
        "Neighbours trained to share health information.",
        "Champions meet 24/7 online.",
        &["training"],
        "Bristol",
    ),
    (
        "metric",
        "Weekly active walkers",
        "People who walked at least once a week.",
        "Count walkers at each walk.",
        &["walking"],
        "",
    ),
    (
        "metric",
        "GP visits per patient",
        "Visits in the last year.",
        "From practice records.",
        &["prescribing"],
        "",
    ),
    (
        "metric",
        "Loneliness score",
        "UCLA three-item scale.",
        "Ask at the start and after six months.",
        &["wellbeing"],
        "",
    ),
    (
        "story",
        "Dales walkers",
        "Forty people walk weekly now.",
        "We started walking in May 2025.",
        &["walking"],
        "Skipton",
    ),
    (
        "story",
        "Café conversations",
        "A café became a meeting place.",
        "Older people come on Tuesdays.",
        &["food", "wellbeing"],
        "Lyon",
    ),
    (
        "story",
        "Self-help in Zürich",
        "Peer circles for chronic pain.",
        "Twelve circles meet monthly.",
        &["peer-support"],
        "Zürich",
    ),
    (
        "pattern",
        "Walk leaders",
        "Volunteers lead walks.",
        "Leaders walk at the pace of the slowest.",
        &["walking", "volunteering"],
        "Bristol",
    ),
];

/// words, kind, tag, place
type SearchCase = (
    &'static str,
    Option<Kind>,
    Option<&'static str>,
    Option<&'static str>,
);

const QUERIES: &[SearchCase] = &[
    ("walk", None, None, None),
    ("walkers", None, None, None),
    ("walk", Some(Kind::Metric), None, None),
    ("walk weekly", None, None, None),
    ("café", None, None, None),
    ("cafe", None, None, None),
    ("zürich", None, None, None),
    ("self-help", None, None, None),
    ("24/7", None, None, None),
    ("prescrib", None, None, None),
    ("", None, Some("prescribing"), None),
    ("", Some(Kind::Story), None, None),
    ("meet", None, None, Some("zür")),
    ("nothing-like-this", None, None, None),
];

async fn remote_author(db: &Db) -> actor::Model {
    rig::remote_person(db, "writer").await
}

async fn load_corpus(db: &Db) {
    let author = remote_author(db).await;
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("date");
    for (index, (kind, title, summary, text, tags, place)) in CORPUS.iter().enumerate() {
        let kind = Kind::parse(kind).expect("kind");
        let field = kind.fields()[0].0.to_owned();
        let content = Content {
            title: (*title).into(),
            summary: (*summary).into(),
            fields: [(field, (*text).to_owned())].into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            license: "CC-BY-SA-4.0".into(),
            place: (!place.is_empty()).then(|| Place {
                name: (*place).into(),
                latitude: None,
                longitude: None,
            }),
            ..Default::default()
        };
        let stored = garden::store_remote(
            db,
            RemoteItem {
                visibility: healthcommons_db::entities::Visibility::Public,
                ap_id: format!("https://far.example/garden/{index}"),
                url: None,
                kind,
                author: author.clone(),
                group: None,
                content,
                revision: 1,
                message: None,
                provenance: Vec::new(),
                published: start + Duration::days(index as i64),
                updated: None,
            },
        )
        .await
        .expect("store");
        assert!(matches!(stored, StoredItem::Created(_)));
    }
}

async fn results(db: &Db) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for (text, kind, tag, place) in QUERIES {
        let found = garden::search(
            db,
            healthcommons_service::policy::Viewer::Anonymous,
            Query {
                text,
                kind: *kind,
                tag: *tag,
                place: *place,
                drafts: false,
            },
            Page { number: 1, size: 50 },
        )
        .await
        .expect("search");
        all.push(found.into_iter().map(|v| v.item.title).collect());
    }
    all
}

#[tokio::test]
async fn search_finds_the_same_items_in_the_same_order_on_every_backend() {
    let mut per_backend = Vec::new();
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        load_corpus(&db).await;
        per_backend.push((backend, results(&db).await));
    }
    let (_, sqlite) = &per_backend[0];
    let expect = |query: usize, titles: &[&str]| {
        assert_eq!(sqlite[query], titles, "query {:?}", QUERIES[query]);
    };
    // Titles with the words rank first, then summaries, then newest.
    expect(
        0,
        &[
            "Walk leaders",
            "Dales walkers",
            "Weekly active walkers",
            "Walking prescriptions",
            "Green social prescribing",
        ],
    );
    expect(
        1,
        &[
            "Dales walkers",
            "Weekly active walkers",
            "Green social prescribing",
        ],
    );
    expect(2, &["Weekly active walkers"]);
    expect(
        3,
        &["Weekly active walkers", "Dales walkers", "Walking prescriptions"],
    );
    expect(4, &["Café conversations", "Community kitchens"]);
    // No accent folding on either side: "cafe" is another word.
    expect(5, &[]);
    expect(6, &["Self-help in Zürich", "Peer support circles"]);
    expect(7, &["Self-help in Zürich", "Peer support circles"]);
    expect(8, &["Health champions"]);
    expect(
        9,
        &[
            "Green social prescribing",
            "Walking prescriptions",
            "GP visits per patient",
        ],
    );
    expect(
        10,
        &[
            "GP visits per patient",
            "Green social prescribing",
            "Walking prescriptions",
        ],
    );
    expect(
        11,
        &["Self-help in Zürich", "Café conversations", "Dales walkers"],
    );
    expect(12, &["Peer support circles", "Self-help in Zürich"]);
    expect(13, &[]);
    for (backend, found) in &per_backend[1..] {
        assert_eq!(found, sqlite, "{backend} and SQLite disagree");
    }
}

#[tokio::test]
async fn another_person_on_the_same_node_cannot_revise_an_item() {
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        load_corpus(&db).await;
        let intruder = rig::remote_person(&db, "intruder").await;
        let refused = garden::store_remote(
            &db,
            RemoteItem {
                visibility: healthcommons_db::entities::Visibility::Public,
                ap_id: "https://far.example/garden/0".into(),
                url: None,
                kind: Kind::Pattern,
                author: intruder,
                group: None,
                content: Content {
                    title: "Taken over".into(),
                    summary: "Not the author's words.".into(),
                    license: "CC-BY-SA-4.0".into(),
                    ..Default::default()
                },
                revision: 2,
                message: None,
                provenance: Vec::new(),
                published: Utc::now(),
                updated: None,
            },
        )
        .await;
        assert!(refused.is_err(), "{backend}");
        let item = queries::garden::by_ap_id(&db, "https://far.example/garden/0")
            .await
            .expect("query")
            .expect("item");
        assert_eq!(
            (item.title.as_str(), item.revision),
            ("Walking prescriptions", 1),
            "{backend}"
        );
    }
}

fn remote_post(
    author: &actor::Model,
    id: &str,
    in_reply_to: &str,
) -> healthcommons_service::posts::RemotePost {
    healthcommons_service::posts::RemotePost {
        ap_id: id.into(),
        url: None,
        author: author.clone(),
        group: None,
        in_reply_to: Some(in_reply_to.into()),
        title: None,
        content_html: format!("<p>{id}</p>"),
        summary: None,
        sensitive: false,
        language: None,
        visibility: healthcommons_db::entities::Visibility::Public,
        published: Utc::now(),
        updated: None,
        tags: Vec::new(),
    }
}

#[tokio::test]
async fn replies_that_arrive_before_their_item_join_its_discussion_when_it_comes() {
    use healthcommons_service::posts;
    for backend in testing::backends() {
        let db = testing::fresh(backend).await.expect(backend);
        let author = remote_author(&db).await;
        let mia = rig::remote_person(&db, "mia").await;
        let item_id = "https://far.example/garden/late";
        let comment = "https://far.example/notes/1";
        let answer = "https://far.example/notes/2";
        posts::store_remote(&db, remote_post(&mia, comment, item_id))
            .await
            .expect(backend);
        posts::store_remote(&db, remote_post(&author, answer, comment))
            .await
            .expect(backend);
        let waiting = queries::posts::by_ap_id(&db, comment)
            .await
            .expect("query")
            .expect("comment");
        assert!(
            !waiting.is_placed(),
            "{backend}: a reply to something unknown waits"
        );

        let stored = garden::store_remote(
            &db,
            RemoteItem {
                visibility: healthcommons_db::entities::Visibility::Public,
                ap_id: item_id.into(),
                url: None,
                kind: Kind::Story,
                author: author.clone(),
                group: None,
                content: Content {
                    title: "Late story".into(),
                    summary: "It came after its replies.".into(),
                    license: "CC-BY-SA-4.0".into(),
                    ..Default::default()
                },
                revision: 1,
                message: None,
                provenance: Vec::new(),
                published: Utc::now(),
                updated: None,
            },
        )
        .await
        .expect(backend);
        let StoredItem::Created(item) = stored else {
            panic!("{backend}: the item is new")
        };
        let (processor, ..) = rig::processor_on(&db);
        let threads = processor.posts().discussion(None, &item).await.expect(backend);
        assert_eq!(threads.len(), 1, "{backend}");
        assert_eq!(threads[0].root.post.ap_id, comment, "{backend}");
        let replies: Vec<&str> = threads[0].replies.iter().map(|r| r.post.ap_id.as_str()).collect();
        assert_eq!(replies, vec![answer], "{backend}");
        assert_eq!(
            threads[0].root.post.replies, 1,
            "{backend}: the thread counts its reply"
        );
    }
}
