//! Outcomes (decided once, even in a race), appeals (one per subject,
//! decided once, an upheld one validating its outcome) and badges (awarded
//! once).

use crate::{Backend, bare_event, ts};
use jiff::{Timestamp, ToSpan};
use std::sync::Arc;
use tokenwise_core::Nanos;
use tokenwise_ledger::*;

/// A pending outcome of ivan.petrov (support) with every field set.
pub fn full_outcome(id: &str, at: Timestamp) -> Outcome {
    Outcome {
        id: id.into(),
        task: "T-1042".into(),
        user_id: "ivan.petrov".into(),
        team_id: "support".into(),
        use_case: "support-reply".into(),
        kind: "ticket_resolved".into(),
        value: Nanos(21_250_000_000),
        value_hours_milli: Some(250),
        evidence: Some("https://helpdesk.acme.example/tickets/1042".into()),
        quality: Some(4),
        escalated: true,
        error: false,
        status: OutcomeStatus::Pending,
        reported_by: "integration:helpdesk".into(),
        signed: true,
        reported_at: at,
        decided_by: None,
        decided_at: None,
        decided_quality: None,
        metered: true,
    }
}

/// A pending outcome with every optional field empty.
pub fn bare_outcome(id: &str, at: Timestamp, user: &str, team: &str, task: &str) -> Outcome {
    Outcome {
        id: id.into(),
        task: task.into(),
        user_id: user.into(),
        team_id: team.into(),
        use_case: "kb-search".into(),
        kind: "question_answered".into(),
        value: Nanos(12_000_000_000),
        value_hours_milli: None,
        evidence: None,
        quality: None,
        escalated: false,
        error: true,
        status: OutcomeStatus::Pending,
        reported_by: user.into(),
        signed: false,
        reported_at: at,
        decided_by: None,
        decided_at: None,
        decided_quality: None,
        metered: false,
    }
}

fn ids(v: &[Outcome]) -> Vec<&str> {
    v.iter().map(|o| o.id.as_str()).collect()
}

pub async fn outcomes_round_trip_every_field(b: &impl Backend) {
    let s = b.store();
    let full = full_outcome("out_full", ts("2026-11-02T09:30:00.123456Z"));
    let bare = bare_outcome("out_bare", ts("2026-11-02T09:31:00Z"), "jade.nguyen", "support", "T-7");
    s.insert_outcome(&full).await.unwrap();
    s.insert_outcome(&bare).await.unwrap();
    assert_eq!(s.get_outcome("out_full").await.unwrap().as_ref(), Some(&full));
    assert_eq!(s.get_outcome("out_bare").await.unwrap().as_ref(), Some(&bare));
    assert_eq!(s.get_outcome("out_none").await.unwrap(), None);
    assert!(matches!(s.insert_outcome(&full).await, Err(StoreError::Conflict(_))), "an id is stored once");
    let decided = s
        .decide_outcome("out_full", OutcomeDecision::Validated, "lucia.fernandez", Some(5), ts("2026-11-03T08:00:00Z"))
        .await
        .unwrap()
        .unwrap();
    let expected = Outcome {
        status: OutcomeStatus::Validated,
        decided_by: Some("lucia.fernandez".into()),
        decided_at: Some(ts("2026-11-03T08:00:00Z")),
        decided_quality: Some(5),
        ..full
    };
    assert_eq!(decided, expected);
    drop(s);
    let again = b.reopen().await;
    assert_eq!(again.get_outcome("out_full").await.unwrap(), Some(expected), "it survives a restart");
}

pub async fn an_outcome_is_decided_once_and_a_race_has_one_winner(b: &impl Backend) {
    let s = b.store();
    let t = ts("2026-11-02T10:00:00Z");
    s.insert_outcome(&bare_outcome("out_1", t, "jade.nguyen", "support", "T-1")).await.unwrap();
    let rejected = s
        .decide_outcome("out_1", OutcomeDecision::Rejected, "lucia.fernandez", None, t + 1.hour())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((rejected.status, rejected.decided_quality), (OutcomeStatus::Rejected, None));
    let again = s.decide_outcome("out_1", OutcomeDecision::Validated, "omar.haddad", Some(5), t + 2.hours()).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let kept = s.get_outcome("out_1").await.unwrap().unwrap();
    assert_eq!((kept.status, kept.decided_by.as_deref()), (OutcomeStatus::Rejected, Some("lucia.fernandez")));
    assert_eq!(
        s.decide_outcome("out_nope", OutcomeDecision::Validated, "omar.haddad", None, t).await.unwrap(),
        None,
        "no such outcome"
    );

    // Eight deciders at once, four validating and four rejecting: exactly
    // one wins, and the outcome shows that one's decision.
    s.insert_outcome(&bare_outcome("out_race", t, "jade.nguyen", "support", "T-2")).await.unwrap();
    let store: Arc<dyn Store> = s.clone();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = store.clone();
            tokio::spawn(async move {
                let d = if i % 2 == 0 { OutcomeDecision::Validated } else { OutcomeDecision::Rejected };
                let by = format!("decider-{i}");
                (by.clone(), s.decide_outcome("out_race", d, &by, Some(3), t + 1.hour()).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (by, r) = task.await.unwrap();
        match r {
            Ok(Some(o)) => winners.push((by, o)),
            Err(StoreError::Conflict(_)) => {}
            other => panic!("{by}: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one decider wins");
    let (by, o) = &winners[0];
    assert_eq!(s.get_outcome("out_race").await.unwrap().as_ref(), Some(o));
    assert_eq!(o.decided_by.as_ref(), Some(by));
}

pub async fn outcome_queries_filter_and_order(b: &impl Backend) {
    let s = b.store();
    let t0 = ts("2026-11-02T10:00:00Z");
    // Two share a time: ties are ordered by id.
    let rows = [
        bare_outcome("out_a", t0, "ivan.petrov", "support", "T-1"),
        bare_outcome("out_c", t0 + 1.hour(), "jade.nguyen", "support", "T-2"),
        bare_outcome("out_b", t0 + 1.hour(), "chen.wei", "platform", "T-1"),
        bare_outcome("out_d", t0 + 3.hours(), "ivan.petrov", "support", "T-3"),
    ];
    for o in &rows {
        s.insert_outcome(o).await.unwrap();
    }
    s.decide_outcome("out_c", OutcomeDecision::Validated, "lucia.fernandez", None, t0 + 4.hours()).await.unwrap();
    let list = |q: OutcomeQuery| {
        let s = s.clone();
        async move { s.list_outcomes(&q).await.unwrap() }
    };
    assert_eq!(ids(&list(OutcomeQuery::default()).await), ["out_d", "out_c", "out_b", "out_a"], "newest first");
    let by_user = list(OutcomeQuery { user_id: Some("ivan.petrov".into()), ..Default::default() }).await;
    assert_eq!(ids(&by_user), ["out_d", "out_a"]);
    let by_team = list(OutcomeQuery { team_id: Some("support".into()), ..Default::default() }).await;
    assert_eq!(ids(&by_team), ["out_d", "out_c", "out_a"]);
    let backlog = list(OutcomeQuery {
        team_id: Some("support".into()),
        status: Some(OutcomeStatus::Pending),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&backlog), ["out_d", "out_a"], "a manager's backlog: the team's pending outcomes");
    let by_task = list(OutcomeQuery { task: Some("T-1".into()), ..Default::default() }).await;
    assert_eq!(ids(&by_task), ["out_b", "out_a"]);
    let window = list(OutcomeQuery { from: Some(t0 + 1.hour()), to: Some(t0 + 3.hours()), ..Default::default() }).await;
    assert_eq!(ids(&window), ["out_c", "out_b"], "from inclusive, to exclusive");
    assert_eq!(ids(&list(OutcomeQuery { limit: 1, ..Default::default() }).await), ["out_d"]);

    let between = s.outcomes_between(t0, t0 + 3.hours()).await.unwrap();
    assert_eq!(ids(&between), ["out_a", "out_b", "out_c"], "oldest first, ties by id, to exclusive");
    assert_eq!(between[2].status, OutcomeStatus::Validated, "every status is read");
    assert_eq!(s.outcomes_between(t0 + 5.hours(), t0 + 6.hours()).await.unwrap(), Vec::new());
}

pub async fn a_task_is_metered_by_its_users_calls(b: &impl Backend) {
    let s = b.store();
    let t = ts("2026-11-02T10:00:00Z");
    let mut call = bare_event("ev-task-1", t, "ivan.petrov", "support", 1_000);
    call.task = Some("T-1042".into());
    let untasked = bare_event("ev-task-2", t, "jade.nguyen", "support", 1_000);
    s.insert_events(&[call, untasked]).await.unwrap();
    assert!(s.task_is_metered("T-1042", "ivan.petrov").await.unwrap());
    assert!(!s.task_is_metered("T-1042", "jade.nguyen").await.unwrap(), "another person's call does not count");
    assert!(!s.task_is_metered("T-9999", "ivan.petrov").await.unwrap(), "nor a call of another task");
    assert!(!s.task_is_metered("", "jade.nguyen").await.unwrap(), "nor a call with no task");
}

fn appeal_of(outcome: &str, by: &str, at: Timestamp) -> Appeal {
    Appeal {
        id: Appeal::new_id(),
        subject_kind: AppealSubject::Outcome,
        subject_id: outcome.into(),
        appellant: by.into(),
        comment: "The customer confirmed the fix in ticket 1042".into(),
        status: AppealStatus::Open,
        filed_at: at,
        decided_by: None,
        decided_at: None,
        decision_comment: None,
    }
}

pub async fn an_appeal_is_filed_once_and_decided_once(b: &impl Backend) {
    let s = b.store();
    let t = ts("2026-11-02T10:00:00Z");
    let first = appeal_of("out_1", "jade.nguyen", t);
    s.insert_appeal(&first).await.unwrap();
    assert_eq!(s.get_appeal(&first.id).await.unwrap().as_ref(), Some(&first));
    assert_eq!(first.subject(), "outcome:out_1");
    // Anyone, any time after: the subject has had its appeal.
    let second = appeal_of("out_1", "omar.haddad", t + 1.hour());
    assert!(matches!(s.insert_appeal(&second).await, Err(StoreError::Conflict(_))), "one appeal per subject");
    // The same id under another kind of subject is another subject.
    let anomaly = Appeal { subject_kind: AppealSubject::Anomaly, ..appeal_of("out_1", "jade.nguyen", t + 2.hours()) };
    s.insert_appeal(&anomaly).await.unwrap();

    let dismissed = s
        .decide_appeal(&first.id, AppealDecision::Dismissed, "omar.haddad", "The ticket was reopened", t + 3.hours())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dismissed.status, AppealStatus::Dismissed);
    assert_eq!(dismissed.decided_by.as_deref(), Some("omar.haddad"));
    assert_eq!(dismissed.decided_at, Some(t + 3.hours()));
    assert_eq!(dismissed.decision_comment.as_deref(), Some("The ticket was reopened"));
    let again = s.decide_appeal(&first.id, AppealDecision::Upheld, "priya.nair", "No", t + 4.hours()).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(s.get_appeal(&first.id).await.unwrap(), Some(dismissed), "the first decision stands");
    assert_eq!(s.decide_appeal("apl_nope", AppealDecision::Upheld, "priya.nair", "x", t).await.unwrap(), None);

    let list = |q: AppealQuery| {
        let s = s.clone();
        async move { s.list_appeals(&q).await.unwrap().into_iter().map(|a| a.id).collect::<Vec<_>>() }
    };
    assert_eq!(list(AppealQuery::default()).await, [anomaly.id.clone(), first.id.clone()], "newest first");
    assert_eq!(list(AppealQuery { status: Some(AppealStatus::Open), ..Default::default() }).await, [anomaly.id]);
    let mine = list(AppealQuery { appellant: Some("jade.nguyen".into()), limit: 1, ..Default::default() }).await;
    assert_eq!(mine.len(), 1, "at most the limit");
}

pub async fn an_upheld_appeal_validates_its_outcome(b: &impl Backend) {
    let s = b.store();
    let t = ts("2026-11-02T10:00:00Z");
    s.insert_outcome(&full_outcome("out_appealed", t)).await.unwrap();
    s.decide_outcome("out_appealed", OutcomeDecision::Rejected, "lucia.fernandez", Some(1), t + 1.hour())
        .await
        .unwrap();
    let appeal = appeal_of("out_appealed", "ivan.petrov", t + 2.hours());
    s.insert_appeal(&appeal).await.unwrap();
    let upheld = s
        .decide_appeal(&appeal.id, AppealDecision::Upheld, "omar.haddad", "Evidence checks out", t + 3.hours())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(upheld.status, AppealStatus::Upheld);
    let o = s.get_outcome("out_appealed").await.unwrap().unwrap();
    assert_eq!(o.status, OutcomeStatus::Validated);
    assert_eq!(o.decided_by.as_deref(), Some("omar.haddad"));
    assert_eq!(o.decided_at, Some(t + 3.hours()));
    assert_eq!(o.decided_quality, None, "the rejection's rating no longer stands");

    // A dismissed appeal leaves the rejection as it was.
    s.insert_outcome(&full_outcome("out_kept", t)).await.unwrap();
    s.decide_outcome("out_kept", OutcomeDecision::Rejected, "lucia.fernandez", Some(2), t + 1.hour()).await.unwrap();
    let appeal = appeal_of("out_kept", "ivan.petrov", t + 2.hours());
    s.insert_appeal(&appeal).await.unwrap();
    s.decide_appeal(&appeal.id, AppealDecision::Dismissed, "omar.haddad", "No evidence", t + 3.hours()).await.unwrap();
    let o = s.get_outcome("out_kept").await.unwrap().unwrap();
    assert_eq!(
        (o.status, o.decided_by.as_deref(), o.decided_quality),
        (OutcomeStatus::Rejected, Some("lucia.fernandez"), Some(2))
    );
}

pub async fn a_badge_is_awarded_once(b: &impl Backend) {
    let s = b.store();
    let t = ts("2026-11-30T23:00:00Z");
    let award = |subject: &str, key: &str, period: &str, at: Timestamp| Award {
        subject: subject.into(),
        badge: "template-reused".into(),
        key: key.into(),
        period: period.into(),
        awarded_at: at,
        explanation: format!("{key} was reused by 3 teams"),
    };
    assert!(s.award_badge(&award("user:jade.nguyen", "support-refund", "2026-11", t)).await.unwrap());
    let later = Award {
        explanation: "again".into(),
        ..award("user:jade.nguyen", "support-refund", "2026-12", t + (40 * 24).hours())
    };
    assert!(!s.award_badge(&later).await.unwrap(), "once per subject, badge and key, whatever the period");
    assert!(s.award_badge(&award("user:jade.nguyen", "ticket-handover", "2026-12", t + 24.hours())).await.unwrap());
    assert!(s.award_badge(&award("team:support", "support-refund", "2026-11", t + 1.hour())).await.unwrap());
    let first_badge = Award {
        badge: "first-validated".into(),
        ..award("user:jade.nguyen", "support-refund", "2026-11", t + 2.hours())
    };
    assert!(s.award_badge(&first_badge).await.unwrap(), "another badge for the same key");

    // A batch: what is already given stays as it was, the rest is added.
    let batch = [
        Award { explanation: "batch".into(), ..award("team:support", "support-refund", "2026-12", t + 3.hours()) },
        award("team:sales", "outreach-firstcall", "2026-11", t + (45 * 24).hours()),
    ];
    assert_eq!(s.award_badges(&batch).await.unwrap(), 1);
    assert_eq!(s.award_badges(&batch).await.unwrap(), 0, "a batch given twice adds nothing");
    assert_eq!(s.award_badges(&[]).await.unwrap(), 0);
    let sales = s.awards(Some("team:sales"), None).await.unwrap();
    assert_eq!(sales.len(), 1);

    let keys =
        |v: Vec<Award>| v.into_iter().map(|a| format!("{}/{}/{}", a.subject, a.badge, a.key)).collect::<Vec<_>>();
    assert_eq!(
        keys(s.awards(None, None).await.unwrap()),
        [
            "user:jade.nguyen/template-reused/support-refund",
            "team:support/template-reused/support-refund",
            "user:jade.nguyen/first-validated/support-refund",
            "user:jade.nguyen/template-reused/ticket-handover",
            "team:sales/template-reused/outreach-firstcall",
        ],
        "in the order given"
    );
    assert_eq!(
        keys(s.awards(Some("user:jade.nguyen"), Some("2026-11")).await.unwrap()),
        ["user:jade.nguyen/template-reused/support-refund", "user:jade.nguyen/first-validated/support-refund"]
    );
    assert_eq!(
        keys(s.awards(None, Some("2026-12")).await.unwrap()),
        ["user:jade.nguyen/template-reused/ticket-handover"]
    );
    let stored = s.awards(Some("team:support"), None).await.unwrap();
    assert_eq!(stored, vec![award("team:support", "support-refund", "2026-11", t + 1.hour())], "every field kept");
}
