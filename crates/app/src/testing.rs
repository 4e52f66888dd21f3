//! What the crate's unit tests share.

use std::path::Path;
use tokenwise_policy::Policy;

/// The example company's policy, `examples/acme.toml`, as loaded.
pub(crate) fn acme() -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme.toml");
    match tokenwise_policy::load_file(&path) {
        Ok(loaded) => loaded.policy,
        Err(e) => panic!("examples/acme.toml: {e}"),
    }
}
