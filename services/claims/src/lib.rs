//! `claims`: what happens to a guarantee after it is issued.
//!
//! * **Refunds** (退保, `claims.quitapply`): allowed before bid opening, and
//!   after it only when the system reports a failed tender (scene 2, 流标);
//!   never after a claim was paid or while one is in progress, never twice.
//!   The full premium goes back (`payment.refund_requested`), the guarantee
//!   is void, `quitnotice` says when and how much.
//! * **Claims** (见索即付, `claims.claimapply`): the evidence files are
//!   downloaded (SM4-decrypted, stored, linked to the claim); documentary
//!   checks only: the guarantee is live, the amount is positive, and all
//!   claims together stay within the guaranteed amount (two concurrent
//!   claims cannot both pass: the application is saved at the version read).
//!   An approved claim asks the bank to pay (`claim.payout_requested`);
//!   `claimnotice` follows the bank's confirmation on
//!   `claims.payout_confirmations`, or at once with `claims.auto_payout`.
//! * **Write-off** (注销, `claims.logoutapply`): evidence downloaded the same
//!   way; refused while a claim is in progress; `logoutnotice`.
//! * **Expiry**: a sweep writes off guarantees whose validity ended (an
//!   event, no notice); claims after it are refused.
//!
//! A request the state does not allow gets its notice with `applystatus=2`
//! and the reason. A repeat of an `applicationno` re-sends the decision:
//! never a second refund or payout.

pub mod admin;
pub mod claim;
pub mod logout;
pub mod notices;
pub mod quit;
pub mod request;
pub mod sweep;

use std::sync::Arc;

use async_trait::async_trait;
use gw_contract::{InboundEnvelope, PayoutConfirmation, handler};
use gw_host::{Build, Context, Parts};
use gw_protocol::{ClaimApply, LogoutApply, QuitApply};
use gw_workflow::once;

/// What the consumers share.
pub struct Desk {
    pub flow: gw_workflow::Workflow,
    pub fetcher: gw_files::fetch::Fetcher,
    pub store: Arc<dyn gw_files::FileStore>,
    pub counterparts: gw_config::Counterparts,
    pub auto_payout: bool,
}

gw_host::service!(
    /// The claims service.
    Claims, "claims", admin: claims.admin_listen
);

#[async_trait]
impl Build for Claims {
    async fn build(&self, ctx: &Context) -> anyhow::Result<Parts> {
        ctx.settings.require(&[gw_config::Need::Counterparts])?;
        let s = &ctx.settings;
        let desk = Arc::new(Desk {
            flow: ctx.flow.clone(),
            fetcher: gw_files::fetch::Fetcher::from_settings(&s.files),
            store: gw_files::from_settings(&s.files, ctx.db.clone())?,
            counterparts: ctx.counterparts.clone(),
            auto_payout: s.claims.auto_payout,
        });
        let sweeper = sweep::Sweeper {
            flow: ctx.flow.clone(),
            every: s.claims.sweep_interval,
        };
        Ok(Parts {
            admin: Some(admin::routes(
                ctx.flow.clone(),
                ctx.bus.clone(),
                &s.admin.token,
            )),
            consumers: vec![
                ctx.consumer(once::<InboundEnvelope<QuitApply>, _>(
                    &ctx.flow,
                    desk.clone(),
                )),
                ctx.consumer(handler::<InboundEnvelope<ClaimApply>, _>(desk.clone())),
                ctx.consumer(handler::<InboundEnvelope<LogoutApply>, _>(desk.clone())),
                ctx.consumer(once::<PayoutConfirmation, _>(&ctx.flow, desk)),
            ],
            tasks: vec![Box::new(move |stop| Box::pin(sweeper.run(stop)))],
            ..Parts::default()
        })
    }
}
