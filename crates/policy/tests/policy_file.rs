//! The policy file as people write it: the shipped example is valid and
//! complete, and mistakes are reported all at once with the right lines.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

mod common;

use common::{acme_path, acme_src, line_of, load_as_acme};
use std::collections::BTreeSet;
use std::path::Path;
use tokenwise_core::{Nanos, PricePerMtok};
use tokenwise_policy::{BudgetScope, Category, Report, ScopeKind, load_file, load_str};

fn errors(report: &Report) -> Vec<(usize, String)> {
    report.errors().map(|d| (d.line, d.message.clone())).collect()
}

#[test]
fn the_example_company_is_valid_and_complete() {
    let loaded = load_file(&acme_path()).unwrap_or_else(|r| panic!("{r}"));
    assert_eq!(loaded.warnings.diagnostics.len(), 0, "{}", loaded.warnings);
    let p = loaded.policy;
    assert!(p.teams.len() >= 5);
    assert!(p.users.len() >= 40);
    assert!(p.use_cases.len() >= 8);
    let categories: BTreeSet<Category> = p.use_cases.values().map(|u| u.category).collect();
    assert_eq!(categories.len(), Category::ALL.len(), "every category of the taxonomy is used");
    assert!(p.models.len() >= 4);
    let clearances: BTreeSet<_> = p.models.values().map(|m| m.max_class).collect();
    assert_eq!(clearances.len(), p.classes.names().len(), "models are cleared at every level");
    let prices: BTreeSet<_> = p.models.values().filter_map(|m| m.prices.last()).map(|v| v.rates.input).collect();
    assert!(prices.len() >= 4, "models have different prices");
    let scopes: BTreeSet<&str> = p
        .budgets
        .iter()
        .map(|b| match &b.scope {
            BudgetScope::One(one) => one.kind(),
            BudgetScope::Each(ScopeKind::Team) => "team",
            BudgetScope::Each(ScopeKind::Project) => "project",
            BudgetScope::Each(ScopeKind::UseCase) => "use_case",
            BudgetScope::Each(ScopeKind::User) => "user",
        })
        .collect();
    assert_eq!(scopes.len(), 5, "budgets at every scope: {scopes:?}");
    // Every team has a manager who is a member of the company.
    for t in p.teams.values() {
        assert!(p.users.contains_key(&t.manager));
    }
}

#[test]
fn an_unknown_field_and_a_dangling_reference_are_both_reported_with_lines() {
    let src =
        acme_src().replace("max_output_tokens = 8192", "max_output_tokens = 8192\nmax_ouptut_tokens = 1").replacen(
            "allowed_models = [\"claude-haiku-4-5\", \"gpt-4.1-mini\"]",
            "allowed_models = [\"claude-haiku-4-5\", \"gpt-5-mini\"]",
            1,
        );
    let report = load_as_acme(&src).unwrap_err();
    let errs = errors(&report);
    assert_eq!(errs.len(), 2, "{report}");
    assert_eq!(errs[0].0, line_of(&src, "max_ouptut_tokens"));
    assert!(errs[0].1.contains("unknown field `max_ouptut_tokens`"), "{}", errs[0].1);
    assert_eq!(errs[1].0, line_of(&src, "\"gpt-5-mini\""));
    assert!(
        errs[1].1.contains("unknown model `gpt-5-mini` in use_cases.ticket-summary.allowed_models[1]"),
        "{}",
        errs[1].1
    );
    let hint = report.errors().nth(1).and_then(|d| d.hint.clone()).unwrap();
    assert!(hint.contains("did you mean `gpt-4.1-mini`?"), "{hint}");
    // Columns point at the value, not the start of the line.
    let d = report.errors().nth(1).unwrap();
    assert_eq!(d.column, src.lines().nth(d.line - 1).unwrap().find("\"gpt-5-mini\"").unwrap() + 1);
}

#[test]
fn a_misspelt_section_is_named_with_a_suggestion() {
    let src = acme_src().replace("[scoring]", "[scorng]");
    let report = load_as_acme(&src).unwrap_err();
    let d = report.errors().next().unwrap();
    assert_eq!(d.line, line_of(&src, "[scorng]"));
    assert_eq!(d.message, "unknown section `scorng`");
    assert!(d.hint.as_deref().unwrap().starts_with("did you mean `scoring`?"));
}

#[test]
fn a_syntax_error_points_at_its_line() {
    let src = acme_src().replace("name = \"Sales\"", "name = \"Sales");
    let report = load_as_acme(&src).unwrap_err();
    let d = report.errors().next().unwrap();
    assert_eq!(d.line, line_of(&src, "name = \"Sales"));
}

#[test]
fn semantic_rules_are_enforced() {
    let src = acme_src()
        .replace("visibility = \"pseudonymous\"\nregulated = true", "visibility = \"public\"\nregulated = true")
        .replace("efficiency_weight = 0.40", "efficiency_weight = 0.50")
        .replace("team_share = 0.65", "team_share = 0.9")
        .replace("default_model = \"acme-llama-70b\"\nallowed_models = [\"acme-llama-70b\", \"claude-sonnet-4-5\"]\nmax_data_class = \"restricted\"\nbaseline_tokens_per_outcome = 25000",
                 "default_model = \"o4-mini\"\nallowed_models = [\"acme-llama-70b\", \"claude-sonnet-4-5\"]\nmax_data_class = \"secret\"\nbaseline_tokens_per_outcome = 25000")
        .replace("scope = \"user:omar.haddad\"", "scope = \"person:omar.haddad\"");
    let report = load_as_acme(&src).unwrap_err();
    let msgs: Vec<String> = report.errors().map(|d| d.message.clone()).collect();
    let has = |s: &str| msgs.iter().any(|m| m.contains(s));
    assert!(has("team `legal` is regulated"), "{msgs:?}");
    assert!(has("add up to 1"), "{msgs:?}");
    assert!(has("team_share 0.9 is outside 0.6–0.7"), "{msgs:?}");
    assert!(has("default model `o4-mini` is not in allowed_models of `finance-narrative`"), "{msgs:?}");
    assert!(has("unknown data class `secret`"), "{msgs:?}");
    assert!(has("`person` is not a budget scope kind"), "{msgs:?}");
    assert_eq!(msgs.len(), 6, "{report}");
}

#[test]
fn nudges_are_read_with_defaults_and_checked() {
    let p = load_file(&acme_path()).unwrap().policy;
    assert_eq!(p.nudges, tokenwise_policy::Nudges::default());
    let src =
        acme_src().replace("task_cost_factor = 3", "task_cost_factor = 2.5").replace("baseline_min_tasks = 5\n", "");
    let n = load_as_acme(&src).unwrap().policy.nudges;
    assert_eq!((n.task_cost_factor, n.baseline_min_tasks, n.baseline_days), (2.5, 5, 30));
    let src = acme_src()
        .replace("task_cost_factor = 3", "task_cost_factor = 0.5")
        .replace("baseline_days = 30", "baseline_days = 0");
    let report = load_as_acme(&src).unwrap_err();
    let errs = errors(&report);
    assert_eq!(errs.len(), 2, "{report}");
    assert_eq!(
        errs[0],
        (line_of(&src, "task_cost_factor = 0.5"), "task_cost_factor must be from 1 to 1000, got 0.5".into())
    );
    assert_eq!(errs[1].0, line_of(&src, "baseline_days = 0"));
}

#[test]
fn an_upstreams_answer_limit_is_read_and_checked() {
    let p = load_file(&acme_path()).unwrap().policy;
    assert_eq!(p.upstreams["openai"].max_response_bytes, 64 << 20, "64 MiB unless set");
    let set = acme_src().replace("timeout_secs = 120\n", "timeout_secs = 120\nmax_response_mb = 2\n");
    assert_eq!(load_as_acme(&set).unwrap().policy.upstreams["openai"].max_response_bytes, 2 << 20);
    let src = acme_src().replace("timeout_secs = 120\n", "timeout_secs = 120\nmax_response_mb = 0\n");
    let report = load_as_acme(&src).unwrap_err();
    let errs = errors(&report);
    assert_eq!(errs, vec![(line_of(&src, "max_response_mb = 0"), "`max_response_mb` must be from 1 to 4096".into())]);
    assert!(report.to_string().contains("leave it out for 64"), "the fix is named: {report}");
}

#[test]
fn the_reconciliation_tolerance_is_read_and_checked() {
    let p = load_file(&acme_path()).unwrap().policy;
    assert_eq!(p.reports.reconcile_tolerance_percent, 1.0);
    let src = acme_src().replace("[reports]\nreconcile_tolerance_percent = 1.0\n", "");
    assert_eq!(load_as_acme(&src).unwrap().policy.reports, tokenwise_policy::Reports::default());
    let src = acme_src().replace("reconcile_tolerance_percent = 1.0", "reconcile_tolerance_percent = 140");
    let report = load_as_acme(&src).unwrap_err();
    let errs = errors(&report);
    assert_eq!(errs.len(), 1, "{report}");
    assert_eq!(
        errs[0],
        (
            line_of(&src, "reconcile_tolerance_percent = 140"),
            "reconcile_tolerance_percent must be from 0 to 100, got 140".into()
        )
    );
}

#[test]
fn anomaly_thresholds_are_read_with_defaults_and_checked() {
    let p = load_file(&acme_path()).unwrap().policy;
    assert_eq!(p.anomalies, tokenwise_policy::anomalies::AnomalyThresholds::default());
    let src = acme_src().replace("repeat_min = 10 ", "repeat_min = 4 ").replace("spike_z = 5\n", "");
    let a = load_as_acme(&src).unwrap().policy.anomalies;
    assert_eq!((a.repeat_min, a.spike_z, a.near_min_bands), (4, 5.0, 2));
    let src = acme_src().replace("overuse_share = 0.5 ", "overuse_share = 1.5 ");
    let report = load_as_acme(&src).unwrap_err();
    let errs = errors(&report);
    assert_eq!(errs, vec![(line_of(&src, "overuse_share = 1.5"), "overuse_share must be from 0 to 1, got 1.5".into())]);
    let src = acme_src().replace("dlp_min_days = 3 ", "dlp_min_days = 5 ");
    assert_eq!(load_as_acme(&src).unwrap().policy.anomalies.dlp_min_days, 5);
    let src = acme_src().replace("dlp_min_days = 3 ", "dlp_min_days = 0 ");
    let errs = errors(&load_as_acme(&src).unwrap_err());
    assert_eq!(errs, vec![(line_of(&src, "dlp_min_days = 0"), "dlp_min_days must be from 1 to 31, got 0".into())]);
    let src = acme_src().replace("[anomalies]\n", "[anomalies]\nwindow = 3\n");
    let report = load_as_acme(&src).unwrap_err();
    let errs = errors(&report);
    assert_eq!(errs.len(), 1, "{report}");
    assert_eq!(errs[0].0, line_of(&src, "window = 3"));
}

#[test]
fn a_missing_price_file_is_one_error_not_one_per_model() {
    let report =
        load_str(Path::new("/nowhere/acme.toml"), &acme_src(), &|p: &Path| std::fs::read_to_string(p)).unwrap_err();
    let errs = errors(&report);
    assert_eq!(errs.len(), 1, "{report}");
    assert!(errs[0].1.starts_with("cannot read price file"));
}

#[test]
fn price_versions_apply_by_date_and_imported_prices_are_exact() {
    let p = load_file(&acme_path()).unwrap().policy;
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    let gpt41 = &p.models["gpt-4.1"];
    // LiteLLM's list price from January, the negotiated price from July.
    let march = gpt41.price_at(at("2026-03-01T00:00:00Z")).unwrap();
    assert_eq!(march.rates.input, PricePerMtok(2_000_000_000));
    assert_eq!(march.id, "gpt-4.1@2026-01-01~litellm-subset.json");
    let august = gpt41.price_at(at("2026-08-01T00:00:00Z")).unwrap();
    assert_eq!(august.rates.input, PricePerMtok(1_600_000_000));
    assert_eq!(august.rates.cached_read, PricePerMtok(400_000_000));
    assert_eq!(august.id, "gpt-4.1@2026-07-01");
    assert!(gpt41.price_at(at("2025-12-31T23:59:59Z")).is_none());
    // 1e-07 $/token is exactly $0.10 / Mtok.
    let mini = &p.models["gpt-4.1-mini"];
    assert_eq!(mini.prices[0].rates.cached_read, PricePerMtok(100_000_000));
    // Hours become money at the org's hourly value: 0.25 h × $85.
    assert_eq!(p.use_cases["support-reply"].outcome_value, Nanos::parse_usd("21.25").unwrap());
}

#[test]
fn the_dlp_allowlist_is_read_and_its_mistakes_are_located() {
    let p = load_file(&acme_path()).unwrap_or_else(|r| panic!("{r}")).policy;
    assert!(p.dlp.allows(tokenwise_core::FindingKind::Email, "NoReply@Anthropic.com"));
    assert!(p.dlp.allows(tokenwise_core::FindingKind::Email, "noreply-billing@acme.example"));
    assert!(!p.dlp.allows(tokenwise_core::FindingKind::Email, "jane.doe@gmail.com"));
    assert!(!p.dlp.allows(tokenwise_core::FindingKind::Email, "amara.okafor@acme.example"));

    let src = acme_src().replace(
        "  { pattern = \"noreply*@acme.example\", kinds = [\"email\"] },\n",
        "  { pattern = \"noreply*@acme.example\", kinds = [\"emails\"] },\n  { pattern = \"*@*\" },\n  { value = \"x@y.example\", pattern = \"x*@y.example\" },\n  { pattern = \"*@gmail.com\", kinds = [\"email\"] },\n",
    );
    let report = load_as_acme(&src).unwrap_err();
    let errs = errors(&report);
    assert_eq!(errs.len(), 4, "{report}");
    let find = |needle: &str| {
        report.errors().find(|d| d.message.contains(needle)).unwrap_or_else(|| panic!("no `{needle}` in {report}"))
    };
    let d = find("unknown finding kind `emails`");
    assert_eq!(d.line, line_of(&src, "kinds = [\"emails\"]"));
    assert!(d.hint.as_deref().unwrap().contains("did you mean `email`?"), "{:?}", d.hint);
    let d = find("pattern `*@*` is too broad");
    assert_eq!(d.line, line_of(&src, "{ pattern = \"*@*\" }"));
    assert!(d.hint.is_some());
    assert_eq!(find("either `value` or `pattern`").line, line_of(&src, "x*@y.example"));
    let d = find("pattern `*@gmail.com` is too broad");
    assert!(d.message.contains("every address at a domain"), "{}", d.message);
    assert_eq!(d.line, line_of(&src, "*@gmail.com"));

    // A misspelt key in an entry (the `[dlp]` section is read as one, so
    // it is reported alone).
    let src =
        acme_src().replace("{ value = \"noreply@anthropic.com\", kinds", "{ value = \"noreply@anthropic.com\", kind");
    let report = load_as_acme(&src).unwrap_err();
    let d = report.errors().next().unwrap();
    assert!(d.message.contains("unknown field `kind`"), "{report}");
    assert_eq!(d.line, line_of(&src, "noreply@anthropic.com\", kind ="));
}

#[test]
fn integrations_name_their_secret_and_their_mistakes_are_located() {
    let p = load_file(&acme_path()).unwrap_or_else(|r| panic!("{r}")).policy;
    let helpdesk = &p.integrations["helpdesk"];
    assert_eq!(helpdesk.secret_env, "TOKENWISE_HELPDESK_SECRET");
    assert!(helpdesk.description.is_some());

    let src = acme_src().replace(
        "description = \"Support's ticketing system",
        "[[integrations]]\nid = \"helpdesk\"\nsecret_env = \"helpdesk secret\"\n\n[[integrations]]\nid = \"ci\"\nsecret = \"x\"\n\n[[integrations]]\nid = \"code host\"\nsecret_env = \"TW_CODE\"\ndescription = \"Support's ticketing system",
    );
    let report = load_as_acme(&src).unwrap_err();
    let errs = errors(&report);
    assert_eq!(errs.len(), 4, "{report}");
    let find = |needle: &str| {
        report.errors().find(|d| d.message.contains(needle)).unwrap_or_else(|| panic!("no `{needle}` in {report}"))
    };
    assert_eq!(
        find("integration `helpdesk` is defined twice").line,
        line_of(&src, "secret_env = \"helpdesk secret\"") - 1
    );
    let d = find("`helpdesk secret` is not an environment variable name");
    assert_eq!(d.line, line_of(&src, "secret_env = \"helpdesk secret\""));
    assert!(d.hint.is_some());
    assert_eq!(find("unknown field `secret`").line, line_of(&src, "secret = \"x\""));
    assert_eq!(find("`code host` is not a valid integration id").line, line_of(&src, "id = \"code host\""));
}

#[test]
fn learning_kinds_are_read_and_an_empty_list_is_refused_at_its_line() {
    let p = load_file(&acme_path()).unwrap().policy;
    assert_eq!(p.scoring.rules.learning_kinds, ["template_created", "template_promoted"]);
    let line = "learning_kinds = [\"template_created\", \"template_promoted\"]";
    let src = acme_src().replace(line, "learning_kinds = []");
    let report = load_as_acme(&src).unwrap_err();
    let d = report.errors().next().unwrap();
    assert!(d.message.contains("learning_kinds must name at least one outcome kind"), "{report}");
    assert_eq!(d.line, line_of(&src, "learning_kinds = []"));
    // Left out, the default kinds apply.
    let p = load_as_acme(&acme_src().replace(line, "")).unwrap().policy;
    assert_eq!(p.scoring.rules.learning_kinds, tokenwise_scoring::Rules::default().learning_kinds);
}

#[test]
fn ingest_rules_name_people_and_use_cases_that_exist_and_mistakes_are_located() {
    let p = load_file(&acme_path()).unwrap_or_else(|r| panic!("{r}")).policy;
    let rules = &p.ingest.sources;
    assert!(rules.len() >= 3);
    let litellm = rules.iter().find(|r| r.format.as_deref() == Some("litellm")).unwrap();
    assert!(litellm.team.as_ref().unwrap().matches("support-tier1"));
    assert!(litellm.users.values().all(|u| p.users.contains_key(u)));

    let src = acme_src().replace(
        "name = \"oncall-agent\"\nformat = \"otlp\"\nsource = \"oncall-agent\"\nuser = \"chen.wei\"\nuse_case = \"incident-triage\"",
        "name = \"oncall-agent\"\nformat = \"otel\"\nsource = \"oncall-agent\"\nuser = \"chen.wie\"\nuse_case = \"incident-triage\"\n\n[[ingest.sources]]\nformat = \"jsonl\"\nuser = \"ivan.petrov\"\nuse_case = \"code-review\" # not support's\nmodels = { \"x\" = \"gpt-5\" }",
    );
    let report = load_as_acme(&src).unwrap_err();
    let find = |needle: &str| {
        report.errors().find(|d| d.message.contains(needle)).unwrap_or_else(|| panic!("no `{needle}` in {report}"))
    };
    assert_eq!(find("unknown ingest format `otel`").line, line_of(&src, "format = \"otel\""));
    assert_eq!(find("unknown user `chen.wie`").line, line_of(&src, "user = \"chen.wie\""));
    assert_eq!(find("unknown model `gpt-5`").line, line_of(&src, "models = { \"x\" = \"gpt-5\" }"));
    let d = find("`ivan.petrov` may not use use case `code-review`");
    assert_eq!(d.line, line_of(&src, "use_case = \"code-review\" # not support's"));
    assert_eq!(errors(&report).len(), 4, "{report}");

    let typo = acme_src().replace("name = \"acme-tools\"", "name = \"acme-tools\"\nsorce = \"x\"");
    let report = load_as_acme(&typo).unwrap_err();
    assert!(
        report.errors().any(|d| d.message.contains("unknown field `sorce`") && d.line == line_of(&typo, "sorce")),
        "{report}"
    );
}

#[test]
fn the_dashboard_trusts_only_the_proxies_it_lists() {
    let p = load_file(&acme_path()).unwrap().policy;
    assert!(p.dashboard.trusted_proxies.is_empty(), "no section: identity headers are believed from no one");
    assert!(!p.dashboard.trusts("127.0.0.1".parse().unwrap()));
    assert_eq!(p.dashboard.session_hours, 12);
    let src = acme_src() + "\n[dashboard]\ntrusted_proxies = [\"10.0.0.7\", \"::1\"]\nsession_hours = 8\n";
    let d = load_as_acme(&src).unwrap().policy.dashboard;
    assert!(d.trusts("10.0.0.7".parse().unwrap()) && d.trusts("::1".parse().unwrap()));
    assert!(d.trusts("::ffff:10.0.0.7".parse().unwrap()), "an IPv4 peer seen on an IPv6 socket is the same address");
    assert!(!d.trusts("10.0.0.8".parse().unwrap()));
    assert_eq!(d.session_hours, 8);
    let src = acme_src() + "\n[dashboard]\ntrusted_proxies = [\"proxy.internal\"]\nsession_hours = 0\n";
    let errs = errors(&load_as_acme(&src).unwrap_err());
    assert_eq!(
        errs,
        vec![
            (line_of(&src, "trusted_proxies = [\"proxy"), "`proxy.internal` is not an IP address".into()),
            (line_of(&src, "session_hours = 0"), "session_hours must be from 1 to 720, got 0".into()),
        ]
    );
    let src = acme_src() + "\n[dashboard]\ntrusted_proxy = [\"10.0.0.7\"]\n";
    let errs = errors(&load_as_acme(&src).unwrap_err());
    assert_eq!(errs.len(), 1, "a misspelt key is an error: {errs:?}");
}

#[test]
fn budget_escrow_is_on_by_default_and_its_knobs_are_checked() {
    let s = load_file(&acme_path()).unwrap().policy.server;
    assert_eq!(
        (s.budget_escrow, s.escrow_allowance_bp, s.escrow_fallback_multiple, s.escrow_tick_ms),
        (true, 100, 8, 50)
    );
    let src = acme_src().replacen(
        "[server]\n",
        "[server]\nbudget_escrow = false\nescrow_allowance_bp = 250\nescrow_fallback_multiple = 4\nescrow_tick_ms = 20\n",
        1,
    );
    let s = load_as_acme(&src).unwrap().policy.server;
    assert_eq!(
        (s.budget_escrow, s.escrow_allowance_bp, s.escrow_fallback_multiple, s.escrow_tick_ms),
        (false, 250, 4, 20)
    );
    let src = acme_src().replacen("[server]\n", "[server]\nescrow_tick_ms = 1\n", 1);
    let errs = errors(&load_as_acme(&src).unwrap_err());
    assert_eq!(errs, vec![(line_of(&src, "escrow_tick_ms = 1"), "escrow_tick_ms must be between 5 and 5000".into())]);
    let src = acme_src().replacen("[server]\n", "[server]\nescrow_alowance_bp = 100\n", 1);
    let errs = errors(&load_as_acme(&src).unwrap_err());
    assert_eq!(errs.len(), 1, "an unknown key is refused");
}
