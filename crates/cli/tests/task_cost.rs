//! The cost of each task in plain words, end to end: every answer to a call
//! that names a task carries what the task has cost so far — the sum of its
//! ledger rows — per person; and once tasks have finished, one that runs
//! well above the usual is told so, in words, and a usual one is not.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod support;

use serde_json::{Value, json};
use support::{Answer, Client, Cluster, Gateway, usd_nanos};

const TASK_COST: &str = "x-tokenwise-task-cost-usd";
const NUDGE: &str = "x-tokenwise-nudge";

fn chat(text: &str) -> Value {
    json!({"model": "gpt-4.1-mini", "max_tokens": 60, "messages": [{"role": "user", "content": text}]})
}

fn header(a: &Answer, name: &str) -> Option<String> {
    a.headers.get(name).map(|v| v.to_str().unwrap().to_string())
}

fn cost(a: &Answer) -> i64 {
    usd_nanos(&header(a, "x-tokenwise-cost-usd").unwrap())
}

fn task_cost(a: &Answer) -> i64 {
    usd_nanos(&header(a, TASK_COST).unwrap_or_else(|| panic!("no {TASK_COST}: {:?}", a.headers)))
}

/// One call of task `task`, with `template` if given.
async fn call(c: &Client, task: &str, template: Option<&str>, text: &str) -> Answer {
    let mut headers = vec![("x-tokenwise-task", task)];
    if let Some(t) = template {
        headers.push(("x-tokenwise-template", t));
    }
    let a = c.post("/v1/chat/completions", chat(text), &headers).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a
}

/// The sum of the caller's ledger rows for `task`.
async fn ledger_sum(c: &Client, task: &str) -> (usize, i64) {
    let a = c.get(&format!("/api/v1/events?task={task}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let rows = a.json()["events"].as_array().unwrap().clone();
    (rows.len(), rows.iter().map(|r| r["cost_nanos"].as_i64().unwrap()).sum())
}

/// The value of an SSE comment `: NAME=VALUE` in a stream's body.
fn comment(body: &str, name: &str) -> Option<String> {
    body.lines().find_map(|l| l.strip_prefix(&format!(": {name}=")).map(str::to_string))
}

#[tokio::test]
async fn the_task_cost_is_the_sum_of_the_tasks_ledger_rows_per_person() {
    let g = Gateway::start();
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let jade = Client::new(&g, g.key("jade.nguyen", Some("support-reply")));

    // Each JSON answer: the task so far, this call included.
    let mut total = 0;
    for (i, text) in ["Where is my refund?", "The order number is 1042.", "Please answer politely."].iter().enumerate()
    {
        let a = call(&ivan, "T-1042", Some("support-refund@3"), text).await;
        total += cost(&a);
        assert_eq!(task_cost(&a), total, "after call {i}");
    }
    assert_eq!(ledger_sum(&ivan, "T-1042").await, (3, total));

    // The same task id is another task for another person.
    let a = call(&jade, "T-1042", None, "Where is my parcel?").await;
    assert_eq!(task_cost(&a), cost(&a));
    assert_eq!(ledger_sum(&jade, "T-1042").await.1, cost(&a));

    // No task named: no task figure.
    let a = ivan.post("/v1/chat/completions", chat("No task here."), &[]).await;
    assert_eq!(a.status, 200);
    assert!(header(&a, TASK_COST).is_none(), "{:?}", a.headers);

    // A stream's headers say what the task cost before it; the total with
    // it comes as an SSE comment before the end.
    let mut body = chat("Stream the answer, please.");
    body["stream"] = json!(true);
    let a = ivan.post("/v1/chat/completions", body, &[("x-tokenwise-task", "T-1042")]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(task_cost(&a), total, "before the stream");
    let row = ivan.event(&a.request_id()).await;
    total += row["cost_nanos"].as_i64().unwrap();
    assert_eq!(comment(&a.body, TASK_COST).map(|v| usd_nanos(&v)), Some(total), "{}", a.body);
    assert!(a.body.find(&format!(": {TASK_COST}=")).unwrap() < a.body.find("data: [DONE]").unwrap());

    // Through the Anthropic endpoint too.
    let a = ivan
        .post(
            "/v1/messages",
            json!({"model": "claude-haiku-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "Thanks!"}]}),
            &[("x-tokenwise-task", "T-1042")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    total += cost(&a);
    assert_eq!(task_cost(&a), total);

    // A refusal carries the task so far; its row costs nothing.
    let a = ivan
        .post("/v1/chat/completions", chat("Card 4111 1111 1111 1111, refund it"), &[("x-tokenwise-task", "T-1042")])
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(task_cost(&a), total);
    assert_eq!(ledger_sum(&ivan, "T-1042").await, (6, total));
}

/// A budget refusal says what the task has cost so far too (here nothing:
/// its only call was refused, and a refused row costs nothing).
#[tokio::test]
async fn a_budget_refusal_carries_the_task_so_far() {
    let g = Gateway::start_with(|s| s.replace("limit_usd = \"20\"", "limit_usd = \"0.00001\""));
    let ivan = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let a = ivan.post("/v1/chat/completions", chat("Where is my refund?"), &[("x-tokenwise-task", "T-9")]).await;
    assert_eq!(a.status, 402, "{}", a.body);
    assert_eq!(header(&a, TASK_COST).as_deref(), Some("0.00"));
    assert_eq!(ledger_sum(&ivan, "T-9").await, (1, 0));
    let a = ivan.post("/v1/chat/completions", chat("Where is my refund?"), &[]).await;
    assert_eq!(a.status, 402);
    assert!(header(&a, TASK_COST).is_none(), "no task, no figure");
}

/// A usual support task: two short calls.
async fn usual_task(c: &Client, task: &str, template: Option<&str>) -> Vec<Answer> {
    vec![
        call(c, task, template, "Customer asks where their refund is. Draft a reply.").await,
        call(c, task, template, "Make it shorter.").await,
    ]
}

#[tokio::test]
async fn a_wasteful_task_is_nudged_once_there_is_a_usual_and_a_usual_one_is_not() {
    let g = Gateway::start_manual(|s| s);
    let people = ["ivan.petrov", "jade.nguyen", "kofi.mensah", "lena.schulz", "marco.rossi"];
    let clients: Vec<Client> = people.iter().map(|p| Client::new(&g, g.key(p, Some("support-reply")))).collect();
    let padding = "Please consider the whole history of this customer once more. ".repeat(15);

    // Before any task has finished there is no usual, and no advice.
    let early = call(&clients[0], "EARLY", Some("support-refund@3"), &padding).await;
    assert!(header(&early, NUDGE).is_none());

    // Five usual tasks on the approved template, and six without one that
    // run longer: the template usually costs less than the use case.
    for (k, c) in clients.iter().enumerate() {
        usual_task(c, &format!("R-{k}"), Some("support-refund@3")).await;
    }
    let long = "The customer wrote at length about the delayed refund and the earlier tickets. ".repeat(4);
    for k in 0..6 {
        let c = &clients[k % clients.len()];
        for _ in 0..3 {
            call(c, &format!("U-{k}"), None, &long).await;
        }
    }
    // Not finished yet: no call has been idle for an hour.
    let again = call(&clients[0], "EARLY", Some("support-refund@3"), &padding).await;
    assert!(header(&again, NUDGE).is_none());

    // An hour and a bit later those tasks are finished, and usual.
    g.advance(3_700.0).await;

    // A usual task is told nothing.
    for a in usual_task(&clients[1], "R-new", Some("support-refund@3")).await {
        assert!(header(&a, NUDGE).is_none(), "{:?}", header(&a, NUDGE));
        assert!(task_cost(&a) > 0);
    }

    // A wasteful one — padded prompts, call after call — is told, in words,
    // once it costs more than three times the usual; not at its first call.
    let (i, nudge, so_far) = until_nudged(&clients[2], "R-waste", Some("support-refund@3"), &padding).await;
    assert!(i >= 2, "one or two padded calls are not yet three times the usual: {nudge}");
    let (calls, sum) = ledger_sum(&clients[2], "R-waste").await;
    assert_eq!((calls, sum), (i + 1, so_far));
    let plain = tokenwise_app::tasks::plain_usd(tokenwise_core::Nanos(so_far));
    assert!(nudge.starts_with(&format!("this task has cost {plain} so far, ")), "{nudge}");
    assert!(nudge.contains("x the usual for support-refund@3 ($"), "{nudge}");
    assert!(!nudge.contains("approved template"), "the call used the approved template: {nudge}");

    // Without a template, or with the unapproved draft (no usual of its own
    // yet): compared with the use case, and pointed at the approved
    // template, which usually costs less.
    for (who, task, template) in [(3, "U-waste", None), (4, "D-waste", Some("support-refund@4"))] {
        let (_, nudge, _) = until_nudged(&clients[who], task, template, &padding).await;
        assert!(nudge.contains("x the usual for use case support-reply ($"), "{nudge}");
        let approved = nudge.split("; the approved template support-refund@3 usually costs $").nth(1);
        let approved = usd_nanos(approved.unwrap_or_else(|| panic!("no approved template named: {nudge}")));
        let compared = nudge.split("use case support-reply ($").nth(1).unwrap().split(')').next().unwrap();
        assert!(approved < usd_nanos(compared), "{nudge}");
    }
}

/// Calls task `task` with padded prompts until an answer carries advice:
/// the index of that call, the advice and the task's cost it names.
async fn until_nudged(c: &Client, task: &str, template: Option<&str>, padding: &str) -> (usize, String, i64) {
    for i in 0..30 {
        let a = call(c, task, template, &format!("{i} {padding}")).await;
        if let Some(n) = header(&a, NUDGE) {
            assert!(n.is_ascii());
            return (i, n, task_cost(&a));
        }
    }
    panic!("task {task} was never nudged");
}

/// Two PostgreSQL replicas answer concurrent calls of one task: each
/// answer's figure is a different running total, and the last is the sum
/// of the task's ledger rows.
#[tokio::test]
async fn concurrent_calls_of_one_task_on_two_replicas_add_up_exactly() {
    let Some(cluster) = Cluster::start(2, |s| s, None).await else { return };
    let key = cluster.key("ivan.petrov", Some("support-reply"));
    let http = reqwest::Client::new();
    let mut calls = Vec::new();
    for i in 0..40 {
        let (http, key) = (http.clone(), key.clone());
        let url = format!("http://{}/v1/chat/completions", cluster.replicas[i % 2].addr);
        calls.push(tokio::spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(key)
                .header("x-tokenwise-task", "T-hot")
                .json(&chat("The same question, asked many times at once."))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let h = |n: &str| usd_nanos(r.headers()[n].to_str().unwrap());
            (h("x-tokenwise-cost-usd"), h(TASK_COST))
        }));
    }
    let mut seen = Vec::new();
    for c in calls {
        seen.push(c.await.unwrap());
    }
    let each = seen[0].0;
    assert!(seen.iter().all(|(c, _)| *c == each), "the same call costs the same");
    let mut totals: Vec<i64> = seen.iter().map(|(_, t)| *t).collect();
    totals.sort_unstable();
    assert_eq!(totals, (1..=40).map(|k| k * each).collect::<Vec<_>>());
    let admin = cluster.key("omar.haddad", None);
    let rows: Value = http
        .get(format!("http://{}/api/v1/events?task=T-hot", cluster.replicas[0].addr))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sum: i64 = rows["events"].as_array().unwrap().iter().map(|r| r["cost_nanos"].as_i64().unwrap()).sum();
    assert_eq!(sum, 40 * each);
    cluster.drop_schema().await;
}
