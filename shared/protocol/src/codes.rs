//! The standard's enumerations, each a Rust enum that parses from its wire
//! code and serialises back to it.

use std::fmt;

use crate::error::Rule;

macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident, $allowed:literal { $($(#[$vdoc:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALLOWED: &'static str = $allowed;
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The wire code.
            pub fn code(&self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Rule;
            fn try_from(s: &str) -> Result<Self, Rule> {
                match s.trim() {
                    "" => Err(Rule::Missing),
                    $($code => Ok($name::$variant),)+
                    _ => Err(Rule::NotEnum { allowed: $allowed }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }

        text_serde_enum!($name);
    };
}

macro_rules! text_serde_enum {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                <$t>::try_from(s.as_str()).map_err(|rule| {
                    serde::de::Error::custom(crate::error::FieldError::new(stringify!($t), rule))
                })
            }
        }
    };
}

code_enum!(
    /// `applystatus` of the result notices: 1 approved (通过), 2 refused (未通过).
    ApplyStatus, "1 或 2" { Approved = "1", Rejected = "2" }
);
code_enum!(
    /// `scene` of `quitapply` (1 用户退保, 2 系统退保) and `cancelapply`
    /// (1 用户取消, 2 系统取消).
    Scene, "1 或 2" { User = "1", System = "2" }
);
code_enum!(
    /// `type` of `invoiceapply`: 0 普票, 1 专票.
    InvoiceKind, "0 或 1" { Ordinary = "0", Special = "1" }
);
code_enum!(
    /// `invoicetype` of `invoiceapply`: 1 电子, 2 纸质.
    InvoiceMedium, "1 或 2" { Electronic = "1", Paper = "2" }
);
code_enum!(
    /// `paytype`: 01 支付宝, 02 微信, 04 银行转账.
    PayType, "01、02 或 04" { Alipay = "01", Wechat = "02", BankTransfer = "04" }
);
code_enum!(
    /// `premiumstatus`: 0 未支付, 1 已支付.
    PremiumStatus, "0 或 1" { Unpaid = "0", Paid = "1" }
);

impl PayType {
    /// The name shown to a payer.
    pub fn label(&self) -> &'static str {
        match self {
            PayType::Alipay => "支付宝",
            PayType::Wechat => "微信",
            PayType::BankTransfer => "银行转账",
        }
    }
}

/// The 15 codes of the standard's 项目地区编码 enumeration.
pub const AREAS: [(&str, &str); 15] = [
    ("430000", "湖南省"),
    ("430100", "长沙市"),
    ("430200", "株洲市"),
    ("430300", "湘潭市"),
    ("430400", "衡阳市"),
    ("430500", "邵阳市"),
    ("430600", "岳阳市"),
    ("430700", "常德市"),
    ("430800", "张家界市"),
    ("430900", "益阳市"),
    ("431000", "郴州市"),
    ("431100", "永州市"),
    ("431200", "怀化市"),
    ("431300", "娄底市"),
    ("433100", "湘西土家族苗族自治州"),
];

/// `areacode`: one of the 15 enumerated codes, or a 6-digit code under one
/// of the 14 cities (a county such as `430102` under `430100`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct AreaCode(String);

impl AreaCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The enumerated area this code is or lies under.
    pub fn enumerated(&self) -> &'static str {
        self.lookup().0
    }

    /// The name of the city (or the province, for 430000) this code belongs to.
    pub fn city_name(&self) -> &'static str {
        self.lookup().1
    }

    fn lookup(&self) -> (&'static str, &'static str) {
        AREAS
            .iter()
            .copied()
            .find(|(code, _)| *code == self.0)
            .or_else(|| {
                AREAS[1..]
                    .iter()
                    .copied()
                    .find(|(code, _)| code[..4] == self.0[..4])
            })
            .unwrap_or(AREAS[0])
    }
}

impl TryFrom<&str> for AreaCode {
    type Error = Rule;
    fn try_from(s: &str) -> Result<Self, Rule> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Rule::Missing);
        }
        if t.chars().count() > 20 {
            return Err(Rule::TooLong { max: 20 });
        }
        if AREAS.iter().any(|(code, _)| *code == t) {
            return Ok(Self(t.to_owned()));
        }
        let under_city = t.len() == 6
            && t.bytes().all(|b| b.is_ascii_digit())
            && !t.ends_with("00")
            && AREAS[1..].iter().any(|(code, _)| code[..4] == t[..4]);
        if under_city {
            Ok(Self(t.to_owned()))
        } else {
            Err(Rule::BadAreaCode)
        }
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for AreaCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for AreaCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::try_from(s.as_str()).map_err(|rule| {
            serde::de::Error::custom(crate::error::FieldError::new("areacode", rule))
        })
    }
}
