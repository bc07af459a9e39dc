//! The platform's requests as ingress publishes them: each in an
//! [`InboundEnvelope`] on the work queue of its interface.

use chrono::{DateTime, Utc};
use gw_bus::{Destination, Message};
use gw_protocol::{
    BaohanApply, CancelApply, ClaimApply, CounterpartName, Inbound, Interface, InvoiceApply,
    LogoutApply, PayApply, QuitApply, RevertApply,
};
use serde::{Deserialize, Serialize};

use crate::{Contract, queues};

/// Schema version of [`InboundEnvelope`].
pub const SCHEMA: u32 = 1;

/// An accepted request from a platform, as ingress publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEnvelope<T> {
    /// The counterpart it came from; notices go back there.
    pub counterpart: CounterpartName,
    pub interface: Interface,
    pub received_at: DateTime<Utc>,
    /// The validated request, in wire form.
    pub request: T,
}

/// The `type` of the message carrying a request of this interface.
pub fn kind(i: Interface) -> String {
    format!("inbound.{}", i.name())
}

macro_rules! inbound_contract {
    ($($t:ty => $queue:expr, $kind:literal;)+) => {
        $(
            impl Contract for InboundEnvelope<$t> {
                const QUEUE: &'static str = $queue;
                const KIND: &'static str = $kind;
                const SCHEMA: u32 = SCHEMA;
                fn applyno(&self) -> &str {
                    self.request.applyno.as_str()
                }
                fn counterpart(&self) -> Option<&str> {
                    Some(self.counterpart.as_str())
                }
            }
        )+
    };
}

inbound_contract! {
    BaohanApply => queues::BAOHANAPPLY, "inbound.baohanapply";
    PayApply => queues::PAYAPPLY, "inbound.payapply";
    RevertApply => queues::REVERTAPPLY, "inbound.revertapply";
    InvoiceApply => queues::INVOICEAPPLY, "inbound.invoiceapply";
    QuitApply => queues::QUITAPPLY, "inbound.quitapply";
    ClaimApply => queues::CLAIMAPPLY, "inbound.claimapply";
    LogoutApply => queues::LOGOUTAPPLY, "inbound.logoutapply";
    CancelApply => queues::CANCELAPPLY, "inbound.cancelapply";
}

/// The message ingress publishes for a validated request, and where to.
pub fn message(
    counterpart: &CounterpartName,
    request: &Inbound,
    received_at: DateTime<Utc>,
) -> Result<(Destination, Message), serde_json::Error> {
    let interface = request.interface();
    let Some(queue) = queues::for_inbound(interface) else {
        return Err(serde::ser::Error::custom(format!(
            "{} is not an inbound interface",
            interface.name()
        )));
    };
    let envelope = InboundEnvelope {
        counterpart: counterpart.clone(),
        interface,
        received_at,
        request: request.to_json(),
    };
    let m = Message::json(
        kind(interface),
        SCHEMA,
        Some(request.applyno().as_str()),
        &envelope,
    )?
    .with_header(gw_bus::headers::COUNTERPART, counterpart.to_string());
    Ok((Destination::Queue(queue.to_owned()), m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route<C: Contract>() -> (&'static str, &'static str) {
        (C::QUEUE, C::KIND)
    }

    /// The typed routes (consumers) and the runtime table (ingress) agree.
    #[test]
    fn every_inbound_interface_has_one_route() {
        let typed = [
            (
                Interface::BaohanApply,
                route::<InboundEnvelope<BaohanApply>>(),
            ),
            (Interface::PayApply, route::<InboundEnvelope<PayApply>>()),
            (
                Interface::RevertApply,
                route::<InboundEnvelope<RevertApply>>(),
            ),
            (
                Interface::InvoiceApply,
                route::<InboundEnvelope<InvoiceApply>>(),
            ),
            (Interface::QuitApply, route::<InboundEnvelope<QuitApply>>()),
            (
                Interface::ClaimApply,
                route::<InboundEnvelope<ClaimApply>>(),
            ),
            (
                Interface::LogoutApply,
                route::<InboundEnvelope<LogoutApply>>(),
            ),
            (
                Interface::CancelApply,
                route::<InboundEnvelope<CancelApply>>(),
            ),
        ];
        for (i, (queue, k)) in typed {
            assert_eq!(queues::for_inbound(i), Some(queue), "{i:?}");
            assert_eq!(kind(i), k);
            assert!(queues::ALL.contains(&queue));
        }
        for n in Interface::NOTICES {
            assert_eq!(queues::for_inbound(n), None);
        }
    }
}
