//! `underwriting`: decides on every `baohanapply`.
//!
//! * Consumes `underwriting.baohanapply`: a repeat with the same content
//!   re-sends the earlier decision's notice; changed content on an unpaid
//!   application is underwritten afresh; a paid or cancelled application
//!   is left alone. The rules ([`rules`]) decide approve, reject or refer;
//!   each rule's outcome is recorded; approve and reject produce a
//!   `processnotice`; every decision is a domain event.
//! * Consumes `underwriting.decisions`: the answer on a referred
//!   application, from a risk system or a person (admin API).
//! * Reloads the rules file while running.

pub mod admin;
pub mod handler;
pub mod rules;

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use gw_contract::{InboundEnvelope, ReviewDecision};
use gw_host::{Build, Context, Parts};
use gw_protocol::BaohanApply;
use gw_workflow::once;

use crate::handler::Underwriter;
use crate::rules::{Rules, RulesHandle};

gw_host::service!(
    /// The underwriting service.
    Underwriting, "underwriting", admin: underwriting.admin_listen
);

#[async_trait]
impl Build for Underwriting {
    async fn build(&self, ctx: &Context) -> anyhow::Result<Parts> {
        let s = &ctx.settings.underwriting;
        let rules = match &s.rules_file {
            Some(path) => RulesHandle::load_file(path).context("underwriting.rules_file")?,
            None => Rules::from(&s.rules),
        };
        tracing::info!(version = %rules.version, "underwriting rules in force");
        let rules = RulesHandle::new(rules);
        let underwriter = Arc::new(Underwriter {
            flow: ctx.flow.clone(),
            rules: rules.clone(),
        });
        let mut tasks: Vec<gw_host::Task> = Vec::new();
        if let Some(path) = s.rules_file.clone() {
            let (watcher, interval, db) = (rules.clone(), s.rules_reload_interval, ctx.db.clone());
            tasks.push(Box::new(move |stop| {
                Box::pin(async move {
                    watcher.watch(path, interval, db, stop).await;
                    Ok(())
                })
            }));
        }
        Ok(Parts {
            admin: Some(admin::routes(
                ctx.db.clone(),
                ctx.bus.clone(),
                rules,
                &ctx.settings.admin.token,
            )),
            consumers: vec![
                ctx.consumer(once::<InboundEnvelope<BaohanApply>, _>(
                    &ctx.flow,
                    underwriter.clone(),
                )),
                ctx.consumer(once::<ReviewDecision, _>(&ctx.flow, underwriter)),
            ],
            tasks,
            ..Parts::default()
        })
    }
}
