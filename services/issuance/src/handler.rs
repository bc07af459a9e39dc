//! The consumers of `issuance.issue` and `issuance.revertapply`.
//!
//! Rendering and signing happen outside the database transaction; the
//! transaction then stores the file, records the guarantee, queues the
//! notice (whose URL points at the file just stored, so the platform can
//! download it the moment the notice arrives) and moves the lifecycle on,
//! if the application is still at the version read. A concurrent duplicate
//! loses on the version check or the guarantee's primary key and, retried,
//! finds the work done.

use gw_contract::details::{self, Details};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{Failure, Message};
use gw_contract::{Consume, EventKey, InboundEnvelope, IssueCommand};
use gw_files::{FileKind, FileStore, NewFile};
use gw_lifecycle::{Effect, Event, Refusal};
use gw_protocol::{
    Amount, BaohanNo, BaohanNotice, CreditCode, HttpUrl, Notice, Rate, RevertApply, RevertNotice,
    Text, WireTime,
};
use gw_storage::applications::Application;
use gw_storage::guarantees::{self, Guarantee, GuaranteeChanges};
use gw_storage::inbox;
use gw_storage::sea_orm::Set;
use gw_workflow::{DbResultExt, Outcome, Transition, Tx, Workflow};

use crate::numbers;
use crate::pdf::{self, GuaranteeDoc, Project};
use crate::signing::Signer;

const REVERT_CONSUMER: &str = "issuance.revertapply";

/// Who we are and where our links point.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub name: String,
    pub code: String,
    /// `public_base_url` without a trailing slash.
    pub base_url: String,
}

pub struct Issuance {
    pub flow: Workflow,
    pub store: Arc<dyn FileStore>,
    pub signer: Signer,
    pub issuer: Issuer,
}

fn bad(what: &str) -> Failure {
    Failure::permanent(anyhow::anyhow!("stored {what} is invalid"))
}

fn moved(o: Outcome) -> Result<Box<Transition>, Failure> {
    match o {
        Outcome::Moved(t) => Ok(t),
        Outcome::Refused { refusal, .. } => Err(Failure::transient(anyhow::anyhow!(
            "changed meanwhile: {refusal}"
        ))),
    }
}

/// The signed PDF of a guarantee, uploaded to the file store (recorded
/// later, in the transaction that issues or restores).
struct Signed {
    file: gw_files::Staged,
    sm3: String,
    signature: String,
}

/// A cipher guarantee, made and signed, not yet recorded.
struct Cipher {
    baohanno: String,
    code: String,
    issued_at: WireTime,
    rate: Rate,
    cost: Amount,
    signed: Signed,
}

impl Issuance {
    fn verify_url(&self, baohanno: &str, code: &str) -> String {
        format!(
            "{}/verify?baohanno={baohanno}&code={code}",
            self.issuer.base_url
        )
    }

    fn file_url(&self, token: &str) -> Result<HttpUrl<500>, Failure> {
        HttpUrl::try_from(format!("{}/files/{token}", self.issuer.base_url).as_str()).map_err(
            |_| {
                Failure::permanent(anyhow::anyhow!(
                    "public_base_url does not make a valid file URL"
                ))
            },
        )
    }

    /// Renders and signs off the async threads, a core's worth at a time
    /// (PDF work is CPU-bound), then uploads the file (before any
    /// transaction: an upload can be slow).
    async fn render(&self, doc: GuaranteeDoc, file: NewFile) -> Result<Signed, Failure> {
        let signer = self.signer.clone();
        let kind = file.kind.as_str();
        let (content, signature) = gw_files::cpu::run(move || {
            let started = std::time::Instant::now();
            let bytes = pdf::render(&doc)?;
            metrics::histogram!("gw_pdf_render_seconds", "kind" => kind)
                .record(started.elapsed().as_secs_f64());
            // Hashed once: the signature and the file's row share the digest.
            let content = gw_files::Content::new(bytes);
            let signature = signer.sign(content.digest());
            Ok::<_, anyhow::Error>((content, signature))
        })
        .await
        .map_err(|e| Failure::transient(anyhow::anyhow!("render: {e}")))?
        .map_err(Failure::Permanent)?;
        let file = self.store.upload(file, content).await.transient()?;
        Ok(Signed {
            sm3: file.sm3().to_owned(),
            file,
            signature,
        })
    }

    fn pdf(
        kind: FileKind,
        applyno: &gw_protocol::ApplyNo,
        counterpart: &gw_protocol::CounterpartName,
    ) -> NewFile {
        NewFile {
            kind,
            applyno: Some(applyno.to_string()),
            counterpart: counterpart.to_string(),
            content_type: "application/pdf".into(),
        }
    }

    /// Allocates the number and renders the cipher guarantee of `app`.
    async fn make_cipher(&self, app: &Application) -> Result<Cipher, Failure> {
        let amount = Amount::from_cents(app.bzjamount_cents).map_err(|_| bad("amount"))?;
        let cost = Amount::from_cents(app.cost_cents.ok_or_else(|| bad("cost"))?)
            .map_err(|_| bad("cost"))?;
        let rate = Rate::try_from(app.rate.as_deref().unwrap_or("")).map_err(|_| bad("rate"))?;
        let issued_at = WireTime::now();
        let baohanno = numbers::next_baohanno(self.flow.db().conn(), issued_at)
            .await
            .transient()?;
        let code = numbers::verify_code();
        let signed = self
            .render(
                GuaranteeDoc {
                    baohanno: baohanno.clone(),
                    applicant: app.biddername.clone(),
                    applicant_code: app.biddercode.clone(),
                    amount,
                    issuer: self.issuer.name.clone(),
                    issuer_code: self.issuer.code.clone(),
                    issued_at,
                    verify_code: code.clone(),
                    verify_url: self.verify_url(&baohanno, &code),
                    project: None,
                },
                Self::pdf(FileKind::Guarantee, &app.applyno, &app.counterpart),
            )
            .await?;
        Ok(Cipher {
            baohanno,
            code,
            issued_at,
            rate,
            cost,
            signed,
        })
    }

    /// Records the cipher guarantee and its `baohannotice`.
    async fn record_cipher(&self, tx: &Tx, t: &mut Transition, c: Cipher) -> Result<(), Failure> {
        let app = t.app()?.clone();
        let baohanno = BaohanNo::try_from(c.baohanno.as_str()).map_err(|_| bad("baohanno"))?;
        let sm3 = c.signed.sm3.clone();
        let token = tx.record_file(&*self.store, c.signed.file).await?;
        let g = Guarantee {
            applyno: app.applyno.clone(),
            baohanno: baohanno.clone(),
            counterpart: app.counterpart.clone(),
            verify_code: c.code,
            amount_cents: app.bzjamount_cents,
            biddername: app.biddername.clone(),
            biddercode: app.biddercode.clone(),
            instname: self.issuer.name.clone(),
            instcode: self.issuer.code.clone(),
            rate: c.rate.to_string(),
            cost_cents: app.cost_cents.unwrap_or_default(),
            issued_at: c.issued_at.utc(),
            cipher_token: token.clone(),
            cipher_sm3: c.signed.sm3,
            cipher_signature: c.signed.signature,
            restored_token: None,
            restored_sm3: None,
            restored_signature: None,
            poltime: None,
            validtime: None,
            biaoduanno: None,
            biaoduanname: None,
            zbr: None,
            zbrorgnum: None,
            pcjname: None,
            pcjcode: None,
            areacode: None,
            restored_at: None,
        };
        guarantees::insert(tx.conn(), g).await.transient()?;
        let notice = Notice::BaohanNotice(BaohanNotice {
            applyno: app.applyno.clone(),
            baohanno: baohanno.clone(),
            instname: Text::try_from(self.issuer.name.as_str())
                .map_err(|_| bad("institution.name"))?,
            instcode: CreditCode::try_from(self.issuer.code.as_str())
                .map_err(|_| bad("institution.code"))?,
            generatetime: c.issued_at,
            rate: c.rate,
            cost: c.cost,
            baohanurl: self.file_url(&token)?,
            remark: Text::try_from("保函已出具").map_err(|_| bad("remark"))?,
        });
        tx.notify(t, &notice).await?;
        t.changes.baohanno = Set(Some(baohanno.clone()));
        let amount = Amount::from_cents(app.bzjamount_cents).map_err(|_| bad("amount"))?;
        let details = Details::Issued(details::Issued {
            baohanno: baohanno.to_string(),
            sm3: sm3.to_string(),
            bzjamount: amount.to_cents_string(),
        });
        tx.emit_transition(EventKey::GuaranteeIssued, t, details)
            .await
    }
}

/// Issues the cipher guarantee of a paid application.
#[async_trait]
impl Consume<IssueCommand> for Issuance {
    async fn consume(&self, m: &Message, cmd: IssueCommand) -> Result<(), Failure> {
        let applyno = &cmd.applyno;
        let app = gw_storage::applications::find(self.flow.db().conn(), applyno)
            .await
            .transient()?
            .ok_or_else(|| Failure::permanent(anyhow::anyhow!("no application {applyno}")))?;
        match gw_lifecycle::step(Some(app.state), Event::Issue) {
            Ok((_, Effect::NotifyIssued)) => {}
            Err(Refusal::AlreadyIssued) => {
                tracing::info!(%applyno, "already issued");
                return Ok(());
            }
            // A cancel after payment won: no guarantee is issued.
            Err(Refusal::Cancelled) => {
                tracing::info!(%applyno, "cancelled before issuance; nothing to issue");
                return Ok(());
            }
            Ok((_, other)) => {
                return Err(Failure::permanent(anyhow::anyhow!(
                    "unexpected effect {other:?}"
                )));
            }
            Err(r) => {
                return Err(Failure::permanent(anyhow::anyhow!(
                    "cannot issue {applyno}: {r}"
                )));
            }
        }
        let cipher = self.make_cipher(&app).await?;
        let baohanno = cipher.baohanno.clone();
        let tx = self.flow.begin().await?;
        let mut t = moved(Tx::step(Some(app), Event::Issue))?;
        self.record_cipher(&tx, &mut t, cipher).await?;
        tx.save(t).await?;
        tx.settle(m).await?;
        tx.commit().await?;
        tracing::info!(%applyno, %baohanno, "guarantee issued");
        Ok(())
    }
}

/// Whether `req` asks for the restore the guarantee already has: the same
/// project, tenderer, bid opening and validity.
fn same_restore(g: &Guarantee, req: &RevertApply) -> bool {
    let validtime = numbers::valid_until(req.bidtime, req.bidvalid);
    let text = |stored: &Option<String>, asked: &str| stored.as_deref() == Some(asked);
    g.restored_token.is_some()
        && g.poltime == Some(req.bidtime.utc())
        && g.validtime == Some(validtime.utc())
        && text(&g.biaoduanno, req.biaoduanno.as_str())
        && text(&g.biaoduanname, req.biaoduanname.as_str())
        && text(&g.zbr, req.zbr.as_str())
        && text(&g.zbrorgnum, req.zbrorgnum.as_str())
        && text(&g.pcjname, req.pcjname.as_str())
        && text(&g.pcjcode, req.pcjcode.as_str())
        && text(&g.areacode, req.areacode.as_str())
}

/// The superseded version of a guarantee's restored PDF, to keep on record.
fn superseded(g: &Guarantee) -> Option<gw_storage::guarantees::NewRestoration> {
    let now = Utc::now();
    Some(gw_storage::guarantees::NewRestoration {
        applyno: Set(g.applyno.clone()),
        baohanno: Set(g.baohanno.clone()),
        token: Set(g.restored_token.clone()?),
        sm3: Set(g.restored_sm3.clone()?),
        signature: Set(g.restored_signature.clone()?),
        poltime: Set(g.poltime?),
        validtime: Set(g.validtime?),
        pcjname: Set(g.pcjname.clone().unwrap_or_default()),
        zbr: Set(g.zbr.clone().unwrap_or_default()),
        restored_at: Set(g.restored_at.unwrap_or(now)),
        superseded_at: Set(now),
        ..Default::default()
    })
}

/// The file, `poltime` and `validtime` of a guarantee restored before.
fn already_restored(g: &Guarantee) -> Result<(String, WireTime, WireTime), Failure> {
    Ok((
        g.restored_token
            .clone()
            .ok_or_else(|| bad("restored file"))?,
        g.poltime
            .map(WireTime::from_utc)
            .ok_or_else(|| bad("poltime"))?,
        g.validtime
            .map(WireTime::from_utc)
            .ok_or_else(|| bad("validtime"))?,
    ))
}

/// Whether the step that decided `effect` saw changed content.
fn fresh_or_resend(effect: Effect) -> bool {
    effect == Effect::NotifyRestored
}

/// A restore that may go ahead: the application, its guarantee, and what
/// the lifecycle says to do.
struct Restorable {
    app: Application,
    guarantee: Guarantee,
    effect: Effect,
}

impl Issuance {
    /// Checks a `revertapply` against the application and its guarantee.
    async fn restorable(&self, env: &InboundEnvelope<RevertApply>) -> Result<Restorable, Failure> {
        let req = &env.request;
        let conn = self.flow.db().conn();
        let app = gw_storage::applications::find(conn, &req.applyno)
            .await
            .transient()?
            .filter(|a| a.counterpart == env.counterpart);
        let guarantee = guarantees::find(conn, &req.applyno).await.transient()?;
        let changed = guarantee.as_ref().is_none_or(|g| !same_restore(g, req));
        let event = Event::Restore { changed };
        let effect = match gw_lifecycle::step(app.as_ref().map(|a| a.state), event) {
            Ok((_, effect)) => effect,
            // Issuance is still at work: try again shortly.
            Err(Refusal::NotIssued) => {
                return Err(Failure::transient(anyhow::anyhow!(
                    "the guarantee of {} is not issued yet",
                    req.applyno
                )));
            }
            Err(r) => return Err(self.refuse(app.as_ref(), req, &r.to_string()).await),
        };
        let Some(app) = app else {
            return Err(self.refuse(None, req, &Refusal::Unknown.to_string()).await);
        };
        let Some(guarantee) = guarantee else {
            return Err(Failure::transient(anyhow::anyhow!(
                "the guarantee of {} is not recorded yet",
                req.applyno
            )));
        };
        if guarantee.baohanno != req.baohanno {
            return Err(self.refuse(Some(&app), req, "保函编号与申请不匹配").await);
        }
        Ok(Restorable {
            app,
            guarantee,
            effect,
        })
    }

    /// Renders the restored guarantee naming the project and the tenderer.
    async fn render_restored(&self, g: &Guarantee, req: &RevertApply) -> Result<Signed, Failure> {
        let amount = Amount::from_cents(g.amount_cents).map_err(|_| bad("amount"))?;
        self.render(
            GuaranteeDoc {
                baohanno: g.baohanno.to_string(),
                applicant: g.biddername.clone(),
                applicant_code: g.biddercode.clone(),
                amount,
                issuer: g.instname.clone(),
                issuer_code: g.instcode.clone(),
                issued_at: WireTime::from_utc(g.issued_at),
                verify_code: g.verify_code.clone(),
                verify_url: self.verify_url(g.baohanno.as_str(), &g.verify_code),
                project: Some(Project {
                    pcjname: req.pcjname.to_string(),
                    pcjcode: req.pcjcode.to_string(),
                    biaoduanname: req.biaoduanname.to_string(),
                    biaoduanno: req.biaoduanno.to_string(),
                    zbr: req.zbr.to_string(),
                    zbrorgnum: req.zbrorgnum.to_string(),
                    areacode: req.areacode.to_string(),
                    city: req.areacode.city_name().to_owned(),
                    poltime: req.bidtime,
                    validtime: numbers::valid_until(req.bidtime, req.bidvalid),
                }),
            },
            Self::pdf(FileKind::RestoredGuarantee, &g.applyno, &g.counterpart),
        )
        .await
    }

    /// Stores a freshly restored guarantee; returns its file token.
    async fn record_restored(
        &self,
        tx: &Tx,
        app: &Application,
        req: &RevertApply,
        signed: Signed,
    ) -> Result<String, Failure> {
        let token = tx.record_file(&*self.store, signed.file).await?;
        let validtime = numbers::valid_until(req.bidtime, req.bidvalid);
        let changes = GuaranteeChanges {
            restored_token: Set(Some(token.clone())),
            restored_sm3: Set(Some(signed.sm3)),
            restored_signature: Set(Some(signed.signature)),
            poltime: Set(Some(req.bidtime.utc())),
            validtime: Set(Some(validtime.utc())),
            biaoduanno: Set(Some(req.biaoduanno.to_string())),
            biaoduanname: Set(Some(req.biaoduanname.to_string())),
            zbr: Set(Some(req.zbr.to_string())),
            zbrorgnum: Set(Some(req.zbrorgnum.to_string())),
            pcjname: Set(Some(req.pcjname.to_string())),
            pcjcode: Set(Some(req.pcjcode.to_string())),
            areacode: Set(Some(req.areacode.to_string())),
            restored_at: Set(Some(Utc::now())),
            ..Default::default()
        };
        guarantees::update(tx.conn(), &app.applyno, changes)
            .await
            .transient()?;
        Ok(token)
    }

    /// A restore that must not happen: recorded as an event for operators,
    /// and dead-lettered with the reason.
    async fn refuse(&self, app: Option<&Application>, req: &RevertApply, why: &str) -> Failure {
        if let Some(app) = app {
            let emitted = async {
                let tx = self.flow.begin().await?;
                let details = Details::Refused(details::Refused {
                    reason: why.to_owned(),
                });
                tx.emit_application(
                    EventKey::RestoreRefused,
                    &app.applyno,
                    &app.counterpart,
                    app.state,
                    details,
                )
                .await?;
                tx.commit().await
            };
            if let Err(e) = emitted.await {
                return e;
            }
        }
        Failure::permanent(anyhow::anyhow!(
            "revertapply for {} refused: {why}",
            req.applyno
        ))
    }
}

/// Restores the guarantee with the project details.
#[async_trait]
impl Consume<InboundEnvelope<RevertApply>> for Issuance {
    async fn consume(&self, m: &Message, env: InboundEnvelope<RevertApply>) -> Result<(), Failure> {
        let req = &env.request;
        if inbox::seen(self.flow.db().conn(), REVERT_CONSUMER, &m.id)
            .await
            .transient()?
        {
            return Ok(());
        }
        let r = self.restorable(&env).await?;
        let fresh = match r.effect {
            Effect::NotifyRestored => Some(self.render_restored(&r.guarantee, req).await?),
            Effect::ResendRestored => None,
            other => {
                return Err(Failure::permanent(anyhow::anyhow!(
                    "unexpected effect {other:?}"
                )));
            }
        };
        let Some(tx) = self.flow.begin_once(REVERT_CONSUMER, m).await? else {
            return Ok(());
        };
        let g = &r.guarantee;
        let amended = fresh.is_some() && g.restored_token.is_some();
        let (token, poltime, validtime) = match fresh {
            Some(signed) => {
                if let Some(old) = superseded(g) {
                    guarantees::supersede(tx.conn(), old).await.transient()?;
                }
                let token = self.record_restored(&tx, &r.app, req, signed).await?;
                let validtime = numbers::valid_until(req.bidtime, req.bidvalid);
                (token, req.bidtime, validtime)
            }
            // A re-push: the restored guarantee already made, sent again.
            None => already_restored(g)?,
        };
        let changed = fresh_or_resend(r.effect);
        let mut t = moved(Tx::step(Some(r.app.clone()), Event::Restore { changed }))?;
        let notice = Notice::RevertNotice(RevertNotice {
            applyno: req.applyno.clone(),
            baohanno: req.baohanno.clone(),
            poltime,
            validtime,
            baohanurl: self.file_url(&token)?,
        });
        tx.notify(&mut t, &notice).await?;
        let details = Details::Restored(details::Restored {
            baohanno: g.baohanno.to_string(),
            poltime: poltime.to_string(),
            validtime: validtime.to_string(),
            areacode: req.areacode.as_str().to_owned(),
            resent: r.effect == Effect::ResendRestored,
            amended,
        });
        let key = if amended {
            EventKey::RestoreAmended
        } else {
            EventKey::GuaranteeRestored
        };
        tx.emit_transition(key, &t, details).await?;
        tx.save(t).await?;
        tx.commit().await?;
        tracing::info!(applyno = %req.applyno, baohanno = %g.baohanno, validtime = %validtime, "guarantee restored");
        Ok(())
    }
}
