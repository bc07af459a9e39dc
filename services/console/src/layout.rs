//! The console's page layout, its refusals, the headers of every answer,
//! and how values are shown (China time, yuan, masked personal data).

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gw_protocol::mask::{PiiKind, mask};
use gw_web::admin::Problem;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::auth::{CSRF_FIELD, Signed};

/// The pages of the navigation bar.
const NAV: &[(&str, &str)] = &[
    ("/console", "概览"),
    ("/console/applications", "保函申请"),
    ("/console/referrals", "人工审核"),
    ("/console/notices", "通知"),
    ("/console/dead-letters", "死信"),
    ("/console/payments", "付款与退款"),
    ("/console/verifications", "验真记录"),
];

/// A whole page: the navigation (when signed in), `title`, `body`.
pub fn page(title: &str, who: Option<&Signed>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 电子保函网关控制台" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "电子保函网关控制台" }
                    @if let Some(w) = who {
                        nav {
                            @for (href, label) in NAV {
                                a href=(href) { (label) }
                            }
                        }
                        form.logout method="post" action="/console/logout" {
                            span { "操作员：" (w.operator) }
                            (csrf(w))
                            button type="submit" { "退出" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field of a form.
pub fn csrf(who: &Signed) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(who.csrf()); }
}

/// A form of one button posting to `action`.
pub fn button(who: &Signed, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf(who))
            button type="submit" { (label) }
        }
    }
}

/// A page that says why a request was refused, with its status.
pub fn refusal(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        p.bad role="alert" { (message) }
        p { a href="/console" { "返回控制台" } }
    };
    (status, page(title, None, body)).into_response()
}

/// An internal failure while doing `what`: logged here, once; the operator
/// sees only that it failed.
pub fn internal(what: &str, error: impl std::fmt::Display) -> Response {
    tracing::error!(error = %error, "console: {what} failed");
    refusal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "内部错误",
        "内部错误，已记录日志。请稍后重试或联系运维。",
    )
}

/// The page of an admin API problem (the same refusals as the API).
pub fn problem(p: Problem) -> Response {
    let (status, message) = match p {
        Problem::BadRequest(m) => (StatusCode::BAD_REQUEST, format!("请求有误：{m}")),
        Problem::NotFound(m) => (StatusCode::NOT_FOUND, format!("未找到：{m}")),
        Problem::Conflict(m) => (StatusCode::CONFLICT, format!("当前状态不允许此操作：{m}")),
        Problem::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "消息队列暂不可用，操作未执行，请稍后重试。".to_owned(),
        ),
        // Already logged where it was made.
        Problem::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "内部错误，已记录日志。请稍后重试或联系运维。".to_owned(),
        ),
    };
    refusal(status, "操作未执行", &message)
}

/// The headers of every answer: never cached (the pages show personal
/// data), never framed, and no script, style only from the page itself.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let html = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
    r
}

/// A time as the platform and the staff read it: China Standard Time.
pub fn cst(t: DateTime<Utc>) -> String {
    t.with_timezone(&gw_protocol::types::cst())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

pub fn cst_opt(t: Option<DateTime<Utc>>) -> String {
    t.map(cst).unwrap_or_default()
}

/// Cents as yuan with two decimals.
pub fn yuan(cents: i64) -> String {
    rust_decimal::Decimal::new(cents, 2).to_string()
}

pub fn name(v: &str) -> String {
    mask(PiiKind::Name, v)
}

pub fn phone(v: &str) -> String {
    mask(PiiKind::Phone, v)
}

pub fn account(v: &str) -> String {
    mask(PiiKind::Account, v)
}

/// How long ago `t` was, in words.
pub fn age(t: DateTime<Utc>) -> String {
    let s = (Utc::now() - t).num_seconds().max(0);
    match s {
        0..60 => format!("{s} 秒"),
        60..3600 => format!("{} 分 {} 秒", s / 60, s % 60),
        _ => format!("{} 小时 {} 分", s / 3600, s % 3600 / 60),
    }
}

const STYLE: &str = "\
*{box-sizing:border-box}body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei','PingFang SC',sans-serif;margin:0;color:#1f2933;background:#f5f7fa;font-size:14px}\
header{display:flex;align-items:center;gap:1.5em;background:#12355b;color:#fff;padding:.6em 1.5em;flex-wrap:wrap}\
header a{color:#dce8f5;text-decoration:none;margin-right:1em}header a:hover{color:#fff;text-decoration:underline}\
header form.logout{margin-left:auto;display:flex;gap:.6em;align-items:center}\
main{padding:1em 1.5em;max-width:90em}h1{font-size:1.4em;margin:.4em 0 .8em}h2{font-size:1.1em;margin:1.4em 0 .5em}\
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid #d9e2ec;padding:.35em .5em;text-align:left;vertical-align:top;word-break:break-all}\
th{background:#e6edf5;font-weight:600}tr:nth-child(even) td{background:#fafcfe}\
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{background:#fff;border:1px solid #d9e2ec;border-radius:6px;padding:.8em 1.2em;min-width:11em}\
a.card{text-decoration:none;color:inherit}.card b{display:block;font-size:1.8em;color:#12355b}.bad{color:#b42318}.ok{color:#067647}.warn{color:#b54708}.muted{color:#697586}\
.flash{background:#ecfdf3;border:1px solid #abefc6;padding:.6em 1em;margin-bottom:1em}\
form.inline{display:inline}form.row{display:flex;gap:.5em;align-items:center;flex-wrap:wrap;margin:.3em 0}\
button{background:#12355b;color:#fff;border:0;border-radius:4px;padding:.3em .9em;cursor:pointer}button.danger{background:#b42318}\
input,select{padding:.3em .4em;border:1px solid #9aa5b1;border-radius:4px}\
form.login{display:flex;flex-direction:column;gap:.8em;max-width:22em}form.login label{display:flex;flex-direction:column;gap:.2em}\
table.timeline td:nth-child(-n+2){white-space:nowrap}.hint{color:#697586;font-size:.9em}pre{white-space:pre-wrap;margin:0;font-size:.85em}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_china_time() {
        let t = DateTime::parse_from_rfc3339("2026-03-01T16:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(cst(t), "2026-03-02 00:30:00");
    }

    #[test]
    fn cents_are_shown_as_yuan() {
        assert_eq!(yuan(30000), "300.00");
        assert_eq!(yuan(5), "0.05");
    }

    #[test]
    fn lists_mask_personal_data() {
        assert_ne!(phone("13800138000"), "13800138000");
        assert_ne!(account("6222020200001234"), "6222020200001234");
        assert_ne!(name("张三"), "张三");
    }

    #[test]
    fn pages_escape_what_they_show() {
        let p = page("<x>", None, html! { p { ("<script>alert(1)</script>") } }).into_string();
        assert!(p.contains("&lt;script&gt;"), "{p}");
        assert!(!p.contains("<script>"));
    }
}
