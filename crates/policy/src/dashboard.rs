//! `[dashboard]`: who may vouch for a person's identity (a single sign-on
//! proxy setting `X-Forwarded-User` / `X-Forwarded-Email`, oauth2-proxy
//! style) and how long a dashboard session lasts. Without
//! `trusted_proxies` the identity headers are ignored from everyone.

use crate::diag::{At, KeyPath, Sink};
use serde::Deserialize;
use std::net::IpAddr;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDashboard {
    /// Addresses of the proxies whose identity headers are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Hours a session lasts after login (default 12).
    #[serde(default)]
    pub session_hours: Option<u32>,
}

/// The checked `[dashboard]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    pub trusted_proxies: Vec<IpAddr>,
    pub session_hours: u32,
}

impl Default for Dashboard {
    fn default() -> Dashboard {
        Dashboard { trusted_proxies: Vec::new(), session_hours: 12 }
    }
}

impl Dashboard {
    /// Whether a request that came from `peer` may say who its person is.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.trusted_proxies.iter().any(|p| p.to_canonical() == peer)
    }
}

pub(crate) fn validate(sink: &mut Sink, raw: Option<&RawDashboard>) -> Dashboard {
    let d = Dashboard::default();
    let Some(r) = raw else { return d };
    let mut proxies = Vec::new();
    for (i, text) in r.trusted_proxies.iter().enumerate() {
        match text.trim().parse::<IpAddr>() {
            Ok(ip) => proxies.push(ip),
            Err(_) => sink.error(
                At::Value(KeyPath::root().key("dashboard").key("trusted_proxies").index(i)),
                format!("`{text}` is not an IP address"),
                Some("list the proxies' addresses, e.g. trusted_proxies = [\"127.0.0.1\", \"10.0.0.7\"]".into()),
            ),
        }
    }
    let hours = r.session_hours.unwrap_or(d.session_hours);
    if !(1..=24 * 30).contains(&hours) {
        sink.error(
            At::Value(KeyPath::root().key("dashboard").key("session_hours")),
            format!("session_hours must be from 1 to 720, got {hours}"),
            Some("e.g. 12: people log in again after twelve hours".into()),
        );
    }
    Dashboard { trusted_proxies: proxies, session_hours: hours }
}
