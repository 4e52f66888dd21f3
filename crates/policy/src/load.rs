//! From text to `Policy`: parse the spanned TOML tree, deserialise section
//! by section, validate, and resolve every diagnostic to a line.

use crate::diag::{At, Report, Sink, suggest};
use crate::model::Policy;
use crate::raw::*;
use crate::validate;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// A valid policy and whatever warnings it raised.
#[derive(Debug)]
pub struct Loaded {
    pub policy: Policy,
    pub warnings: Report,
}

pub(crate) const SECTIONS: &[&str] = &[
    "org",
    "data_classes",
    "upstreams",
    "models",
    "price_sources",
    "teams",
    "users",
    "projects",
    "use_cases",
    "templates",
    "budgets",
    "scoring",
    "dlp",
    "retention",
    "risk_tiers",
    "exceptions",
    "server",
    "alerts",
    "integrations",
    "nudges",
    "reports",
    "ingest",
    "anomalies",
    "dashboard",
    "rate_limits",
    "pilots",
];

/// Reads and validates the policy file at `path`; price files it names are
/// read relative to its folder.
pub fn load_file(path: &Path) -> Result<Loaded, Report> {
    match std::fs::read_to_string(path) {
        Ok(src) => load_str(path, &src, &|p: &Path| std::fs::read_to_string(p)),
        Err(e) => {
            let mut sink = Sink::default();
            sink.error(
                At::Elsewhere,
                format!("cannot read the policy file: {e}"),
                Some("check the path; `tokenwise check-config examples/acme.toml` shows a working example".into()),
            );
            Err(sink.into_report(path, "", None))
        }
    }
}

/// Validates policy text. `file` names it in diagnostics and anchors
/// relative paths; `read` fetches price files (tests pass a fake).
pub fn load_str(file: &Path, src: &str, read: &dyn Fn(&Path) -> std::io::Result<String>) -> Result<Loaded, Report> {
    let mut sink = Sink::default();
    let doc = match DeTable::parse(src) {
        Ok(doc) => doc,
        Err(e) => {
            sink.toml_error(&e);
            return Err(sink.into_report(file, src, None));
        }
    };
    let raw = read_sections(&doc, &mut sink);
    let base_dir: PathBuf = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let policy = validate::validate(raw, file, &base_dir, read, &mut sink);
    let failed = sink.has_errors();
    let report = sink.into_report(file, src, Some(&doc));
    match policy {
        Some(policy) if !failed => Ok(Loaded { policy, warnings: report }),
        _ => Err(report),
    }
}

fn read_sections(doc: &Spanned<DeTable<'_>>, sink: &mut Sink) -> RawDoc {
    let mut raw = RawDoc::default();
    for (key, value) in doc.get_ref() {
        let name: &str = key.get_ref().as_ref();
        raw.present.push(name.to_string());
        match name {
            "org" => raw.org = one(value, sink),
            "data_classes" => raw.data_classes = one(value, sink),
            "upstreams" => raw.upstreams = entries(name, value, sink),
            "models" => raw.models = entries(name, value, sink),
            "price_sources" => raw.price_sources = items(name, value, sink),
            "teams" => raw.teams = entries(name, value, sink),
            "users" => raw.users = entries(name, value, sink),
            "projects" => raw.projects = entries(name, value, sink),
            "use_cases" => raw.use_cases = entries(name, value, sink),
            "templates" => raw.templates = items(name, value, sink),
            "budgets" => raw.budgets = items(name, value, sink),
            "scoring" => raw.scoring = one(value, sink),
            "dlp" => raw.dlp = one(value, sink),
            "retention" => raw.retention = one(value, sink),
            "risk_tiers" => raw.risk_tiers = entries(name, value, sink),
            "exceptions" => raw.exceptions = one(value, sink),
            "server" => raw.server = one(value, sink),
            "alerts" => raw.alerts = one(value, sink),
            "integrations" => raw.integrations = items(name, value, sink),
            "nudges" => raw.nudges = one(value, sink),
            "reports" => raw.reports = one(value, sink),
            "ingest" => raw.ingest = one(value, sink),
            "anomalies" => raw.anomalies = one(value, sink),
            "dashboard" => raw.dashboard = one(value, sink),
            "rate_limits" => raw.rate_limits = one(value, sink),
            "pilots" => raw.pilots = items(name, value, sink),
            other => sink.error(
                At::Span(key.span()),
                format!("unknown section `{other}`"),
                Some(suggest(other, SECTIONS.iter().copied())),
            ),
        }
    }
    raw
}

fn one<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>, sink: &mut Sink) -> Option<T> {
    T::deserialize(ValueDeserializer::from(value.clone())).map_err(|e| sink.toml_error(&e)).ok()
}

fn entries<T: DeserializeOwned>(section: &str, value: &Spanned<DeValue<'_>>, sink: &mut Sink) -> Entries<T> {
    let DeValue::Table(table) = value.get_ref() else {
        sink.error(
            At::Span(value.span()),
            format!("`{section}` must be a table of named entries"),
            Some(format!("write `[{section}.NAME]` headers, one per entry")),
        );
        return Vec::new();
    };
    table.iter().map(|(k, v)| (k.get_ref().to_string(), one(v, sink))).collect()
}

fn items<T: DeserializeOwned>(section: &str, value: &Spanned<DeValue<'_>>, sink: &mut Sink) -> Vec<Option<T>> {
    let DeValue::Array(array) = value.get_ref() else {
        sink.error(
            At::Span(value.span()),
            format!("`{section}` must be an array of tables"),
            Some(format!("write one `[[{section}]]` header per entry")),
        );
        return Vec::new();
    };
    array.iter().map(|v| one(v, sink)).collect()
}
