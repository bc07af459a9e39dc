//! Masking of personal data for logs and stored notice records.
//!
//! Phone numbers, account numbers, e-mail addresses, people's names and
//! postal addresses never reach a log or the notice record in clear.

use serde_json::Value;

/// What kind of personal data a value is; decides how it is masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PiiKind {
    Name,
    Phone,
    Account,
    Email,
    Address,
    Ip,
}

/// The wire fields that carry personal data, and their kind.
pub fn pii_kind_of(field: &str) -> Option<PiiKind> {
    Some(match field {
        "jbrname" | "applyusername" | "contactname" | "payname" | "payeename" => PiiKind::Name,
        "jbrphone" | "applyuserphone" | "phone" | "mobile" => PiiKind::Phone,
        "payaccount" | "payeeaccount" | "account" => PiiKind::Account,
        "email" => PiiKind::Email,
        "contactaddress" => PiiKind::Address,
        "ipcontent" => PiiKind::Ip,
        _ => return None,
    })
}

/// Masks one value of the given kind.
pub fn mask(kind: PiiKind, value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let keep = |head: usize, tail: usize| -> String {
        if n <= head + tail {
            // Too short to show anything safely but the last character.
            let shown = n.min(1);
            let mut s = "*".repeat(n - shown);
            s.extend(&chars[n - shown..]);
            return s;
        }
        let mut s: String = chars[..head].iter().collect();
        s.push_str(&"*".repeat(n - head - tail));
        s.extend(&chars[n - tail..]);
        s
    };
    match kind {
        PiiKind::Phone => keep(3, 4),
        PiiKind::Account => keep(4, 4),
        PiiKind::Name => {
            if n == 0 {
                String::new()
            } else {
                let mut s: String = chars[..1].iter().collect();
                s.push_str(&"*".repeat(n.saturating_sub(1).max(1)));
                s
            }
        }
        PiiKind::Email => match value.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        },
        PiiKind::Address => {
            let head: String = chars.iter().take(6).collect();
            format!("{head}****")
        }
        PiiKind::Ip => {
            let parts: Vec<&str> = value.split('.').collect();
            if parts.len() == 4 {
                format!("{}.{}.*.*", parts[0], parts[1])
            } else {
                keep(0, 2)
            }
        }
    }
}

/// A copy of a JSON message with every personal field masked, at any depth.
pub fn mask_json(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let masked = match (pii_kind_of(k), v) {
                        (Some(kind), Value::String(s)) => Value::String(mask(kind, s)),
                        (Some(_), Value::Number(n)) => {
                            Value::String(mask(PiiKind::Account, &n.to_string()))
                        }
                        _ => mask_json(v),
                    };
                    (k.clone(), masked)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_json).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_keeps_prefix_and_last_four() {
        assert_eq!(mask(PiiKind::Phone, "13800138000"), "138****8000");
    }

    #[test]
    fn account_keeps_first_and_last_four() {
        assert_eq!(
            mask(PiiKind::Account, "6222020000001234"),
            "6222********1234"
        );
    }

    #[test]
    fn short_values_show_at_most_one_character() {
        assert_eq!(mask(PiiKind::Account, "1234"), "***4");
        assert_eq!(mask(PiiKind::Phone, ""), "");
    }

    #[test]
    fn names_keep_the_family_name() {
        assert_eq!(mask(PiiKind::Name, "张三"), "张*");
        assert_eq!(mask(PiiKind::Name, "欧阳娜娜"), "欧***");
        assert_eq!(mask(PiiKind::Name, "李"), "李*");
    }

    #[test]
    fn email_keeps_the_domain() {
        assert_eq!(
            mask(PiiKind::Email, "zhangsan@example.com"),
            "z***@example.com"
        );
    }

    #[test]
    fn address_and_ip() {
        assert_eq!(
            mask(PiiKind::Address, "湖南省长沙市岳麓区麓山南路1号"),
            "湖南省长沙市****"
        );
        assert_eq!(mask(PiiKind::Ip, "10.33.128.248"), "10.33.*.*");
    }

    #[test]
    fn json_masks_personal_fields_at_any_depth_and_keeps_others() {
        let v = serde_json::json!({
            "applyno": "TB1",
            "jbrphone": "13800138000",
            "jbrname": "张三",
            "nested": [{"payeeaccount": "6222020000001234"}],
            "bzjamount": "200000.00"
        });
        let m = mask_json(&v);
        assert_eq!(m["applyno"], "TB1");
        assert_eq!(m["bzjamount"], "200000.00");
        assert_eq!(m["jbrphone"], "138****8000");
        assert_eq!(m["jbrname"], "张*");
        assert_eq!(m["nested"][0]["payeeaccount"], "6222********1234");
    }
}
