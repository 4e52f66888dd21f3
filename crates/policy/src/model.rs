//! The checked policy: every name resolved, every amount exact. Code that
//! holds a `Policy` may index it by the ids it contains without checking.

use crate::raw::{
    Action, Category, Durability, Enforcement, ExceptionApproval, ModelKind, OutputAction, Period, PromptRetention,
    RiskTier, Role, Visibility, WireFormat,
};
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use tokenwise_core::{FindingKind, Nanos, Rates, Scope, Track};

/// A data class, as its rank in the policy's ordered list (0 = least
/// sensitive). Comparisons mean "more or less sensitive than".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DataClass(pub u8);

#[derive(Debug, Clone)]
pub struct DataClasses {
    names: Vec<String>,
}

impl DataClasses {
    pub(crate) fn new(names: Vec<String>) -> DataClasses {
        DataClasses { names }
    }

    pub fn get(&self, name: &str) -> Option<DataClass> {
        self.names.iter().position(|n| n == name).and_then(|i| u8::try_from(i).ok()).map(DataClass)
    }

    pub fn name(&self, class: DataClass) -> &str {
        self.names.get(usize::from(class.0)).map_or("unknown", String::as_str)
    }

    pub fn lowest(&self) -> DataClass {
        DataClass(0)
    }

    pub fn highest(&self) -> DataClass {
        DataClass(u8::try_from(self.names.len().saturating_sub(1)).unwrap_or(u8::MAX))
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// The organisation. Its money is US dollars: validation refuses any
/// other currency.
#[derive(Debug, Clone)]
pub struct Org {
    pub name: String,
    pub time_zone: jiff::tz::TimeZone,
    pub hour_value: Nanos,
    pub week_starts: jiff::civil::Weekday,
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub id: String,
    pub base_url: String,
    pub format: WireFormat,
    pub api_key_env: Option<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// The largest answer (a JSON body, or one chunk of a stream) taken
    /// from this upstream; a larger one is cut off and is an error.
    pub max_response_bytes: u64,
    /// Lowercase names; a trailing `*` matches a prefix.
    pub forward_headers: Vec<String>,
}

impl Upstream {
    pub fn forwards(&self, header: &str) -> bool {
        self.forward_headers.iter().any(|f| match f.strip_suffix('*') {
            Some(prefix) => header.starts_with(prefix),
            None => header == f,
        })
    }
}

/// One version of a model's prices. The version id is pinned on every
/// usage event, so a later price change never rewrites history; a version
/// read from a price file says so in its id (`model@day~file`).
#[derive(Debug, Clone)]
pub struct PriceVersion {
    pub id: String,
    pub effective_from: Timestamp,
    pub rates: Rates,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub id: String,
    pub upstream: String,
    pub upstream_model: String,
    pub kind: ModelKind,
    pub max_class: DataClass,
    pub reasoning: bool,
    pub max_output_tokens: Option<u64>,
    /// Oldest first.
    pub prices: Vec<PriceVersion>,
}

impl Model {
    /// The price in effect at `at`: the newest version that started at or
    /// before it. Before the first version, none applies.
    pub fn price_at(&self, at: Timestamp) -> Option<&PriceVersion> {
        self.prices.iter().rev().find(|p| p.effective_from <= at)
    }
}

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub cost_centre: String,
    pub manager: String,
    pub visibility: Visibility,
    pub regulated: bool,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub team: String,
    pub role: Role,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub team: String,
    pub cost_centre: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub prompts: PromptRetention,
    pub days: u32,
}

/// The floor of controls for every use case of one risk tier
/// (`[risk_tiers.TIER]`, each key defaulting to the tier's
/// [`TierFloor::default_for`]). A use case may be stricter, never looser:
/// `check-config` refuses one that is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierFloor {
    /// Who may approve a budget exception that covers the tier's calls.
    pub exceptions: ExceptionApproval,
    /// The tier's replies are scanned even when `[dlp] scan_output` is off.
    pub scan_output: bool,
    /// The prompt retention a use case of the tier may have.
    pub prompts: Vec<PromptRetention>,
    /// Whether a use case of the tier may be available to everyone.
    pub available_to_everyone: bool,
}

impl TierFloor {
    /// The defaults: low and medium as any use case; high — exceptions from
    /// governance only, replies scanned, prompts never kept in full, named
    /// users only; critical — as high, and no exception at all.
    pub fn default_for(tier: RiskTier) -> TierFloor {
        let any = vec![PromptRetention::None, PromptRetention::Redacted, PromptRetention::Full];
        let masked_at_most = vec![PromptRetention::None, PromptRetention::Redacted];
        match tier {
            RiskTier::Low | RiskTier::Medium => TierFloor {
                exceptions: ExceptionApproval::Managers,
                scan_output: false,
                prompts: any,
                available_to_everyone: true,
            },
            RiskTier::High => TierFloor {
                exceptions: ExceptionApproval::Governance,
                scan_output: true,
                prompts: masked_at_most,
                available_to_everyone: false,
            },
            RiskTier::Critical => TierFloor {
                exceptions: ExceptionApproval::None,
                scan_output: true,
                prompts: masked_at_most,
                available_to_everyone: false,
            },
        }
    }

    pub fn allows_prompts(&self, prompts: PromptRetention) -> bool {
        self.prompts.contains(&prompts)
    }
}

/// The floor of every risk tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskTiers {
    floors: BTreeMap<RiskTier, TierFloor>,
}

impl RiskTiers {
    pub(crate) fn new(floors: BTreeMap<RiskTier, TierFloor>) -> RiskTiers {
        RiskTiers { floors }
    }

    pub fn floor(&self, tier: RiskTier) -> TierFloor {
        self.floors.get(&tier).cloned().unwrap_or_else(|| TierFloor::default_for(tier))
    }
}

impl Default for RiskTiers {
    fn default() -> RiskTiers {
        RiskTiers::new(RiskTier::ALL.into_iter().map(|t| (t, TierFloor::default_for(t))).collect())
    }
}

#[derive(Debug, Clone)]
pub struct UseCase {
    pub id: String,
    pub name: String,
    pub category: Category,
    pub owner: String,
    pub risk_tier: RiskTier,
    pub track: Track,
    pub default_model: String,
    pub allowed_models: Vec<String>,
    pub max_class: DataClass,
    pub baseline_tokens_per_outcome: u64,
    /// What one outcome of this use case is worth.
    pub outcome_value: Nanos,
    pub outcome_hours: Option<f64>,
    pub retention: Retention,
    /// Who may use it: a call or key claiming it for anyone else is refused.
    pub available_to: Audience,
}

/// Who may use a use case. Every use case says it explicitly, so nobody
/// gets one by merely naming it in a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// Members of these teams, and these people (validation ensures at
    /// least one name, each declared).
    Only {
        teams: BTreeSet<String>,
        users: BTreeSet<String>,
    },
}

impl Audience {
    pub fn admits(&self, user: &User) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Only { teams, users } => teams.contains(&user.team) || users.contains(&user.id),
        }
    }
}

/// As people read it: `everyone`, or `teams platform, data and users omar.haddad`.
impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Audience::Only { teams, users } = self else { return f.write_str("everyone") };
        let list = |set: &BTreeSet<String>| set.iter().map(String::as_str).collect::<Vec<_>>().join(", ");
        let team_word = if teams.len() == 1 { "team" } else { "teams" };
        let user_word = if users.len() == 1 { "user" } else { "users" };
        match (teams.is_empty(), users.is_empty()) {
            (false, false) => write!(f, "{team_word} {} and {user_word} {}", list(teams), list(users)),
            (false, true) => write!(f, "{team_word} {}", list(teams)),
            (true, false) => write!(f, "{user_word} {}", list(users)),
            (true, true) => f.write_str("nobody"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub version: String,
    pub author: String,
    pub use_case: String,
    pub approved: bool,
    pub description: Option<String>,
}

impl Template {
    pub fn key(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

/// Which envelope(s) a budget creates: one for a named scope, or one for
/// each team, project, use case or person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BudgetScope {
    One(Scope),
    Each(ScopeKind),
}

/// The kinds of scope a budget can have one envelope each of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeKind {
    Team,
    Project,
    UseCase,
    User,
}

impl fmt::Display for BudgetScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetScope::One(scope) => scope.fmt(f),
            BudgetScope::Each(kind) => {
                let kind = match kind {
                    ScopeKind::Team => "team",
                    ScopeKind::Project => "project",
                    ScopeKind::UseCase => "use_case",
                    ScopeKind::User => "user",
                };
                write!(f, "{kind}:*")
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tranche {
    pub amount: Nanos,
    pub min_efficiency: Option<f64>,
    pub min_validated_hours: Option<f64>,
    pub min_compliance: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Budget {
    pub id: String,
    pub scope: BudgetScope,
    pub period: Period,
    pub limit: Nanos,
    pub enforcement: Enforcement,
    /// Ascending percentages of the limit.
    pub alert_at_percent: Vec<u32>,
    pub track: Option<Track>,
    pub tranches: Vec<Tranche>,
}

#[derive(Debug, Clone)]
pub struct Scoring {
    /// What the scoring crate computes with; its version names a score.
    pub rules: tokenwise_scoring::Rules,
    /// Aggregates over fewer people are shown to governance only.
    pub min_group_size: u32,
}

impl Default for Scoring {
    fn default() -> Scoring {
        Scoring { rules: tokenwise_scoring::Rules::default(), min_group_size: 5 }
    }
}

#[derive(Debug, Clone)]
pub struct Term {
    pub term: String,
    pub class: DataClass,
}

#[derive(Debug, Clone)]
pub struct Dlp {
    pub scan_output: bool,
    /// What output scanning does with a finding above the use case's ceiling.
    pub output_action: OutputAction,
    /// Every finding kind has a class (unlisted kinds: the highest).
    pub kind_classes: BTreeMap<FindingKind, DataClass>,
    pub custom_terms: Vec<Term>,
    pub markers: Vec<Term>,
    /// Every data class has an action (unlisted classes: block).
    pub actions: BTreeMap<DataClass, Action>,
    /// Values found that are never findings.
    pub allow: Vec<crate::Allow>,
}

impl Dlp {
    /// Whether `text`, found as `kind`, is on the allowlist.
    pub fn allows(&self, kind: FindingKind, text: &str) -> bool {
        self.allow.iter().any(|a| a.allows(kind, text))
    }

    /// The class of a finding: custom terms and markers carry their own
    /// (`term` indexes custom terms, then markers, as `scanner_terms` lists
    /// them); every other kind its policy class.
    pub fn class_of(&self, kind: FindingKind, term: Option<u32>) -> DataClass {
        if let Some(t) = term.map(|t| t as usize) {
            let n = self.custom_terms.len();
            let found = if t < n { self.custom_terms.get(t) } else { self.markers.get(t - n) };
            if let Some(term) = found {
                return term.class;
            }
        }
        self.kind_classes.get(&kind).copied().unwrap_or(DataClass(u8::MAX))
    }

    /// Terms for the scanner, in the order `class_of` expects: (text, is marker).
    pub fn scanner_terms(&self) -> impl Iterator<Item = (&str, bool)> {
        self.custom_terms
            .iter()
            .map(|t| (t.term.as_str(), false))
            .chain(self.markers.iter().map(|t| (t.term.as_str(), true)))
    }
}

#[derive(Debug, Clone)]
pub struct ExceptionPolicy {
    pub reason_codes: Vec<String>,
    pub max_days: u32,
}

impl ExceptionPolicy {
    /// No reason codes: no exception can be asked for.
    pub fn none() -> ExceptionPolicy {
        ExceptionPolicy { reason_codes: Vec::new(), max_days: 30 }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Alerts {
    pub webhook_url: Option<String>,
    pub secret_env: Option<String>,
}

/// A system allowed to post outcomes signed with the secret in the
/// environment variable `secret_env` (`x-tokenwise-integration: ID`).
#[derive(Debug, Clone)]
pub struct Integration {
    pub id: String,
    pub secret_env: String,
    pub description: Option<String>,
}

/// When the gateway tells a person, on the answer to their call
/// (`x-tokenwise-nudge`), that their task runs well above the usual.
#[derive(Debug, Clone, PartialEq)]
pub struct Nudges {
    /// Advice once a task has cost more than this many times the usual
    /// for its template (else its use case).
    pub task_cost_factor: f64,
    /// The usual cost is the median over the tasks finished in this many
    /// trailing days…
    pub baseline_days: u32,
    /// …when there are at least this many of them; else there is none.
    pub baseline_min_tasks: u32,
    /// A task with no call for this long is finished.
    pub task_idle_minutes: u32,
}

/// `[reports]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reports {
    /// Reconciliation flags a day, model and token kind whose provider
    /// figure differs from the ledger's by more than this share (in
    /// percent) of the larger of the two.
    pub reconcile_tolerance_percent: f64,
}

impl Default for Reports {
    fn default() -> Reports {
        Reports { reconcile_tolerance_percent: 1.0 }
    }
}

impl Default for Nudges {
    fn default() -> Nudges {
        Nudges { task_cost_factor: 3.0, baseline_days: 30, baseline_min_tasks: 5, task_idle_minutes: 60 }
    }
}

#[derive(Debug, Clone)]
pub struct Server {
    pub listen: String,
    /// Resolved: relative SQLite paths are made relative to the policy file.
    pub database: String,
    pub max_request_bytes: u64,
    pub durability: Durability,
    pub hold_lease_secs: u64,
    /// Escrow for budgets across PostgreSQL replicas (see
    /// `tokenwise_ledger::escrow`): on, the allowance in basis points of an
    /// envelope's limit, the fallback multiple, and the exchange interval.
    pub budget_escrow: bool,
    pub escrow_allowance_bp: u64,
    pub escrow_fallback_multiple: u64,
    pub escrow_tick_ms: u64,
    /// Headers (and the wait between keep-alive requests) must arrive within this.
    pub header_timeout_secs: u64,
    /// A request body may go this long without a byte.
    pub body_timeout_secs: u64,
    /// Connections served at once (before the open-file limit is applied).
    pub max_connections: u64,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub source: PathBuf,
    pub org: Org,
    pub classes: DataClasses,
    pub upstreams: BTreeMap<String, Upstream>,
    pub models: BTreeMap<String, Model>,
    pub teams: BTreeMap<String, Team>,
    pub users: BTreeMap<String, User>,
    pub projects: BTreeMap<String, Project>,
    pub use_cases: BTreeMap<String, UseCase>,
    /// Keyed `id@version`.
    pub templates: BTreeMap<String, Template>,
    pub budgets: Vec<Budget>,
    pub scoring: Scoring,
    pub dlp: Dlp,
    pub retention: Retention,
    /// `[risk_tiers]`: the floor of controls of each risk tier.
    pub risk_tiers: RiskTiers,
    pub exceptions: ExceptionPolicy,
    pub server: Server,
    pub alerts: Alerts,
    /// Keyed by id.
    pub integrations: BTreeMap<String, Integration>,
    pub nudges: Nudges,
    pub reports: Reports,
    /// `[ingest]`: whose is usage recorded elsewhere.
    pub ingest: crate::ingest::Ingest,
    /// When each anomaly detector fires (`[anomalies]`).
    pub anomalies: crate::anomalies::AnomalyThresholds,
    /// `[dashboard]`: trusted identity proxies, session length.
    pub dashboard: crate::dashboard::Dashboard,
    /// `[rate_limits]`: requests per minute and burst per key, by role.
    pub rate_limits: crate::rate_limits::RateLimits,
    /// `[[pilots]]`, in the file's order.
    pub pilots: Vec<Pilot>,
}

impl Policy {
    pub fn pilot(&self, id: &str) -> Option<&Pilot> {
        self.pilots.iter().find(|p| p.id == id)
    }
}

impl Policy {
    /// The floor of controls of `use_case`'s risk tier (the low tier's for
    /// a use case the policy does not have).
    pub fn floor(&self, use_case: &str) -> TierFloor {
        self.risk_tiers.floor(self.use_cases.get(use_case).map_or(RiskTier::Low, |u| u.risk_tier))
    }

    /// Whether replies to calls of `use_case` are scanned: every reply
    /// with `[dlp] scan_output`, and those of a use case whose risk tier
    /// asks for it.
    pub fn scans_output(&self, use_case: &str) -> bool {
        self.dlp.scan_output || self.floor(use_case).scan_output
    }

    /// Who may approve a budget exception covering calls of `use_case`.
    pub fn exception_approval(&self, use_case: &str) -> ExceptionApproval {
        self.floor(use_case).exceptions
    }
}

impl Policy {
    pub fn class_name(&self, class: DataClass) -> &str {
        self.classes.name(class)
    }

    /// The use case's allowed models that may receive `class`, cheapest
    /// input price first (at `at`). The reroute target and the nudge.
    pub fn models_cleared_for(&self, use_case: &UseCase, class: DataClass, at: Timestamp) -> Vec<&Model> {
        let mut cleared: Vec<&Model> = use_case
            .allowed_models
            .iter()
            .filter_map(|m| self.models.get(m))
            .filter(|m| m.max_class >= class)
            .collect();
        cleared.sort_by_key(|m| m.price_at(at).map_or(i64::MAX, |p| p.rates.input.0));
        cleared
    }
}

/// The thresholds past which a pilot's guard metric is flagged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PilotGuards {
    /// Fractions: 0.10 is 10%, 0.05 is 5 percentage points.
    pub token_burn: f64,
    pub template_drift: f64,
    /// Exceptions asked a person-week.
    pub exceptions: f64,
    /// On the 1–5 scale.
    pub quality: f64,
}

impl Default for PilotGuards {
    fn default() -> PilotGuards {
        PilotGuards { token_burn: 0.10, template_drift: 0.05, exceptions: 0.25, quality: 0.25 }
    }
}

/// A trial of an incentive design on a cohort for a period, against a
/// control group: `[[pilots]]`, every member resolved to people when the
/// policy is read.
#[derive(Debug, Clone)]
pub struct Pilot {
    pub id: String,
    pub description: Option<String>,
    /// The teams and people the file names for the cohort.
    pub cohort_teams: Vec<String>,
    pub cohort_users: Vec<String>,
    /// Whether the control group was named (else: everyone else who may
    /// use the pilot's use cases).
    pub control_named: bool,
    /// The people in each group (never both).
    pub cohort: BTreeSet<String>,
    pub control: BTreeSet<String>,
    /// The use cases compared; every use case when empty.
    pub use_cases: Vec<String>,
    /// First and last day, inclusive, in the org's time zone.
    pub start: jiff::civil::Date,
    pub end: jiff::civil::Date,
    pub baseline_weeks: u32,
    pub reward_model: tokenwise_scoring::Model,
    pub rules_version: String,
    /// What the cohort is shown.
    pub board: Visibility,
    pub badges: bool,
    pub guards: PilotGuards,
}
