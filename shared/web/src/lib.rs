//! What every HTTP surface of the gateway shares.
//!
//! * [`require_admin_token`]: the bearer-token guard of the admin APIs.
//! * [`RateLimiter`]: a token bucket per key (appkey, client address), on
//!   `governor`.
//! * [`trace::server_span`]: a server span around each request, with
//!   OpenTelemetry's HTTP conventions.
//! * [`admin`]: the admin APIs' error type (log once, answer the operator)
//!   and the 202 of a request handed to a queue.
//! * [`page`]: the layout of our HTML pages (cashier, verification). Pages
//!   are written with `maud`, which escapes every interpolated value, so no
//!   page can be turned into script by data.

pub mod admin;
pub mod client;
mod limiter;
pub mod trace;

pub use limiter::RateLimiter;
pub use maud::{DOCTYPE, Markup, PreEscaped, html};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use secrecy::{ExposeSecret, SecretString};

/// Requires `Authorization: Bearer <admin.token>` on every route of `router`
/// (compared in constant time, as SM3 digests). An empty token disables the
/// routes.
pub fn require_admin_token(router: Router, token: &SecretString) -> Router {
    let t = token.expose_secret();
    let digest = (!t.is_empty()).then(|| gw_envelope::sign::sm3_digest(t.as_bytes()));
    router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            let given = req
                .headers()
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|t| gw_envelope::sign::sm3_digest(t.trim().as_bytes()));
            let deny = |msg: &str| {
                (
                    StatusCode::UNAUTHORIZED,
                    Json(serde_json::json!({"error": msg})),
                )
                    .into_response()
            };
            match (digest, given) {
                (Some(want), Some(got))
                    if bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], &got[..])) =>
                {
                    next.run(req).await
                }
                (None, _) => deny("the admin API is disabled (admin.token is empty)"),
                _ => deny("a valid bearer token is required"),
            }
        },
    ))
}

/// A whole page in our layout: `title` as heading, `body` below it.
pub fn page(title: &str, style: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(BASE_STYLE)) (PreEscaped(style)) }
            }
            body {
                h1 { (title) }
                (body)
            }
        }
    }
}

const BASE_STYLE: &str = "body{font-family:sans-serif;max-width:44em;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4em .6em;text-align:left;word-break:break-all}\
.note{background:#f6f6f6;padding:.8em}.warn,.bad{color:#a00}.ok{color:#060}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show() {
        let p = page("<t>", "", html! { p { ("<script>alert(1)</script>\"'&") } }).into_string();
        assert!(
            p.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;'&amp;"),
            "{p}"
        );
        assert!(p.contains("<title>&lt;t&gt;</title>"));
        assert!(!p.contains("<script>"));
    }
}
