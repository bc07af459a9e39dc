//! A server span around each request, named and described as
//! OpenTelemetry's HTTP conventions say (`http.request.method`,
//! `http.route`, `http.response.status_code`), so a tracing backend shows
//! where a trace entered. The route is the template (`/files/{token}`),
//! never the path: paths carry download and cashier tokens.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

/// Put in a request's extensions by a service that opens its own server
/// span (ingress): [`server_span`] then opens none.
#[derive(Debug, Clone, Copy)]
pub struct ServerSpanned;

/// The middleware (as a `route_layer`, so the route is known).
pub async fn server_span(req: Request, next: Next) -> Response {
    if req.extensions().get::<ServerSpanned>().is_some() {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let response = next.run(req).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}
