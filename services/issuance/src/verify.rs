//! Online verification (验真), public.
//!
//! * `GET /verify`: a page with both forms.
//! * `GET /verify?baohanno=...&code=...`: the guarantee's status, applicant,
//!   amount, validity, SM3 digests and whether the signatures verify; JSON
//!   when asked (`Accept: application/json` or `&format=json`), else HTML.
//! * `POST /verify/file`: a PDF (raw body, or multipart field `file`):
//!   whether it is a guarantee we issued, unaltered.
//!
//! An unknown number and a wrong code get the same answer (status and body),
//! so numbers cannot be enumerated; lookups are rate-limited per client.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post};
use chrono::Utc;
use gw_lifecycle::State as AppState;
use gw_protocol::{Amount, WireTime};
use gw_storage::guarantees::{self, Guarantee};
use gw_storage::{Db, applications};
use gw_web::{Markup, RateLimiter, html};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::signing::Signer;

/// Largest PDF accepted for verification.
const MAX_UPLOAD: usize = 20 * 1024 * 1024;
const NOT_FOUND: &str = "未找到该保函，或验证码不正确";

#[derive(Clone)]
struct Verify {
    db: Db,
    signer: Signer,
    limiter: Arc<RateLimiter>,
    /// File verifications hashed at once.
    uploads: Arc<tokio::sync::Semaphore>,
    /// `http.trusted_proxies`: whose `X-Forwarded-For` names the client.
    trusted: Arc<Vec<ipnet::IpNet>>,
}

#[derive(Deserialize)]
struct Lookup {
    baohanno: Option<String>,
    code: Option<String>,
    format: Option<String>,
}

fn wants_json(headers: &HeaderMap, format: Option<&str>) -> bool {
    format == Some("json")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

fn page(body: Markup) -> String {
    let all = html! {
        (body)
        h2 { "按编号查询" }
        form method="get" action="/verify" {
            label { "保函编号 " input name="baohanno" required; }
            " "
            label { "验证码 " input name="code" required; }
            button type="submit" { "查询" }
        }
        h2 { "上传保函文件核验" }
        form method="post" action="/verify/file" enctype="multipart/form-data" {
            input type="file" name="file" accept="application/pdf" required;
            " "
            button type="submit" { "核验" }
        }
    };
    gw_web::page("电子保函验真", STYLE, all).into_string()
}

const STYLE: &str = "form{margin:1em 0;padding:1em;background:#f6f6f6}input{margin:.3em 0}";

fn message(class: &str, text: &str) -> Markup {
    html! { p class=(class) { (text) } }
}

/// The guarantee's standing, as a code and as words for a person.
fn status_of(state: Option<AppState>, g: &Guarantee) -> (&'static str, String) {
    let ended = g.validtime.is_some_and(|v| v < Utc::now());
    let (code, text) = match state {
        Some(AppState::Cancelled) => ("voided", "已作废（申请已取消）"),
        Some(AppState::Refunded) => ("refunded", "已退保，保函失效"),
        Some(AppState::WrittenOff) => ("written_off", "已注销"),
        Some(AppState::Expired) => ("expired", "已过期"),
        Some(AppState::Claimed) => ("claimed", "已理赔，担保金额已全部赔付"),
        Some(AppState::PartlyClaimed) => ("partly_claimed", "有效，已部分理赔"),
        Some(AppState::Claiming) => ("claiming", "有效，理赔处理中"),
        Some(AppState::Restored) if ended => ("expired", "已过期"),
        Some(AppState::Restored) => ("restored", "有效（已还原）"),
        _ => ("issued", "有效（密文保函，开标前还原）"),
    };
    (code, text.to_owned())
}

fn document(signer: &Signer, kind: &str, sm3: &str, sig: &str) -> Value {
    let valid = hex::decode(sm3)
        .map(|d| signer.verify(&d, sig))
        .unwrap_or(false);
    json!({"kind": kind, "sm3": sm3, "signature": sig, "signature_valid": valid})
}

async fn describe(v: &Verify, g: &Guarantee) -> Result<Value, gw_storage::sea_orm::DbErr> {
    let app = applications::find(v.db.conn(), &g.applyno).await?;
    let (status, text) = status_of(app.as_ref().map(|a| a.state), g);
    let claimed = app.as_ref().map(|a| a.claimed_cents).unwrap_or(0);
    let mut docs = vec![document(
        &v.signer,
        "cipher",
        &g.cipher_sm3,
        &g.cipher_signature,
    )];
    if let (Some(sm3), Some(sig)) = (&g.restored_sm3, &g.restored_signature) {
        docs.push(document(&v.signer, "restored", sm3, sig));
    }
    Ok(json!({
        "found": true,
        "baohanno": g.baohanno,
        "status": status,
        "status_text": text,
        "applicant": g.biddername,
        "applicant_code": g.biddercode,
        "amount": Amount::from_cents(g.amount_cents).map(|a| a.to_cents_string()).unwrap_or_default(),
        "issuer": g.instname,
        "issued_at": WireTime::from_utc(g.issued_at).to_string(),
        "validity": g.validtime.map(|to| json!({
            "from": g.poltime.map(|p| WireTime::from_utc(p).to_string()),
            "to": WireTime::from_utc(to).to_string(),
        })),
        "claimed": Amount::from_cents(claimed).map(|a| a.to_cents_string()).unwrap_or_default(),
        "documents": docs,
        "public_key": v.signer.public_hex(),
    }))
}

fn html_of(d: &Value) -> Markup {
    let s = |k: &str| d[k].as_str().unwrap_or("-").to_owned();
    let validity = match &d["validity"] {
        Value::Object(v) => format!(
            "{} 至 {}",
            v.get("from").and_then(Value::as_str).unwrap_or("-"),
            v.get("to").and_then(Value::as_str).unwrap_or("-")
        ),
        _ => "自开标之日起（开标前还原后确定）".to_owned(),
    };
    let docs = d["documents"].as_array().cloned().unwrap_or_default();
    html! {
        table {
            tr { th { "保函编号" } td { (s("baohanno")) } }
            tr { th { "状态" } td { (s("status_text")) } }
            @if d["claimed"].as_str().is_some_and(|c| c != "0.00") {
                tr { th { "已赔付金额" } td { (s("claimed")) " 元" } }
            }
            tr { th { "申请人" } td { (s("applicant")) "（" (s("applicant_code")) "）" } }
            tr { th { "担保金额" } td { (s("amount")) " 元" } }
            tr { th { "有效期" } td { (validity) } }
            tr { th { "出具机构" } td { (s("issuer")) } }
            tr { th { "出具时间" } td { (s("issued_at")) } }
            @for x in &docs {
                tr {
                    th { @if x["kind"] == "restored" { "还原保函" } @else { "密文保函" } }
                    td {
                        "SM3 " (x["sm3"].as_str().unwrap_or("")) br;
                        "签名"
                        @if x["signature_valid"].as_bool().unwrap_or(false) {
                            span.ok { "验证通过" }
                        } @else {
                            span.bad { "验证失败" }
                        }
                    }
                }
            }
        }
    }
}

fn limited(json_wanted: bool) -> Response {
    let msg = "查询过于频繁，请稍后再试";
    if json_wanted {
        (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"found": false, "message": msg})),
        )
            .into_response()
    } else {
        (
            StatusCode::TOO_MANY_REQUESTS,
            Html(page(message("bad", msg))),
        )
            .into_response()
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"message": "系统繁忙，请稍后重试"})),
    )
        .into_response()
}

async fn lookup(
    State(v): State<Verify>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<Lookup>,
) -> Response {
    let json_wanted = wants_json(&headers, q.format.as_deref());
    let ip = gw_web::client::client_ip(peer, &headers, &v.trusted);
    let (Some(baohanno), Some(code)) = (q.baohanno.as_deref(), q.code.as_deref()) else {
        return Html(page(message(
            "",
            "请输入保函编号和验证码，或上传保函文件。",
        )))
        .into_response();
    };
    let client = ip.to_string();
    if v.limiter.check(&gw_web::client::rate_key(ip)).is_err() {
        v.record(&client, "number", Some(baohanno), "rate_limited")
            .await;
        return limited(json_wanted);
    }
    let found = match guarantees::find_by_baohanno(v.db.conn(), baohanno.trim()).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "verification lookup failed");
            return unavailable();
        }
    };
    // Compare in constant time, against a dummy when the number is unknown,
    // so that neither the answer nor its timing tells the two cases apart.
    let expected = found
        .as_ref()
        .map(|g| g.verify_code.clone())
        .unwrap_or_else(|| "\u{0}".repeat(8));
    let code_ok = bool::from(
        expected
            .as_bytes()
            .ct_eq(code.trim().to_ascii_uppercase().as_bytes()),
    );
    let g = match found {
        Some(g) if code_ok => g,
        _ => {
            v.record(&client, "number", Some(baohanno), "not_found")
                .await;
            return if json_wanted {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"found": false, "message": NOT_FOUND})),
                )
                    .into_response()
            } else {
                (StatusCode::NOT_FOUND, Html(page(message("bad", NOT_FOUND)))).into_response()
            };
        }
    };
    v.record(&client, "number", Some(baohanno), "found").await;
    match describe(&v, &g).await {
        Ok(d) if json_wanted => Json(d).into_response(),
        Ok(d) => Html(page(html_of(&d))).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "verification lookup failed");
            unavailable()
        }
    }
}

/// The SM3 digest of the upload (a multipart field `file`, or the raw
/// body), hashed as it streams in: nothing is buffered whole, and more than
/// `MAX_UPLOAD` bytes is refused.
async fn upload_digest(req: Request) -> Result<[u8; 32], Response> {
    use futures::StreamExt;
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(json!({"message": "文件过大"})),
        )
            .into_response()
    };
    let bad =
        |m: &'static str| (StatusCode::BAD_REQUEST, Json(json!({"message": m}))).into_response();
    let mut hash = gw_envelope::sign::Sm3Stream::default();
    // Whether the upload is still within the limit after `chunk`.
    let within = |hash: &mut gw_envelope::sign::Sm3Stream, chunk: &[u8]| {
        hash.update(chunk);
        hash.len() <= MAX_UPLOAD as u64
    };
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("multipart/form-data"));
    if is_multipart {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|_| bad("上传格式有误"))?;
        while let Ok(Some(mut field)) = mp.next_field().await {
            if field.name() != Some("file") {
                continue;
            }
            while let Some(chunk) = field.chunk().await.map_err(|_| too_large())? {
                if !within(&mut hash, &chunk) {
                    return Err(too_large());
                }
            }
            return Ok(hash.finish());
        }
        return Err(bad("缺少文件"));
    }
    let mut body = req.into_body().into_data_stream();
    while let Some(chunk) = body.next().await {
        if !within(&mut hash, &chunk.map_err(|_| too_large())?) {
            return Err(too_large());
        }
    }
    Ok(hash.finish())
}

async fn file(
    State(v): State<Verify>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let json_wanted = !req
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let ip = gw_web::client::client_ip(peer, req.headers(), &v.trusted);
    let client = ip.to_string();
    if v.limiter.check(&gw_web::client::rate_key(ip)).is_err() {
        v.record(&client, "file", None, "rate_limited").await;
        return limited(json_wanted);
    }
    // A bounded number of uploads at once; the rest are told to come back.
    let Ok(_permit) = v.uploads.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            Json(json!({"message": "系统繁忙，请稍后重试"})),
        )
            .into_response();
    };
    let digest = match upload_digest(req).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let sm3 = hex::encode(digest);
    let result = match identify(&v, &digest, &sm3).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "verification lookup failed");
            return unavailable();
        }
    };
    let genuine = result["genuine"].as_bool().unwrap_or(false);
    let number = result["guarantee"]["baohanno"].as_str().map(str::to_owned);
    let outcome = if genuine { "genuine" } else { "not_genuine" };
    v.record(&client, "file", number.as_deref(), outcome).await;
    if json_wanted {
        return Json(result).into_response();
    }
    let body = if genuine && result["superseded"] == true {
        html! {
            p.warn { "文件真实，但已被新的还原保函取代（" (result["superseded_at"].as_str().unwrap_or("")) "），请以最新版本为准。" }
            (html_of(&result["guarantee"]))
        }
    } else if genuine {
        html! { p.ok { "文件真实有效，未被修改。" } (html_of(&result["guarantee"])) }
    } else {
        message("bad", "不是本机构出具的保函，或文件已被修改。")
    };
    Html(page(body)).into_response()
}

/// What a file is: one of our guarantee PDFs (the cipher one, the current
/// restored one, or a restored one superseded by a later restore), or not.
async fn identify(
    v: &Verify,
    digest: &[u8],
    sm3: &str,
) -> Result<Value, gw_storage::sea_orm::DbErr> {
    if let Some(g) = guarantees::find_by_sm3(v.db.conn(), sm3).await? {
        let (kind, sig) = if g.cipher_sm3 == sm3 {
            ("cipher", g.cipher_signature.clone())
        } else {
            ("restored", g.restored_signature.clone().unwrap_or_default())
        };
        let genuine = v.signer.verify(digest, &sig);
        let d = describe(v, &g).await?;
        return Ok(
            json!({"genuine": genuine, "kind": kind, "sm3": sm3, "superseded": false, "guarantee": d}),
        );
    }
    if let Some(old) = guarantees::superseded_by_sm3(v.db.conn(), sm3).await?
        && let Some(g) = guarantees::find(v.db.conn(), &old.applyno).await?
    {
        let genuine = v.signer.verify(digest, &old.signature);
        let d = describe(v, &g).await?;
        return Ok(json!({
            "genuine": genuine, "kind": "restored", "sm3": sm3, "superseded": true,
            "superseded_at": WireTime::from_utc(old.superseded_at).to_string(),
            "superseded_validity": {
                "from": WireTime::from_utc(old.poltime).to_string(),
                "to": WireTime::from_utc(old.validtime).to_string(),
            },
            "guarantee": d,
        }));
    }
    Ok(json!({"genuine": false, "sm3": sm3, "message": "不是本机构出具的保函，或文件已被修改"}))
}

impl Verify {
    /// Records a lookup (验真记录). A failure to record is logged, and the
    /// answer is still given.
    async fn record(&self, client: &str, method: &str, baohanno: Option<&str>, outcome: &str) {
        let r = gw_storage::verifications::record(
            self.db.conn(),
            client,
            method,
            baohanno.map(str::trim),
            outcome,
        )
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "cannot record a verification lookup");
        }
    }
}

pub fn routes(
    db: Db,
    signer: Signer,
    per_minute: u32,
    uploads: u32,
    trusted: Vec<ipnet::IpNet>,
) -> Router {
    Router::new()
        .route("/verify", get(lookup))
        .route("/verify/file", post(file))
        // The digest stream enforces the limit itself (and multipart adds
        // its framing to the body).
        .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD + 64 * 1024))
        .with_state(Verify {
            db,
            signer,
            limiter: Arc::new(RateLimiter::per_minute(per_minute)),
            uploads: Arc::new(tokio::sync::Semaphore::new(
                usize::try_from(uploads).unwrap_or(1).max(1),
            )),
            trusted: Arc::new(trusted),
        })
}
