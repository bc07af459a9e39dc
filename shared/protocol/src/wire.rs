//! Reading wire fields. Wire DTOs hold every field as an optional raw JSON
//! value, so that a wrong type becomes a message naming the field instead of
//! a serde error, and a number where text was expected (`"bzjamount": 100`)
//! is taken by its text.

use serde_json::Value;

use crate::error::{FieldError, Rule};

/// The text of a scalar field; `None` when absent, `null` or blank.
pub fn scalar(field: &'static str, v: Option<Value>) -> Result<Option<String>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(FieldError::new(field, Rule::WrongType)),
    }
}

/// A required field parsed by `parse`.
pub fn required<T>(
    field: &'static str,
    v: Option<Value>,
    parse: impl FnOnce(&str) -> Result<T, Rule>,
) -> Result<T, FieldError> {
    match scalar(field, v)? {
        Some(s) => parse(&s).map_err(|rule| FieldError::new(field, rule)),
        None => Err(FieldError::new(field, Rule::Missing)),
    }
}

/// An optional field parsed by `parse`; absent or blank gives `None`.
pub fn optional<T>(
    field: &'static str,
    v: Option<Value>,
    parse: impl FnOnce(&str) -> Result<T, Rule>,
) -> Result<Option<T>, FieldError> {
    match scalar(field, v)? {
        Some(s) => parse(&s)
            .map(Some)
            .map_err(|rule| FieldError::new(field, rule)),
        None => Ok(None),
    }
}

/// A field that the standard makes optional but `when` makes required.
pub fn needed<T>(field: &'static str, when: &'static str, v: Option<T>) -> Result<T, FieldError> {
    v.ok_or(FieldError::new(field, Rule::Conditional { when }))
}

/// `filelist`: a JSON array of `{"fileurl": "..."}`. Also taken when the
/// array arrives JSON-encoded inside a string.
pub fn file_list(
    field: &'static str,
    v: Option<Value>,
) -> Result<Vec<crate::types::FileRef>, FieldError> {
    let bad = || FieldError::new(field, Rule::WrongType);
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Array(items)) => items,
            _ => return Err(bad()),
        },
        Some(Value::Array(items)) => items,
        Some(_) => return Err(bad()),
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(mut map) => {
                let url = required("filelist.fileurl", map.remove("fileurl"), |s| {
                    crate::types::HttpUrl::<1000>::try_from(s)
                })?;
                Ok(crate::types::FileRef { fileurl: url })
            }
            _ => Err(bad()),
        })
        .collect()
}

/// Declares a wire DTO: every field an optional raw JSON value.
macro_rules! wire_dto {
    ($(#[$doc:meta])* $name:ident { $($field:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Default, Clone, serde::Deserialize)]
        pub struct $name {
            $(#[serde(default)] pub $field: Option<serde_json::Value>,)+
        }
    };
}

pub(crate) use wire_dto;
