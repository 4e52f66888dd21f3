//! Diagnostics that point into the policy file: file, line, column, what is
//! wrong and how to fix it. Validation speaks in key paths
//! (`use_cases.support.allowed_models[2]`); the loader turns each path into
//! a position by walking the spanned TOML tree.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One segment of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root to a key or value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    pub fn key(&self, k: &str) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_string()));
        KeyPath(v)
    }

    pub fn index(&self, i: usize) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        KeyPath(v)
    }
}

/// Paths are written the way people read them in the file.
impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    if bare { f.write_str(k)? } else { write!(f, "\"{k}\"")? }
                }
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Where a diagnostic points before it is resolved to a line.
#[derive(Debug, Clone)]
pub enum At {
    /// A byte range in the file (from the TOML parser or deserializer).
    Span(Range<usize>),
    /// The value at a key path.
    Value(KeyPath),
    /// The key itself at a key path (for "unknown key" and the like).
    Key(KeyPath),
    /// Not in the policy file (e.g. a price file).
    Elsewhere,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub at: At,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
    /// The source line, for display.
    pub excerpt: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{label}: {}", self.message)?;
        if self.line > 0 {
            writeln!(f, "  --> {}:{}:{}", self.file.display(), self.line, self.column)?;
            if let Some(src) = &self.excerpt {
                let gutter = self.line.to_string().len();
                writeln!(f, "{:gutter$} |", "")?;
                writeln!(f, "{} | {}", self.line, src)?;
                writeln!(f, "{:gutter$} | {:>col$}", "", "^", col = self.column)?;
            }
        } else {
            writeln!(f, "  --> {}", self.file.display())?;
        }
        if let Some(h) = &self.hint {
            writeln!(f, "  = hint: {h}")?;
        }
        Ok(())
    }
}

/// The diagnostics found in one policy file, errors first in file order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        let e = self.errors().count();
        let w = self.warnings().count();
        write!(f, "{e} error(s), {w} warning(s)")
    }
}

impl std::error::Error for Report {}

/// Collects diagnostics while the file is read and validated.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    pub(crate) items: Vec<(Severity, At, String, Option<String>)>,
}

impl Sink {
    pub(crate) fn error(&mut self, at: At, message: impl Into<String>, hint: Option<String>) {
        self.items.push((Severity::Error, at, message.into(), hint));
    }

    pub(crate) fn warning(&mut self, at: At, message: impl Into<String>, hint: Option<String>) {
        self.items.push((Severity::Warning, at, message.into(), hint));
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.items.iter().any(|i| i.0 == Severity::Error)
    }

    pub(crate) fn toml_error(&mut self, err: &toml::de::Error) {
        let at = err.span().map_or(At::Elsewhere, At::Span);
        let msg = err.message().trim().to_string();
        let hint = toml_hint(&msg);
        self.error(at, msg, hint);
    }

    /// Resolves every location against the source and sorts by position.
    pub(crate) fn into_report(self, file: &Path, src: &str, doc: Option<&Spanned<DeTable<'_>>>) -> Report {
        let mut diagnostics: Vec<Diagnostic> = self
            .items
            .into_iter()
            .map(|(severity, at, message, hint)| {
                let span = match &at {
                    At::Span(r) => Some(r.clone()),
                    At::Value(p) => doc.and_then(|d| locate(d, p, false)),
                    At::Key(p) => doc.and_then(|d| locate(d, p, true)),
                    At::Elsewhere => None,
                };
                let (line, column, excerpt) = match span {
                    Some(r) => {
                        let (l, c) = line_col(src, r.start);
                        (l, c, src.lines().nth(l - 1).map(str::to_string))
                    }
                    None => (0, 0, None),
                };
                Diagnostic { severity, file: file.to_path_buf(), at, line, column, message, hint, excerpt }
            })
            .collect();
        diagnostics.sort_by_key(|d| (d.severity != Severity::Error, d.line == 0, d.line, d.column));
        Report { diagnostics }
    }
}

fn toml_hint(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some("remove the key or correct its spelling; the keys this table accepts are listed above".into())
    } else if message.starts_with("missing field") {
        Some("add the key to this table".into())
    } else if message.starts_with("unknown variant") {
        Some("use one of the values listed above".into())
    } else if message.starts_with("invalid type") {
        Some("check the value's type (quotes make a string; [] an array; {} a table)".into())
    } else {
        None
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(1, |s| s.chars().count() + 1);
    (line, column)
}

/// Finds the span of the key (`want_key`) or value at `path`. Falls back to
/// the nearest ancestor that exists, so a diagnostic always has a line.
fn locate(doc: &Spanned<DeTable<'_>>, path: &KeyPath, want_key: bool) -> Option<Range<usize>> {
    let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
    let mut array: Option<&[Spanned<DeValue<'_>>]> = None;
    let mut best: Option<Range<usize>> = None;
    for (i, seg) in path.0.iter().enumerate() {
        let last = i + 1 == path.0.len();
        let found: Option<(&Spanned<DeValue<'_>>, Option<Range<usize>>)> = match seg {
            Seg::Key(k) => table.and_then(|t| {
                t.iter().find(|(key, _)| key.get_ref().as_ref() == k.as_str()).map(|(key, v)| (v, Some(key.span())))
            }),
            Seg::Index(n) => array.and_then(|a| a.get(*n)).map(|v| (v, None)),
        };
        let Some((value, key_span)) = found else { break };
        best = Some(if last && want_key {
            key_span.unwrap_or_else(|| value.span())
        } else {
            key_span.filter(|_| !last).unwrap_or_else(|| value.span())
        });
        table = None;
        array = None;
        match value.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(&a[..]),
            _ => {}
        }
    }
    best
}

/// "did you mean" for a misspelt name, or the full list when short.
pub(crate) fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.into_iter().collect();
    let close = known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let list = if known.len() <= 12 {
        format!("known: {}", known.join(", "))
    } else {
        format!("known: {}, … ({} in all)", known[..12].join(", "), known.len())
    };
    match close {
        Some((_, k)) => format!("did you mean `{k}`? {list}"),
        None if known.is_empty() => "none are defined".to_string(),
        None => list,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 11), (2, 6));
    }

    #[test]
    fn paths_print_like_the_file() {
        let p = KeyPath::root().key("use_cases").key("support reply").key("allowed_models").index(2);
        assert_eq!(p.to_string(), "use_cases.\"support reply\".allowed_models[2]");
    }

    #[test]
    fn locates_keys_values_and_array_items() {
        let src = "[models.a]\nupstream = \"u\"\nlist = [\"x\", \"y\"]\n\n[[budgets]]\nid = \"b1\"\n";
        let doc = DeTable::parse(src).unwrap();
        let models = KeyPath::root().key("models").key("a");
        let at = |p: &KeyPath, k: bool| line_col(src, locate(&doc, p, k).unwrap().start);
        assert_eq!(at(&models.key("upstream"), true), (2, 1));
        assert_eq!(at(&models.key("upstream"), false), (2, 12));
        assert_eq!(at(&models.key("list").index(1), false), (3, 14));
        assert_eq!(at(&KeyPath::root().key("budgets").index(0).key("id"), false), (6, 6));
        // A missing key falls back to its nearest ancestor.
        assert_eq!(at(&models.key("nope"), true).0, 1);
    }

    #[test]
    fn suggests_close_names() {
        let s = suggest("gpt-5-mini", ["gpt-4o-mini", "claude-haiku"]);
        assert!(s.starts_with("did you mean `gpt-4o-mini`?"), "{s}");
        assert!(s.contains("claude-haiku"));
    }
}
