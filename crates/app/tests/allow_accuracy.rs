//! The shipped allowlist (examples/acme.toml `dlp.allow`) hides no real
//! personal data: on the DLP accuracy corpora (crates/dlp/tests/data, the
//! labelled and the held-out one) the scanner finds exactly what it finds
//! without the allowlist, so every accuracy figure stands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use tokenwise_app::guard::Guard;
use tokenwise_core::FindingKind;

fn same_findings_with_and_without_the_allowlist(corpus: &str) {
    let policy = tokenwise_policy::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml"))
        .unwrap_or_else(|r| panic!("{r}"))
        .policy;
    assert!(!policy.dlp.allow.is_empty(), "the example allows the agents' no-reply addresses");
    let with = policy.dlp.clone();
    let mut without = policy.dlp.clone();
    without.allow.clear();
    let guard = Guard::new(&with).unwrap();
    let (mut lines, mut emails) = (0, 0);
    for line in corpus.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        let allowed = guard.scan(&with, text);
        assert_eq!(allowed, guard.scan(&without, text), "the allowlist hid a finding in: {text}");
        emails += allowed.iter().filter(|(f, _)| f.kind == FindingKind::Email).count();
        lines += 1;
    }
    assert!(lines > 100 && emails > 10, "{lines} lines, {emails} emails: the corpus was read");
    // And the allowlist is at work: the agents' address is dropped.
    let agent = "Co-Authored-By: Claude <noreply@anthropic.com>";
    assert!(guard.scan(&with, agent).is_empty());
    assert_eq!(guard.scan(&without, agent).len(), 1);
}

#[test]
fn the_example_allowlist_leaves_the_labelled_corpus_unchanged() {
    same_findings_with_and_without_the_allowlist(include_str!("../../dlp/tests/data/corpus.jsonl"));
}

#[test]
fn the_example_allowlist_leaves_the_held_out_corpus_unchanged() {
    same_findings_with_and_without_the_allowlist(include_str!("../../dlp/tests/data/heldout.jsonl"));
}
