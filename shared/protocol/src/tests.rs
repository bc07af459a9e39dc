//! One test per rule of the standard, plus the conditional fields of
//! CONTRACT.md, for all 16 interfaces.

use serde_json::{Value, json};

use super::*;
use crate::codes::AREAS;

/// A valid example of every interface, as the wire carries it.
pub(crate) fn sample(i: Interface) -> Value {
    match i {
        Interface::BaohanApply => json!({
            "applyno": "TB202511280001", "biddername": "湖南建工集团有限公司",
            "biddercode": "91430000183764427X", "bzjamount": "200000.00",
            "jbrname": "张三", "jbrphone": "13800138000"
        }),
        Interface::PayApply => json!({"applyno": "TB202511280001"}),
        Interface::RevertApply => json!({
            "applyno": "TB202511280001", "baohanno": "BH2025112800000001",
            "biaoduanno": "BD-001", "biaoduanname": "某某道路工程第一标段", "zbr": "长沙市某某建设管理中心",
            "zbrorgnum": "12430100MB1234567X", "bidtime": "2025-12-01 09:30:00", "bidvalid": "90",
            "pcjname": "某某道路工程", "pcjcode": "XM-2025-001", "areacode": "430102"
        }),
        Interface::InvoiceApply => json!({
            "applicationno": "FP0001", "applyno": "TB202511280001", "baohanno": "BH2025112800000001",
            "biddername": "湖南建工集团有限公司", "biddercode": "91430000183764427X", "amount": "300.00",
            "type": "0", "invoicetype": "1", "email": "cw@example.com"
        }),
        Interface::QuitApply => json!({
            "applicationno": "TH0001", "applyno": "TB202511280001", "baohanno": "BH2025112800000001",
            "reason": "项目终止", "scene": "2"
        }),
        Interface::ClaimApply => json!({
            "applicationno": "LP0001", "applyno": "TB202511280001", "baohanno": "BH2025112800000001",
            "payeename": "长沙市某某建设管理中心", "payeeaccount": "6222020000000000",
            "payeebank": "中国建设银行长沙分行", "applymount": "200000.00", "applyusername": "李四",
            "applyuserphone": "13900139000", "reason": "中标后无正当理由放弃中标",
            "filelist": [{"fileurl": "http://127.0.0.1:19980/files/a.pdf"}]
        }),
        Interface::LogoutApply => json!({
            "applicationno": "ZX0001", "applyno": "TB202511280001", "baohanno": "BH2025112800000001"
        }),
        Interface::CancelApply => json!({"applyno": "TB202511280001", "scene": "1"}),
        Interface::ProcessNotice => json!({
            "applyno": "TB202511280001", "applystatus": "1", "remark": "通过", "rate": "0.0015",
            "cost": "300.00"
        }),
        Interface::PayNotice => json!({
            "applyno": "TB202511280001", "premiumstatus": "1", "paytype": "04", "paynumber": "P0001",
            "paymoney": "300.00", "paydate": "2025-11-28 10:00:00", "payname": "湖南建工集团有限公司",
            "payaccount": "6222020000001234", "paybank": "中国银行长沙分行", "remark": "通过"
        }),
        Interface::BaohanNotice => json!({
            "applyno": "TB202511280001", "baohanno": "BH2025112800000001", "instname": "某某担保有限公司",
            "instcode": "91430100MA4L0000XX", "generatetime": "2025-11-28 10:05:00", "rate": "0.0015",
            "cost": "300.00", "baohanurl": "https://gw.example.com/files/abc", "remark": "通过"
        }),
        Interface::RevertNotice => json!({
            "applyno": "TB202511280001", "baohanno": "BH2025112800000001",
            "poltime": "2025-12-01 09:30:00", "validtime": "2026-03-02 23:59:59",
            "baohanurl": "https://gw.example.com/files/def"
        }),
        Interface::InvoiceNotice => json!({
            "applicationno": "FP0001", "baohanno": "BH2025112800000001", "applyno": "TB202511280001",
            "applystatus": "1", "invoiceamount": "300.00", "invoicetime": "2025-12-02 10:00:00",
            "invoiceurl": "https://gw.example.com/files/ghi", "remark": "通过"
        }),
        Interface::QuitNotice => json!({
            "applicationno": "TH0001", "applyno": "TB202511280001", "baohanno": "BH2025112800000001",
            "applystatus": "1", "quittime": "2025-11-30 10:00:00", "quitamount": "300.00", "remark": "无"
        }),
        Interface::ClaimNotice => json!({
            "applicationno": "LP0001", "applyno": "TB202511280001", "baohanno": "BH2025112800000001",
            "applystatus": "1", "claimtime": "2025-12-10 10:00:00", "payeeaccount": "6222020000000000",
            "payeename": "长沙市某某建设管理中心", "payeebank": "中国建设银行长沙分行",
            "claimamount": "200000.00", "remark": "已赔付"
        }),
        Interface::LogoutNotice => json!({
            "applicationno": "ZX0001", "applyno": "TB202511280001", "baohanno": "BH2025112800000001",
            "applystatus": "1", "remark": "已注销", "logouttime": "2025-12-20 10:00:00"
        }),
    }
}

/// The fields the standard marks 是否必须 = 是.
fn required_fields(i: Interface) -> &'static [&'static str] {
    match i {
        Interface::BaohanApply => &[
            "applyno",
            "biddername",
            "biddercode",
            "bzjamount",
            "jbrname",
            "jbrphone",
        ],
        Interface::PayApply => &["applyno"],
        Interface::RevertApply => &[
            "applyno",
            "baohanno",
            "biaoduanno",
            "biaoduanname",
            "zbr",
            "zbrorgnum",
            "bidtime",
            "bidvalid",
            "pcjname",
            "pcjcode",
            "areacode",
        ],
        Interface::InvoiceApply => &[
            "applicationno",
            "applyno",
            "baohanno",
            "biddername",
            "biddercode",
            "amount",
            "type",
            "invoicetype",
        ],
        Interface::QuitApply => &["applicationno", "applyno", "baohanno", "reason", "scene"],
        Interface::ClaimApply => &[
            "applicationno",
            "applyno",
            "baohanno",
            "payeename",
            "payeeaccount",
            "payeebank",
            "applymount",
            "applyusername",
            "applyuserphone",
            "reason",
        ],
        Interface::LogoutApply => &["applicationno", "applyno", "baohanno"],
        Interface::CancelApply => &["applyno", "scene"],
        Interface::ProcessNotice => &["applyno", "applystatus", "remark"],
        Interface::PayNotice => &[
            "applyno",
            "premiumstatus",
            "paytype",
            "paynumber",
            "paymoney",
            "paydate",
            "payname",
            "payaccount",
            "paybank",
            "remark",
        ],
        Interface::BaohanNotice => &[
            "applyno",
            "baohanno",
            "instname",
            "instcode",
            "generatetime",
            "rate",
            "cost",
            "baohanurl",
            "remark",
        ],
        Interface::RevertNotice => &["applyno", "baohanno", "poltime", "validtime", "baohanurl"],
        Interface::InvoiceNotice => &[
            "applicationno",
            "baohanno",
            "applyno",
            "applystatus",
            "remark",
        ],
        Interface::QuitNotice => &[
            "applicationno",
            "applyno",
            "baohanno",
            "applystatus",
            "remark",
        ],
        Interface::ClaimNotice => &[
            "applicationno",
            "applyno",
            "baohanno",
            "applystatus",
            "remark",
        ],
        Interface::LogoutNotice => &[
            "applicationno",
            "applyno",
            "baohanno",
            "applystatus",
            "remark",
        ],
    }
}

/// Length limits of the standard for each interface's text fields.
fn length_limits(i: Interface) -> &'static [(&'static str, usize)] {
    match i {
        Interface::BaohanApply => &[
            ("applyno", 50),
            ("biddername", 200),
            ("biddercode", 50),
            ("jbrname", 50),
            ("jbrphone", 50),
        ],
        Interface::PayApply => &[("applyno", 50)],
        Interface::RevertApply => &[
            ("baohanno", 50),
            ("biaoduanno", 100),
            ("biaoduanname", 255),
            ("zbr", 200),
            ("zbrorgnum", 50),
            ("pcjname", 255),
            ("pcjcode", 100),
        ],
        Interface::InvoiceApply => &[("applicationno", 50), ("biddername", 200), ("email", 100)],
        Interface::QuitApply => &[("reason", 500)],
        Interface::ClaimApply => &[
            ("payeename", 200),
            ("payeeaccount", 50),
            ("payeebank", 200),
            ("applyusername", 200),
            ("applyuserphone", 50),
            ("reason", 500),
        ],
        Interface::LogoutApply => &[("applicationno", 50)],
        Interface::CancelApply => &[("applyno", 50)],
        Interface::ProcessNotice => &[("remark", 500)],
        Interface::PayNotice => &[
            ("paynumber", 50),
            ("payname", 200),
            ("payaccount", 50),
            ("paybank", 200),
            ("remark", 500),
        ],
        Interface::BaohanNotice => &[
            ("instname", 200),
            ("instcode", 50),
            ("baohanurl", 500),
            ("remark", 500),
        ],
        Interface::RevertNotice => &[("baohanurl", 500)],
        Interface::InvoiceNotice => &[("invoiceurl", 500), ("remark", 500)],
        Interface::QuitNotice => &[("remark", 500)],
        Interface::ClaimNotice => &[("payeename", 200), ("payeebank", 200), ("remark", 500)],
        Interface::LogoutNotice => &[("remark", 500)],
    }
}

fn parse(i: Interface, v: Value) -> Result<(), ProtocolError> {
    if i.is_inbound() {
        Inbound::from_value(i, v).map(|_| ())
    } else {
        Notice::from_value(i, v).map(|_| ())
    }
}

fn err(i: Interface, v: Value) -> String {
    parse(i, v).unwrap_err().to_string()
}

fn with(i: Interface, field: &str, value: Value) -> Value {
    let mut v = sample(i);
    v[field] = value;
    v
}

fn without(i: Interface, field: &str) -> Value {
    let mut v = sample(i);
    v.as_object_mut().unwrap().remove(field);
    v
}

// ---- whole messages ----

#[test]
fn every_sample_parses_and_serialises_back_to_the_same_json() {
    for i in Interface::INBOUND {
        let m = Inbound::from_value(i, sample(i)).unwrap();
        assert_eq!(m.interface(), i);
        assert_eq!(m.applyno().as_str(), "TB202511280001");
        assert_eq!(m.to_json(), sample(i), "{i}");
    }
    for i in Interface::NOTICES {
        let m = Notice::from_value(i, sample(i)).unwrap();
        assert_eq!(m.interface(), i);
        assert_eq!(m.to_json(), sample(i), "{i}");
    }
}

#[test]
fn every_required_field_missing_is_named() {
    for i in Interface::INBOUND.into_iter().chain(Interface::NOTICES) {
        for f in required_fields(i) {
            assert_eq!(err(i, without(i, f)), format!("{f} 不能为空"), "{i}");
            assert_eq!(
                err(i, with(i, f, json!("   "))),
                format!("{f} 不能为空"),
                "{i} blank"
            );
            assert_eq!(
                err(i, with(i, f, Value::Null)),
                format!("{f} 不能为空"),
                "{i} null"
            );
        }
    }
}

#[test]
fn every_length_limit_counts_characters() {
    for i in Interface::INBOUND.into_iter().chain(Interface::NOTICES) {
        for (f, max) in length_limits(i) {
            let original = sample(i)[*f].as_str().unwrap_or("x").to_owned();
            // Exactly at the limit in CJK characters passes (when the field is free text).
            let too_long: String = if f.ends_with("url") {
                format!("https://e.com/{}", "a".repeat(*max))
            } else if *f == "email" {
                format!("{}@e.com", "a".repeat(*max))
            } else {
                "湘".repeat(*max + 1)
            };
            assert_eq!(
                err(i, with(i, f, json!(too_long))),
                format!("{f} 长度不能超过{max}个字符"),
                "{i}.{f} (was {original})"
            );
        }
    }
    // 200 CJK characters are 600 bytes but within a 200-character limit.
    let ok = with(
        Interface::BaohanApply,
        "biddername",
        json!("湘".repeat(200)),
    );
    assert!(parse(Interface::BaohanApply, ok).is_ok());
}

#[test]
fn a_non_object_body_is_refused() {
    for text in ["", "not json", "[1,2]", "\"a string\"", "42", "null"] {
        assert_eq!(
            Inbound::parse(Interface::BaohanApply, text),
            Err(ProtocolError::NotJsonObject),
            "{text}"
        );
    }
    assert_eq!(
        ProtocolError::NotJsonObject.to_string(),
        "请求报文不是合法的 JSON 对象"
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let v = with(Interface::PayApply, "somethingnew", json!("x"));
    assert!(parse(Interface::PayApply, v).is_ok());
}

#[test]
fn a_number_is_taken_by_its_text() {
    let v = with(Interface::BaohanApply, "bzjamount", json!(200000));
    let Inbound::BaohanApply(m) = Inbound::from_value(Interface::BaohanApply, v).unwrap() else {
        panic!()
    };
    assert_eq!(m.bzjamount.to_string(), "200000");
}

#[test]
fn an_object_where_text_belongs_is_a_type_error() {
    for bad in [json!({"a": 1}), json!([1]), json!(true)] {
        assert_eq!(
            err(
                Interface::BaohanApply,
                with(Interface::BaohanApply, "biddername", bad)
            ),
            "biddername 类型错误（应为字符串）"
        );
    }
}

#[test]
fn domain_types_deserialise_only_through_the_rules() {
    let ok: BaohanApply = serde_json::from_value(sample(Interface::BaohanApply)).unwrap();
    assert_eq!(ok.biddername.as_str(), "湖南建工集团有限公司");
    let bad = with(Interface::BaohanApply, "bzjamount", json!("1.234"));
    let e = serde_json::from_value::<BaohanApply>(bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bzjamount 不是合法金额"), "{e}");
}

#[test]
fn masked_json_hides_personal_data() {
    let m = Inbound::from_value(Interface::BaohanApply, sample(Interface::BaohanApply)).unwrap();
    let masked = m.masked_json();
    assert_eq!(masked["jbrphone"], "138****8000");
    assert_eq!(masked["jbrname"], "张*");
    assert_eq!(masked["biddername"], "湖南建工集团有限公司");
    let Inbound::BaohanApply(b) = m else { panic!() };
    assert_eq!(format!("{:?}", b.jbrphone), "\"138****8000\"");
}

#[test]
fn interface_names_and_paths() {
    assert_eq!(Interface::BaohanApply.path(), "v1/gua/tb/baohanapply");
    assert_eq!(
        Interface::from_name("cancelapply"),
        Some(Interface::CancelApply)
    );
    assert_eq!(
        Interface::from_name("logoutnotice"),
        Some(Interface::LogoutNotice)
    );
    assert_eq!(Interface::from_name("nope"), None);
    assert!(
        Interface::INBOUND
            .iter()
            .all(|i| i.is_inbound() && !i.is_notice())
    );
    assert!(
        Interface::NOTICES
            .iter()
            .all(|i| i.is_notice() && !i.is_inbound())
    );
    assert_eq!(
        serde_json::to_value(Interface::PayNotice).unwrap(),
        json!("paynotice")
    );
}

// ---- identifiers and text ----

#[test]
fn identifier_refuses_control_characters() {
    assert_eq!(ApplyNo::try_from("TB\u{0}1"), Err(Rule::ControlChars));
    assert_eq!(
        err(Interface::PayApply, json!({"applyno": "TB\n1"})),
        "applyno 含有非法字符"
    );
}

#[test]
fn identifier_is_trimmed() {
    assert_eq!(ApplyNo::try_from("  TB1 ").unwrap().as_str(), "TB1");
}

#[test]
fn identifier_length_is_fifty_characters() {
    assert!(ApplyNo::try_from("A".repeat(50).as_str()).is_ok());
    assert_eq!(
        ApplyNo::try_from("A".repeat(51).as_str()),
        Err(Rule::TooLong { max: 50 })
    );
}

#[test]
fn text_refuses_blank() {
    assert_eq!(Text::<10>::try_from(" \t"), Err(Rule::Missing));
}

// ---- amounts ----

#[test]
fn amount_accepts_plain_decimals_up_to_two_places() {
    for ok in ["0", "1", "200000", "200000.0", "200000.00", "0.01", " 5.5 "] {
        assert!(Amount::try_from(ok).is_ok(), "{ok}");
    }
    assert_eq!(
        Amount::try_from("200000.00").unwrap().to_string(),
        "200000.00"
    );
}

#[test]
fn amount_refuses_three_fraction_digits() {
    assert_eq!(Amount::try_from("1.234"), Err(Rule::TooManyFractionDigits));
    assert_eq!(
        err(
            Interface::BaohanApply,
            with(Interface::BaohanApply, "bzjamount", json!("1.234"))
        ),
        "bzjamount 不是合法金额（最多两位小数）"
    );
}

#[test]
fn amount_refuses_signs_exponents_separators_and_words() {
    for bad in [
        "-1",
        "+1",
        "1e5",
        "1E5",
        "1.",
        ".5",
        "1,000",
        "abc",
        "1 000",
        "１００",
        "NaN",
    ] {
        assert_eq!(Amount::try_from(bad), Err(Rule::NotAmount), "{bad}");
    }
    assert_eq!(
        err(
            Interface::BaohanApply,
            with(Interface::BaohanApply, "bzjamount", json!("abc"))
        ),
        "bzjamount 不是合法金额"
    );
}

#[test]
fn amount_that_must_be_positive_refuses_zero() {
    assert_eq!(
        err(
            Interface::BaohanApply,
            with(Interface::BaohanApply, "bzjamount", json!("0.00"))
        ),
        "bzjamount 必须大于0"
    );
    assert_eq!(
        err(
            Interface::ClaimApply,
            with(Interface::ClaimApply, "applymount", json!("0"))
        ),
        "applymount 必须大于0"
    );
}

#[test]
fn amount_longer_than_fifty_characters_is_refused() {
    let long = format!("{}.00", "1".repeat(48));
    assert_eq!(
        Amount::try_from(long.as_str()),
        Err(Rule::TooLong { max: 50 })
    );
}

#[test]
fn amount_too_large_for_a_decimal_is_not_an_amount() {
    assert_eq!(
        Amount::try_from("9".repeat(40).as_str()),
        Err(Rule::NotAmount)
    );
}

#[test]
fn amount_rounds_half_up_to_cents() {
    let a = Amount::from_decimal_rounded("300.005".parse().unwrap()).unwrap();
    assert_eq!(a.to_string(), "300.01");
    let b = Amount::from_decimal_rounded("300.004".parse().unwrap()).unwrap();
    assert_eq!(b.to_cents_string(), "300.00");
    assert_eq!(Amount::try_from("5").unwrap().to_cents_string(), "5.00");
}

#[test]
fn invoice_amount_is_at_most_ten_characters() {
    let v = with(
        Interface::InvoiceNotice,
        "invoiceamount",
        json!("12345678.00"),
    );
    assert_eq!(
        err(Interface::InvoiceNotice, v),
        "invoiceamount 长度不能超过10个字符"
    );
}

// ---- rates ----

#[test]
fn rate_accepts_decimal_fractions() {
    for ok in ["0.0015", "0", "1", "0.5", "0.0000000001"] {
        assert!(Rate::try_from(ok).is_ok(), "{ok}");
    }
    assert_eq!(Rate::try_from("0.0015").unwrap().to_string(), "0.0015");
}

#[test]
fn rate_refuses_above_one_negative_and_garbage() {
    for bad in [
        "1.5",
        "-0.1",
        "abc",
        ".5",
        "5.",
        "0.00000000001",
        "1e-3",
        "0.1.2",
    ] {
        assert_eq!(Rate::try_from(bad), Err(Rule::NotRate), "{bad}");
    }
    assert_eq!(
        err(
            Interface::ProcessNotice,
            with(Interface::ProcessNotice, "rate", json!("2"))
        ),
        "rate 不是合法费率（0 到 1 之间的小数）"
    );
}

// ---- times ----

#[test]
fn time_is_china_standard_time_held_in_utc() {
    let t = WireTime::try_from("2025-11-28 10:00:00").unwrap();
    assert_eq!(t.utc().to_rfc3339(), "2025-11-28T02:00:00+00:00");
    assert_eq!(t.to_string(), "2025-11-28 10:00:00");
    let midnight = WireTime::try_from("2026-01-01 07:59:59").unwrap();
    assert_eq!(midnight.utc().to_rfc3339(), "2025-12-31T23:59:59+00:00");
}

#[test]
fn time_refuses_other_shapes_and_impossible_dates() {
    for bad in [
        "2025-1-5 10:00:00",
        "2025-11-28T10:00:00",
        "2025/11/28 10:00:00",
        "2025-11-28",
        "2025-02-30 10:00:00",
        "2025-11-28 24:00:00",
        "2025-11-28 10:00:00.123",
        "yesterday",
    ] {
        assert_eq!(WireTime::try_from(bad), Err(Rule::NotTime), "{bad}");
    }
    assert_eq!(
        err(
            Interface::PayNotice,
            with(Interface::PayNotice, "paydate", json!("2025-11-28"))
        ),
        "paydate 不是合法时间（格式 yyyy-MM-dd HH:mm:ss）"
    );
}

#[test]
fn wire_time_drops_subseconds() {
    let t = chrono::DateTime::parse_from_rfc3339("2025-11-28T02:00:00.987Z").unwrap();
    assert_eq!(
        WireTime::from_utc(t.to_utc()).to_string(),
        "2025-11-28 10:00:00"
    );
}

// ---- enumerations ----

#[test]
fn applystatus_is_1_or_2() {
    assert_eq!(ApplyStatus::try_from("1"), Ok(ApplyStatus::Approved));
    assert_eq!(ApplyStatus::try_from("2"), Ok(ApplyStatus::Rejected));
    assert_eq!(
        err(
            Interface::ProcessNotice,
            with(Interface::ProcessNotice, "applystatus", json!("3"))
        ),
        "applystatus 取值无效（应为 1 或 2）"
    );
}

#[test]
fn scene_is_1_or_2() {
    assert_eq!(Scene::try_from("1"), Ok(Scene::User));
    assert_eq!(Scene::try_from("2"), Ok(Scene::System));
    assert_eq!(
        err(
            Interface::CancelApply,
            with(Interface::CancelApply, "scene", json!("0"))
        ),
        "scene 取值无效（应为 1 或 2）"
    );
    assert!(
        parse(
            Interface::QuitApply,
            with(Interface::QuitApply, "scene", json!("3"))
        )
        .is_err()
    );
}

#[test]
fn invoice_type_is_0_or_1() {
    assert_eq!(InvoiceKind::try_from("0"), Ok(InvoiceKind::Ordinary));
    assert_eq!(InvoiceKind::try_from("1"), Ok(InvoiceKind::Special));
    assert_eq!(
        err(
            Interface::InvoiceApply,
            with(Interface::InvoiceApply, "type", json!("2"))
        ),
        "type 取值无效（应为 0 或 1）"
    );
}

#[test]
fn invoicetype_is_1_or_2() {
    assert_eq!(InvoiceMedium::try_from("1"), Ok(InvoiceMedium::Electronic));
    assert_eq!(InvoiceMedium::try_from("2"), Ok(InvoiceMedium::Paper));
    assert_eq!(
        err(
            Interface::InvoiceApply,
            with(Interface::InvoiceApply, "invoicetype", json!("0"))
        ),
        "invoicetype 取值无效（应为 1 或 2）"
    );
}

#[test]
fn paytype_is_01_02_or_04() {
    assert_eq!(PayType::try_from("01"), Ok(PayType::Alipay));
    assert_eq!(PayType::try_from("02"), Ok(PayType::Wechat));
    assert_eq!(PayType::try_from("04"), Ok(PayType::BankTransfer));
    for bad in ["1", "03", "4"] {
        assert!(PayType::try_from(bad).is_err(), "{bad}");
    }
    assert_eq!(
        err(
            Interface::PayNotice,
            with(Interface::PayNotice, "paytype", json!("03"))
        ),
        "paytype 取值无效（应为 01、02 或 04）"
    );
}

#[test]
fn premiumstatus_is_0_or_1_and_paynotice_needs_1() {
    assert_eq!(PremiumStatus::try_from("0"), Ok(PremiumStatus::Unpaid));
    assert_eq!(PremiumStatus::try_from("1"), Ok(PremiumStatus::Paid));
    assert!(PremiumStatus::try_from("2").is_err());
    assert_eq!(
        err(
            Interface::PayNotice,
            with(Interface::PayNotice, "premiumstatus", json!("0"))
        ),
        "premiumstatus 必须为 1"
    );
}

#[test]
fn areacode_accepts_the_fifteen_codes() {
    for (code, name) in AREAS {
        let a = AreaCode::try_from(code).unwrap();
        assert_eq!(a.city_name(), name);
    }
}

#[test]
fn areacode_accepts_a_county_under_a_city() {
    let a = AreaCode::try_from("430102").unwrap();
    assert_eq!(a.enumerated(), "430100");
    assert_eq!(a.city_name(), "长沙市");
    assert_eq!(
        AreaCode::try_from("433101").unwrap().city_name(),
        "湘西土家族苗族自治州"
    );
}

#[test]
fn areacode_refuses_codes_outside_the_enumeration() {
    for bad in [
        "431500", "440100", "4301", "43010a", "4301020", "110000", "433200",
    ] {
        assert_eq!(AreaCode::try_from(bad), Err(Rule::BadAreaCode), "{bad}");
    }
    assert_eq!(
        err(
            Interface::RevertApply,
            with(Interface::RevertApply, "areacode", json!("440100"))
        ),
        "areacode 不是有效的项目地区编码"
    );
}

// ---- days, URLs, e-mail, credit codes ----

#[test]
fn bidvalid_is_a_positive_number_of_days() {
    assert_eq!(BidValidDays::try_from("90").unwrap().days(), 90);
    for bad in ["0", "-1", "1.5", "abc", "3651"] {
        assert_eq!(BidValidDays::try_from(bad), Err(Rule::NotDays), "{bad}");
    }
    assert_eq!(
        err(
            Interface::RevertApply,
            with(Interface::RevertApply, "bidvalid", json!("0"))
        ),
        "bidvalid 必须为正整数天数"
    );
}

#[test]
fn urls_are_absolute_http_or_https() {
    assert!(HttpUrl::<500>::try_from("https://a.example/x?y=1").is_ok());
    assert!(HttpUrl::<500>::try_from("HTTP://127.0.0.1:8080/f").is_ok());
    for bad in [
        "ftp://a/x",
        "/files/x",
        "https://",
        "https:// a/x",
        "http:///x",
        "javascript:alert(1)",
    ] {
        assert_eq!(HttpUrl::<500>::try_from(bad), Err(Rule::BadUrl), "{bad}");
    }
    assert_eq!(
        err(
            Interface::BaohanNotice,
            with(
                Interface::BaohanNotice,
                "baohanurl",
                json!("file:///etc/passwd")
            )
        ),
        "baohanurl 不是合法的 http(s) 地址"
    );
}

#[test]
fn email_must_look_like_one() {
    assert_eq!(
        err(
            Interface::InvoiceApply,
            with(Interface::InvoiceApply, "email", json!("not-an-email"))
        ),
        "email 不是合法的邮箱地址"
    );
    for bad in ["a@b", "@b.com", "a b@c.com", "a@.com", "a@b.com."] {
        assert!(
            Personal::<100>::parse(bad, mask::PiiKind::Email).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn credit_code_gb32100_checksum() {
    // Published codes with a correct check character.
    for ok in [
        "914300001837644275",
        "91110000802100433B",
        "91440300708461136T",
        "91110108551385082Q",
    ] {
        assert!(CreditCode::try_from(ok).unwrap().is_gb32100(), "{ok}");
    }
    for bad in [
        "91430000183764427X",
        "9143000018376442",
        "91430000183764427I",
        "914300001837644270X",
    ] {
        assert!(!CreditCode::try_from(bad).unwrap().is_gb32100(), "{bad}");
    }
}

#[test]
fn filelist_takes_an_array_or_an_encoded_array() {
    let encoded = with(
        Interface::LogoutApply,
        "filelist",
        json!("[{\"fileurl\":\"http://127.0.0.1/a.pdf\"}]"),
    );
    let Inbound::LogoutApply(m) = Inbound::from_value(Interface::LogoutApply, encoded).unwrap()
    else {
        panic!()
    };
    assert_eq!(m.filelist[0].fileurl.as_str(), "http://127.0.0.1/a.pdf");
    assert_eq!(
        err(
            Interface::LogoutApply,
            with(Interface::LogoutApply, "filelist", json!({"fileurl": "x"}))
        ),
        "filelist 类型错误（应为字符串）"
    );
    assert_eq!(
        err(
            Interface::LogoutApply,
            with(
                Interface::LogoutApply,
                "filelist",
                json!([{"fileurl": "nope"}])
            )
        ),
        "filelist.fileurl 不是合法的 http(s) 地址"
    );
    assert_eq!(
        err(
            Interface::LogoutApply,
            with(Interface::LogoutApply, "filelist", json!([{}]))
        ),
        "filelist.fileurl 不能为空"
    );
}

// ---- conditional fields ----

#[test]
fn processnotice_approved_needs_rate_and_cost() {
    assert_eq!(
        err(
            Interface::ProcessNotice,
            without(Interface::ProcessNotice, "rate")
        ),
        "rate 在 applystatus=1 时必须填写"
    );
    assert_eq!(
        err(
            Interface::ProcessNotice,
            without(Interface::ProcessNotice, "cost")
        ),
        "cost 在 applystatus=1 时必须填写"
    );
    let rejected = json!({"applyno": "TB1", "applystatus": "2", "remark": "信用代码校验失败"});
    assert!(parse(Interface::ProcessNotice, rejected).is_ok());
}

#[test]
fn invoiceapply_special_needs_company_details() {
    let mut v = with(Interface::InvoiceApply, "type", json!("1"));
    for f in ["address", "phone", "bank", "account"] {
        assert_eq!(
            err(Interface::InvoiceApply, v.clone()),
            format!("{f} 在 type=1（专票） 时必须填写")
        );
        v[f] = json!(match f {
            "phone" => "0731-88888888",
            "account" => "6222020000001234",
            _ => "湖南长沙",
        });
    }
    assert!(parse(Interface::InvoiceApply, v).is_ok());
}

#[test]
fn invoiceapply_electronic_needs_email() {
    assert_eq!(
        err(
            Interface::InvoiceApply,
            without(Interface::InvoiceApply, "email")
        ),
        "email 在 invoicetype=1（电子发票） 时必须填写"
    );
}

#[test]
fn invoiceapply_paper_needs_postal_details() {
    let mut v = with(Interface::InvoiceApply, "invoicetype", json!("2"));
    v.as_object_mut().unwrap().remove("email");
    for f in ["mobile", "contactname", "contactaddress"] {
        assert_eq!(
            err(Interface::InvoiceApply, v.clone()),
            format!("{f} 在 invoicetype=2（纸质发票） 时必须填写")
        );
        v[f] = json!(if f == "mobile" {
            "13800138000"
        } else {
            "张三"
        });
    }
    assert!(parse(Interface::InvoiceApply, v).is_ok());
}

#[test]
fn success_notices_need_their_success_fields() {
    let cases: [(Interface, &[&str]); 4] = [
        (Interface::InvoiceNotice, &["invoiceamount", "invoicetime"]),
        (Interface::QuitNotice, &["quittime", "quitamount"]),
        (
            Interface::ClaimNotice,
            &[
                "claimtime",
                "payeeaccount",
                "payeename",
                "payeebank",
                "claimamount",
            ],
        ),
        (Interface::LogoutNotice, &["logouttime"]),
    ];
    for (i, fields) in cases {
        for f in fields {
            assert_eq!(
                err(i, without(i, f)),
                format!("{f} 在 applystatus=1 时必须填写"),
                "{i}"
            );
        }
        // A refusal carries none of them.
        let mut refused = sample(i);
        refused["applystatus"] = json!("2");
        for f in fields {
            refused.as_object_mut().unwrap().remove(*f);
        }
        refused.as_object_mut().unwrap().remove("invoiceurl");
        assert!(parse(i, refused).is_ok(), "{i} refused");
    }
}

#[test]
fn revertnotice_validtime_is_after_poltime() {
    let v = with(
        Interface::RevertNotice,
        "validtime",
        json!("2025-12-01 09:30:00"),
    );
    assert_eq!(
        err(Interface::RevertNotice, v),
        "validtime 必须晚于 poltime"
    );
}

#[test]
fn every_rule_message_names_its_field_in_chinese() {
    let rules = [
        (Rule::Missing, "x 不能为空"),
        (Rule::TooLong { max: 5 }, "x 长度不能超过5个字符"),
        (Rule::NotAmount, "x 不是合法金额"),
        (Rule::NotPositive, "x 必须大于0"),
        (Rule::NotDays, "x 必须为正整数天数"),
        (Rule::BadAreaCode, "x 不是有效的项目地区编码"),
        (Rule::WrongType, "x 类型错误（应为字符串）"),
        (Rule::MustBe { value: "1" }, "x 必须为 1"),
    ];
    for (rule, text) in rules {
        assert_eq!(FieldError::new("x", rule).to_string(), text);
    }
}

#[test]
fn amounts_convert_to_and_from_cents() {
    assert_eq!(
        Amount::try_from("200000.00").unwrap().to_cents(),
        Some(20_000_000)
    );
    assert_eq!(Amount::try_from("0.5").unwrap().to_cents(), Some(50));
    assert_eq!(Amount::from_cents(30_001).unwrap().to_string(), "300.01");
    assert_eq!(Amount::from_cents(-1), Err(Rule::NotAmount));
}

#[test]
fn amounts_past_the_ceiling_are_refused_and_nothing_overflows() {
    // 28 digits parse as a Decimal; times 100 would overflow it (a panic
    // before): refused as an amount instead.
    for huge in [
        "9999999999999999999999999999",
        "79228162514264337593543950335",
        "1000000000000000.01",
    ] {
        assert_eq!(Amount::try_from(huge), Err(Rule::NotAmount), "{huge}");
    }
    let max = Amount::try_from("1000000000000000.00").unwrap();
    assert_eq!(max.to_cents(), Some(100_000_000_000_000_000));
    assert_eq!(Amount::from_cents(i64::MAX), Err(Rule::NotAmount));
    assert!(Amount::from_decimal_rounded(Amount::MAX * rust_decimal::Decimal::TWO).is_err());
}
