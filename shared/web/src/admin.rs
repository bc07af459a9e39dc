//! What the admin APIs share: one error type that answers the operator and
//! logs once, and the 202 of a request handed to a queue.
//!
//! Handlers return `Result<_, Problem>`. A [`Problem`] the operator caused
//! (a bad id, an unknown row, a state that forbids the action) is answered
//! with its message; an internal failure is logged where it is made, with
//! what was being done, and the operator sees only "internal error".

use std::fmt::Display;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use gw_bus::Bus;
use gw_contract::Contract;

/// Why an admin request was not carried out.
#[derive(Debug)]
pub enum Problem {
    /// The request is malformed: 400 with the reason.
    BadRequest(String),
    /// What it names does not exist: 404.
    NotFound(&'static str),
    /// The state forbids it: 409 with the reason.
    Conflict(String),
    /// The broker did not take the message: 503, try again.
    Unavailable,
    /// Our failure, already logged: 500 "internal error".
    Internal,
}

impl Problem {
    /// An internal failure while doing `what`: logged here, once.
    pub fn internal(what: &str, error: impl Display) -> Self {
        tracing::error!(error = %error, "admin: {what} failed");
        Problem::Internal
    }

    /// A malformed request.
    pub fn bad_request(reason: impl Display) -> Self {
        Problem::BadRequest(reason.to_string())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let (status, msg) = match self {
            Problem::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Problem::NotFound(m) => (StatusCode::NOT_FOUND, m.to_owned()),
            Problem::Conflict(m) => (StatusCode::CONFLICT, m),
            Problem::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the message broker is unavailable; try again".to_owned(),
            ),
            Problem::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error".to_owned(),
            ),
        };
        (status, Json(serde_json::json!({"error": msg}))).into_response()
    }
}

/// Hands `message` to its queue, as the system that normally sends it
/// would, and answers 202 with the message id once the broker confirmed it.
/// The worker applies it like any other message: one path, one set of rules.
pub async fn queue<C: Contract>(bus: &Bus, message: &C) -> Result<Response, Problem> {
    let id = publish(bus, message).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"queued": id})),
    )
        .into_response())
}

/// Hands `message` to its queue; the message id once the broker confirmed it.
pub async fn publish<C: Contract>(bus: &Bus, message: &C) -> Result<String, Problem> {
    let (to, m) = gw_contract::message(message)
        .map_err(|e| Problem::internal("encoding a queued message", e))?;
    match bus.publish(&to, &m).await {
        Ok(()) => Ok(m.id),
        Err(e) => {
            tracing::warn!(error = %e, kind = C::KIND, "admin: cannot queue a message");
            Err(Problem::Unavailable)
        }
    }
}

/// Parses an admin API's request value into a domain type: 400 naming what
/// it should have been.
pub fn parse<'a, T: TryFrom<&'a str>>(value: &'a str, what: &str) -> Result<T, Problem> {
    T::try_from(value).map_err(|_| Problem::BadRequest(format!("not {what}")))
}

/// A time an operator may give (`yyyy-MM-dd HH:mm:ss`, China time) or
/// leave out for now.
pub fn time_or_now(value: Option<&str>, what: &str) -> Result<gw_protocol::WireTime, Problem> {
    value.map_or_else(
        || Ok(gw_protocol::WireTime::now()),
        |v| parse(v, &format!("{what} as yyyy-MM-dd HH:mm:ss")),
    )
}

/// The rows a listing found, or the failure logged once.
pub fn listed<T: serde::Serialize, E: Display>(
    what: &str,
    found: Result<Vec<T>, E>,
) -> Result<Json<Vec<T>>, Problem> {
    found
        .map(Json)
        .map_err(|e| Problem::internal(&format!("listing {what}"), e))
}

/// The one row a lookup found: 404 `missing` when there is none, the
/// failure of `doing` logged once.
pub fn found<T, E: Display>(
    doing: &str,
    lookup: Result<Option<T>, E>,
    missing: &'static str,
) -> Result<T, Problem> {
    lookup
        .map_err(|e| Problem::internal(doing, e))?
        .ok_or(Problem::NotFound(missing))
}

/// The `X-Operator` header of an admin call: the name of the person acting
/// (their tool or the console sets it), recorded with what they do. Read as
/// UTF-8, so a Chinese name can be sent as it is.
#[derive(Debug, Clone, Default)]
pub struct Operator(pub Option<String>);

/// The header naming who acts.
pub const OPERATOR_HEADER: &str = "x-operator";

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Operator {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Operator(parts.headers.get(OPERATOR_HEADER).map(|v| {
            String::from_utf8_lossy(v.as_bytes()).into_owned()
        })))
    }
}
