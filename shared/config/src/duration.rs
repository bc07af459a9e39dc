//! Durations (`500ms`, `5s`, `2m`, `1h`, `1d`: humantime's syntax) and lists
//! given either as arrays or as comma-separated strings (the form
//! environment variables allow). A single duration is read by
//! `humantime_serde`; lists need the comma form `humantime_serde` does not
//! read, so they are split here and each item parsed by `humantime`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses `500ms`, `5s`, `2m`, `1h`, `1d` (humantime); a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("{s:?} is too large a number of seconds"));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration like 500ms, 5s, 2m, 1h ({e})"))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<String>),
    One(String),
}

/// A list given as an array, or as one comma-separated string.
pub fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::Many(v) => v,
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

pub(crate) fn deserialize_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    string_or_list(d)?
        .iter()
        .map(|s| parse_duration(s).map_err(serde::de::Error::custom))
        .collect()
}
