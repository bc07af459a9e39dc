//! The Hunan e-guarantee interface standard, as types.
//!
//! * [`Interface`] names the 16 interfaces (8 requests the platform sends us,
//!   8 notices we send it).
//! * For each, a wire DTO (`...Wire`) holds the raw JSON fields and a domain
//!   type is built from it through `TryFrom`, enforcing every rule of the
//!   standard and of our CONTRACT.md reading: required and non-blank, length in
//!   characters, amounts with at most two fraction digits, CST times, the
//!   enumerations and the conditional fields. A failure is a [`FieldError`]
//!   whose `Display` is the Chinese message for the platform, naming the field.
//! * [`Inbound`] and [`Notice`] gather the 8 + 8 for code that routes them.
//!
//! Domain types serialise back to exactly the wire JSON, and deserialise only
//! through the same checks, so a message on our bus is always valid.

pub mod codes;
pub mod error;
pub mod inbound;
pub mod mask;
pub mod notices;
pub mod types;
pub mod wire;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use codes::{ApplyStatus, AreaCode, InvoiceKind, InvoiceMedium, PayType, PremiumStatus, Scene};
pub use error::{FieldError, ProtocolError, Rule};
pub use inbound::*;
pub use notices::*;
pub use types::{
    Amount, ApplicationNo, ApplyNo, BaohanNo, BidValidDays, CounterpartName, CreditCode, FileRef,
    HttpUrl, Personal, Rate, Text, WireTime,
};

/// The common prefix of every interface path.
pub const PATH_PREFIX: &str = "v1/gua/tb/";

/// One of the 16 interfaces of the standard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    BaohanApply,
    PayApply,
    RevertApply,
    InvoiceApply,
    QuitApply,
    ClaimApply,
    LogoutApply,
    CancelApply,
    ProcessNotice,
    PayNotice,
    BaohanNotice,
    RevertNotice,
    InvoiceNotice,
    QuitNotice,
    ClaimNotice,
    LogoutNotice,
}

impl Interface {
    /// The 8 requests the platform sends us, in the standard's order.
    pub const INBOUND: [Interface; 8] = [
        Interface::BaohanApply,
        Interface::PayApply,
        Interface::RevertApply,
        Interface::InvoiceApply,
        Interface::QuitApply,
        Interface::ClaimApply,
        Interface::LogoutApply,
        Interface::CancelApply,
    ];

    /// The 8 notices we send the platform.
    pub const NOTICES: [Interface; 8] = [
        Interface::ProcessNotice,
        Interface::PayNotice,
        Interface::BaohanNotice,
        Interface::RevertNotice,
        Interface::InvoiceNotice,
        Interface::QuitNotice,
        Interface::ClaimNotice,
        Interface::LogoutNotice,
    ];

    /// The last path segment, e.g. `baohanapply`.
    pub fn name(self) -> &'static str {
        match self {
            Interface::BaohanApply => "baohanapply",
            Interface::PayApply => "payapply",
            Interface::RevertApply => "revertapply",
            Interface::InvoiceApply => "invoiceapply",
            Interface::QuitApply => "quitapply",
            Interface::ClaimApply => "claimapply",
            Interface::LogoutApply => "logoutapply",
            Interface::CancelApply => "cancelapply",
            Interface::ProcessNotice => "processnotice",
            Interface::PayNotice => "paynotice",
            Interface::BaohanNotice => "baohannotice",
            Interface::RevertNotice => "revertnotice",
            Interface::InvoiceNotice => "invoicenotice",
            Interface::QuitNotice => "quitnotice",
            Interface::ClaimNotice => "claimnotice",
            Interface::LogoutNotice => "logoutnotice",
        }
    }

    /// The standard's title, e.g. `投保申请`.
    pub fn title(self) -> &'static str {
        match self {
            Interface::BaohanApply => "投保申请",
            Interface::PayApply => "支付申请",
            Interface::RevertApply => "保函还原申请",
            Interface::InvoiceApply => "发票申请",
            Interface::QuitApply => "退保申请",
            Interface::ClaimApply => "理赔申请",
            Interface::LogoutApply => "注销申请",
            Interface::CancelApply => "取消申请",
            Interface::ProcessNotice => "投保审核结果通知",
            Interface::PayNotice => "支付申请结果通知",
            Interface::BaohanNotice => "投保申请结果通知",
            Interface::RevertNotice => "保函还原结果通知",
            Interface::InvoiceNotice => "发票申请结果通知",
            Interface::QuitNotice => "退保申请结果通知",
            Interface::ClaimNotice => "理赔申请结果通知",
            Interface::LogoutNotice => "注销申请结果通知",
        }
    }

    /// The full path, e.g. `v1/gua/tb/baohanapply`.
    pub fn path(self) -> String {
        format!("{PATH_PREFIX}{}", self.name())
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::INBOUND
            .iter()
            .chain(Self::NOTICES.iter())
            .copied()
            .find(|i| i.name() == name)
    }

    pub fn is_inbound(self) -> bool {
        Self::INBOUND.contains(&self)
    }

    pub fn is_notice(self) -> bool {
        Self::NOTICES.contains(&self)
    }
}

impl std::fmt::Display for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn object(plaintext: &str) -> Result<Value, ProtocolError> {
    match serde_json::from_str::<Value>(plaintext) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(ProtocolError::NotJsonObject),
    }
}

fn from_object<W: serde::de::DeserializeOwned, T: TryFrom<W, Error = FieldError>>(
    v: Value,
) -> Result<T, ProtocolError> {
    // Every wire field is an optional raw value, so only a non-object fails here.
    let wire: W = serde_json::from_value(v).map_err(|_| ProtocolError::NotJsonObject)?;
    Ok(T::try_from(wire)?)
}

macro_rules! message_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident($ty:ident, $wire:ident)),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $($variant($ty)),+
        }

        impl $name {
            /// Parses the decrypted JSON text of a message of `interface`.
            pub fn parse(interface: Interface, plaintext: &str) -> Result<Self, ProtocolError> {
                Self::from_value(interface, object(plaintext)?)
            }

            /// Parses a JSON value of a message of `interface`.
            pub fn from_value(interface: Interface, v: Value) -> Result<Self, ProtocolError> {
                if !v.is_object() {
                    return Err(ProtocolError::NotJsonObject);
                }
                match interface {
                    $(Interface::$variant => Ok(Self::$variant(from_object::<$wire, $ty>(v)?)),)+
                    #[allow(unreachable_patterns)]
                    _ => Err(ProtocolError::NotJsonObject),
                }
            }

            pub fn interface(&self) -> Interface {
                match self {
                    $(Self::$variant(_) => Interface::$variant),+
                }
            }

            pub fn applyno(&self) -> &ApplyNo {
                match self {
                    $(Self::$variant(m) => &m.applyno),+
                }
            }

            /// The message as wire JSON (clear text: never log it, log
            /// [`Self::masked_json`]).
            pub fn to_json(&self) -> Value {
                let v = match self {
                    $(Self::$variant(m) => serde_json::to_value(m)),+
                };
                // Our types serialise to strings only; this cannot fail.
                v.unwrap_or(Value::Null)
            }

            /// The message as JSON with personal data masked, for logs and records.
            pub fn masked_json(&self) -> Value {
                mask::mask_json(&self.to_json())
            }
        }
    };
}

message_enum!(
    /// Any of the 8 requests the platform sends us.
    Inbound {
        BaohanApply(BaohanApply, BaohanApplyWire),
        PayApply(PayApply, PayApplyWire),
        RevertApply(RevertApply, RevertApplyWire),
        InvoiceApply(InvoiceApply, InvoiceApplyWire),
        QuitApply(QuitApply, QuitApplyWire),
        ClaimApply(ClaimApply, ClaimApplyWire),
        LogoutApply(LogoutApply, LogoutApplyWire),
        CancelApply(CancelApply, CancelApplyWire),
    }
);

impl Inbound {
    /// The guarantee number the request names, when it names one.
    pub fn baohanno(&self) -> Option<&BaohanNo> {
        match self {
            Inbound::RevertApply(m) => Some(&m.baohanno),
            Inbound::InvoiceApply(m) => Some(&m.baohanno),
            Inbound::QuitApply(m) => Some(&m.baohanno),
            Inbound::ClaimApply(m) => Some(&m.baohanno),
            Inbound::LogoutApply(m) => Some(&m.baohanno),
            Inbound::BaohanApply(_) | Inbound::PayApply(_) | Inbound::CancelApply(_) => None,
        }
    }

    /// The amounts the request carries, by field name (for business caps).
    pub fn amounts(&self) -> Vec<(&'static str, Amount)> {
        match self {
            Inbound::BaohanApply(m) => vec![("bzjamount", m.bzjamount)],
            Inbound::InvoiceApply(m) => vec![("amount", m.amount)],
            Inbound::ClaimApply(m) => vec![("applymount", m.applymount)],
            _ => Vec::new(),
        }
    }
}

message_enum!(
    /// Any of the 8 notices we send the platform.
    Notice {
        ProcessNotice(ProcessNotice, ProcessNoticeWire),
        PayNotice(PayNotice, PayNoticeWire),
        BaohanNotice(BaohanNotice, BaohanNoticeWire),
        RevertNotice(RevertNotice, RevertNoticeWire),
        InvoiceNotice(InvoiceNotice, InvoiceNoticeWire),
        QuitNotice(QuitNotice, QuitNoticeWire),
        ClaimNotice(ClaimNotice, ClaimNoticeWire),
        LogoutNotice(LogoutNotice, LogoutNoticeWire),
    }
);

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
