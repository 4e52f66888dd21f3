//! `tokenwise check-config FILE`

use std::path::Path;
use std::process::ExitCode;
use tokenwise_policy::{Diagnostic, Report, load_file};

pub fn run(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let loaded = load_file(file);
    if json {
        let (ok, diagnostics) = match &loaded {
            Ok(l) => (true, &l.warnings),
            Err(report) => (false, report),
        };
        println!(
            "{}",
            serde_json::json!({
                "ok": ok,
                "file": file.display().to_string(),
                "diagnostics": diagnostics_json(diagnostics),
            })
        );
        return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    match loaded {
        Ok(loaded) => {
            for w in &loaded.warnings.diagnostics {
                eprintln!("{w}");
            }
            let p = &loaded.policy;
            println!(
                "{}: ok — {} ({} teams, {} users, {} projects, {} use cases, {} models, {} price versions, {} budgets, {} templates)",
                file.display(),
                p.org.name,
                p.teams.len(),
                p.users.len(),
                p.projects.len(),
                p.use_cases.len(),
                p.models.len(),
                p.models.values().map(|m| m.prices.len()).sum::<usize>(),
                p.budgets.len(),
                p.templates.len(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(report) => {
            eprintln!("{report}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn diagnostics_json(report: &Report) -> Vec<serde_json::Value> {
    report.diagnostics.iter().map(one).collect()
}

fn one(d: &Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "severity": if d.is_error() { "error" } else { "warning" },
        "file": d.file.display().to_string(),
        "line": d.line,
        "column": d.column,
        "message": d.message,
        "hint": d.hint,
    })
}
