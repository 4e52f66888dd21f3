//! The policy file as written: plain serde types, `deny_unknown_fields`
//! everywhere, no cross-references resolved. `validate` turns these into the
//! checked types of `model`.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// A decimal amount (dollars, or dollars per million tokens) kept as the
/// text the author wrote, so it can be parsed exactly later. Accepts
/// `"12.50"`, `12.5` and `12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount(pub String);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal amount such as \"12.50\" or 12.5")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                // Shortest round-trip text: the decimal the author wrote.
                Ok(Amount(format!("{v}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A calendar date, written as a TOML date (`2026-01-01`) or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateText(pub String);

impl<'de> Deserialize<'de> for DateText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DateText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date such as 2026-01-01")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DateText, E> {
                Ok(DateText(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DateText, A::Error> {
                let dt = toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(DateText(dt.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrg {
    pub name: String,
    #[serde(default = "default_currency")]
    pub currency: String,
    pub time_zone: String,
    /// What one hour of an employee's time is worth, for outcomes reported
    /// in hours saved.
    pub hour_value_usd: Amount,
    #[serde(default)]
    pub week_starts: Option<String>,
}

fn default_currency() -> String {
    "USD".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireFormat {
    Openai,
    Anthropic,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub base_url: String,
    pub format: WireFormat,
    /// Name of the environment variable holding the provider's API key; the
    /// key itself never appears in the policy file.
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// The largest answer taken from the upstream, in MiB (a JSON body, or
    /// one chunk of a stream): 64 unless set.
    #[serde(default)]
    pub max_response_mb: Option<u64>,
    /// Client request headers passed on to this upstream, by name or by
    /// prefix ending in `*` (e.g. `"openai-organization"`, `"x-mock-*"`).
    /// Nothing else from the client reaches the provider.
    #[serde(default)]
    pub forward_headers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    #[default]
    Chat,
    Embedding,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub upstream: String,
    /// The model's name at the upstream, when it differs from the id here.
    #[serde(default)]
    pub upstream_model: Option<String>,
    #[serde(default)]
    pub kind: ModelKind,
    /// The most sensitive data class this model may receive.
    pub max_data_class: String,
    #[serde(default)]
    pub reasoning: bool,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    /// Price versions written here; they win over an imported price file.
    #[serde(default)]
    pub prices: Vec<RawPrice>,
    /// The entry's name in the `price_sources` files, when prices come from
    /// there (defaults to `upstream_model`, then the model id).
    #[serde(default)]
    pub price_ref: Option<String>,
}

/// One price version, in dollars per million tokens.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    pub effective_from: DateText,
    pub input: Amount,
    #[serde(default)]
    pub output: Option<Amount>,
    #[serde(default)]
    pub cached_input: Option<Amount>,
    #[serde(default)]
    pub cache_write: Option<Amount>,
    #[serde(default)]
    pub reasoning: Option<Amount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceFormat {
    Litellm,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPriceSource {
    /// Relative paths are resolved against the policy file's folder.
    pub path: String,
    pub format: PriceFormat,
    pub effective_from: DateText,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Public,
    Team,
    Private,
    Pseudonymous,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTeam {
    pub name: String,
    pub cost_centre: String,
    pub manager: String,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default)]
    pub regulated: bool,
}

tokenwise_core::named_enum!(Role, "role", {
    Member => "member",
    Manager => "manager",
    Governance => "governance",
    Finance => "finance",
    Admin => "admin",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    pub team: String,
    #[serde(default = "default_role")]
    pub role: Role,
}

fn default_role() -> Role {
    Role::Member
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    pub name: String,
    pub team: String,
    #[serde(default)]
    pub cost_centre: Option<String>,
}

tokenwise_core::named_enum!(
    /// The product's taxonomy of use cases.
    Category, "use case category", {
        Drafting => "drafting",
        Summarization => "summarization",
        Coding => "coding",
        Retrieval => "retrieval",
        Support => "support",
        Agentic => "agentic",
    }
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskTier {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskTier {
    /// From the least to the most risky.
    pub const ALL: [RiskTier; 4] = [RiskTier::Low, RiskTier::Medium, RiskTier::High, RiskTier::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskTier::Low => "low",
            RiskTier::Medium => "medium",
            RiskTier::High => "high",
            RiskTier::Critical => "critical",
        }
    }

    pub fn parse(name: &str) -> Option<RiskTier> {
        RiskTier::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Who may approve a budget exception that covers calls of a use case of
/// a risk tier. Declared from the least to the most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExceptionApproval {
    /// The manager of the team concerned, governance or an admin (the rule
    /// for every exception).
    Managers,
    /// People with the governance role only.
    Governance,
    /// Nobody: no exception covers such calls, and none may be asked for
    /// the use case itself.
    None,
}

impl ExceptionApproval {
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionApproval::Managers => "managers",
            ExceptionApproval::Governance => "governance",
            ExceptionApproval::None => "none",
        }
    }
}

/// `[risk_tiers.TIER]`: the floor of controls for every use case of the
/// tier; each key left out takes the tier's default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRiskTier {
    /// Who may approve a budget exception covering the tier's calls.
    #[serde(default)]
    pub exceptions: Option<ExceptionApproval>,
    /// Scan the tier's replies even when `[dlp] scan_output` is off.
    #[serde(default)]
    pub scan_output: Option<bool>,
    /// The prompt retention a use case of the tier may have.
    #[serde(default)]
    pub prompts: Option<Vec<PromptRetention>>,
    /// Whether a use case of the tier may be `available_to = "everyone"`.
    #[serde(default)]
    pub available_to_everyone: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptRetention {
    /// Prompts are never stored (the default: privacy first).
    #[default]
    None,
    /// Stored with every DLP finding masked.
    Redacted,
    Full,
}

impl PromptRetention {
    pub fn as_str(self) -> &'static str {
        match self {
            PromptRetention::None => "none",
            PromptRetention::Redacted => "redacted",
            PromptRetention::Full => "full",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    #[serde(default)]
    pub prompts: PromptRetention,
    #[serde(default)]
    pub days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUseCase {
    pub name: String,
    pub category: Category,
    pub owner: String,
    pub risk_tier: RiskTier,
    pub track: tokenwise_core::Track,
    pub default_model: String,
    pub allowed_models: Vec<String>,
    pub max_data_class: String,
    pub baseline_tokens_per_outcome: u64,
    #[serde(default)]
    pub outcome_value_usd: Option<Amount>,
    #[serde(default)]
    pub outcome_value_hours: Option<f64>,
    #[serde(default)]
    pub retention: Option<RawRetention>,
    /// Who may use it. Optional here only so that leaving it out is
    /// reported with the exact line to add, not serde's bare "missing field".
    #[serde(default)]
    pub available_to: Option<RawAvailableTo>,
}

/// Who may use a use case, as written: `"everyone"`, or a table naming
/// teams and users (`{ teams = ["support"], users = ["omar.haddad"] }`).
#[derive(Debug)]
pub enum RawAvailableTo {
    /// A word; only `everyone` is valid, which validation checks so that a
    /// wrong word gets a located hint.
    Word(String),
    Only(RawAudience),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudience {
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
}

impl<'de> Deserialize<'de> for RawAvailableTo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAvailableTo;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"everyone\" or a table such as { teams = [\"support\"], users = [\"omar.haddad\"] }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawAvailableTo, E> {
                Ok(RawAvailableTo::Word(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawAvailableTo, A::Error> {
                // Through the derived struct, so a misspelt key is named.
                RawAudience::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawAvailableTo::Only)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    pub id: String,
    pub version: String,
    pub author: String,
    pub use_case: String,
    #[serde(default)]
    pub approved: bool,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// Refuse a request that would exceed the limit.
    #[default]
    Hard,
    /// Let it through, but alert.
    Soft,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub id: String,
    /// `org`, `team:ID`, `project:ID`, `use_case:ID`, `user:ID`, or `KIND:*`
    /// for one envelope per team, project, use case or user.
    pub scope: String,
    pub period: Period,
    pub limit_usd: Amount,
    #[serde(default)]
    pub enforcement: Enforcement,
    #[serde(default = "default_alerts")]
    pub alert_at_percent: Vec<u32>,
    /// Only this track's requests draw on the envelope; both when absent.
    #[serde(default)]
    pub track: Option<tokenwise_core::Track>,
    #[serde(default)]
    pub tranches: Vec<RawTranche>,
}

fn default_alerts() -> Vec<u32> {
    vec![80, 100]
}

/// Extra allowance unlocked by results within the period.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTranche {
    pub amount_usd: Amount,
    #[serde(default)]
    pub min_efficiency: Option<f64>,
    #[serde(default)]
    pub min_validated_hours: Option<f64>,
    #[serde(default)]
    pub min_compliance: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScoring {
    pub efficiency_weight: f64,
    pub quality_weight: f64,
    pub compliance_weight: f64,
    /// Share of recognition that comes from the team's result (0.6–0.7).
    pub team_share: f64,
    /// After this many repetitions an identical action (same use case,
    /// outcome kind, template and prompt) earns half as much.
    #[serde(default = "default_half_life")]
    pub repeat_half_life: f64,
    /// Weight of an outcome not yet validated by a manager.
    #[serde(default = "default_unvalidated")]
    pub unvalidated_weight: f64,
    /// Most a template's reuse by other teams adds to its author's score.
    #[serde(default = "default_reuse_bonus")]
    pub reuse_bonus: f64,
    /// An outcome counts at most this many times its use case's usual value.
    #[serde(default = "default_value_multiple")]
    pub max_value_multiple: f64,
    /// Aggregates over fewer people are shown to governance only.
    #[serde(default = "default_group")]
    pub min_group_size: u32,
    /// Badges: a template reused by this many other teams; this many clean days in a month.
    #[serde(default = "default_reuse_teams")]
    pub badge_reuse_teams: u32,
    #[serde(default = "default_clean_days")]
    pub badge_clean_days: u32,
    /// Outcome kinds that are learning: what exploration use cases earn on
    /// (production ones earn on every other kind).
    #[serde(default)]
    pub learning_kinds: Option<Vec<String>>,
}

fn default_half_life() -> f64 {
    1.0
}

fn default_unvalidated() -> f64 {
    0.5
}

fn default_reuse_bonus() -> f64 {
    0.10
}

fn default_value_multiple() -> f64 {
    4.0
}

fn default_group() -> u32 {
    5
}

fn default_reuse_teams() -> u32 {
    3
}

fn default_clean_days() -> u32 {
    10
}

/// Declared from the least to the most strict: when findings call for
/// different actions, the greatest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Redact,
    Reroute,
    Block,
}

/// What output scanning does with a finding in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputAction {
    /// Replace it with its kind (`[EMAIL]`) before the client sees it.
    #[default]
    Mask,
    /// Pass it on; record it in the audit log.
    Flag,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTerm {
    pub term: String,
    pub class: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDlp {
    /// Scan models' replies too (JSON and streams): what they carry above
    /// the use case's data-class ceiling is masked or flagged.
    #[serde(default)]
    pub scan_output: bool,
    /// What output scanning does with a finding: `mask` (the default) or
    /// `flag` (pass it on, record it). Only with `scan_output = true`.
    #[serde(default)]
    pub output_action: Option<OutputAction>,
    /// Finding kind → data class. Kinds not listed take the most sensitive
    /// class (fail closed).
    #[serde(default)]
    pub kind_classes: BTreeMap<String, String>,
    /// Project code names and other organisation terms.
    #[serde(default)]
    pub custom_terms: Vec<RawTerm>,
    /// Confidentiality markers such as "CONFIDENTIAL – INTERNAL ONLY".
    #[serde(default)]
    pub markers: Vec<RawTerm>,
    /// What to do when a prompt holds data above the model's clearance,
    /// per data class.
    #[serde(default)]
    pub actions: BTreeMap<String, Action>,
    /// Values that are never findings (`dlp.allow`).
    #[serde(default)]
    pub allow: Vec<RawAllow>,
}

/// One allowlist entry: `value` or `pattern` (with `*`), optionally only
/// for some finding kinds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAllow {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub kinds: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExceptions {
    pub reason_codes: Vec<String>,
    #[serde(default = "default_max_days")]
    pub max_days: u32,
}

fn default_max_days() -> u32 {
    30
}

/// `[nudges]`: when the gateway tells a person their task runs dear.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNudges {
    #[serde(default)]
    pub task_cost_factor: Option<f64>,
    #[serde(default)]
    pub baseline_days: Option<u32>,
    #[serde(default)]
    pub baseline_min_tasks: Option<u32>,
    #[serde(default)]
    pub task_idle_minutes: Option<u32>,
}

/// `[reports]`: how finance's reports are made.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReports {
    /// A provider's figure may differ from the ledger's by this share of
    /// the larger before reconciliation flags it.
    #[serde(default)]
    pub reconcile_tolerance_percent: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    #[serde(default)]
    pub listen: Option<String>,
    /// `sqlite://PATH` (relative to the policy file) or `postgres://…`.
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub max_request_bytes: Option<u64>,
    /// What an acknowledged usage record must survive (SQLite; PostgreSQL
    /// commits are as durable as the database is configured to be).
    #[serde(default)]
    pub durability: Durability,
    /// Seconds a budget hold lives unless its replica renews it: how soon a
    /// dead replica's holds come back (default 60).
    #[serde(default)]
    pub hold_lease_secs: Option<u64>,
    /// Budgets on PostgreSQL across replicas: each replica holds against
    /// an allowance drawn from the shared envelope instead of locking the
    /// shared row on every call (default true; SQLite ignores it).
    #[serde(default)]
    pub budget_escrow: Option<bool>,
    /// An allowance, in basis points of the envelope's limit (default 100,
    /// i.e. 1%).
    #[serde(default)]
    pub escrow_allowance_bp: Option<u64>,
    /// Below this many allowances left, an envelope is held on the shared
    /// row only and allowances on it are returned (default 8).
    #[serde(default)]
    pub escrow_fallback_multiple: Option<u64>,
    /// Milliseconds between a replica's exchanges with the shared rows:
    /// top-ups, recorded captures folded, allowances returned (default 50).
    #[serde(default)]
    pub escrow_tick_ms: Option<u64>,
    /// Seconds a connection may take to send a request's headers (and an
    /// idle keep-alive connection may wait for its next request) before it
    /// is closed (default 15).
    #[serde(default)]
    pub header_timeout_secs: Option<u64>,
    /// Seconds a request body may go without sending a byte (default 30).
    #[serde(default)]
    pub body_timeout_secs: Option<u64>,
    /// Connections served at once; more wait to be accepted (default 4096,
    /// and never more than half the open-file limit leaves after a reserve).
    #[serde(default)]
    pub max_connections: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// fsync every committed batch (the default).
    #[default]
    PowerLoss,
    /// Commit to the OS: survives a crash of tokenwise, not of the machine.
    ProcessCrash,
}

/// Where budget alerts go: an HTTP endpoint that receives each alert as
/// JSON, signed with HMAC-SHA256 (`x-tokenwise-signature: sha256=HEX`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Environment variable holding the signing secret.
    #[serde(default)]
    pub secret_env: Option<String>,
}

/// A system that posts outcomes signed with HMAC-SHA256 (a helpdesk, a
/// code host), with no API key: `[[integrations]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntegration {
    /// Sent as `x-tokenwise-integration`; outcomes it posts are reported by
    /// `integration:ID`.
    pub id: String,
    /// Environment variable holding the shared signing secret, read when
    /// the server starts; the secret never appears in the policy file.
    pub secret_env: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// Who is in a pilot's cohort or control group: teams and/or people.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMembers {
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub users: Vec<String>,
}

/// A trial of an incentive design on a small group: `[[pilots]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPilot {
    pub id: String,
    #[serde(default)]
    pub description: Option<String>,
    pub cohort: RawMembers,
    /// Default: everyone else who may use the pilot's use cases.
    #[serde(default)]
    pub control: Option<RawMembers>,
    /// Default: every use case someone in the cohort may use.
    #[serde(default)]
    pub use_cases: Vec<String>,
    /// First and last day (inclusive), `YYYY-MM-DD`, in the org's time zone.
    pub start: DateText,
    pub end: DateText,
    /// Weeks before the start the report compares with (default 4).
    #[serde(default)]
    pub baseline_weeks: Option<u32>,
    /// The reward model under trial.
    pub reward_model: String,
    /// The scoring-rules version under trial (default: the policy's own).
    #[serde(default)]
    pub rules_version: Option<String>,
    /// What the cohort is shown: its board's visibility and badges.
    #[serde(default)]
    pub board: Visibility,
    #[serde(default = "default_true")]
    pub badges: bool,
    /// When a guard metric's worsening is flagged.
    #[serde(default)]
    pub guards: Option<RawGuards>,
}

fn default_true() -> bool {
    true
}

/// `[pilots.guards]`: thresholds of the report's guard metrics.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuards {
    /// Token burn up by more than this many percent (default 10).
    #[serde(default)]
    pub token_burn_percent: Option<f64>,
    /// Template drift up by more than this many percentage points (default 5).
    #[serde(default)]
    pub template_drift_points: Option<f64>,
    /// Exceptions asked a person-week up by more than this (default 0.25).
    #[serde(default)]
    pub exceptions_per_person_week: Option<f64>,
    /// Quality (1–5) down by more than this (default 0.25).
    #[serde(default)]
    pub quality_points: Option<f64>,
}

/// A named entry whose body may have failed to deserialise; its name still
/// counts as declared, so references to it raise no second error.
pub(crate) type Entries<T> = Vec<(String, Option<T>)>;

/// The policy file, section by section, as read before validation.
#[derive(Default)]
pub(crate) struct RawDoc {
    pub org: Option<RawOrg>,
    pub data_classes: Option<Vec<String>>,
    pub upstreams: Entries<RawUpstream>,
    pub models: Entries<RawModel>,
    pub price_sources: Vec<Option<RawPriceSource>>,
    pub teams: Entries<RawTeam>,
    pub users: Entries<RawUser>,
    pub projects: Entries<RawProject>,
    pub use_cases: Entries<RawUseCase>,
    pub templates: Vec<Option<RawTemplate>>,
    pub budgets: Vec<Option<RawBudget>>,
    pub scoring: Option<RawScoring>,
    pub dlp: Option<RawDlp>,
    pub retention: Option<RawRetention>,
    pub risk_tiers: Entries<RawRiskTier>,
    pub exceptions: Option<RawExceptions>,
    pub server: Option<RawServer>,
    pub alerts: Option<RawAlerts>,
    pub integrations: Vec<Option<RawIntegration>>,
    pub nudges: Option<RawNudges>,
    pub reports: Option<RawReports>,
    pub ingest: Option<crate::ingest::RawIngest>,
    pub anomalies: Option<crate::anomalies::RawAnomalies>,
    pub dashboard: Option<crate::dashboard::RawDashboard>,
    pub rate_limits: Option<crate::rate_limits::RawRateLimits>,
    pub pilots: Vec<Option<RawPilot>>,
    /// Sections present in the file (even if they failed to deserialise).
    pub present: Vec<String>,
}
