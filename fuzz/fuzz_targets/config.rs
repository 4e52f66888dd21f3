//! Policy files: the first byte picks a mode. Mode 0 reads the rest as a
//! whole policy; otherwise the next two bytes pick a line of
//! `examples/acme.toml` and the rest replaces it (so the fuzzer works deep
//! in validation, not only in the TOML parser). Loading must not panic; a
//! refusal carries at least one error, each naming a line within the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

const ACME: &str = include_str!("../../examples/acme.toml");
const PRICES: &str = include_str!("../../examples/prices/litellm-subset.json");

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let src = if mode == 0 || rest.len() < 2 {
        let Ok(s) = std::str::from_utf8(rest) else { return };
        s.to_string()
    } else {
        let Ok(line) = std::str::from_utf8(&rest[2..]) else { return };
        let lines: Vec<&str> = ACME.lines().collect();
        let at = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % lines.len();
        let mut out: Vec<&str> = lines.clone();
        out[at] = line;
        out.join("\n")
    };
    // The example's price file, whatever path is asked for; no disk reads.
    let read = |_: &Path| Ok(PRICES.to_string());
    match tokenwise_policy::load_str(Path::new("fuzz.toml"), &src, &read) {
        Ok(loaded) => assert!(!loaded.warnings.has_errors()),
        Err(report) => {
            assert!(report.has_errors());
            let _ = report.to_string();
        }
    }
});
