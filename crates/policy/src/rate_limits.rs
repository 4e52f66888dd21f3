//! `[rate_limits]`: how many requests each API key may make, as a token
//! bucket — `requests_per_minute` refill, `burst` at once — with defaults
//! per role (`[rate_limits.roles.member]`, …) over the section's own. No
//! section (or `requests_per_minute = 0`) means no limit. The buckets are
//! kept in memory by each replica: behind N replicas a key may make up to N
//! times its limit.

use crate::Role;
use crate::diag::{At, KeyPath, Sink};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimits {
    /// Requests a key may make per minute, on average (0: no limit).
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Requests a key may make at once after being idle (default: a tenth
    /// of a minute's, at least 1).
    #[serde(default)]
    pub burst: Option<u32>,
    /// The same two settings for the keys of one role.
    #[serde(default)]
    pub roles: BTreeMap<String, RawRate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRate {
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    #[serde(default)]
    pub burst: Option<u32>,
}

/// One key's allowance: `per_minute` requests a minute, `burst` at once.
/// `per_minute == 0` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    pub const UNLIMITED: Rate = Rate { per_minute: 0, burst: 0 };

    pub fn is_limited(self) -> bool {
        self.per_minute > 0
    }
}

/// The checked `[rate_limits]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub default: Rate,
    pub roles: BTreeMap<Role, Rate>,
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits { default: Rate::UNLIMITED, roles: BTreeMap::new() }
    }
}

impl RateLimits {
    /// The allowance of a key whose person has `role`.
    pub fn for_role(&self, role: Role) -> Rate {
        self.roles.get(&role).copied().unwrap_or(self.default)
    }

    /// Whether any key is limited at all.
    pub fn any(&self) -> bool {
        self.default.is_limited() || self.roles.values().any(|r| r.is_limited())
    }
}

const MAX_PER_MINUTE: u32 = 6_000_000;

fn rate(sink: &mut Sink, at: &KeyPath, per_minute: Option<u32>, burst: Option<u32>, base: Rate) -> Rate {
    let per_minute = per_minute.unwrap_or(base.per_minute);
    if per_minute > MAX_PER_MINUTE {
        sink.error(
            At::Value(at.clone().key("requests_per_minute")),
            format!("requests_per_minute must be at most {MAX_PER_MINUTE}, got {per_minute}"),
            Some("e.g. requests_per_minute = 600 (ten a second); 0 means no limit".into()),
        );
    }
    if per_minute == 0 {
        if burst.is_some_and(|b| b > 0) {
            sink.error(
                At::Value(at.clone().key("burst")),
                "a burst without requests_per_minute does nothing".to_string(),
                Some("set requests_per_minute too, e.g. requests_per_minute = 600".into()),
            );
        }
        return Rate::UNLIMITED;
    }
    let default_burst =
        if base.is_limited() && per_minute == base.per_minute { base.burst } else { (per_minute / 10).max(1) };
    let burst = burst.unwrap_or(default_burst);
    if burst == 0 {
        sink.error(
            At::Value(at.clone().key("burst")),
            "burst must be at least 1: with 0 no request could ever pass".to_string(),
            Some(format!("e.g. burst = {}", (per_minute / 10).max(1))),
        );
    }
    Rate { per_minute, burst }
}

pub(crate) fn validate(sink: &mut Sink, raw: Option<&RawRateLimits>) -> RateLimits {
    let Some(r) = raw else { return RateLimits::default() };
    let at = KeyPath::root().key("rate_limits");
    let default = rate(sink, &at, r.requests_per_minute, r.burst, Rate::UNLIMITED);
    let mut roles = BTreeMap::new();
    for (name, raw_rate) in &r.roles {
        let here = at.clone().key("roles").key(name);
        let Ok(role) = name.parse::<Role>() else {
            sink.error(
                At::Key(here),
                format!("`{name}` is not a role"),
                Some("roles are member, manager, governance, finance and admin".into()),
            );
            continue;
        };
        roles.insert(role, rate(sink, &here, raw_rate.requests_per_minute, raw_rate.burst, default));
    }
    RateLimits { default, roles }
}
