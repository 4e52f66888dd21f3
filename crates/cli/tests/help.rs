//! Every CLI help text runs, and every command line the README shows uses
//! only subcommands and flags that `--help` lists: when a flag is renamed or
//! dropped, the README's example fails here. (That each argument has a help
//! line and `--track` lists its values is checked on the clap tree itself,
//! in `src/main.rs`.)

// Tests fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{bin, repo, text};

/// `tokenwise PATH… --help`.
fn help(path: &[&str]) -> String {
    let out = bin().args(path).arg("--help").output().unwrap();
    assert!(out.status.success(), "tokenwise {} --help: {}", path.join(" "), text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a help text lists under `Commands:`.
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// Every subcommand path, each with its help text.
fn tree() -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let words: Vec<&str> = path.iter().map(String::as_str).collect();
        let h = help(&words);
        for c in commands(&h) {
            let mut next = path.clone();
            next.push(c);
            todo.push(next);
        }
        out.push((path, h));
    }
    out
}

#[test]
fn every_help_text_runs_and_describes_each_option() {
    let all = tree();
    assert!(all.len() > 15, "{} commands", all.len());
    for (path, h) in &all {
        assert!(h.contains("Usage: tokenwise"), "{path:?}: {h}");
        // An option line with nothing after its name and value is an option without help.
        // (clap puts the help on the next line, indented, when the name is long).
        let lines: Vec<&str> = h.lines().collect();
        // (`- value: …` lines list an option's possible values.)
        let option = |l: &str| {
            let t = l.trim_start();
            t.starts_with("--") || (t.starts_with('-') && t.chars().nth(1).is_some_and(|c| c.is_ascii_alphabetic()))
        };
        for (i, l) in lines.iter().enumerate().filter(|(_, l)| option(l)) {
            let same_line = l.trim().split("  ").filter(|p| !p.trim().is_empty()).count() > 1;
            let next_line = lines.get(i + 1).is_some_and(|n| {
                let t = n.trim_start();
                !t.is_empty() && !t.starts_with('-') && n.len() - t.len() > l.len() - l.trim_start().len()
            });
            assert!(same_line || next_line, "`tokenwise {}`: option without help: {l:?}", path.join(" "));
        }
    }
}

/// Each `tokenwise …` command line in the README (fenced or inline).
fn readme_command_lines() -> Vec<String> {
    let md = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut out = Vec::new();
    for line in md.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("tokenwise ") {
            let tail = &rest[at + "tokenwise ".len()..];
            let end = tail.find(['`', ')', '|', '>', '&', '#', ';', '(']).unwrap_or(tail.len());
            out.push(tail[..end].trim().to_string());
            rest = &tail[end..];
        }
    }
    out
}

#[test]
fn the_readme_uses_only_commands_and_flags_the_cli_has() {
    let all = tree();
    let help_of = |path: &[String]| all.iter().find(|(p, _)| p == path).map(|(_, h)| h.clone());
    let mut checked = 0;
    for line in readme_command_lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        // The subcommand path: leading words that are subcommands.
        let mut path: Vec<String> = Vec::new();
        for w in &words {
            let mut next = path.clone();
            next.push((*w).to_string());
            if help_of(&next).is_some() {
                path = next;
            } else {
                break;
            }
        }
        if path.is_empty() {
            continue; // prose: "tokenwise governs…"
        }
        let h = help_of(&path).unwrap();
        for flag in words.iter().filter_map(|w| w.trim_matches(['[', ']']).strip_prefix("--")) {
            let name = flag.split('=').next().unwrap();
            assert!(
                h.contains(&format!("--{name}")),
                "README runs `tokenwise {line}`, but `tokenwise {} --help` has no --{name}",
                path.join(" ")
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} flags found in the README");
}
