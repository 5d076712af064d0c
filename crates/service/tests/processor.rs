//! The processor's rules as tables, on the seeded rig: who may start a
//! thread, reply, read, delete or remove, fork and adopt, and what each
//! use case hands the publisher. Runs on SQLite, and on PostgreSQL when
//! `HEALTHCOMMONS_TEST_POSTGRES_URL` is set.

mod rig;

use healthcommons_core::ErrorKind;
use healthcommons_db::queries::posts::Page;
use healthcommons_service::{
    Outgoing, ServiceResult,
    garden::AdoptionInput,
    policy::Viewer,
    posts::{Compose, Feed},
};
use rig::Rig;

/// What a use case came to: the activities it published, or the kind of its refusal.
#[derive(Debug, PartialEq)]
enum Outcome {
    Sent(Vec<&'static str>),
    Refused(ErrorKind),
}

/// The name of an outgoing activity, so that tables need not know row ids.
fn name(outgoing: &Outgoing) -> &'static str {
    match outgoing {
        Outgoing::CreatePost { .. } => "CreatePost",
        Outgoing::DeletePost { .. } => "DeletePost",
        Outgoing::RemovePost { .. } => "RemovePost",
        Outgoing::LockThread { .. } => "LockThread",
        Outgoing::React { .. } => "React",
        Outgoing::CreateGardenItem { .. } => "CreateGardenItem",
        Outgoing::Adopt { .. } => "Adopt",
        _ => "other",
    }
}

fn outcome<T>(rig: &Rig, result: ServiceResult<T>) -> Outcome {
    match result {
        Ok(_) => Outcome::Sent(rig.sent().iter().map(name).collect()),
        Err(err) => {
            assert!(rig.sent().is_empty(), "a refused use case published nothing");
            Outcome::Refused(err.kind())
        }
    }
}

use Outcome::{Refused, Sent};

#[tokio::test]
async fn who_may_start_a_thread_where() {
    let far_person = "https://far.example/u/mia";
    let table: [(&str, &str, Option<&str>, Outcome); 6] = [
        ("ben", "walkers", Some("Picnic"), Sent(vec!["CreatePost"])),
        // `walkers` is open: anyone with an account here may start a thread.
        ("cai", "walkers", Some("Picnic"), Sent(vec!["CreatePost"])),
        ("ben", "walkers", None, Refused(ErrorKind::Validation)),
        ("ben", "walkers", Some("   "), Refused(ErrorKind::Validation)),
        ("ben", "nowhere", Some("Picnic"), Refused(ErrorKind::NotFound)),
        ("ben", far_person, Some("Picnic"), Refused(ErrorKind::Validation)),
    ];
    for rig in Rig::every_backend().await {
        for (who, group, title, expected) in &table {
            let compose = Compose {
                title: *title,
                content: "Bring a rug.",
                ..Compose::default()
            };
            let result = rig
                .processor
                .posts()
                .create(rig.account(who), Some(group), compose)
                .await;
            assert_eq!(
                &outcome(&rig, result),
                expected,
                "{who} in {group} ({})",
                rig.backend
            );
        }
        // A group named by URL is looked up through the resolver.
        assert_eq!(rig.asked(), vec![far_person.to_owned()], "{}", rig.backend);
    }
}

#[tokio::test]
async fn a_reply_reaches_only_what_its_author_may_read() {
    for rig in Rig::every_backend().await {
        let walkers = rig.walkers_thread.ap_id.clone();
        let circle = rig.circle_thread.ap_id.clone();
        let table = [
            ("ben", &walkers, Sent(vec!["CreatePost"])),
            ("cai", &walkers, Sent(vec!["CreatePost"])),
            ("ana", &circle, Sent(vec!["CreatePost"])),
            // Neither an outsider nor someone still waiting to join learns
            // that a members-only thread exists.
            ("cai", &circle, Refused(ErrorKind::NotFound)),
            ("dee", &circle, Refused(ErrorKind::NotFound)),
        ];
        for (who, parent, expected) in table {
            let compose = Compose {
                content: "Count me in",
                in_reply_to: Some(parent),
                ..Compose::default()
            };
            let result = rig
                .processor
                .posts()
                .create(rig.account(who), None, compose)
                .await;
            assert_eq!(
                outcome(&rig, result),
                expected,
                "{who} under {parent} ({})",
                rig.backend
            );
            // The parent is made known first, whoever asks.
            assert_eq!(rig.asked(), vec![parent.clone()], "{}", rig.backend);
        }
    }
}

#[tokio::test]
async fn a_thread_is_read_by_whom_the_policy_lets() {
    for rig in Rig::every_backend().await {
        let table = [
            (None, &rig.walkers_thread, true),
            (Some("cai"), &rig.walkers_thread, true),
            (None, &rig.circle_thread, false),
            (Some("cai"), &rig.circle_thread, false),
            (Some("dee"), &rig.circle_thread, false),
            (Some("ben"), &rig.circle_thread, true),
            (Some("ana"), &rig.circle_thread, true),
        ];
        for (who, thread, readable) in table {
            let viewer = who.map(|w| &rig.account(w).person);
            let read = rig.processor.posts().thread(viewer, &thread.ap_id).await;
            match read {
                Ok(view) => {
                    assert!(readable, "{who:?} read {} ({})", thread.ap_id, rig.backend);
                    assert_eq!(view.root.post.id, thread.id);
                }
                Err(err) => {
                    assert!(!readable, "{who:?} could not read {}: {err}", thread.ap_id);
                    assert_eq!(
                        err.kind(),
                        ErrorKind::NotFound,
                        "a refusal does not say it exists"
                    );
                }
            }
            let history = rig.processor.posts().history(viewer, &thread.ap_id).await;
            assert_eq!(history.is_ok(), readable, "history for {who:?} ({})", rig.backend);
        }
    }
}

#[tokio::test]
async fn its_author_deletes_a_post_and_a_moderator_removes_it_with_a_reason() {
    for rig in Rig::every_backend().await {
        let table = [
            ("cai", "ben", None, Refused(ErrorKind::Forbidden)),
            ("ben", "ben", None, Sent(vec!["DeletePost"])),
            ("ana", "ben", Some("  off topic  "), Sent(vec!["RemovePost"])),
        ];
        for (who, author, reason, expected) in table {
            let post = rig.thread_by(author, "walkers", "To go").await;
            rig.sent();
            let result = rig
                .processor
                .posts()
                .delete(rig.account(who), &post.ap_id, reason)
                .await;
            if let (Ok(()), Some(_)) = (&result, reason) {
                let sent = rig.sent();
                assert!(
                    matches!(&sent[..], [Outgoing::RemovePost { reason: Some(r), .. }] if r == "off topic"),
                    "the reason travels, trimmed: {sent:?}"
                );
                continue;
            }
            assert_eq!(
                outcome(&rig, result),
                expected,
                "{who} deletes {author}'s ({})",
                rig.backend
            );
        }
        // A post already deleted is gone for everyone.
        let post = rig.thread_by("ben", "walkers", "Twice").await;
        rig.processor
            .posts()
            .delete(rig.account("ben"), &post.ap_id, None)
            .await
            .expect("delete");
        rig.sent();
        let again = rig
            .processor
            .posts()
            .delete(rig.account("ben"), &post.ap_id, None)
            .await;
        assert_eq!(outcome(&rig, again), Refused(ErrorKind::NotFound));
    }
}

#[tokio::test]
async fn only_moderators_lock_threads() {
    for rig in Rig::every_backend().await {
        let thread = rig.walkers_thread.ap_id.clone();
        let table = [
            ("ben", Refused(ErrorKind::Forbidden)),
            ("cai", Refused(ErrorKind::Forbidden)),
            ("ana", Sent(vec!["LockThread"])),
        ];
        for (who, expected) in table {
            let result = rig
                .processor
                .posts()
                .set_locked(rig.account(who), &thread, true)
                .await;
            assert_eq!(outcome(&rig, result), expected, "{who} locks ({})", rig.backend);
        }
        // Locked: no more replies.
        let reply = Compose {
            content: "late",
            in_reply_to: Some(&thread),
            ..Compose::default()
        };
        let result = rig
            .processor
            .posts()
            .create(rig.account("ben"), None, reply)
            .await;
        assert_eq!(outcome(&rig, result), Refused(ErrorKind::Forbidden));
        rig.asked();
    }
}

#[tokio::test]
async fn a_remote_pattern_is_forked_and_adopted_through_the_resolver() {
    for rig in Rig::every_backend().await {
        let pattern = rig.far_pattern.ap_id.clone();
        let fork = rig
            .processor
            .garden()
            .fork(rig.account("ben"), &pattern, Some("for our town"))
            .await
            .expect("fork");
        assert_eq!(fork.forked_from.as_deref(), Some(pattern.as_str()));
        assert_eq!(rig.asked(), vec![pattern.clone()], "the source is resolved first");
        assert_eq!(
            rig.sent().iter().map(name).collect::<Vec<_>>(),
            vec!["CreateGardenItem"]
        );

        let upstream = rig
            .processor
            .garden()
            .upstream(Viewer::Anonymous, &fork.ap_id)
            .await
            .expect("upstream");
        assert_eq!(upstream.origin.ap_id, pattern);
        assert!(upstream.changes.is_empty(), "nothing changed since the fork");
        assert_eq!(rig.asked(), vec![pattern.clone()], "the origin is fetched anew");

        let table = [
            ("", Refused(ErrorKind::Validation)),
            ("Our walking group meets on Sundays.", Sent(vec!["Adopt"])),
        ];
        for (context, expected) in table {
            let input = AdoptionInput {
                context,
                outcome: "",
                story: None,
                metrics: Vec::new(),
                place: None,
            };
            let result = rig
                .processor
                .garden()
                .adopt(rig.account("cai"), &fork.ap_id, input)
                .await;
            assert_eq!(
                outcome(&rig, result),
                expected,
                "adopting with {context:?} ({})",
                rig.backend
            );
            // The fork and each link of its chain are made known.
            assert_eq!(rig.asked(), vec![fork.ap_id.clone(), pattern.clone()]);
        }
    }
}

#[tokio::test]
async fn only_moderators_answer_a_request_to_join_and_once() {
    for rig in Rig::every_backend().await {
        let circle = rig.actor("circle");
        let dee = &rig.account("dee").person;
        let request = healthcommons_db::queries::follows::between(rig.db(), dee.id, circle.id)
            .await
            .expect("query")
            .expect("dee's request");
        let table = [
            ("ben", Refused(ErrorKind::Forbidden)),
            ("cai", Refused(ErrorKind::Forbidden)),
            // A local member's request is answered here: nothing to send.
            ("ana", Sent(vec![])),
            // Answered already: no longer pending.
            ("ana", Refused(ErrorKind::NotFound)),
        ];
        for (who, expected) in table {
            let result = rig
                .processor
                .follows()
                .decide(rig.account(who), "circle", request.id, true)
                .await;
            assert_eq!(outcome(&rig, result), expected, "{who} answers ({})", rig.backend);
        }
        let thread = rig
            .processor
            .posts()
            .thread(Some(dee), &rig.circle_thread.ap_id)
            .await;
        assert!(
            thread.is_ok(),
            "a new member reads the members-only thread ({})",
            rig.backend
        );
    }
}

#[tokio::test]
async fn a_person_is_found_here_by_name_and_elsewhere_through_the_resolver() {
    for rig in Rig::every_backend().await {
        let mia = rig.actor("mia").ap_id.clone();
        let table = [
            ("ben", Ok("ben")),
            ("nobody", Err(ErrorKind::NotFound)),
            (mia.as_str(), Ok("mia")),
            // A working group is not a person.
            (rig.actor("walkers").ap_id.as_str(), Err(ErrorKind::Validation)),
        ];
        for (reference, expected) in table {
            let found = rig.processor.follows().find_person(reference).await;
            let found = found.map(|a| a.username).map_err(|e| e.kind());
            assert_eq!(
                found.as_deref().map_err(|k| *k),
                expected,
                "{reference} ({})",
                rig.backend
            );
        }
        assert_eq!(rig.asked().len(), 2, "only the URLs went to the resolver");
    }
}

/// What a member reads costs a fixed number of statements, whatever the page
/// holds: a thread with one reply or seven, a group with one thread or six, a
/// garden item's discussion with one thread or three.
#[tokio::test]
async fn a_members_reads_cost_the_same_whatever_they_hold() {
    for rig in Rig::every_backend().await {
        let backend = rig.backend;
        let ben = &rig.account("ben").person;
        let posts = rig.processor.posts();
        let walkers = rig.actor("walkers").clone();
        let pattern = rig.far_pattern.ap_id.clone();
        let reply = |author: &'static str, parent: String| {
            let rig = &rig;
            async move {
                let compose = Compose {
                    content: "Count me in",
                    in_reply_to: Some(&parent),
                    ..Compose::default()
                };
                rig.processor
                    .posts()
                    .create(rig.account(author), None, compose)
                    .await
                    .expect("reply")
                    .ap_id
            }
        };
        let first_page = Page { number: 1, size: 20 };
        // Each read, measured once with little in it and once with more.
        let mut costs: Vec<(&str, usize)> = Vec::new();
        for round in 0..2 {
            if round == 0 {
                reply("ana", rig.walkers_thread.ap_id.clone()).await;
                reply("ben", pattern.clone()).await;
            } else {
                let mut parent = rig.walkers_thread.ap_id.clone();
                for author in ["ana", "ben", "cai", "ana", "ben", "cai"] {
                    parent = reply(author, parent).await;
                }
                for title in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"] {
                    rig.thread_by("ben", "walkers", title).await;
                }
                reply("ana", pattern.clone()).await;
                reply("cai", pattern.clone()).await;
            }
            rig.statements_read();
            let thread = posts
                .thread(Some(ben), &rig.walkers_thread.ap_id)
                .await
                .expect(backend);
            let thread_cost = rig.statements_read();
            let threads = posts
                .group_threads(Viewer::Actor(ben), &walkers, first_page)
                .await
                .expect(backend);
            let group_cost = rig.statements_read();
            let feed = posts.feed(Feed::Home(ben), first_page).await.expect(backend);
            let feed_cost = rig.statements_read();
            let discussion = posts
                .discussion(Some(ben), &rig.far_pattern)
                .await
                .expect(backend);
            let discussion_cost = rig.statements_read();
            let held = [thread.replies.len(), threads.len(), feed.len(), discussion.len()];
            assert_eq!(
                held,
                if round == 0 { [1, 1, 2, 1] } else { [7, 6, 7, 3] },
                "{backend}: what the reads hold in round {round}"
            );
            for (read, cost) in [
                ("thread", thread_cost),
                ("group threads", group_cost),
                ("home feed", feed_cost),
                ("discussion", discussion_cost),
            ] {
                assert!(
                    cost > 0,
                    "{backend}: {read} is read through the read-only connections"
                );
                match costs.iter().find(|(name, _)| *name == read) {
                    Some((_, before)) => assert_eq!(
                        cost, *before,
                        "{backend}: {read} took {before} statements before, {cost} with more in it"
                    ),
                    None => costs.push((read, cost)),
                }
            }
        }
    }
}
