//! `issuance`: the guarantee itself.
//!
//! * Consumes `issuance.issue` (sent by payment once paid): allocates the
//!   guarantee number, renders the cipher guarantee PDF ([`pdf`]), signs its
//!   SM3 digest with the institution's SM2 key ([`signing`]), stores it, and
//!   sends `baohannotice` with the download link.
//! * Consumes `issuance.revertapply` on its own queue and consumer (restore
//!   has a deadline, so it never waits behind issuing): renders the restored
//!   guarantee naming the project and the tenderer, with `poltime` = bid
//!   opening and `validtime` = bid day + validity + 1 day at 23:59:59, and
//!   sends `revertnotice`.
//! * Serves online verification (验真, [`verify`]).

pub mod admin;
pub mod handler;
pub mod numbers;
pub mod pdf;
pub mod reports;
pub mod signing;
pub mod verify;

use std::sync::Arc;

use async_trait::async_trait;
use gw_contract::{InboundEnvelope, IssueCommand, handler};
use gw_host::{Build, Context, Parts};
use gw_protocol::RevertApply;

use crate::handler::{Issuance as Issuing, Issuer};

gw_host::service!(
    /// The issuance service.
    Issuance, "issuance", public: issuance.listen, admin: issuance.admin_listen
);

#[async_trait]
impl Build for Issuance {
    async fn build(&self, ctx: &Context) -> anyhow::Result<Parts> {
        ctx.settings.require(&[gw_config::Need::SigningKey])?;
        let settings = &ctx.settings;
        let signer = signing::Signer::load(settings, &ctx.db).await?;
        let store = gw_files::from_settings(&settings.files, ctx.db.clone())?;
        // A name the font cannot print would fail every guarantee: say so now.
        pdf::self_check(&settings.institution.name, &settings.institution.code)?;
        let reporter = reports::Reporter {
            db: ctx.db.clone(),
            store: store.clone(),
            institution: settings.institution.name.clone(),
        };
        let mut tasks: Vec<gw_host::Task> = Vec::new();
        if let (true, Some(at)) = (settings.reports.enabled, settings.reports.at()) {
            let r = reporter.clone();
            tasks.push(Box::new(move |stop| Box::pin(r.run(at, stop))));
        }
        let issuing = Arc::new(Issuing {
            flow: ctx.flow.clone(),
            store,
            signer: signer.clone(),
            issuer: Issuer {
                name: settings.institution.name.clone(),
                code: settings.institution.code.clone(),
                base_url: settings
                    .public_base_url
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
            },
        });
        Ok(Parts {
            public: Some(verify::routes(
                ctx.db.clone(),
                signer,
                settings.issuance.verify_per_minute,
                settings.issuance.verify_file_concurrency,
                settings.http.trusted(),
            )),
            admin: Some(reports::with_admin(
                admin::routes(ctx.db.clone(), &settings.admin.token),
                reporter,
                &settings.admin.token,
            )),
            tasks,
            consumers: vec![
                ctx.consumer(handler::<IssueCommand, _>(issuing.clone())),
                ctx.consumer(handler::<InboundEnvelope<RevertApply>, _>(issuing)),
            ],
            ..Parts::default()
        })
    }
}
