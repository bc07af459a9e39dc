//! Notice delivery: the consumer of `egress.notices`.
//!
//! For one notice command, in three steps:
//!
//! 1. **Claim**: record the notice if new and, in the same transaction,
//!    mark it `sending` with a lease in one conditional update if nothing
//!    stands in its way (the notice before it delivered, no other call
//!    holding it, no cancel). The path of almost every notice. Otherwise,
//!    in a transaction holding the application's chain lock: stop if it is
//!    already delivered, suppressed or held by another replica's HTTP call
//!    (then retry after the lease); park it as `waiting` if the notice
//!    before it in its chain is not yet delivered; otherwise mark it
//!    `sending`.
//! 2. **Send**: encrypt with the counterpart's key, sign, POST. No lock is
//!    held during the call.
//! 3. **Record** (one transaction, without the chain lock: the notice's
//!    row lock orders it with a successor being parked): the attempt row;
//!    on success the notice is
//!    `delivered` and the notices parked behind it are sent on (through the
//!    outbox); on failure it is `retrying` (the consumer loop puts it in a
//!    retry tier, honouring `Retry-After`) or, when the schedule is spent,
//!    `dead` with an event, and the consumer dead-letters it. A failure
//!    leaves alone a notice settled while the call was under way (marked
//!    dead by its command's dead letter, suppressed by a cancellation,
//!    delivered by another sender): the command is then done.
//!
//! A crash anywhere loses nothing: the unacknowledged command comes back, the
//! lease makes the second delivery wait for the first to be over, and at
//! worst the platform receives a notice twice.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{Failure, Message};
use gw_config::{Counterpart, Counterparts};
use gw_contract::{Consume, EventKey, NoticeCommand, NoticeEvent};
use gw_lifecycle::NoticeState;
use gw_protocol::{Interface, Notice};
use gw_storage::notices::{self, NewAttempt, NewNotice, NoticeRow};
use gw_workflow::{DbResultExt, Tx, Workflow};

/// The most of a platform's reply we read.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// What one HTTP attempt gave.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub delivered: bool,
    pub http_status: Option<u16>,
    pub reply_code: Option<String>,
    pub reply_msg: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
    pub latency: Duration,
}

impl AttemptOutcome {
    fn failed(error: String, latency: Duration) -> Self {
        Self {
            delivered: false,
            http_status: None,
            reply_code: None,
            reply_msg: None,
            error: Some(error),
            retry_after: None,
            latency,
        }
    }
}

/// Posts notices to the platform.
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }

    /// POSTs `plaintext` (the notice JSON) to the counterpart: lowercase hex
    /// SM4 ciphertext as the body, with `appkey`, `timestamp` (Unix ms) and
    /// `sign` (hex HMAC-SM3 of the exact body under the appsecret).
    pub async fn send(
        &self,
        cp: &Counterpart,
        interface: Interface,
        plaintext: &str,
    ) -> AttemptOutcome {
        use tracing::Instrument as _;
        let url = cp.notice_url(&interface.path());
        // The client span of the POST (OpenTelemetry's HTTP conventions;
        // the URL is the platform's notice address, no secret in it).
        let span = tracing::info_span!(
            "notice",
            otel.name = %format!("POST {}", interface.name()),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = "POST",
            url.full = %url,
            http.response.status_code = tracing::field::Empty,
            counterpart = %cp.name,
            interface = interface.name(),
        );
        let outcome = self
            .post(cp, &url, plaintext)
            .instrument(span.clone())
            .await;
        if let Some(s) = outcome.http_status {
            span.record("http.response.status_code", s);
        }
        if !outcome.delivered {
            span.record("otel.status_code", "ERROR");
        }
        outcome
    }

    async fn post(&self, cp: &Counterpart, url: &str, plaintext: &str) -> AttemptOutcome {
        let body = cp.key.encrypt_hex(plaintext);
        let sign = gw_envelope::sign::hmac_sm3_hex(cp.appsecret_bytes(), body.as_bytes());
        let started = Instant::now();
        let sent = self
            .client
            .post(url)
            .header("appkey", cp.appkey.as_str())
            .header("timestamp", Utc::now().timestamp_millis().to_string())
            .header("sign", sign)
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    "timeout".to_owned()
                } else if e.is_connect() {
                    format!("connection failed: {e}")
                } else {
                    format!("request failed: {e}")
                };
                return AttemptOutcome::failed(why, started.elapsed());
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // The reply is read up to a cap: a platform (or something posing as
        // it) cannot make us buffer an endless body.
        let mut body = Vec::new();
        let mut resp = resp;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_REPLY_BYTES {
                        return AttemptOutcome::failed(
                            format!("the reply is larger than {} KB", MAX_REPLY_BYTES / 1024),
                            started.elapsed(),
                        );
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return AttemptOutcome::failed(
                        format!("reading the reply: {e}"),
                        started.elapsed(),
                    );
                }
            }
        }
        let text = String::from_utf8_lossy(&body);
        AttemptOutcome::of_reply(status.as_u16(), retry_after, &text, started.elapsed())
    }
}

impl AttemptOutcome {
    /// What the platform's answer means: delivered only on HTTP 2xx with a
    /// JSON reply whose `code` is 200 (number or string).
    fn of_reply(status: u16, retry_after: Option<Duration>, text: &str, latency: Duration) -> Self {
        let mut outcome = AttemptOutcome {
            delivered: false,
            http_status: Some(status),
            reply_code: None,
            reply_msg: None,
            error: None,
            retry_after,
            latency,
        };
        let reply = serde_json::from_str::<serde_json::Value>(text).ok();
        if let Some(r) = &reply {
            outcome.reply_code = match r.get("code") {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            outcome.reply_msg = r.get("msg").and_then(|m| m.as_str()).map(str::to_owned);
        }
        if !(200..300).contains(&status) {
            outcome.error = Some(format!("HTTP {status}"));
        } else if reply.is_none() {
            outcome.error = Some("the reply is not JSON".to_owned());
        } else if outcome.reply_code.as_deref().map(str::trim) == Some("200") {
            outcome.delivered = true;
        } else {
            outcome.error = Some(format!(
                "code {}: {}",
                outcome.reply_code.as_deref().unwrap_or("missing"),
                outcome.reply_msg.as_deref().unwrap_or("")
            ));
        }
        outcome
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The outcome of the claim step.
enum Claim {
    /// Nothing to do (delivered, suppressed, or dead and not re-sent).
    Done,
    /// Parked behind its predecessor.
    Waiting,
    /// Another delivery holds it, or a cancel is pending; try again after
    /// this long (not an attempt).
    Busy(Duration, &'static str),
    /// Send it now.
    Send(Box<Sending>),
}

/// A notice claimed for sending: what recording its attempt needs, read
/// once by the claim instead of again after the call.
struct Sending {
    /// The notice as claimed: `attempts` counts this attempt (its id,
    /// creation and identity do not change).
    row: NoticeRow,
    /// When the platform's `baohanapply` arrived, for the apply-to-notice
    /// histogram.
    applied_at: Option<chrono::DateTime<Utc>>,
}

/// The consumer of `egress.notices`.
pub struct NoticeHandler {
    pub flow: Workflow,
    pub counterparts: Counterparts,
    pub sender: Sender,
    pub max_attempts: u32,
    /// How long a claim holds a notice against other replicas.
    pub lease: Duration,
}

/// The command that delivers a stored notice again.
pub fn command_of(row: &NoticeRow) -> anyhow::Result<NoticeCommand> {
    Ok(NoticeCommand {
        notice_id: row.id.clone(),
        counterpart: row.counterpart.clone(),
        interface: Interface::from_name(&row.interface)
            .ok_or_else(|| anyhow::anyhow!("unknown interface {}", row.interface))?,
        applyno: row.applyno.clone(),
        after: row.after_id.clone(),
        body: serde_json::from_str(&row.body)?,
    })
}

/// Records the notice of `cmd` (its body, and the body masked for operators).
async fn insert(
    tx: &Tx,
    cmd: &NoticeCommand,
    body: &serde_json::Value,
    masked: &serde_json::Value,
    state: NoticeState,
    error: Option<&str>,
) -> Result<NoticeRow, Failure> {
    let (body, masked) = (body.to_string(), masked.to_string());
    notices::insert(tx.conn(), new_notice(cmd, &body, &masked, state, error))
        .await
        .transient()
}

/// The row of `cmd`'s notice, with its body and the body masked for operators.
fn new_notice<'a>(
    cmd: &'a NoticeCommand,
    body: &'a str,
    masked: &'a str,
    state: NoticeState,
    error: Option<&'a str>,
) -> NewNotice<'a> {
    NewNotice {
        id: &cmd.notice_id,
        applyno: &cmd.applyno,
        counterpart: &cmd.counterpart,
        interface: cmd.interface.name(),
        after_id: cmd.after.as_deref(),
        body,
        body_masked: masked,
        state,
        last_error: error,
    }
}

/// The `notice.*` event of `row`, now in `state`.
async fn emit(
    tx: &Tx,
    key: EventKey,
    row: &NoticeRow,
    state: NoticeState,
    error: Option<&str>,
) -> Result<(), Failure> {
    let Some(interface) = Interface::from_name(&row.interface) else {
        return Ok(());
    };
    let event = NoticeEvent {
        notice_id: row.id.clone(),
        applyno: row.applyno.clone(),
        counterpart: row.counterpart.clone(),
        interface,
        state,
        last_error: error.map(str::to_owned),
        attempts: row.attempts,
    };
    tx.emit(key, &event).await
}

impl NoticeHandler {
    /// Records an unusable command as a dead notice, so operators see it.
    async fn record_invalid(&self, cmd: &NoticeCommand, why: &str) -> Result<(), Failure> {
        let tx = self.flow.begin().await?;
        notices::lock_chain(tx.conn(), &cmd.applyno)
            .await
            .transient()?;
        if notices::find(tx.conn(), &cmd.notice_id)
            .await
            .transient()?
            .is_none()
        {
            let masked = gw_protocol::mask::mask_json(&cmd.body);
            let row = insert(&tx, cmd, &cmd.body, &masked, NoticeState::Dead, Some(why)).await?;
            emit(
                &tx,
                EventKey::NoticeDeadLettered,
                &row,
                NoticeState::Dead,
                Some(why),
            )
            .await?;
        }
        tx.commit().await
    }

    /// The claim: the quick one if nothing stands in the notice's way,
    /// else the careful one under the chain lock.
    async fn claim(
        &self,
        m: &Message,
        cmd: &NoticeCommand,
        notice: &Notice,
        body: &str,
    ) -> Result<Claim, Failure> {
        match self.claim_clear(cmd, notice, body).await? {
            Some(sending) => Ok(Claim::Send(Box::new(sending))),
            None => self.claim_locked(m, cmd, notice).await,
        }
    }

    /// Records the notice if new and marks it as sending if nothing stands
    /// in its way ([`notices::start_if_clear`]): one transaction of an
    /// insert and an update. `None` if something does; what is recorded is
    /// committed all the same, and the careful claim (in a transaction of
    /// its own, which takes the chain lock before any row of the notices)
    /// finds out what.
    async fn claim_clear(
        &self,
        cmd: &NoticeCommand,
        notice: &Notice,
        body: &str,
    ) -> Result<Option<Sending>, Failure> {
        let tx = self.flow.begin().await?;
        let masked = notice.masked_json().to_string();
        notices::insert_if_absent(
            tx.conn(),
            new_notice(cmd, body, &masked, NoticeState::Pending, None),
        )
        .await
        .transient()?;
        let started =
            notices::start_if_clear(tx.conn(), &cmd.notice_id, self.lease_until(), Utc::now())
                .await
                .transient()?;
        tx.commit().await?;
        Ok(started.map(|s| Sending {
            row: s.row,
            applied_at: s.applied_at,
        }))
    }

    /// When a claim made now stops holding the notice against other
    /// deliveries.
    fn lease_until(&self) -> chrono::DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::seconds(30))
    }

    /// The claim under the chain lock: done, busy, parked, or sent now.
    async fn claim_locked(
        &self,
        m: &Message,
        cmd: &NoticeCommand,
        notice: &Notice,
    ) -> Result<Claim, Failure> {
        let tx = self.flow.begin().await?;
        notices::lock_chain(tx.conn(), &cmd.applyno)
            .await
            .transient()?;
        let row = match notices::find(tx.conn(), &cmd.notice_id).await.transient()? {
            Some(r) => r,
            None => {
                let (body, masked) = (notice.to_json(), notice.masked_json());
                insert(&tx, cmd, &body, &masked, NoticeState::Pending, None).await?
            }
        };
        let app = tx.application(&cmd.applyno).await?;
        let applied_at = app.as_ref().map(|a| a.created_at);
        let cancelled = !gw_lifecycle::accepts_notices(app.map(|a| a.state));
        let cancel_pending = gw_storage::cancels::find(tx.conn(), &cmd.applyno)
            .await
            .transient()?
            .is_some_and(|c| c.resolution == gw_lifecycle::Resolution::Pending);
        let claim = if row.state.is_settled() {
            Claim::Done
        } else if cancel_pending && !cancelled {
            // The platform asked to cancel and payment has not decided yet:
            // if the cancel wins, this notice must never reach the platform.
            Claim::Busy(
                Duration::from_secs(2),
                "a cancel of the application is pending",
            )
        } else if cancelled {
            // The platform accepts no notice of a cancelled application.
            notices::suppress_open(tx.conn(), &cmd.applyno, "the application is cancelled")
                .await
                .transient()?;
            Claim::Done
        } else {
            self.claim_open(&tx, row, applied_at).await?
        };
        if matches!(claim, Claim::Done | Claim::Waiting) {
            // Nothing to send now: this commit is the message's ack.
            tx.settle(m).await?;
        }
        tx.commit().await?;
        Ok(claim)
    }

    /// The claim of a notice still on its way: busy, parked, or sent now.
    async fn claim_open(
        &self,
        tx: &Tx,
        row: NoticeRow,
        applied_at: Option<chrono::DateTime<Utc>>,
    ) -> Result<Claim, Failure> {
        if let Some(until) = row.sending_until
            && until > Utc::now()
        {
            let wait = (until - Utc::now())
                .to_std()
                .unwrap_or(Duration::from_secs(1));
            return Ok(Claim::Busy(
                wait,
                "another delivery of this notice is in progress",
            ));
        }
        // The notice before it is read under its row's lock: its delivery
        // (which updates that row without the chain lock) either committed
        // already, and is seen, or waits for this claim to end, and then
        // finds this notice parked behind it and sends it on.
        let blocked = match &row.after_id {
            None => false,
            Some(before) => !notices::find_for_share(tx.conn(), before)
                .await
                .transient()?
                .is_some_and(|b| b.state.lets_successors_go()),
        };
        if blocked {
            notices::set_state(tx.conn(), &row.id, NoticeState::Waiting, None)
                .await
                .transient()?;
            return Ok(Claim::Waiting);
        }
        let attempt = notices::start_sending(tx.conn(), &row, self.lease_until())
            .await
            .transient()?;
        Ok(Claim::Send(Box::new(Sending {
            row: NoticeRow {
                attempts: attempt,
                ..row
            },
            applied_at,
        })))
    }

    async fn record(
        &self,
        m: &Message,
        cmd: &NoticeCommand,
        sending: &Sending,
        at: chrono::DateTime<Utc>,
        o: &AttemptOutcome,
        last: bool,
    ) -> Result<bool, Failure> {
        // No chain lock: this transaction updates the notice's own row
        // before it looks for notices parked behind it, which serialises it
        // with another record of the same notice and with a claim parking a
        // successor (that reads this row under its lock, see `claim_open`).
        let tx = self.flow.begin().await?;
        notices::record_attempt(
            tx.conn(),
            NewAttempt {
                notice_id: &cmd.notice_id,
                attempt: sending.row.attempts,
                at,
                http_status: o.http_status,
                reply_code: o.reply_code.as_deref(),
                reply_msg: o.reply_msg.as_deref(),
                latency_ms: i64::try_from(o.latency.as_millis()).unwrap_or(i64::MAX),
                error: o.error.as_deref(),
                delivered: o.delivered,
            },
        )
        .await
        .transient()?;
        let row = &sending.row;
        let (state, event) = if o.delivered {
            (NoticeState::Delivered, Some(EventKey::NoticeDelivered))
        } else if last {
            (NoticeState::Dead, Some(EventKey::NoticeDeadLettered))
        } else {
            (NoticeState::Retrying, None)
        };
        // A delivery is the truth whatever happened meanwhile; a failure
        // only moves a notice still open (see `set_state_if_open`).
        let open = if o.delivered {
            notices::set_state(tx.conn(), &row.id, state, o.error.as_deref())
                .await
                .transient()?;
            true
        } else {
            notices::set_state_if_open(tx.conn(), &row.id, state, o.error.as_deref())
                .await
                .transient()?
        };
        let interface = cmd.interface.name();
        metrics::counter!("gw_notice_attempts_total", "interface" => interface, "outcome" => state.to_string())
            .increment(1);
        metrics::histogram!("gw_notice_attempt_seconds", "interface" => interface)
            .record(o.latency.as_secs_f64());
        if o.delivered {
            // From its decision (the notice's creation) to the platform's receipt.
            let waited = (Utc::now() - row.created_at).to_std().unwrap_or_default();
            metrics::histogram!("gw_notice_delivery_seconds", "interface" => interface)
                .record(waited.as_secs_f64());
            if let Some(applied_at) = sending.applied_at {
                // From the platform's baohanapply to this notice's receipt.
                let since = (Utc::now() - applied_at).to_std().unwrap_or_default();
                metrics::histogram!("gw_apply_to_notice_seconds", "interface" => interface)
                    .record(since.as_secs_f64());
            }
            // The notices parked behind this one go now.
            for next in notices::waiting_behind(tx.conn(), &row.id)
                .await
                .transient()?
            {
                notices::set_state(tx.conn(), &next.id, NoticeState::Pending, None)
                    .await
                    .transient()?;
                tx.send(&command_of(&next).map_err(Failure::Permanent)?)
                    .await?;
            }
        }
        if let Some(key) = event.filter(|_| open) {
            emit(&tx, key, row, state, o.error.as_deref()).await?;
        }
        if o.delivered {
            // Delivered: this commit is the message's ack.
            tx.settle(m).await?;
        }
        tx.commit().await?;
        Ok(open)
    }
}

/// A notice command that died, whichever way (the schedule spent, the
/// broker's delivery limit, a failure recording the last attempt): its
/// notice is marked dead with why, so operators see it and can re-send it,
/// and a `notice.dead_lettered` event says so. Runs in the transaction
/// that records the dead letter.
pub struct NoticeDied;

#[async_trait]
impl gw_host::dlq::OnDeadLetter for NoticeDied {
    async fn dead(&self, tx: &Tx, m: &Message, reason: &str) -> Result<(), Failure> {
        let Ok(cmd) = m.decode::<NoticeCommand>() else {
            return Ok(()); // unreadable: there is no notice to mark
        };
        notices::lock_chain(tx.conn(), &cmd.applyno)
            .await
            .transient()?;
        let row = match notices::find(tx.conn(), &cmd.notice_id).await.transient()? {
            Some(row) if row.state.is_settled() => return Ok(()),
            Some(row) => {
                notices::set_state(tx.conn(), &row.id, NoticeState::Dead, Some(reason))
                    .await
                    .transient()?;
                row
            }
            None => {
                let masked = gw_protocol::mask::mask_json(&cmd.body);
                insert(
                    tx,
                    &cmd,
                    &cmd.body,
                    &masked,
                    NoticeState::Dead,
                    Some(reason),
                )
                .await?
            }
        };
        tracing::error!(notice_id = %row.id, applyno = %row.applyno, reason, "notice dead");
        emit(
            tx,
            EventKey::NoticeDeadLettered,
            &row,
            NoticeState::Dead,
            Some(reason),
        )
        .await
    }
}

#[async_trait]
impl Consume<NoticeCommand> for NoticeHandler {
    async fn consume(&self, m: &Message, cmd: NoticeCommand) -> Result<(), Failure> {
        let notice = match cmd.notice() {
            Ok(n) if n.interface().is_notice() && n.applyno() == &cmd.applyno => n,
            Ok(_) => {
                let why = "the notice does not match its command";
                self.record_invalid(&cmd, why).await?;
                return Err(Failure::permanent(anyhow::anyhow!(why)));
            }
            Err(e) => {
                let why = format!("invalid notice: {e}");
                self.record_invalid(&cmd, &why).await?;
                return Err(Failure::permanent(anyhow::anyhow!(why)));
            }
        };
        let Some(cp) = self.counterparts.by_name(cmd.counterpart.as_str()) else {
            let why = format!("unknown counterpart {}", cmd.counterpart);
            self.record_invalid(&cmd, &why).await?;
            return Err(Failure::permanent(anyhow::anyhow!(why)));
        };
        // The notice as sent is the notice as stored: serialised once.
        let plaintext = notice.to_json().to_string();
        let sending = match self.claim(m, &cmd, &notice, &plaintext).await? {
            Claim::Done => {
                tracing::info!(notice_id = %cmd.notice_id, "already settled");
                return Ok(());
            }
            Claim::Waiting => {
                tracing::info!(notice_id = %cmd.notice_id, after = cmd.after.as_deref().unwrap_or(""), "waiting for the notice before it");
                return Ok(());
            }
            Claim::Busy(wait, why) => {
                return Err(Failure::Busy(wait, anyhow::anyhow!(why)));
            }
            Claim::Send(sending) => sending,
        };
        let at = Utc::now();
        let outcome = self.sender.send(&cp, cmd.interface, &plaintext).await;
        let last = !outcome.delivered && m.attempt >= self.max_attempts;
        let open = self.record(m, &cmd, &sending, at, &outcome, last).await?;
        tracing::info!(
            notice_id = %cmd.notice_id,
            interface = %cmd.interface,
            attempt = sending.row.attempts,
            delivered = outcome.delivered,
            http_status = outcome.http_status,
            reply_code = outcome.reply_code.as_deref().unwrap_or(""),
            latency_ms = outcome.latency.as_millis(),
            "notice attempt"
        );
        if outcome.delivered {
            return Ok(());
        }
        if !open {
            // Dead-lettered, suppressed or delivered by another sender while
            // this call was under way: nothing is left for this command.
            tracing::info!(notice_id = %cmd.notice_id, "settled while its attempt was under way");
            return Ok(());
        }
        let why = anyhow::anyhow!("{}", outcome.error.unwrap_or_else(|| "failed".to_owned()));
        if last {
            Err(Failure::Permanent(why))
        } else if let Some(wait) = outcome.retry_after {
            Err(Failure::RetryAfter(wait, why))
        } else {
            Err(Failure::Transient(why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 5 "), Some(Duration::from_secs(5)));
        let later = std::time::SystemTime::now() + Duration::from_secs(90);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            d > Duration::from_secs(85) && d <= Duration::from_secs(90),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
