//! What the policy tests share: the example policy, loaded as if it were
//! examples/acme.toml (so its price file resolves), and lines found in it.

// Each test file uses some of these.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use tokenwise_policy::{Loaded, Report, load_str};

pub fn acme_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml")
}

pub fn acme_src() -> String {
    std::fs::read_to_string(acme_path()).unwrap()
}

/// Loads `src` as if it were examples/acme.toml (so its price file resolves).
pub fn load_as_acme(src: &str) -> Result<Loaded, Report> {
    load_str(&acme_path(), src, &|p: &Path| std::fs::read_to_string(p))
}

/// The first line holding `needle`, counted from 1.
pub fn line_of(src: &str, needle: &str) -> usize {
    src.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("`{needle}` not in source")) + 1
}
