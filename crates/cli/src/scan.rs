//! `tokenwise scan [FILE|-] [--json] [--lines] [--config FILE]`

use anyhow::Context;
use std::io::{Read, Write};
use std::path::Path;
use tokenwise_app::guard::Guard;
use tokenwise_policy::{DataClass, DataClasses, Dlp, default_dlp};

pub fn run(input: Option<&Path>, json: bool, lines: bool, config: Option<&Path>) -> anyhow::Result<()> {
    let (classes, dlp): (DataClasses, Dlp) = match config {
        Some(c) => {
            let p = crate::store::load_policy(c)?;
            (p.classes, p.dlp)
        }
        None => default_dlp(),
    };
    let guard = Guard::new(&dlp)?;
    let mut bytes = Vec::new();
    match input.filter(|p| p.as_os_str() != "-") {
        Some(path) => {
            bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        }
        None => {
            std::io::stdin().read_to_end(&mut bytes).context("cannot read standard input")?;
        }
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!("the input is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if lines {
        // One report per input line (`\n` or `\r\n`), empty lines included.
        for (n, line) in text.lines().enumerate() {
            report(&mut out, &guard, &dlp, &classes, line, json, Some(n + 1))?;
        }
    } else {
        report(&mut out, &guard, &dlp, &classes, &text, json, None)?;
    }
    out.flush()?;
    Ok(())
}

fn report(
    out: &mut impl Write,
    guard: &Guard,
    dlp: &Dlp,
    classes: &DataClasses,
    text: &str,
    json: bool,
    line: Option<usize>,
) -> anyhow::Result<()> {
    let found = guard.scan(dlp, text);
    let class = found.iter().map(|(_, c)| *c).max().unwrap_or(DataClass(0));
    if json {
        let findings: Vec<serde_json::Value> = found
            .iter()
            .map(|(f, c)| serde_json::json!({"kind": f.kind.as_str(), "start": f.start, "end": f.end, "class": classes.name(*c)}))
            .collect();
        writeln!(out, "{}", serde_json::json!({"data_class": classes.name(class), "findings": findings}))?;
        return Ok(());
    }
    if line.is_some() && found.is_empty() {
        return Ok(());
    }
    let prefix = line.map(|n| format!("line {n}: ")).unwrap_or_default();
    writeln!(out, "{prefix}data class {} ({} finding(s))", classes.name(class), found.len())?;
    for (f, c) in &found {
        writeln!(
            out,
            "  {}..{}  {:<22} {:<13} {}",
            f.start,
            f.end,
            f.kind.as_str(),
            classes.name(*c),
            preview(&text[f.start..f.end])
        )?;
    }
    Ok(())
}

/// Enough of a finding to recognise it, never the whole secret.
fn preview(s: &str) -> String {
    let chars: Vec<char> = s.chars().filter(|c| !c.is_control()).collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}…{tail} ({} chars)", chars.len())
}
