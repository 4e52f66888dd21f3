//! Raw → checked. Every rule here speaks in key paths; `diag` turns them
//! into lines. Errors are collected, never returned early, so one run
//! shows them all.

use crate::allow::Allow;
use crate::diag::{At, KeyPath, Sink, suggest};
use crate::model::*;
use crate::prices::{ImportedPrice, parse_litellm};
use crate::raw::*;
use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokenwise_core::{FindingKind, Nanos, PricePerMtok, Rates, Scope};

mod ingest;
mod pilots;
mod tiers;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_MAX_REQUEST_BYTES: u64 = 4 * 1024 * 1024;

fn path(parts: &[&str]) -> KeyPath {
    parts.iter().fold(KeyPath::root(), |p, k| p.key(k))
}

/// Names declared in each section, whether or not their bodies were valid.
struct Names {
    upstreams: BTreeSet<String>,
    models: BTreeSet<String>,
    teams: BTreeSet<String>,
    users: BTreeSet<String>,
    projects: BTreeSet<String>,
    use_cases: BTreeSet<String>,
}

fn names<T>(e: &Entries<T>) -> BTreeSet<String> {
    e.iter().map(|(k, _)| k.clone()).collect()
}

impl Names {
    fn of(raw: &RawDoc) -> Names {
        Names {
            upstreams: names(&raw.upstreams),
            models: names(&raw.models),
            teams: names(&raw.teams),
            users: names(&raw.users),
            projects: names(&raw.projects),
            use_cases: names(&raw.use_cases),
        }
    }
}

struct V<'a> {
    sink: &'a mut Sink,
    names: &'a Names,
    /// None when `data_classes` itself is broken: class references are then
    /// not checked, rather than each reported as a second error.
    classes: Option<DataClasses>,
}

impl V<'_> {
    fn err(&mut self, p: KeyPath, msg: impl Into<String>, hint: impl Into<Option<String>>) {
        self.sink.error(At::Value(p), msg, hint.into());
    }

    fn err_key(&mut self, p: KeyPath, msg: impl Into<String>, hint: impl Into<Option<String>>) {
        self.sink.error(At::Key(p), msg, hint.into());
    }

    fn warn(&mut self, p: KeyPath, msg: impl Into<String>, hint: impl Into<Option<String>>) {
        self.sink.warning(At::Key(p), msg, hint.into());
    }

    /// Checks that `name` is declared in `set`; `what` is e.g. "model".
    fn reference(&mut self, p: KeyPath, what: &str, name: &str, set: &BTreeSet<String>) -> bool {
        if set.contains(name) {
            return true;
        }
        let parent = p.clone();
        self.err(p, format!("unknown {what} `{name}` in {parent}"), suggest(name, set.iter().map(String::as_str)));
        false
    }

    fn class(&mut self, p: KeyPath, name: &str) -> Option<DataClass> {
        let classes = self.classes.as_ref()?;
        match classes.get(name) {
            Some(c) => Some(c),
            None => {
                let hint = suggest(name, classes.names().iter().map(String::as_str));
                let at = p.clone();
                self.err(p, format!("unknown data class `{name}` in {at}"), hint);
                None
            }
        }
    }

    fn usd(&mut self, p: KeyPath, amount: &Amount) -> Option<Nanos> {
        match Nanos::parse_usd(&amount.0) {
            Ok(n) => Some(n),
            Err(e) => {
                self.err(p, e.to_string(), Some("write dollars as a decimal, e.g. \"1250.00\"".into()));
                None
            }
        }
    }

    fn per_mtok(&mut self, p: KeyPath, amount: &Amount) -> Option<PricePerMtok> {
        match PricePerMtok::parse_usd_per_mtok(&amount.0) {
            Ok(n) => Some(n),
            Err(e) => {
                self.err(p, e.to_string(), Some("prices are dollars per million tokens, e.g. \"0.15\"".into()));
                None
            }
        }
    }

    fn date(&mut self, p: KeyPath, d: &DateText) -> Option<Timestamp> {
        // A date-time is accepted too; its date part counts.
        let text = d.0.get(..10).unwrap_or(&d.0);
        match text.parse::<Date>() {
            // Prices change at midnight UTC, as providers publish them.
            Ok(date) => date.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp()),
            Err(_) => {
                self.err(p, format!("`{}` is not a date", d.0), Some("write it as YYYY-MM-DD, e.g. 2026-01-01".into()));
                None
            }
        }
    }

    fn ident(&mut self, p: KeyPath, id: &str, what: &str) {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            self.err_key(
                p,
                format!("`{id}` is not a valid {what} id"),
                Some("use letters, digits, `-`, `_` or `.` (at most 64, starting with a letter or digit)".into()),
            );
        }
    }

    fn unit(&mut self, p: KeyPath, v: Option<f64>, what: &str) -> Option<f64> {
        match v {
            Some(x) if !(0.0..=1.0).contains(&x) => {
                self.err(p, format!("{what} must be between 0 and 1, got {x}"), None);
                None
            }
            other => other,
        }
    }
}

fn required_sections(raw: &RawDoc, sink: &mut Sink) {
    for required in ["org", "data_classes", "upstreams", "models", "teams", "users", "use_cases"] {
        if !raw.present.iter().any(|p| p == required) {
            sink.error(
                At::Span(0..0),
                format!("missing section `{required}`"),
                Some(format!("every policy needs `{required}`; see examples/acme.toml")),
            );
        }
    }
}

/// Every declared name is a valid id.
fn idents(v: &mut V<'_>, names: &Names) {
    for (section, set) in [
        ("upstreams", &names.upstreams),
        ("models", &names.models),
        ("teams", &names.teams),
        ("users", &names.users),
        ("projects", &names.projects),
        ("use_cases", &names.use_cases),
    ] {
        let what = section.trim_end_matches('s');
        for id in set {
            v.ident(path(&[section, id]), id, what);
        }
    }
}

pub(crate) fn validate(
    raw: RawDoc,
    file: &Path,
    base_dir: &Path,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
    sink: &mut Sink,
) -> Option<Policy> {
    required_sections(&raw, sink);
    let names = Names::of(&raw);
    let anomalies = crate::anomalies::validate(sink, raw.anomalies.as_ref());
    let dashboard = crate::dashboard::validate(sink, raw.dashboard.as_ref());
    let rate_limits = crate::rate_limits::validate(sink, raw.rate_limits.as_ref());
    let mut v = V { sink, names: &names, classes: None };
    idents(&mut v, &names);

    v.classes = raw.data_classes.as_ref().and_then(|c| data_classes(&mut v, c));
    let org = raw.org.as_ref().and_then(|o| org(&mut v, o));
    let upstreams = upstreams(&mut v, &raw.upstreams);
    let sources = price_sources(&mut v, &raw.price_sources, base_dir, read);
    let models = models(&mut v, &raw.models, &upstreams, &sources);
    let users = users(&mut v, &raw.users);
    let teams = teams(&mut v, &raw.teams, &users);
    let projects = projects(&mut v, &raw.projects, &teams);
    let retention = raw.retention.as_ref().map_or(Some(Retention { prompts: PromptRetention::None, days: 0 }), |r| {
        retention(&mut v, path(&["retention"]), r, None)
    });
    let tiers_used: BTreeSet<RiskTier> =
        raw.use_cases.iter().filter_map(|(_, u)| u.as_ref().map(|u| u.risk_tier)).collect();
    let scan_all = raw.dlp.as_ref().is_some_and(|d| d.scan_output);
    let risk_tiers = tiers::risk_tiers(&mut v, &raw.risk_tiers, scan_all, &tiers_used);
    let known = Known { models: &models, users: &users, org: org.as_ref(), tiers: &risk_tiers };
    let use_cases = use_cases(&mut v, &raw.use_cases, &known, retention);
    if let Some(top) = &raw.retention {
        tiers::default_retention_used(&mut v, top, &raw.use_cases);
    }
    if use_cases.len() == names.use_cases.len() {
        users_without_use_cases(&mut v, &users, &use_cases);
    }
    let templates = templates(&mut v, &raw.templates);
    let budgets = budgets(&mut v, &raw.budgets);
    let scoring = raw.scoring.as_ref().map_or(Some(Scoring::default()), |s| scoring(&mut v, s));
    let tier_scans = tiers_used.iter().any(|t| risk_tiers.floor(*t).scan_output);
    let dlp = dlp(&mut v, raw.dlp.as_ref(), tier_scans);
    let exceptions = raw.exceptions.as_ref().map_or(Some(ExceptionPolicy::none()), |e| exceptions(&mut v, e));
    let server = server(&mut v, raw.server.as_ref(), base_dir);
    let alerts = alerts(&mut v, raw.alerts.as_ref());
    let (integrations, nudges) = (integrations(&mut v, &raw.integrations), nudges(&mut v, raw.nudges.as_ref()));
    let reports = reports(&mut v, raw.reports.as_ref());
    let ingest = ingest::ingest(&mut v, raw.ingest.as_ref(), &ingest::Known { users: &users, use_cases: &use_cases });
    let known =
        pilots::Known { users: &users, use_cases: &use_cases, rules: scoring.as_ref().map(|s| s.rules.version()) };
    let pilots = pilots::pilots(&mut v, &raw.pilots, &known);
    if v.sink.has_errors() {
        return None;
    }
    Some(Policy {
        source: file.to_path_buf(),
        org: org?,
        classes: v.classes?,
        upstreams,
        models,
        teams,
        users,
        projects,
        use_cases,
        templates,
        budgets,
        scoring: scoring?,
        dlp: dlp?,
        retention: retention?,
        risk_tiers,
        exceptions: exceptions?,
        server: server?,
        alerts,
        integrations,
        nudges,
        reports,
        ingest,
        anomalies,
        dashboard,
        rate_limits,
        pilots,
    })
}

fn reports(v: &mut V<'_>, raw: Option<&RawReports>) -> Reports {
    let d = Reports::default();
    let Some(r) = raw else { return d };
    let tolerance = r.reconcile_tolerance_percent.unwrap_or(d.reconcile_tolerance_percent);
    if !(0.0..=100.0).contains(&tolerance) {
        v.err(
            path(&["reports"]).key("reconcile_tolerance_percent"),
            format!("reconcile_tolerance_percent must be from 0 to 100, got {tolerance}"),
            Some("e.g. 1.0: a provider's figure may differ from the ledger's by 1% before it is flagged".into()),
        );
    }
    Reports { reconcile_tolerance_percent: tolerance }
}

/// `[[integrations]]`: unique ids, each naming the environment variable
/// that holds its secret.
fn integrations(v: &mut V<'_>, raw: &[Option<RawIntegration>]) -> BTreeMap<String, Integration> {
    let mut out = BTreeMap::new();
    for (i, entry) in raw.iter().enumerate() {
        let Some(r) = entry else { continue };
        let p = path(&["integrations"]).index(i);
        v.ident(p.key("id"), &r.id, "integration");
        let env_ok = !r.secret_env.is_empty()
            && !r.secret_env.starts_with(|c: char| c.is_ascii_digit())
            && r.secret_env.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !env_ok {
            v.err(
                p.key("secret_env"),
                format!("`{}` is not an environment variable name", r.secret_env),
                Some("name the variable that holds the secret, e.g. \"TOKENWISE_HELPDESK_SECRET\"".into()),
            );
        }
        let integration =
            Integration { id: r.id.clone(), secret_env: r.secret_env.clone(), description: r.description.clone() };
        if out.insert(r.id.clone(), integration).is_some() {
            v.err(p.key("id"), format!("integration `{}` is defined twice", r.id), None);
        }
    }
    out
}

fn nudges(v: &mut V<'_>, raw: Option<&RawNudges>) -> Nudges {
    let d = Nudges::default();
    let Some(n) = raw else { return d };
    let p = path(&["nudges"]);
    let factor = n.task_cost_factor.unwrap_or(d.task_cost_factor);
    if !(1.0..=1000.0).contains(&factor) {
        let hint = "e.g. 3: advice once a task costs more than three times the usual".to_string();
        v.err(p.key("task_cost_factor"), format!("task_cost_factor must be from 1 to 1000, got {factor}"), Some(hint));
    }
    let days = n.baseline_days.unwrap_or(d.baseline_days);
    if !(1..=366).contains(&days) {
        v.err(p.key("baseline_days"), "baseline_days must be from 1 to 366", None);
    }
    let min_tasks = n.baseline_min_tasks.unwrap_or(d.baseline_min_tasks);
    if min_tasks == 0 {
        v.err(p.key("baseline_min_tasks"), "baseline_min_tasks must be at least 1", None);
    }
    let idle = n.task_idle_minutes.unwrap_or(d.task_idle_minutes);
    if !(1..=7 * 24 * 60).contains(&idle) {
        v.err(p.key("task_idle_minutes"), "task_idle_minutes must be from 1 to 10080 (a week)", None);
    }
    Nudges { task_cost_factor: factor, baseline_days: days, baseline_min_tasks: min_tasks, task_idle_minutes: idle }
}

fn alerts(v: &mut V<'_>, raw: Option<&RawAlerts>) -> Alerts {
    let Some(a) = raw else { return Alerts::default() };
    let p = path(&["alerts"]);
    if let Some(u) = &a.webhook_url {
        if !url::Url::parse(u).is_ok_and(|x| matches!(x.scheme(), "http" | "https")) {
            v.err(
                p.key("webhook_url"),
                format!("`{u}` is not an http(s) URL"),
                Some("e.g. \"https://hooks.example.com/tokenwise\"".into()),
            );
        }
        if a.secret_env.is_none() {
            v.warn(
                p.key("webhook_url"),
                "alerts are sent unsigned",
                Some("set secret_env to the variable holding an HMAC secret".into()),
            );
        }
    }
    Alerts { webhook_url: a.webhook_url.clone(), secret_env: a.secret_env.clone() }
}

fn data_classes(v: &mut V<'_>, list: &[String]) -> Option<DataClasses> {
    let p = path(&["data_classes"]);
    if list.is_empty() {
        v.err(p, "`data_classes` is empty", Some("list classes from least to most sensitive, e.g. [\"public\", \"internal\", \"confidential\", \"restricted\"]".into()));
        return None;
    }
    if list.len() > 16 {
        v.err(p, "at most 16 data classes are supported", None);
        return None;
    }
    let mut seen = BTreeSet::new();
    let mut ok = true;
    for (i, c) in list.iter().enumerate() {
        v.ident(p.index(i), c, "data class");
        if !seen.insert(c) {
            v.err(p.index(i), format!("data class `{c}` is listed twice"), None);
            ok = false;
        }
    }
    ok.then(|| DataClasses::new(list.to_vec()))
}

fn org(v: &mut V<'_>, o: &RawOrg) -> Option<Org> {
    let p = path(&["org"]);
    if o.currency != "USD" {
        v.err(
            p.key("currency"),
            format!("currency `{}` is not supported", o.currency),
            Some("amounts are kept in nano-dollars; use \"USD\"".into()),
        );
    }
    let tz = match jiff::tz::TimeZone::get(&o.time_zone) {
        Ok(tz) => Some(tz),
        Err(_) => {
            v.err(
                p.key("time_zone"),
                format!("unknown time zone `{}`", o.time_zone),
                Some("use an IANA name such as \"Europe/Berlin\" or \"America/New_York\"".into()),
            );
            None
        }
    };
    let hour_value = v.usd(p.key("hour_value_usd"), &o.hour_value_usd);
    let week_starts = match o.week_starts.as_deref().unwrap_or("monday") {
        "monday" => Some(Weekday::Monday),
        "sunday" => Some(Weekday::Sunday),
        "saturday" => Some(Weekday::Saturday),
        other => {
            v.err(
                p.key("week_starts"),
                format!("weeks cannot start on `{other}`"),
                Some("use \"monday\", \"sunday\" or \"saturday\"".into()),
            );
            None
        }
    };
    Some(Org { name: o.name.clone(), time_zone: tz?, hour_value: hour_value?, week_starts: week_starts? })
}

fn upstreams(v: &mut V<'_>, raw: &Entries<RawUpstream>) -> BTreeMap<String, Upstream> {
    let mut out = BTreeMap::new();
    for (id, u) in raw {
        let Some(u) = u else { continue };
        let p = path(&["upstreams", id]);
        match url::Url::parse(&u.base_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            Ok(url) => v.err(
                p.key("base_url"),
                format!("scheme `{}` is not supported", url.scheme()),
                Some("use an http:// or https:// URL".into()),
            ),
            Err(e) => v.err(
                p.key("base_url"),
                format!("`{}` is not a URL: {e}", u.base_url),
                Some("e.g. \"https://api.openai.com/v1\"".into()),
            ),
        }
        if let Some(env) = &u.api_key_env {
            let valid = env.chars().next().is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                && env.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                v.err(
                    p.key("api_key_env"),
                    format!("`{env}` is not an environment variable name"),
                    Some("name the variable that holds the key, e.g. \"OPENAI_API_KEY\"; never the key itself".into()),
                );
            }
        }
        for (i, h) in u.forward_headers.iter().enumerate() {
            let name = h.strip_suffix('*').unwrap_or(h);
            let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            let reserved = ["authorization", "x-api-key", "host", "content-length", "x-tokenwise-"].iter().any(|r| {
                name.eq_ignore_ascii_case(r) || (r.ends_with('-') && name.to_ascii_lowercase().starts_with(r))
            });
            if !valid || reserved {
                v.err(p.key("forward_headers").index(i), format!("`{h}` cannot be forwarded"), Some("name a header (or a prefix ending in `*`); credentials, host and tokenwise's own headers are never forwarded".into()));
            }
        }
        if u.timeout_secs == Some(0) || u.connect_timeout_ms == Some(0) {
            v.err(p.clone(), "timeouts must be greater than zero", None);
        }
        if u.max_response_mb.is_some_and(|mb| mb == 0 || mb > 4096) {
            let hint = "a size in MiB from 1 to 4096; leave it out for 64".to_string();
            v.err(p.key("max_response_mb"), "`max_response_mb` must be from 1 to 4096", Some(hint));
        }
        out.insert(
            id.clone(),
            Upstream {
                id: id.clone(),
                base_url: u.base_url.trim_end_matches('/').to_string(),
                format: u.format,
                api_key_env: u.api_key_env.clone(),
                timeout: Duration::from_secs(u.timeout_secs.unwrap_or(600)),
                connect_timeout: Duration::from_millis(u.connect_timeout_ms.unwrap_or(5_000)),
                max_response_bytes: u.max_response_mb.unwrap_or(64).clamp(1, 4096) * 1024 * 1024,
                forward_headers: u.forward_headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
            },
        );
    }
    out
}

struct Source {
    path: PathBuf,
    from: Timestamp,
    table: BTreeMap<String, ImportedPrice>,
}

/// The price files that loaded, and whether any failed to (then a model
/// without prices is not reported again: its prices may be in that file).
struct Sources {
    loaded: Vec<Source>,
    any_failed: bool,
}

fn price_sources(
    v: &mut V<'_>,
    raw: &[Option<RawPriceSource>],
    base_dir: &Path,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Sources {
    let mut out = Sources { loaded: Vec::new(), any_failed: false };
    for (i, s) in raw.iter().enumerate() {
        let Some(s) = s else { continue };
        let p = path(&["price_sources"]).index(i);
        let from = v.date(p.key("effective_from"), &s.effective_from);
        let file = base_dir.join(&s.path);
        let table = match read(&file) {
            Ok(text) => match s.format {
                PriceFormat::Litellm => parse_litellm(&text).map_err(|e| format!("{}: {e}", file.display())),
            },
            Err(e) => Err(format!("cannot read price file {}: {e}", file.display())),
        };
        match (table, from) {
            (Ok(table), Some(from)) => out.loaded.push(Source { path: file, from, table }),
            (Err(e), _) => {
                out.any_failed = true;
                v.err(p.key("path"), e, Some("paths are relative to the policy file's folder".into()));
            }
            (Ok(_), None) => out.any_failed = true,
        }
    }
    out
}

fn models(
    v: &mut V<'_>,
    raw: &Entries<RawModel>,
    upstreams: &BTreeMap<String, Upstream>,
    sources: &Sources,
) -> BTreeMap<String, Model> {
    let mut out = BTreeMap::new();
    let now = Timestamp::now();
    for (id, m) in raw {
        let Some(m) = m else { continue };
        let p = path(&["models", id]);
        model_upstream(v, &p, id, m, upstreams);
        let class = v.class(p.key("max_data_class"), &m.max_data_class);
        let mut prices = policy_prices(v, &p, id, m);
        let upstream_model = m.upstream_model.clone().unwrap_or_else(|| id.clone());
        let reference = m.price_ref.clone().unwrap_or_else(|| upstream_model.clone());
        let found_in_file = prices.import(id, &reference, sources);
        // A price file that failed to load may hold what seems missing, and
        // its failure is reported already.
        if !sources.any_failed {
            missing_prices(v, &p, id, m, &reference, found_in_file, prices.versions.is_empty());
        }
        let Prices { mut versions, max_output_tokens, .. } = prices;
        versions.sort_by_key(|pv| pv.effective_from);
        if versions.first().is_some_and(|pv| pv.effective_from > now) {
            v.warn(
                p.clone(),
                format!("model `{id}` has no price in effect yet"),
                Some("calls before the first effective_from cannot be priced".into()),
            );
        }
        let Some(class) = class else { continue };
        out.insert(
            id.clone(),
            Model {
                id: id.clone(),
                upstream: m.upstream.clone(),
                upstream_model,
                kind: m.kind,
                max_class: class,
                reasoning: m.reasoning,
                max_output_tokens,
                prices: versions,
            },
        );
    }
    out
}

/// The model's upstream is declared and can serve its kind.
fn model_upstream(v: &mut V<'_>, p: &KeyPath, id: &str, m: &RawModel, upstreams: &BTreeMap<String, Upstream>) {
    let known_upstreams = &v.names.upstreams;
    v.reference(p.key("upstream"), "upstream", &m.upstream, known_upstreams);
    if m.kind == ModelKind::Embedding && upstreams.get(&m.upstream).is_some_and(|u| u.format == WireFormat::Anthropic) {
        v.err(
            p.key("kind"),
            format!("model `{id}` is an embedding model on an Anthropic upstream"),
            Some("Anthropic's API has no embeddings endpoint; use an openai-format upstream".into()),
        );
    }
}

/// A model's price versions as gathered so far, at most one a day.
struct Prices {
    versions: Vec<PriceVersion>,
    days: BTreeSet<Timestamp>,
    max_output_tokens: Option<u64>,
}

impl Prices {
    /// Adds the versions the price files hold under `reference`, and the
    /// first output limit they give where the policy sets none. Returns
    /// whether any file has the entry.
    fn import(&mut self, id: &str, reference: &str, sources: &Sources) -> bool {
        let mut found_in_file = false;
        for s in &sources.loaded {
            let Some(imp) = s.table.get(reference) else { continue };
            found_in_file = true;
            self.max_output_tokens = self.max_output_tokens.or(imp.max_output_tokens);
            // A version written in the policy wins over a file's on the same day.
            if self.days.insert(s.from) {
                let file = s.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                self.versions.push(PriceVersion {
                    id: format!("{id}@{}~{file}", day(s.from)),
                    effective_from: s.from,
                    rates: imp.rates,
                });
            }
        }
        found_in_file
    }
}

/// The price versions written in the policy (`[[models.ID.prices]]`).
fn policy_prices(v: &mut V<'_>, p: &KeyPath, id: &str, m: &RawModel) -> Prices {
    let mut prices = Prices { versions: Vec::new(), days: BTreeSet::new(), max_output_tokens: m.max_output_tokens };
    for (i, price) in m.prices.iter().enumerate() {
        let pp = p.key("prices").index(i);
        let Some((from, rates)) = price_version(v, &pp, i, id, m.kind, price) else { continue };
        if !prices.days.insert(from) {
            v.err(
                pp.key("effective_from"),
                format!("two price versions of `{id}` start on the same day"),
                Some("each version needs its own effective_from date".into()),
            );
            continue;
        }
        prices.versions.push(PriceVersion { id: format!("{id}@{}", day(from)), effective_from: from, rates });
    }
    prices
}

/// One price version's start and rates; every field is checked even when
/// an earlier one is wrong, so all its errors show at once.
fn price_version(
    v: &mut V<'_>,
    pp: &KeyPath,
    i: usize,
    id: &str,
    kind: ModelKind,
    price: &RawPrice,
) -> Option<(Timestamp, Rates)> {
    let from = v.date(pp.key("effective_from"), &price.effective_from);
    let input = v.per_mtok(pp.key("input"), &price.input);
    let output = match &price.output {
        Some(a) => v.per_mtok(pp.key("output"), a),
        None if kind == ModelKind::Embedding => Some(PricePerMtok(0)),
        None => {
            v.err(
                pp.clone(),
                format!("price version {i} of `{id}` has no `output` price"),
                Some("chat models need an output price per million tokens".into()),
            );
            None
        }
    };
    let mut opt = |key: &str, a: &Option<Amount>| a.as_ref().map(|a| v.per_mtok(pp.key(key), a));
    let cached = opt("cached_input", &price.cached_input);
    let write = opt("cache_write", &price.cache_write);
    let reasoning = opt("reasoning", &price.reasoning);
    let (Some(from), Some(input), Some(output)) = (from, input, output) else { return None };
    Some((from, Rates::with_defaults(input, output, cached.flatten(), write.flatten(), reasoning.flatten())))
}

/// A `price_ref` no price file has, or a model with no price at all.
fn missing_prices(
    v: &mut V<'_>,
    p: &KeyPath,
    id: &str,
    m: &RawModel,
    reference: &str,
    found_in_file: bool,
    no_versions: bool,
) {
    if m.price_ref.is_some() && !found_in_file {
        v.err(
            p.key("price_ref"),
            format!("no entry `{reference}` in any price source"),
            Some("check the name against the price file, or write [[models.ID.prices]] in the policy".into()),
        );
    }
    if no_versions && m.price_ref.is_none() {
        v.err_key(
            p.clone(),
            format!("model `{id}` has no prices"),
            Some(format!(
                "add a [[{}]] table, or a price_sources file with an entry named `{reference}`",
                p.key("prices")
            )),
        );
    }
}

fn day(t: Timestamp) -> String {
    t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date().to_string()
}

fn users(v: &mut V<'_>, raw: &Entries<RawUser>) -> BTreeMap<String, User> {
    let mut out = BTreeMap::new();
    let teams = &v.names.teams;
    for (id, u) in raw {
        let Some(u) = u else { continue };
        let p = path(&["users", id]);
        v.reference(p.key("team"), "team", &u.team, teams);
        if let Some(email) = &u.email {
            let valid = email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'));
            if !valid {
                v.err(p.key("email"), format!("`{email}` is not an email address"), None);
            }
        }
        out.insert(
            id.clone(),
            User { id: id.clone(), name: u.name.clone(), email: u.email.clone(), team: u.team.clone(), role: u.role },
        );
    }
    out
}

fn teams(v: &mut V<'_>, raw: &Entries<RawTeam>, users: &BTreeMap<String, User>) -> BTreeMap<String, Team> {
    let mut out = BTreeMap::new();
    let known_users = &v.names.users;
    for (id, t) in raw {
        let Some(t) = t else { continue };
        let p = path(&["teams", id]);
        let manager =
            v.reference(p.key("manager"), "user", &t.manager, known_users).then(|| users.get(&t.manager)).flatten();
        if let Some(u) = manager.filter(|u| matches!(u.role, Role::Member | Role::Finance)) {
            v.err(
                p.key("manager"),
                format!("`{}` manages team `{id}` but has role `{}`", t.manager, u.role.as_str()),
                Some(format!("set users.{}.role = \"manager\"", t.manager)),
            );
        }
        if t.regulated && matches!(t.visibility, Visibility::Public | Visibility::Team) {
            v.err(
                p.key("visibility"),
                format!("team `{id}` is regulated, so its people may not be shown by name"),
                Some("use visibility = \"pseudonymous\" or \"private\"".into()),
            );
        }
        if !users.values().any(|u| &u.team == id) {
            v.warn(p.clone(), format!("team `{id}` has no members"), None);
        }
        out.insert(
            id.clone(),
            Team {
                id: id.clone(),
                name: t.name.clone(),
                cost_centre: t.cost_centre.clone(),
                manager: t.manager.clone(),
                visibility: t.visibility,
                regulated: t.regulated,
            },
        );
    }
    out
}

fn projects(v: &mut V<'_>, raw: &Entries<RawProject>, teams: &BTreeMap<String, Team>) -> BTreeMap<String, Project> {
    let mut out = BTreeMap::new();
    let known = &v.names.teams;
    for (id, pr) in raw {
        let Some(pr) = pr else { continue };
        let p = path(&["projects", id]);
        v.reference(p.key("team"), "team", &pr.team, known);
        let cost_centre =
            pr.cost_centre.clone().or_else(|| teams.get(&pr.team).map(|t| t.cost_centre.clone())).unwrap_or_default();
        out.insert(id.clone(), Project { id: id.clone(), name: pr.name.clone(), team: pr.team.clone(), cost_centre });
    }
    out
}

fn retention(v: &mut V<'_>, p: KeyPath, r: &RawRetention, inherit: Option<Retention>) -> Option<Retention> {
    // A use case's `days` with no prompts kept would do nothing (the
    // top level's is the default days of use cases that keep prompts).
    if inherit.is_some() && r.prompts == PromptRetention::None && r.days.is_some() {
        v.err_key(
            p.key("days"),
            "`days` does nothing: this use case keeps no prompts (`prompts` is \"none\" unless set)",
            Some("set `prompts = \"redacted\"` or `prompts = \"full\"`, or remove `days`".into()),
        );
        return None;
    }
    let days = r.days.or(inherit.map(|i| i.days)).unwrap_or(0);
    if r.prompts != PromptRetention::None && days == 0 {
        v.err(
            p.key("prompts"),
            "prompts are kept but for no number of days",
            Some("add `days = N` (prompts are purged after N days)".into()),
        );
        return None;
    }
    Some(Retention { prompts: r.prompts, days })
}

/// What use cases are checked against.
struct Known<'a> {
    models: &'a BTreeMap<String, Model>,
    users: &'a BTreeMap<String, User>,
    org: Option<&'a Org>,
    tiers: &'a RiskTiers,
}

fn use_cases(
    v: &mut V<'_>,
    raw: &Entries<RawUseCase>,
    known: &Known<'_>,
    default_retention: Option<Retention>,
) -> BTreeMap<String, UseCase> {
    let Known { models, users, org, .. } = *known;
    let mut out = BTreeMap::new();
    let known_users = &v.names.users;
    for (id, u) in raw {
        let Some(u) = u else { continue };
        let p = path(&["use_cases", id]);
        v.reference(p.key("owner"), "user", &u.owner, known_users);
        allowed_models(v, &p, id, u);
        let class = v.class(p.key("max_data_class"), &u.max_data_class);
        if u.baseline_tokens_per_outcome == 0 {
            v.err(p.key("baseline_tokens_per_outcome"), "the baseline must be more than zero tokens per outcome", None);
        }
        let value = outcome_value(v, &p, id, u, org);
        let retention = match &u.retention {
            Some(r) => retention(v, p.key("retention"), r, default_retention),
            None => default_retention,
        };
        let owner_team = users.get(&u.owner).map(|o| o.team.as_str());
        let audience = audience(v, &p, id, u.available_to.as_ref(), owner_team, users);
        let floor = known.tiers.floor(u.risk_tier);
        let resolved = tiers::Resolved { retention, audience: audience.as_ref(), owner_team };
        tiers::use_case_floor(v, &p, id, u, &floor, &resolved);
        let Some(class) = class else { continue };
        clearance(v, &p, id, u, models, class);
        let (Some((outcome_value, outcome_hours)), Some(retention), Some(available_to)) = (value, retention, audience)
        else {
            continue;
        };
        out.insert(
            id.clone(),
            UseCase {
                id: id.clone(),
                name: u.name.clone(),
                category: u.category,
                owner: u.owner.clone(),
                risk_tier: u.risk_tier,
                track: u.track,
                default_model: u.default_model.clone(),
                allowed_models: u.allowed_models.clone(),
                max_class: class,
                baseline_tokens_per_outcome: u.baseline_tokens_per_outcome,
                outcome_value,
                outcome_hours,
                retention,
                available_to,
            },
        );
    }
    out
}

/// `allowed_models`: not empty, declared, distinct, and holding the default.
fn allowed_models(v: &mut V<'_>, p: &KeyPath, id: &str, u: &RawUseCase) {
    let known_models = &v.names.models;
    if u.allowed_models.is_empty() {
        v.err(
            p.key("allowed_models"),
            format!("use case `{id}` allows no model"),
            Some("list at least the default model".into()),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, m) in u.allowed_models.iter().enumerate() {
        v.reference(p.key("allowed_models").index(i), "model", m, known_models);
        if !seen.insert(m) {
            v.err(p.key("allowed_models").index(i), format!("model `{m}` is listed twice"), None);
        }
    }
    if v.reference(p.key("default_model"), "model", &u.default_model, known_models)
        && !u.allowed_models.contains(&u.default_model)
    {
        v.err(
            p.key("default_model"),
            format!("default model `{}` is not in allowed_models of `{id}`", u.default_model),
            Some("add it to allowed_models, or pick one of them".into()),
        );
    }
}

/// What one outcome is worth, in dollars and, when given so, in hours:
/// exactly one of `outcome_value_usd` and `outcome_value_hours`.
fn outcome_value(
    v: &mut V<'_>,
    p: &KeyPath,
    id: &str,
    u: &RawUseCase,
    org: Option<&Org>,
) -> Option<(Nanos, Option<f64>)> {
    match (&u.outcome_value_usd, u.outcome_value_hours) {
        (Some(a), None) => v.usd(p.key("outcome_value_usd"), a).map(|n| (n, None)),
        (None, Some(h)) if h.is_finite() && h > 0.0 => org.map(|o| (hours_value(o.hour_value, h), Some(h))),
        (None, Some(h)) => {
            v.err(p.key("outcome_value_hours"), format!("{h} is not a positive number of hours"), None);
            None
        }
        (Some(_), Some(_)) => {
            v.err(p.key("outcome_value_hours"), "give outcome_value_usd or outcome_value_hours, not both", None);
            None
        }
        (None, None) => {
            v.err_key(
                p.clone(),
                format!("use case `{id}` has no outcome value"),
                Some("add outcome_value_usd or outcome_value_hours".into()),
            );
            None
        }
    }
}

/// Warns when no allowed model may receive the use case's data class;
/// only for a list of known models, as an empty list or an unknown name
/// is an error already.
fn clearance(v: &mut V<'_>, p: &KeyPath, id: &str, u: &RawUseCase, models: &BTreeMap<String, Model>, class: DataClass) {
    let cleared = u.allowed_models.iter().filter_map(|m| models.get(m)).any(|m| m.max_class >= class);
    if !cleared && !u.allowed_models.is_empty() && u.allowed_models.iter().all(|m| models.contains_key(m)) {
        let cname = v.classes.as_ref().map(|c| c.name(class).to_string()).unwrap_or_default();
        v.warn(
            p.key("max_data_class"),
            format!("no allowed model of `{id}` is cleared for `{cname}` data"),
            Some("such prompts can only be redacted or blocked; allow a model cleared for that class".into()),
        );
    }
}

/// `available_to`: explicit, so that leaving it out is an error with the
/// line to write, and every name in it declared.
fn audience(
    v: &mut V<'_>,
    p: &KeyPath,
    id: &str,
    raw: Option<&RawAvailableTo>,
    owner_team: Option<&str>,
    users: &BTreeMap<String, User>,
) -> Option<Audience> {
    let ap = p.key("available_to");
    let example = format!("available_to = {{ teams = [\"{}\"] }}", owner_team.unwrap_or("TEAM"));
    let only = match raw {
        None => {
            v.err_key(
                p.clone(),
                format!("use case `{id}` does not say who may use it"),
                Some(format!("add `{example}` (teams and/or users), or `available_to = \"everyone\"`")),
            );
            return None;
        }
        Some(RawAvailableTo::Word(w)) if w == "everyone" => return Some(Audience::Everyone),
        Some(RawAvailableTo::Word(w)) => {
            v.err(
                ap,
                format!("`{w}` is not an audience for use case `{id}`"),
                Some(format!("write `available_to = \"everyone\"`, or name who may use it: `{example}`")),
            );
            return None;
        }
        Some(RawAvailableTo::Only(a)) => a,
    };
    if only.teams.is_empty() && only.users.is_empty() {
        v.err(
            ap,
            format!("use case `{id}` is available to nobody"),
            Some(format!("name who may use it, e.g. `{example}`, or remove the use case")),
        );
        return None;
    }
    let mut ok = true;
    let teams = names_in(v, &ap.key("teams"), "team", &only.teams, &mut ok);
    let people = names_in(v, &ap.key("users"), "user", &only.users, &mut ok);
    for (i, u) in only.users.iter().enumerate() {
        if let Some(team) = users.get(u).map(|x| &x.team).filter(|t| teams.contains(*t)) {
            v.warn(
                ap.key("users").index(i),
                format!("`{u}` may already use `{id}` as a member of team `{team}`"),
                Some(format!("remove `{u}` from the list")),
            );
        }
    }
    ok.then_some(Audience::Only { teams, users: people })
}

/// Declared, distinct names from a list of `what`s (`team`, `user`).
fn names_in(v: &mut V<'_>, p: &KeyPath, what: &str, list: &[String], ok: &mut bool) -> BTreeSet<String> {
    let known = if what == "team" { &v.names.teams } else { &v.names.users };
    let mut out = BTreeSet::new();
    for (i, name) in list.iter().enumerate() {
        *ok &= v.reference(p.index(i), what, name, known);
        if !out.insert(name.clone()) {
            v.err(p.index(i), format!("{what} `{name}` is listed twice"), None);
            *ok = false;
        }
    }
    out
}

/// A person no use case is available to can make no call at all: likely an
/// oversight, so it is pointed out.
fn users_without_use_cases(v: &mut V<'_>, users: &BTreeMap<String, User>, use_cases: &BTreeMap<String, UseCase>) {
    for u in users.values() {
        if !use_cases.values().any(|uc| uc.available_to.admits(u)) {
            v.warn(
                path(&["users", &u.id]),
                format!("no use case is available to `{}`, so they cannot make any call", u.id),
                Some(format!(
                    "add team `{}` or user `{}` to a use case's available_to, or make one available to everyone",
                    u.team, u.id
                )),
            );
        }
    }
}

/// Hours are kept to the micro-hour, then multiplied in integers.
#[allow(clippy::cast_possible_truncation)]
fn hours_value(hour: Nanos, hours: f64) -> Nanos {
    let micro_hours = (hours * 1e6).round() as i128;
    Nanos(i64::try_from(i128::from(hour.0) * micro_hours / 1_000_000).unwrap_or(i64::MAX))
}

fn templates(v: &mut V<'_>, raw: &[Option<RawTemplate>]) -> BTreeMap<String, Template> {
    let mut out = BTreeMap::new();
    let users = &v.names.users;
    let use_cases = &v.names.use_cases;
    for (i, t) in raw.iter().enumerate() {
        let Some(t) = t else { continue };
        let p = path(&["templates"]).index(i);
        v.ident(p.key("id"), &t.id, "template");
        if t.version.is_empty() || t.version.contains(['@', ' ']) {
            v.err(
                p.key("version"),
                format!("`{}` is not a template version", t.version),
                Some("e.g. \"3\" or \"2026-06\"".into()),
            );
        }
        v.reference(p.key("author"), "user", &t.author, users);
        v.reference(p.key("use_case"), "use case", &t.use_case, use_cases);
        let template = Template {
            id: t.id.clone(),
            version: t.version.clone(),
            author: t.author.clone(),
            use_case: t.use_case.clone(),
            approved: t.approved,
            description: t.description.clone(),
        };
        let key = template.key();
        if out.insert(key.clone(), template).is_some() {
            v.err(
                p.key("version"),
                format!("template `{key}` is defined twice"),
                Some("bump the version of the newer one".into()),
            );
        }
    }
    out
}

fn scope(v: &mut V<'_>, p: KeyPath, text: &str) -> Option<BudgetScope> {
    let hint =
        "write `org`, `team:ID`, `project:ID`, `use_case:ID`, `user:ID`, or `team:*` (and so on) for one envelope each";
    if text == "org" {
        return Some(BudgetScope::One(Scope::Org));
    }
    let Some((kind, id)) = text.split_once(':') else {
        v.err(p, format!("`{text}` is not a budget scope"), Some(hint.into()));
        return None;
    };
    let (set, each, one): (&BTreeSet<String>, ScopeKind, fn(String) -> Scope) = match kind {
        "team" => (&v.names.teams, ScopeKind::Team, Scope::Team),
        "project" => (&v.names.projects, ScopeKind::Project, Scope::Project),
        "use_case" => (&v.names.use_cases, ScopeKind::UseCase, Scope::UseCase),
        "user" => (&v.names.users, ScopeKind::User, Scope::User),
        _ => {
            v.err(
                p,
                format!("`{kind}` is not a budget scope kind"),
                Some(suggest(kind, ["org", "team", "project", "use_case", "user"])),
            );
            return None;
        }
    };
    if id == "*" {
        return Some(BudgetScope::Each(each));
    }
    v.reference(p, kind, id, set).then(|| BudgetScope::One(one(id.to_string())))
}

fn budgets(v: &mut V<'_>, raw: &[Option<RawBudget>]) -> Vec<Budget> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    for (i, b) in raw.iter().enumerate() {
        let Some(b) = b else { continue };
        let p = path(&["budgets"]).index(i);
        v.ident(p.key("id"), &b.id, "budget");
        if !ids.insert(b.id.clone()) {
            v.err(p.key("id"), format!("budget id `{}` is used twice", b.id), None);
        }
        let scope = scope(v, p.key("scope"), &b.scope);
        let limit = v.usd(p.key("limit_usd"), &b.limit_usd);
        let ascending = b.alert_at_percent.windows(2).all(|w| w[0] < w[1]);
        if !ascending || b.alert_at_percent.iter().any(|&t| t == 0 || t > 1000) {
            v.err(
                p.key("alert_at_percent"),
                "alert thresholds must be ascending percentages between 1 and 1000",
                Some("e.g. [50, 80, 100]".into()),
            );
        }
        let mut tranches = Vec::new();
        for (j, t) in b.tranches.iter().enumerate() {
            let tp = p.key("tranches").index(j);
            let amount = v.usd(tp.key("amount_usd"), &t.amount_usd);
            let eff = v.unit(tp.key("min_efficiency"), t.min_efficiency, "min_efficiency");
            let comp = v.unit(tp.key("min_compliance"), t.min_compliance, "min_compliance");
            if t.min_validated_hours.is_some_and(|h| !h.is_finite() || h < 0.0) {
                v.err(tp.key("min_validated_hours"), "min_validated_hours must be zero or more", None);
            }
            if t.min_efficiency.is_none() && t.min_compliance.is_none() && t.min_validated_hours.is_none() {
                v.err_key(
                    tp.clone(),
                    "a tranche needs a condition to unlock it",
                    Some("add min_efficiency, min_validated_hours or min_compliance".into()),
                );
            }
            if let Some(amount) = amount {
                tranches.push(Tranche {
                    amount,
                    min_efficiency: eff,
                    min_validated_hours: t.min_validated_hours,
                    min_compliance: comp,
                });
            }
        }
        let (Some(scope), Some(limit)) = (scope, limit) else { continue };
        out.push(Budget {
            id: b.id.clone(),
            scope,
            period: b.period,
            limit,
            enforcement: b.enforcement,
            alert_at_percent: b.alert_at_percent.clone(),
            track: b.track,
            tranches,
        });
    }
    out
}

fn scoring(v: &mut V<'_>, s: &RawScoring) -> Option<Scoring> {
    let p = path(&["scoring"]);
    let weights = [s.efficiency_weight, s.quality_weight, s.compliance_weight];
    let mut ok = true;
    if weights.iter().any(|w| !(0.0..=1.0).contains(w)) || (weights.iter().sum::<f64>() - 1.0).abs() > 1e-9 {
        v.err(
            p.key("efficiency_weight"),
            format!(
                "the three weights must each be between 0 and 1 and add up to 1 (they add up to {})",
                weights.iter().sum::<f64>()
            ),
            Some("e.g. efficiency 0.4, quality 0.35, compliance 0.25".into()),
        );
        ok = false;
    }
    if !(0.6..=0.7).contains(&s.team_share) {
        v.err(
            p.key("team_share"),
            format!("team_share {} is outside 0.6–0.7", s.team_share),
            Some("recognition blends 60–70% team and 30–40% individual".into()),
        );
        ok = false;
    }
    let mut within = |key: &str, value: f64, range: std::ops::RangeInclusive<f64>, hint: &str| {
        if !range.contains(&value) {
            v.err(
                p.key(key),
                format!("{key} {value} is outside {}–{}", range.start(), range.end()),
                Some(hint.to_string()),
            );
            ok = false;
        }
    };
    within(
        "repeat_half_life",
        s.repeat_half_life,
        0.1..=100.0,
        "repetitions after which an identical action earns half, e.g. 1",
    );
    within("reuse_bonus", s.reuse_bonus, 0.0..=0.5, "the most reuse of one's templates adds, e.g. 0.10 for 10%");
    within(
        "max_value_multiple",
        s.max_value_multiple,
        1.0..=100.0,
        "e.g. 4: an outcome counts at most 4× its use case's value",
    );
    within("min_group_size", f64::from(s.min_group_size), 1.0..=1000.0, "e.g. 5");
    within("badge_reuse_teams", f64::from(s.badge_reuse_teams), 1.0..=1000.0, "e.g. 3 other teams");
    within("badge_clean_days", f64::from(s.badge_clean_days), 1.0..=31.0, "days in a month, e.g. 10");
    ok &= v.unit(p.key("unvalidated_weight"), Some(s.unvalidated_weight), "unvalidated_weight").is_some();
    let learning_kinds = s.learning_kinds.clone().unwrap_or_else(|| tokenwise_scoring::Rules::default().learning_kinds);
    if learning_kinds.is_empty() || learning_kinds.iter().any(|k| k.trim().is_empty() || k.trim() != k) {
        v.err(
            p.key("learning_kinds"),
            "learning_kinds must name at least one outcome kind, none empty or padded with spaces",
            Some("the outcome kinds exploration earns on, e.g. [\"template_created\", \"template_promoted\"]".into()),
        );
        ok = false;
    }
    ok.then_some(Scoring {
        rules: tokenwise_scoring::Rules {
            efficiency_weight: s.efficiency_weight,
            quality_weight: s.quality_weight,
            compliance_weight: s.compliance_weight,
            team_share: s.team_share,
            repeat_half_life: s.repeat_half_life,
            unvalidated_weight: s.unvalidated_weight,
            reuse_bonus: s.reuse_bonus,
            max_value_multiple: s.max_value_multiple,
            badge_reuse_teams: s.badge_reuse_teams,
            badge_clean_days: s.badge_clean_days,
            learning_kinds,
        },
        min_group_size: s.min_group_size,
    })
}

fn terms(v: &mut V<'_>, p: KeyPath, raw: &[RawTerm]) -> Vec<Term> {
    let mut out = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        if t.term.trim().is_empty() {
            v.err(p.index(i).key("term"), "empty term", None);
            continue;
        }
        if let Some(class) = v.class(p.index(i).key("class"), &t.class) {
            out.push(Term { term: t.term.clone(), class });
        }
    }
    out
}

/// `tier_scans`: some use case's risk tier has its replies scanned.
fn dlp(v: &mut V<'_>, raw: Option<&RawDlp>, tier_scans: bool) -> Option<Dlp> {
    let p = path(&["dlp"]);
    let highest = v.classes.as_ref()?.highest();
    let mut kind_classes: BTreeMap<FindingKind, DataClass> = FindingKind::ALL.iter().map(|k| (*k, highest)).collect();
    let mut actions: BTreeMap<DataClass, Action> = BTreeMap::new();
    let (mut custom_terms, mut markers, mut scan_output, mut allow) = (Vec::new(), Vec::new(), false, Vec::new());
    let mut output_action = OutputAction::Mask;
    if let Some(d) = raw {
        scan_output = d.scan_output;
        if let Some(a) = d.output_action {
            output_action = a;
            if !d.scan_output && !tier_scans {
                v.err_key(
                    p.key("output_action"),
                    "`output_action` does nothing: replies are not scanned",
                    Some("add `scan_output = true` to [dlp] (or to the [risk_tiers.TIER] whose replies should be), or remove `output_action`".into()),
                );
            }
        }
        for (kind, class) in &d.kind_classes {
            let kp = p.key("kind_classes").key(kind);
            let parsed = kind.parse::<FindingKind>();
            let class = v.class(kp.clone(), class);
            match (parsed, class) {
                (Ok(k), Some(c)) => {
                    kind_classes.insert(k, c);
                }
                (Err(_), _) => v.err_key(
                    kp,
                    format!("unknown finding kind `{kind}`"),
                    Some(suggest(kind, FindingKind::ALL.iter().map(|k| k.as_str()))),
                ),
                _ => {}
            }
        }
        custom_terms = terms(v, p.key("custom_terms"), &d.custom_terms);
        markers = terms(v, p.key("markers"), &d.markers);
        allow = allowlist(v, p.key("allow"), &d.allow);
        for (class, action) in &d.actions {
            if let Some(c) = v.class(p.key("actions").key(class), class) {
                actions.insert(c, *action);
            }
        }
    }
    for i in 0..=highest.0 {
        actions.entry(DataClass(i)).or_insert(Action::Block);
    }
    Some(Dlp { scan_output, output_action, kind_classes, custom_terms, markers, actions, allow })
}

fn allowlist(v: &mut V<'_>, p: KeyPath, raw: &[RawAllow]) -> Vec<Allow> {
    let mut out = Vec::new();
    for (i, a) in raw.iter().enumerate() {
        let ap = p.index(i);
        let mut kinds = Vec::new();
        for (j, k) in a.kinds.iter().enumerate() {
            match k.parse::<FindingKind>() {
                Ok(k) => kinds.push(k),
                Err(_) => v.err(
                    ap.key("kinds").index(j),
                    format!("unknown finding kind `{k}`"),
                    Some(suggest(k, FindingKind::ALL.iter().map(|k| k.as_str()))),
                ),
            }
        }
        let entry = match (&a.value, &a.pattern) {
            (Some(value), None) if !value.trim().is_empty() => Allow::value(value.trim(), kinds),
            (None, Some(pattern)) if !pattern.trim().is_empty() => Allow::pattern(pattern.trim(), kinds),
            (Some(_), None) | (None, Some(_)) => {
                v.err(ap, "an allowlist entry is empty", None);
                continue;
            }
            _ => {
                v.err(
                    ap,
                    "an allowlist entry has either `value` or `pattern`",
                    Some("e.g. { value = \"noreply@anthropic.com\" } or { pattern = \"noreply*@acme.example\", kinds = [\"email\"] }".into()),
                );
                continue;
            }
        };
        if let Err(why) = entry.check() {
            v.err(
                ap.key("pattern"),
                format!("pattern `{}` is {why}", a.pattern.as_deref().unwrap_or_default()),
                Some("list the exact addresses with `value`, or keep literal text on both sides of `@`, e.g. \"noreply*@acme.example\"".into()),
            );
            continue;
        }
        out.push(entry);
    }
    out
}

fn exceptions(v: &mut V<'_>, e: &RawExceptions) -> Option<ExceptionPolicy> {
    let p = path(&["exceptions"]);
    let mut seen = BTreeSet::new();
    for (i, code) in e.reason_codes.iter().enumerate() {
        v.ident(p.key("reason_codes").index(i), code, "reason code");
        if !seen.insert(code) {
            v.err(p.key("reason_codes").index(i), format!("reason code `{code}` is listed twice"), None);
        }
    }
    if e.max_days == 0 {
        v.err(p.key("max_days"), "max_days must be at least 1", None);
        return None;
    }
    Some(ExceptionPolicy { reason_codes: e.reason_codes.clone(), max_days: e.max_days })
}

fn server(v: &mut V<'_>, s: Option<&RawServer>, base_dir: &Path) -> Option<Server> {
    let p = path(&["server"]);
    let listen = s.and_then(|s| s.listen.clone()).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    if listen.parse::<std::net::SocketAddr>().is_err() {
        v.err(
            p.key("listen"),
            format!("`{listen}` is not an address to listen on"),
            Some("e.g. \"127.0.0.1:8080\" or \"0.0.0.0:8080\"".into()),
        );
    }
    let database = match s.and_then(|s| s.database.clone()) {
        None => format!("sqlite://{}", base_dir.join("tokenwise-data").join("tokenwise.db").display()),
        Some(db) => match resolve_database(&db, base_dir) {
            Ok(db) => db,
            Err(hint) => {
                v.err(p.key("database"), format!("`{db}` is not a database URL"), Some(hint));
                return None;
            }
        },
    };
    let max_request_bytes = s.and_then(|s| s.max_request_bytes).unwrap_or(DEFAULT_MAX_REQUEST_BYTES);
    if !(1024..=256 * 1024 * 1024).contains(&max_request_bytes) {
        v.err(p.key("max_request_bytes"), "max_request_bytes must be between 1 KiB and 256 MiB", None);
    }
    let hold_lease_secs = s.and_then(|s| s.hold_lease_secs).unwrap_or(60);
    if !(2..=3600).contains(&hold_lease_secs) {
        v.err(p.key("hold_lease_secs"), "hold_lease_secs must be between 2 and 3600", None);
    }
    Some(Server {
        listen,
        database,
        max_request_bytes,
        durability: s.map(|s| s.durability).unwrap_or_default(),
        hold_lease_secs,
        budget_escrow: s.and_then(|s| s.budget_escrow).unwrap_or(true),
        escrow_allowance_bp: ranged(
            v,
            &p,
            "escrow_allowance_bp",
            s.and_then(|s| s.escrow_allowance_bp),
            100,
            1..=1_000,
        ),
        escrow_fallback_multiple: ranged(
            v,
            &p,
            "escrow_fallback_multiple",
            s.and_then(|s| s.escrow_fallback_multiple),
            8,
            1..=1_000,
        ),
        escrow_tick_ms: ranged(v, &p, "escrow_tick_ms", s.and_then(|s| s.escrow_tick_ms), 50, 5..=5_000),
        header_timeout_secs: ranged(v, &p, "header_timeout_secs", s.and_then(|s| s.header_timeout_secs), 15, 1..=600),
        body_timeout_secs: ranged(v, &p, "body_timeout_secs", s.and_then(|s| s.body_timeout_secs), 30, 1..=3600),
        max_connections: ranged(v, &p, "max_connections", s.and_then(|s| s.max_connections), 4096, 16..=1_000_000),
    })
}

/// A number of `[server]` within `range`, or `default` when not set.
fn ranged(
    v: &mut V<'_>,
    p: &KeyPath,
    key: &'static str,
    value: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> u64 {
    let n = value.unwrap_or(default);
    if !range.contains(&n) {
        v.err(p.key(key), format!("{key} must be between {} and {}", range.start(), range.end()), None);
    }
    n
}

/// The classes and DLP rules used when no policy is given (`tokenwise
/// scan` without `--config`): the usual four classes; contact details
/// confidential, IP addresses internal, payment data, national ids and
/// credentials restricted.
pub fn default_dlp() -> (DataClasses, Dlp) {
    let classes = DataClasses::new(["public", "internal", "confidential", "restricted"].map(String::from).to_vec());
    let class = |n: &str| classes.get(n).unwrap_or(DataClass(3));
    let kind_classes = FindingKind::ALL
        .iter()
        .map(|k| {
            let c = match k {
                FindingKind::IpAddress => class("internal"),
                FindingKind::Email
                | FindingKind::Phone
                | FindingKind::CustomTerm
                | FindingKind::ConfidentialityMarker => class("confidential"),
                _ => class("restricted"),
            };
            (*k, c)
        })
        .collect();
    let actions = (0..4u8).map(|c| (DataClass(c), Action::Block)).collect();
    let dlp = Dlp {
        scan_output: false,
        output_action: OutputAction::Mask,
        kind_classes,
        custom_terms: Vec::new(),
        markers: Vec::new(),
        actions,
        allow: Vec::new(),
    };
    (classes, dlp)
}

/// Makes a relative `sqlite://` path relative to the policy file's folder,
/// so a policy means the same data wherever the binary is started from.
pub fn resolve_database(url: &str, base_dir: &Path) -> Result<String, String> {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        if rest.is_empty() {
            return Err("give a path after sqlite://".into());
        }
        if rest == ":memory:" || Path::new(rest).is_absolute() {
            return Ok(url.to_string());
        }
        return Ok(format!("sqlite://{}", base_dir.join(rest).display()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(url.to_string());
    }
    Err("use sqlite://PATH or postgres://USER@HOST/DB".into())
}
