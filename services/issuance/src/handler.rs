//! The consumers of `issuance.issue` and `issuance.revertapply`.
//!
//! Rendering and signing happen outside the database transaction; the
//! transaction then checks the application's version, stores the file,
//! records the guarantee, queues the notice (whose URL points at the file
//! just stored, so the platform can download it the moment the notice
//! arrives) and moves the lifecycle on. A concurrent duplicate loses on the
//! version check or the guarantee's primary key and, retried, finds the work
//! done.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{Failure, Handler, Message, events};
use gw_files::{FileKind, FileStore, NewFile};
use gw_lifecycle::{Effect, Event, Refusal, State, step};
use gw_protocol::messages::{INBOUND_SCHEMA, ISSUE_SCHEMA, InboundEnvelope, IssueCommand};
use gw_protocol::{
    Amount, ApplyNo, BaohanNo, BaohanNotice, CreditCode, HttpUrl, Notice, Rate, RevertApply,
    RevertNotice, Text, WireTime,
};
use gw_service::effects;
use gw_service::worker::{db_failure as db_err, decode, save_failure as save_err};
use gw_storage::applications::{self, Application, Changes};
use gw_storage::guarantees::{self, Guarantee, GuaranteeChanges};
use gw_storage::sea_orm::{DatabaseTransaction, Set, TransactionTrait};
use gw_storage::{Db, inbox};
use tokio::sync::Notify;

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
    pub db: Db,
    pub store: Arc<dyn FileStore>,
    pub signer: Signer,
    pub issuer: Issuer,
    pub relay: Arc<Notify>,
}

fn bad(what: &str) -> Failure {
    Failure::permanent(anyhow::anyhow!("stored {what} is invalid"))
}

/// The signed PDF of a guarantee.
struct Signed {
    bytes: Vec<u8>,
    sm3: String,
    signature: String,
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

    /// Renders and signs off the async threads (PDF work is CPU-bound).
    async fn render(&self, doc: GuaranteeDoc) -> Result<Signed, Failure> {
        let signer = self.signer.clone();
        tokio::task::spawn_blocking(move || {
            let bytes = pdf::render(&doc)?;
            let digest = gw_envelope::sign::sm3_digest(&bytes);
            Ok::<_, anyhow::Error>(Signed {
                sm3: hex::encode(digest),
                signature: signer.sign(&digest),
                bytes,
            })
        })
        .await
        .map_err(|e| Failure::transient(anyhow::anyhow!("render task: {e}")))?
        .map_err(Failure::Permanent)
    }

    async fn store(
        &self,
        txn: &DatabaseTransaction,
        app: &Application,
        kind: FileKind,
        bytes: Vec<u8>,
    ) -> Result<String, Failure> {
        let stored = self
            .store
            .put(
                txn,
                NewFile {
                    kind,
                    applyno: Some(app.applyno.clone()),
                    counterpart: app.counterpart.clone(),
                    content_type: "application/pdf".into(),
                },
                bytes,
            )
            .await
            .map_err(|e| Failure::transient(anyhow::anyhow!("file store: {e}")))?;
        Ok(stored.token)
    }

    /// Issues the cipher guarantee of a paid application.
    pub async fn on_issue(&self, cmd: IssueCommand) -> Result<(), Failure> {
        let applyno = cmd.applyno.as_str();
        let Some(app) = applications::find(self.db.conn(), applyno)
            .await
            .map_err(db_err)?
        else {
            return Err(Failure::permanent(anyhow::anyhow!(
                "no application {applyno}"
            )));
        };
        let state: State = app.state.parse().map_err(Failure::permanent)?;
        match step(Some(state), Event::Issue) {
            Ok((_, Effect::NotifyIssued)) => {}
            Err(Refusal::AlreadyIssued) => {
                tracing::info!(applyno, "already issued");
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
        let amount = Amount::from_cents(app.bzjamount_cents).map_err(|_| bad("amount"))?;
        let cost = Amount::from_cents(app.cost_cents.ok_or_else(|| bad("cost"))?)
            .map_err(|_| bad("cost"))?;
        let rate = Rate::try_from(app.rate.as_deref().unwrap_or("")).map_err(|_| bad("rate"))?;
        let issued_at = WireTime::now();
        let baohanno = numbers::next_baohanno(self.db.conn(), issued_at)
            .await
            .map_err(db_err)?;
        let code = numbers::verify_code();
        let signed = self
            .render(GuaranteeDoc {
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
            })
            .await?;

        let txn = self.db.conn().begin().await.map_err(db_err)?;
        let sm3 = signed.sm3.clone();
        let token = self
            .store(&txn, &app, FileKind::Guarantee, signed.bytes)
            .await?;
        guarantees::insert(
            &txn,
            Guarantee {
                applyno: app.applyno.clone(),
                baohanno: baohanno.clone(),
                counterpart: app.counterpart.clone(),
                verify_code: code,
                amount_cents: app.bzjamount_cents,
                biddername: app.biddername.clone(),
                biddercode: app.biddercode.clone(),
                instname: self.issuer.name.clone(),
                instcode: self.issuer.code.clone(),
                rate: rate.to_string(),
                cost_cents: app.cost_cents.unwrap_or_default(),
                issued_at: issued_at.utc(),
                cipher_token: token.clone(),
                cipher_sm3: signed.sm3,
                cipher_signature: signed.signature,
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
            },
        )
        .await
        .map_err(db_err)?;
        let notice = Notice::BaohanNotice(BaohanNotice {
            applyno: cmd.applyno.clone(),
            baohanno: BaohanNo::try_from(baohanno.as_str()).map_err(|_| bad("baohanno"))?,
            instname: Text::try_from(self.issuer.name.as_str())
                .map_err(|_| bad("institution.name"))?,
            instcode: CreditCode::try_from(self.issuer.code.as_str())
                .map_err(|_| bad("institution.code"))?,
            generatetime: issued_at,
            rate,
            cost,
            baohanurl: self.file_url(&token)?,
            remark: Text::try_from("保函已出具").map_err(|_| bad("remark"))?,
        });
        let id = effects::queue_notice(&txn, &app.counterpart, &notice, app.last_notice_id.clone())
            .await
            .map_err(db_err)?;
        applications::save(
            &txn,
            applyno,
            app.version,
            Changes {
                state: Set(State::Issued.as_str().to_owned()),
                baohanno: Set(Some(baohanno.clone())),
                last_notice_id: Set(Some(id)),
                ..Default::default()
            },
        )
        .await
        .map_err(save_err)?;
        let details = serde_json::json!({"baohanno": baohanno, "sm3": sm3, "bzjamount": amount.to_cents_string()});
        effects::emit_application(
            &txn,
            events::GUARANTEE_ISSUED,
            &app.applyno,
            &app.counterpart,
            State::Issued.as_str(),
            details,
        )
        .await
        .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        self.relay.notify_one();
        tracing::info!(applyno, baohanno = %baohanno, "guarantee issued");
        Ok(())
    }

    /// Restores the guarantee with the project details.
    pub async fn on_revert(
        &self,
        message_id: &str,
        env: InboundEnvelope<RevertApply>,
    ) -> Result<(), Failure> {
        let req = &env.request;
        let applyno = req.applyno.as_str();
        if inbox::seen(self.db.conn(), REVERT_CONSUMER, message_id)
            .await
            .map_err(db_err)?
        {
            return Ok(());
        }
        let app = applications::find(self.db.conn(), applyno)
            .await
            .map_err(db_err)?
            .filter(|a| a.counterpart == env.counterpart);
        let state = app
            .as_ref()
            .map(|a| a.state.parse::<State>())
            .transpose()
            .map_err(Failure::permanent)?;
        let (_, effect) = match step(state, Event::Restore) {
            Ok(t) => t,
            // Issuance is still at work: try again shortly.
            Err(Refusal::NotIssued) => {
                return Err(Failure::transient(anyhow::anyhow!(
                    "the guarantee of {applyno} is not issued yet"
                )));
            }
            Err(r) => return self.refuse(app.as_ref(), applyno, &r.to_string()).await,
        };
        let Some(app) = app else {
            return self
                .refuse(None, applyno, &Refusal::Unknown.to_string())
                .await;
        };
        let Some(g) = guarantees::find(self.db.conn(), applyno)
            .await
            .map_err(db_err)?
        else {
            return Err(Failure::transient(anyhow::anyhow!(
                "the guarantee of {applyno} is not recorded yet"
            )));
        };
        if g.baohanno != req.baohanno.as_str() {
            return self
                .refuse(Some(&app), applyno, "保函编号与申请不匹配")
                .await;
        }
        let poltime = req.bidtime;
        let validtime = numbers::valid_until(req.bidtime, req.bidvalid);
        let (token, restored_fresh) = match effect {
            Effect::NotifyRestored => {
                let amount = Amount::from_cents(g.amount_cents).map_err(|_| bad("amount"))?;
                let issued_at = WireTime::from_utc(g.issued_at);
                let signed = self
                    .render(GuaranteeDoc {
                        baohanno: g.baohanno.clone(),
                        applicant: g.biddername.clone(),
                        applicant_code: g.biddercode.clone(),
                        amount,
                        issuer: g.instname.clone(),
                        issuer_code: g.instcode.clone(),
                        issued_at,
                        verify_code: g.verify_code.clone(),
                        verify_url: self.verify_url(&g.baohanno, &g.verify_code),
                        project: Some(Project {
                            pcjname: req.pcjname.to_string(),
                            pcjcode: req.pcjcode.to_string(),
                            biaoduanname: req.biaoduanname.to_string(),
                            biaoduanno: req.biaoduanno.to_string(),
                            zbr: req.zbr.to_string(),
                            zbrorgnum: req.zbrorgnum.to_string(),
                            areacode: req.areacode.to_string(),
                            city: req.areacode.city_name().to_owned(),
                            poltime,
                            validtime,
                        }),
                    })
                    .await?;
                (None, Some(signed))
            }
            Effect::ResendRestored => (g.restored_token.clone(), None),
            other => {
                return Err(Failure::permanent(anyhow::anyhow!(
                    "unexpected effect {other:?}"
                )));
            }
        };

        let txn = self.db.conn().begin().await.map_err(db_err)?;
        if !inbox::first_time(&txn, REVERT_CONSUMER, message_id)
            .await
            .map_err(db_err)?
        {
            return txn.commit().await.map_err(db_err);
        }
        let (token, poltime, validtime) = match restored_fresh {
            Some(signed) => {
                let sm3 = signed.sm3.clone();
                let token = self
                    .store(&txn, &app, FileKind::RestoredGuarantee, signed.bytes)
                    .await?;
                guarantees::update(
                    &txn,
                    applyno,
                    GuaranteeChanges {
                        restored_token: Set(Some(token.clone())),
                        restored_sm3: Set(Some(sm3)),
                        restored_signature: Set(Some(signed.signature)),
                        poltime: Set(Some(poltime.utc())),
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
                    },
                )
                .await
                .map_err(db_err)?;
                (token, poltime, validtime)
            }
            // A re-push: the restored guarantee already made, sent again.
            None => {
                let token = token.ok_or_else(|| bad("restored file"))?;
                let p = g
                    .poltime
                    .map(WireTime::from_utc)
                    .ok_or_else(|| bad("poltime"))?;
                let v = g
                    .validtime
                    .map(WireTime::from_utc)
                    .ok_or_else(|| bad("validtime"))?;
                (token, p, v)
            }
        };
        let notice = Notice::RevertNotice(RevertNotice {
            applyno: ApplyNo::try_from(applyno).map_err(|_| bad("applyno"))?,
            baohanno: req.baohanno.clone(),
            poltime,
            validtime,
            baohanurl: self.file_url(&token)?,
        });
        let id = effects::queue_notice(&txn, &app.counterpart, &notice, app.last_notice_id.clone())
            .await
            .map_err(db_err)?;
        applications::save(
            &txn,
            applyno,
            app.version,
            Changes {
                state: Set(State::Restored.as_str().to_owned()),
                last_notice_id: Set(Some(id)),
                ..Default::default()
            },
        )
        .await
        .map_err(save_err)?;
        let details = serde_json::json!({
            "baohanno": g.baohanno, "poltime": poltime.to_string(), "validtime": validtime.to_string(),
            "areacode": req.areacode.as_str(), "resent": effect == Effect::ResendRestored,
        });
        effects::emit_application(
            &txn,
            events::GUARANTEE_RESTORED,
            &app.applyno,
            &app.counterpart,
            State::Restored.as_str(),
            details,
        )
        .await
        .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        self.relay.notify_one();
        tracing::info!(applyno, baohanno = %g.baohanno, validtime = %validtime, "guarantee restored");
        Ok(())
    }

    /// A restore that must not happen: recorded as an event for operators,
    /// and dead-lettered with the reason.
    async fn refuse(
        &self,
        app: Option<&Application>,
        applyno: &str,
        why: &str,
    ) -> Result<(), Failure> {
        if let Some(app) = app {
            let txn = self.db.conn().begin().await.map_err(db_err)?;
            effects::emit_application(
                &txn,
                events::RESTORE_REFUSED,
                &app.applyno,
                &app.counterpart,
                &app.state,
                serde_json::json!({"reason": why}),
            )
            .await
            .map_err(db_err)?;
            txn.commit().await.map_err(db_err)?;
            self.relay.notify_one();
        }
        Err(Failure::permanent(anyhow::anyhow!(
            "revertapply for {applyno} refused: {why}"
        )))
    }
}

pub struct IssueHandler(pub Arc<Issuance>);

#[async_trait]
impl Handler for IssueHandler {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        let cmd: IssueCommand = decode(m, ISSUE_SCHEMA)?;
        self.0.on_issue(cmd).await
    }
}

pub struct RevertHandler(pub Arc<Issuance>);

#[async_trait]
impl Handler for RevertHandler {
    async fn handle(&self, m: &Message) -> Result<(), Failure> {
        let env: InboundEnvelope<RevertApply> = decode(m, INBOUND_SCHEMA)?;
        self.0.on_revert(&m.id, env).await
    }
}
