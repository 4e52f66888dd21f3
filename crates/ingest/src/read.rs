//! Reading JSON the way exports write it: one value per line or one array,
//! counts as numbers or as strings, times with or without a zone.

use crate::{Parsed, Record, Rejection};
use jiff::Timestamp;
use serde_json::Value;

/// What a reader makes of one JSON value at a line: a record, nothing to
/// record (`None`), or a rejection.
pub(crate) type ReadOne = fn(&Value, u64) -> Result<Option<Record>, Rejection>;

/// A quicker reading of one line straight into a record, for the common
/// case only: `None` sends the line to [`ReadOne`] (which says why it is
/// wrong, or reads what the quick one does not), so it must never accept
/// a line that one would read otherwise.
pub(crate) type ReadLine = fn(&[u8], u64) -> Option<Record>;

/// Calls `one` on each value of `input`: the elements of a JSON array
/// (numbered by position), else each non-blank line (numbered from
/// `first_line + 1`), trying `quick` on each line first.
pub(crate) fn each_json(input: &[u8], first_line: u64, one: ReadOne, quick: Option<ReadLine>) -> Parsed {
    let mut out = Parsed::default();
    let start = input.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_some_and(|i| input[i] == b'[') {
        match serde_json::from_slice::<Vec<Value>>(input) {
            Ok(values) => {
                for (i, v) in values.iter().enumerate() {
                    out.push(one(v, first_line + i as u64 + 1));
                }
            }
            Err(e) => out.rejected.push(Rejection::new(first_line + 1, None, format!("not a JSON array: {e}"))),
        }
        return out;
    }
    for (i, line) in input.split(|b| *b == b'\n').enumerate() {
        let n = first_line + i as u64 + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Some(record) = quick.and_then(|q| q(line, n)) {
            out.records.push(record);
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => out.push(one(&v, n)),
            Err(e) => out.rejected.push(Rejection::new(n, None, format!("not JSON: {e}"))),
        }
    }
    out
}

/// A count: a non-negative integer, as a number or a decimal string.
pub(crate) fn count(v: &Value, name: &str) -> Result<u64, String> {
    let n = match v {
        Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
        }
        Value::String(s) => s.trim().parse::<u64>().ok(),
        Value::Null => Some(0),
        _ => None,
    };
    n.ok_or_else(|| format!("`{name}` must be a non-negative whole number of tokens, got {v}"))
}

/// An optional count: absent is 0.
pub(crate) fn count_at(obj: &Value, key: &str) -> Result<u64, String> {
    obj.get(key).map_or(Ok(0), |v| count(v, key))
}

/// Text: a non-empty string, or a number written out (ids often are).
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A time: RFC 3339 (`2026-11-03T10:00:00Z`), or a date and time with no
/// zone (`2026-11-03 10:00:00.123`, as databases export it), read as UTC.
pub(crate) fn time(v: Option<&Value>, name: &str) -> Result<Timestamp, String> {
    let Some(s) = v.and_then(Value::as_str) else {
        return Err(format!("`{name}` is missing: give the time of the call, e.g. \"2026-11-03T10:00:00Z\""));
    };
    time_of(s, name)
}

/// [`time`] of a string.
pub(crate) fn time_of(s: &str, name: &str) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    s.replacen(' ', "T", 1)
        .parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| format!("`{name}` is not a time: {s:?} (write RFC 3339, e.g. \"2026-11-03T10:00:00Z\")"))
}

/// Milliseconds between two times, 0 when the end is missing or earlier.
pub(crate) fn millis(start: Timestamp, end: Option<Timestamp>) -> u32 {
    end.map_or(0, |e| u32::try_from(e.duration_since(start).as_millis().max(0)).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_are_numbers_or_decimal_strings() {
        assert_eq!(count(&json!(12), "n"), Ok(12));
        assert_eq!(count(&json!("12"), "n"), Ok(12));
        assert_eq!(count(&json!(12.0), "n"), Ok(12));
        assert!(count(&json!(-1), "n").unwrap_err().contains("`n`"));
        assert!(count(&json!(1.5), "n").is_err());
        assert!(count(&json!("many"), "n").is_err());
    }

    #[test]
    fn times_with_and_without_a_zone() {
        let z = time(Some(&json!("2026-11-03T10:00:00Z")), "t").unwrap();
        assert_eq!(time(Some(&json!("2026-11-03 10:00:00.000")), "t").unwrap(), z);
        assert_eq!(time(Some(&json!("2026-11-03T11:00:00+01:00")), "t").unwrap(), z);
        assert!(time(Some(&json!("yesterday")), "t").unwrap_err().contains("not a time"));
        assert!(time(None, "t").unwrap_err().contains("missing"));
    }
}
