#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]
//! Every example in README.md, checked against the real binary. Each example
//! is read from the README as written (its fenced block or marker text), so a
//! change to either the README or the product that makes them disagree fails here.

mod support;

use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use support::{Client, Gateway, bin, policy_copy, repo, text};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap()
}

/// The fenced blocks of the README: (info string, body).
fn blocks(md: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, Vec<&str>)> = None;
    for line in md.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_string(), Vec::new())),
            (Some(_), Some(_)) => {
                let (info, body) = open.take().unwrap();
                out.push((info, body.join("\n")));
            }
            (Some((_, body)), None) => body.push(line),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed fence in README.md");
    out
}

/// The one ```LANG block of the README that contains `marker`.
fn block(lang: &str, marker: &str) -> String {
    let found: Vec<String> =
        blocks(&readme()).into_iter().filter(|(l, b)| l == lang && b.contains(marker)).map(|(_, b)| b).collect();
    assert_eq!(found.len(), 1, "exactly one ```{lang} block in README.md contains {marker:?}");
    found.into_iter().next().unwrap()
}

/// The text between `start` and the next `end` after it, in `s`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let from = s.find(start).unwrap_or_else(|| panic!("{start:?} not in {s:?}")) + start.len();
    let len = s[from..].find(end).unwrap_or_else(|| panic!("{end:?} after {start:?} not in {s:?}"));
    &s[from..from + len]
}

/// The example `$ tokenwise ARGS` followed by its printed output.
#[test]
fn check_config_prints_what_the_readme_shows() {
    let b = block("sh", "$ tokenwise check-config");
    let mut lines = b.lines();
    let cmd = lines.next().unwrap().strip_prefix("$ tokenwise ").expect("the block starts with the command");
    let expected: Vec<&str> = lines.collect();
    assert!(!expected.is_empty(), "the README shows what it prints");
    let out = bin().args(cmd.split_whitespace()).current_dir(repo()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end(), expected.join("\n"));
}

/// The error example: the one edit it shows, made to a copy of the example
/// policy, is reported with the same line, column, caret and hint.
#[test]
fn check_config_reports_the_readme_error_as_shown() {
    let b = block("text", "error: unknown model");
    let expected: Vec<&str> = b.lines().collect();
    // The edited source line the README quotes: `256 | allowed_models = [...]`.
    let quoted = expected
        .iter()
        .find_map(|l| l.split_once(" | ").filter(|(n, _)| n.trim().parse::<u32>().is_ok()).map(|(_, src)| src))
        .expect("the README quotes the offending line");
    let bad_model = between(&b, "unknown model `", "`");
    let (section, field) = {
        let path = between(&b, " in ", "\n");
        let path = path.split('[').next().unwrap();
        let (section, field) = path.rsplit_once('.').unwrap();
        (format!("[{section}]"), field.to_string())
    };
    assert!(quoted.contains(bad_model) && quoted.starts_with(&format!("{field} = ")), "{quoted}");

    // Replace that field's line in that section of the example, and nothing else.
    let dir = tempfile::tempdir().unwrap();
    let path = policy_copy(dir.path(), |s| {
        let start = s.find(&format!("\n{section}\n")).unwrap_or_else(|| panic!("{section} not in the example"));
        let at = start + s[start..].find(&format!("\n{field} = ")).unwrap() + 1;
        let end = at + s[at..].find('\n').unwrap();
        format!("{}{quoted}{}", &s[..at], &s[end..])
    });
    let out = bin().arg("check-config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let got = text(&out);
    let got: Vec<&str> = got.lines().collect();

    // The README's lines appear in order, one after another. The location
    // line may name the file by another path; a trailing `…` elides the rest.
    let matches = |want: &str, have: &str| {
        if let Some(loc) = want.trim_start().strip_prefix("--> ") {
            let indent = &want[..want.find("-->").unwrap()];
            have.strip_prefix(indent)
                .and_then(|h| h.strip_prefix("--> "))
                .is_some_and(|h| h == loc || h.ends_with(&format!("/{loc}")) || h.ends_with(&format!("\\{loc}")))
        } else if let Some(prefix) = want.strip_suffix('…') {
            have.starts_with(prefix)
        } else {
            have == want
        }
    };
    let first = got.iter().position(|h| matches(expected[0], h)).unwrap_or_else(|| {
        panic!("{:?} not printed:\n{}", expected[0], got.join("\n"));
    });
    for (i, want) in expected.iter().enumerate() {
        let have = got.get(first + i).copied().unwrap_or("");
        assert!(matches(want, have), "README line {want:?}, printed {have:?}:\n{}", got.join("\n"));
    }
}

/// `$ echo '...' | tokenwise scan --json` and the JSON it prints.
#[test]
fn scan_prints_what_the_readme_shows() {
    let b = block("sh", "| tokenwise scan");
    let mut lines = b.lines();
    let cmd = lines.next().unwrap();
    let input = format!("{}\n", between(cmd, "$ echo '", "'"));
    let args = cmd.split_once("| tokenwise ").unwrap().1;
    let expected: Vec<&str> = lines.collect();

    let mut child = bin()
        .args(args.split_whitespace())
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end(), expected.join("\n"));
}

/// The tour's addresses agree with the example policy the commands use.
#[test]
fn the_tour_addresses_match_the_example_policy() {
    let tour = block("sh", "tokenwise mock-upstream --listen");
    let policy = std::fs::read_to_string(repo().join("examples/acme.toml")).unwrap();
    let mock = between(&tour, "mock-upstream --listen ", " ");
    assert!(policy.contains(&format!("base_url = \"http://{mock}")), "the policy's upstreams are at {mock}");
    let gateway = between(&tour, "# the gateway on ", "\n").trim();
    assert!(policy.contains(&format!("listen = \"{gateway}\"")), "serve listens on {gateway} by default");
    let py = block("python", "x-tokenwise-cost-usd");
    assert_eq!(between(&py, "base_url=\"", "\""), format!("http://{gateway}/v1"));
}

/// The 403 the README quotes is what the gateway answers when a policy that
/// blocks confidential data meets a prompt with one email.
#[tokio::test]
async fn the_policy_violation_message_is_what_the_gateway_answers() {
    let b = block("text", "403 policy_violation:");
    let quoted = b.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    let (status, rest) = quoted.split_once(' ').unwrap();
    let (code, message) = rest.split_once(": ").unwrap();

    let g = Gateway::start_with(|s| s.replace("confidential = \"reroute\"", "confidential = \"block\""));
    let c = Client::new(&g, g.key("ivan.petrov", Some("support-reply")));
    let body = json!({"model": "gpt-4.1-mini",
                      "messages": [{"role": "user", "content": "Reply to jane.doe@example.com about her refund"}]});
    let a = c.post("/v1/chat/completions", body, &[]).await;
    assert_eq!(a.status.to_string(), status, "{}", a.body);
    let err = a.json();
    assert_eq!(err["error"]["code"], code, "{}", a.body);
    assert_eq!(err["error"]["message"], message, "{}", a.body);
}

/// The Python snippet's call, made with reqwest with the same key, model,
/// message and headers: the cost header is the README's figure.
#[tokio::test]
async fn the_python_snippet_costs_what_the_readme_says() {
    let tour = block("sh", "tokenwise serve --config");
    let keys = between(&tour, "tokenwise keys create", ")");
    let words: Vec<&str> = keys.split_whitespace().collect();
    let flag = |name: &str| {
        let at = words.iter().position(|w| *w == name).unwrap_or_else(|| panic!("no {name} in {keys:?}"));
        words[at + 1].to_string()
    };
    let (user, use_case) = (flag("--user"), flag("--use-case"));

    let py = block("python", "x-tokenwise-cost-usd");
    let model = between(&py, "model=\"", "\"");
    let messages = between(&py, "messages=", "]");
    let role = between(messages, "\"role\": \"", "\"");
    let content = between(messages, "\"content\": \"", "\"");
    let extra = between(&py, "extra_headers={", "}");
    let headers: Vec<(&str, &str)> = extra
        .split(", ")
        .map(|kv| {
            let (k, v) = kv.split_once(": ").unwrap();
            (k.trim_matches('"'), v.trim_matches('"'))
        })
        .collect();
    let figure = py.lines().find(|l| l.starts_with("raw.headers[\"x-tokenwise-cost-usd\"]")).unwrap();
    let figure = between(figure, "# '", "'");
    let task_figure = py.lines().find(|l| l.starts_with("raw.headers[\"x-tokenwise-task-cost-usd\"]")).unwrap();
    let task_figure = between(task_figure, "# '", "'");

    let g = Gateway::start();
    let c = Client::new(&g, g.key(&user, Some(&use_case)));
    let body = json!({"model": model, "messages": [{"role": role, "content": content}]});
    let a = c.post("/v1/chat/completions", body, &headers).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers["x-tokenwise-cost-usd"].to_str().unwrap(), figure);
    // The task's first call: the task so far is this call.
    assert_eq!(a.headers["x-tokenwise-task-cost-usd"].to_str().unwrap(), task_figure);
    // The headers were taken: the ledger row carries the task and template.
    let row = c.event(&a.request_id()).await;
    assert_eq!(row["cost_usd"], figure, "{row}");
    assert_eq!(row["user_id"], user.as_str());
    assert_eq!(row["use_case"], use_case.as_str());
    assert_eq!(row["model"], model);
    for (name, value) in &headers {
        let field = name.strip_prefix("x-tokenwise-").unwrap();
        assert_eq!(row[field], *value, "{name} is recorded: {row}");
    }
}

/// The nudge the README quotes is, word for word, what the gateway says of a
/// task at $0.41 without a template, when support replies usually cost
/// $0.08 and the approved template $0.05.
#[test]
fn the_nudge_reads_as_the_readme_quotes_it() {
    use tokenwise_app::tasks::{Baselines, Usual, advice};
    use tokenwise_core::Nanos;
    let quoted = block("text", "this task has cost");
    let usual = |usd: &str| Usual { median: Nanos::parse_usd(usd).unwrap(), tasks: 5 };
    let b = Baselines {
        templates: [("support-refund@3".to_string(), usual("0.05"))].into(),
        use_cases: [("support-reply".to_string(), usual("0.08"))].into(),
        at: None,
    };
    let policy = tokenwise_policy::load_file(&repo().join("examples/acme.toml")).unwrap().policy;
    let said = advice(&policy, &b, "support-reply", None, Nanos::parse_usd("0.41").unwrap());
    assert_eq!(said.as_deref(), Some(quoted.trim()));
}

/// Finance's commands, run as the README writes them (on a copy of the
/// example policy and its fresh ledger); the CSV starts with the columns
/// the README lists.
#[test]
fn finance_commands_run_as_the_readme_shows() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_copy(dir.path(), |s| s);
    let header = block("text", "period,team,team_name,cost_centre");
    // What OpenAI would say of a day with no usage: nothing to reconcile against.
    let export = json!({"object": "page", "data": [{"object": "bucket", "start_time": 1_794_268_800, "end_time": 1_794_355_200,
        "results": [{"object": "organization.usage.completions.result", "model": "gpt-4.1-mini",
            "input_tokens": 0, "input_cached_tokens": 0, "output_tokens": 0, "num_model_requests": 0}]}]});
    std::fs::write(dir.path().join("openai-usage.json"), export.to_string()).unwrap();
    let commands = block("sh", "tokenwise report chargeback");
    for line in commands.lines() {
        let (cmd, to_file) = match line.split_once(" > ") {
            Some((c, f)) => (c, Some(f.trim())),
            None => (line, None),
        };
        let args: Vec<String> = cmd
            .strip_prefix("tokenwise ")
            .unwrap()
            .split_whitespace()
            .map(|a| if a == "examples/acme.toml" { policy.display().to_string() } else { a.to_string() })
            .collect();
        let out = bin().args(&args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "{line}: {}", text(&out));
        let stdout = String::from_utf8(out.stdout).unwrap();
        match to_file {
            Some(f) if f.starts_with("chargeback") => assert_eq!(stdout.lines().next(), Some(header.trim())),
            Some(_) => assert!(stdout.starts_with("BilledCost,BillingAccountId,"), "{stdout}"),
            None => assert!(stdout.contains("reconciled"), "{stdout}"),
        }
    }
}

/// `$ tokenwise ingest …` of the README's JSON line prints what it shows,
/// and the ledger holds that event at that cost.
#[test]
fn ingest_prints_what_the_readme_shows() {
    let b = block("sh", "$ tokenwise ingest");
    let mut lines = b.lines();
    let cmd = lines.next().unwrap().strip_prefix("$ tokenwise ").unwrap();
    let expected: Vec<&str> = lines.collect();
    let event = block("json", "\"source\": \"acme/ci\"");
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_copy(dir.path(), |s| s);
    let file = between(cmd, "examples/acme.toml ", " ");
    std::fs::write(dir.path().join(file), format!("{event}\n")).unwrap();
    let db = format!("sqlite://{}", dir.path().join("ledger.db").display());
    let args: Vec<String> =
        cmd.replace("examples/acme.toml", policy.to_str().unwrap()).split_whitespace().map(String::from).collect();
    let out = bin().args(&args).args(["--database", &db]).current_dir(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end(), expected.join("\n"));
    let c = rusqlite::Connection::open(dir.path().join("ledger.db")).unwrap();
    let (user, cost): (String, i64) =
        c.query_row("SELECT user_id, cost_nanos FROM usage_events", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((user.as_str(), cost), ("ben.carter", 2_000_000_000));
}

/// The `[dashboard]` section the README shows is a valid part of a policy.
#[test]
fn the_dashboard_section_the_readme_shows_is_valid() {
    let section = block("toml", "[dashboard]");
    let dir = tempfile::tempdir().unwrap();
    let policy = support::policy_copy(dir.path(), |s| s + "\n" + &section + "\n");
    let out = bin().args(["check-config", policy.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// What the served demo prints under its month, as the README shows it:
/// the same lines, but for the address and the keys (new on each run).
#[tokio::test]
async fn the_served_demo_prints_the_dashboard_lines_the_readme_shows() {
    use std::io::{BufRead, BufReader};
    let shown = block("text", "Dashboard: http://");
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["demo", "--days", "1", "--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .skip_while(|l| !l.starts_with("Dashboard: "))
        .take(shown.lines().count())
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    let base = lines[0].split_whitespace().nth(1).unwrap().trim_end_matches('/').to_string();
    for (printed, shown) in lines.iter().zip(shown.lines()) {
        let shown = shown.replace("http://127.0.0.1:8080", &base);
        match shown.split_once("tw_…") {
            Some((before, _)) => {
                assert!(printed.starts_with(&format!("{before}tw_")), "{printed:?} reads as {shown:?}");
                assert_eq!(printed.len(), before.len() + 46, "a whole key: {printed:?}");
            }
            None => assert_eq!(printed, &shown),
        }
    }
}
