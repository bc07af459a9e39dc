//! Signing in and out, the session of a request, and CSRF.
//!
//! A session cookie is 256 random bits; the database keeps only its SM3
//! digest, with the operator's name, the session's CSRF token and when it
//! ends. The sign-in form itself carries a one-time token that must match
//! a short-lived cookie set with the form (a login CSRF: no other site can
//! sign a browser in as someone else).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gw_storage::operations::{self, Actor, Operation};
use maud::html;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::State as Console;
use crate::layout;

/// The session cookie.
pub const COOKIE: &str = "gw_console";
/// The cookie that pairs with the sign-in form's token.
const SIGN_IN_COOKIE: &str = "gw_console_login";
/// The name of the CSRF field of every form.
pub const CSRF_FIELD: &str = "csrf";

/// A fresh random token: 256 bits as 64 hex digits.
fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn digest(token: &str) -> String {
    hex::encode(gw_envelope::sign::sm3_digest(token.as_bytes()))
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, on `/console` only.
fn set_cookie(name: &str, value: &str, max_age_secs: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .ok()
}

/// The signed-in operator of a request. Extracting it refuses a request
/// without a valid session: a page is sent to the sign-in form, anything
/// else is answered 401 and changes nothing.
pub struct Signed {
    pub operator: String,
    csrf: String,
    digest: String,
}

impl Signed {
    /// The operator as recorded in the operation records.
    pub fn actor(&self) -> Actor {
        Actor::console(&self.operator)
    }

    /// The CSRF token the session's forms carry.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// The refusal (403) of a form whose CSRF token is not the session's.
    pub fn refused(&self, given: &str) -> Option<Response> {
        if same(given, &self.csrf) {
            None
        } else {
            tracing::warn!(operator = %self.operator, "console: a form without the session's CSRF token was refused");
            Some(layout::refusal(
                StatusCode::FORBIDDEN,
                "请求被拒绝",
                "表单校验失败（CSRF）：请从控制台页面重新提交。",
            ))
        }
    }
}

impl FromRequestParts<Console> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &Console) -> Result<Self, Response> {
        let unsigned = || {
            if parts.method == Method::GET || parts.method == Method::HEAD {
                Redirect::to("/console/login").into_response()
            } else {
                layout::refusal(
                    StatusCode::UNAUTHORIZED,
                    "未登录",
                    "未登录或登录已过期，请重新登录。",
                )
            }
        };
        let Some(token) = cookie(&parts.headers, COOKIE) else {
            return Err(unsigned());
        };
        let d = digest(token);
        match gw_storage::console::session(st.db.conn(), &d).await {
            Ok(Some(s)) => Ok(Signed {
                operator: s.operator,
                csrf: s.csrf,
                digest: d,
            }),
            Ok(None) => Err(unsigned()),
            Err(e) => Err(layout::internal("reading a console session", e)),
        }
    }
}

/// `GET /console/login`: the form, with a fresh one-time token.
pub async fn login_form(State(st): State<Console>) -> Response {
    sign_in_page(&st, StatusCode::OK, None)
}

fn sign_in_page(st: &Console, status: StatusCode, problem: Option<&str>) -> Response {
    let once = random_token();
    let body = html! {
        @if st.token.is_none() {
            p.bad { "控制台已停用：未配置 admin.token。" }
        }
        @if let Some(p) = problem {
            p.bad role="alert" { (p) }
        }
        form.login method="post" action="/console/login" {
            input type="hidden" name=(CSRF_FIELD) value=(once);
            label { "操作员" input name="operator" autocomplete="username" required maxlength="64"; }
            label { "管理令牌" input name="token" type="password" autocomplete="current-password" required; }
            button type="submit" { "登录" }
        }
        p.hint { "管理令牌即配置项 admin.token。您的每项操作都以操作员姓名记入操作记录。" }
    };
    let mut r = (status, layout::page("登录", None, body)).into_response();
    if let Some(c) = set_cookie(SIGN_IN_COOKIE, &once, 600, st.secure_cookie) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

#[derive(Deserialize)]
pub struct SignIn {
    csrf: String,
    operator: String,
    token: String,
}

/// `POST /console/login`.
pub async fn login(
    State(st): State<Console>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Response {
    if !cookie(&headers, SIGN_IN_COOKIE).is_some_and(|c| same(c, &f.csrf)) {
        return layout::refusal(
            StatusCode::FORBIDDEN,
            "请求被拒绝",
            "登录表单已失效（CSRF），请刷新登录页后重试。",
        );
    }
    let client = gw_web::client::client_ip(peer, &headers, &st.trusted);
    if st
        .sign_ins
        .check(&gw_web::client::rate_key(client))
        .is_err()
    {
        tracing::warn!(client = %client, "console: too many sign-in attempts");
        return sign_in_page(
            &st,
            StatusCode::TOO_MANY_REQUESTS,
            Some("登录尝试过于频繁，请一分钟后再试。"),
        );
    }
    let operator: String = f
        .operator
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned();
    if operator.is_empty() || operator.chars().count() > Actor::MAX_NAME {
        return sign_in_page(
            &st,
            StatusCode::BAD_REQUEST,
            Some("请填写操作员姓名（不超过 64 个字符）。"),
        );
    }
    let given = gw_envelope::sign::sm3_digest(f.token.trim().as_bytes());
    let Some(want) = st.token else {
        return sign_in_page(&st, StatusCode::FORBIDDEN, None);
    };
    if !bool::from(want.ct_eq(&given)) {
        tracing::warn!(client = %client, operator = %operator, "console: sign-in with a wrong admin token");
        return sign_in_page(&st, StatusCode::UNAUTHORIZED, Some("管理令牌不正确。"));
    }
    let token = random_token();
    let csrf = random_token();
    let ttl = chrono::Duration::from_std(st.session_ttl).unwrap_or(chrono::Duration::hours(8));
    let actor = Actor::console(&operator);
    let run = async {
        use gw_storage::sea_orm::TransactionTrait;
        let tx = st.db.conn().begin().await?;
        gw_storage::console::open_session(
            &tx,
            &digest(&token),
            &actor.name,
            &csrf,
            chrono::Utc::now() + ttl,
        )
        .await?;
        operations::record(
            &tx,
            Operation {
                actor: &actor,
                service: "console",
                action: "console.signed_in",
                subject: &actor.name,
                before: None,
                after: Some(serde_json::json!({"client": client.to_string()})),
                remark: None,
            },
        )
        .await?;
        tx.commit().await
    };
    if let Err(e) = run.await {
        return layout::internal("opening a console session", e);
    }
    tracing::info!(operator = %actor.name, "console: signed in");
    let mut r = Redirect::to("/console").into_response();
    let h = r.headers_mut();
    if let Some(c) = set_cookie(COOKIE, &token, st.session_ttl.as_secs(), st.secure_cookie) {
        h.append(header::SET_COOKIE, c);
    }
    if let Some(c) = set_cookie(SIGN_IN_COOKIE, "", 0, st.secure_cookie) {
        h.append(header::SET_COOKIE, c);
    }
    r
}

/// A form that carries the session's CSRF token.
pub trait WithCsrf {
    fn csrf(&self) -> &str;
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

impl WithCsrf for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A form posted by a signed-in operator with the session's CSRF token.
/// Extracting it refuses anything else before the handler runs: no
/// session (401), a wrong token (403), a malformed form (4xx).
pub struct Posted<T> {
    pub who: Signed,
    pub form: T,
}

impl<T> axum::extract::FromRequest<Console> for Posted<T>
where
    T: serde::de::DeserializeOwned + WithCsrf + Send,
{
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, st: &Console) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let who = Signed::from_request_parts(&mut parts, st).await?;
        let req = axum::extract::Request::from_parts(parts, body);
        let Form(form) = Form::<T>::from_request(req, st)
            .await
            .map_err(IntoResponse::into_response)?;
        if let Some(refused) = who.refused(form.csrf()) {
            return Err(refused);
        }
        Ok(Self { who, form })
    }
}

/// `POST /console/logout`: ends the session everywhere.
pub async fn logout(State(st): State<Console>, Posted { who, .. }: Posted<CsrfOnly>) -> Response {
    if let Err(e) = gw_storage::console::close_session(st.db.conn(), &who.digest).await {
        return layout::internal("closing a console session", e);
    }
    let actor = who.actor();
    let recorded = operations::record(
        st.db.conn(),
        Operation {
            actor: &actor,
            service: "console",
            action: "console.signed_out",
            subject: &actor.name,
            before: None,
            after: None,
            remark: None,
        },
    )
    .await;
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "console: cannot record a sign-out");
    }
    let mut r = Redirect::to("/console/login").into_response();
    if let Some(c) = set_cookie(COOKIE, "", 0, st.secure_cookie) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; gw_console=abc; b=2"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "gw_console_login"), None);
    }

    #[test]
    fn session_cookies_are_http_only_and_strict() {
        let c = set_cookie(COOKIE, "t", 60, true).unwrap();
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly"), "{c}");
        assert!(c.contains("SameSite=Strict"), "{c}");
        assert!(c.contains("Path=/console"), "{c}");
        assert!(c.ends_with("; Secure"), "{c}");
        let plain = set_cookie(COOKIE, "t", 60, false).unwrap();
        assert!(!plain.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abcd", "abcd"));
        assert!(!same("abcd", "abce"));
        assert!(!same("abc", "abcd"));
        assert!(!same("", "a"));
    }

    #[test]
    fn the_database_keeps_a_digest_not_the_cookie() {
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert_ne!(digest(&t), t);
        assert_eq!(digest(&t), digest(&t));
    }
}
