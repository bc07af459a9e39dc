//! Valid requests of the 8 inbound interfaces, as the platform sends them.

use gw_protocol::Interface;
use serde_json::{Value, json};

/// A unified social credit code that passes the GB 32100 check.
pub const BIDDER_CODE: &str = "914300001837644275";
/// Another valid code: a bidder of its own (its own exposure).
pub const OTHER_BIDDER_CODE: &str = "91430000MA4T7Q2K3M";

/// The `n`th of a series of valid unified social credit codes (GB 32100),
/// one bidder each: load that does not run into one bidder's exposure cap.
pub fn credit_code(n: u32) -> String {
    const CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let body = format!("91430000MA{n:07}");
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| CHARS.iter().position(|c| *c == b).unwrap_or(0) as u32 * w)
        .sum();
    let check = (31 - sum % 31) % 31;
    format!("{body}{}", char::from(CHARS[check as usize]))
}

pub fn baohanapply(applyno: &str) -> Value {
    json!({
        "applyno": applyno, "biddername": "湖南建工集团有限公司", "biddercode": BIDDER_CODE,
        "bzjamount": "200000.00", "jbrname": "张三", "jbrphone": "13800138000"
    })
}

pub fn request(i: Interface, applyno: &str) -> Value {
    match i {
        Interface::BaohanApply => baohanapply(applyno),
        Interface::PayApply => json!({"applyno": applyno}),
        Interface::RevertApply => json!({
            "applyno": applyno, "baohanno": "BH2025112800000001", "biaoduanno": "BD-001",
            "biaoduanname": "某某道路工程第一标段", "zbr": "长沙市某某建设管理中心",
            "zbrorgnum": "91440300708461136T", "bidtime": "2025-12-01 09:30:00", "bidvalid": "90",
            "pcjname": "某某道路工程", "pcjcode": "XM-2025-001", "areacode": "430102"
        }),
        Interface::InvoiceApply => json!({
            "applicationno": "FP0001", "applyno": applyno, "baohanno": "BH2025112800000001",
            "biddername": "湖南建工集团有限公司", "biddercode": BIDDER_CODE, "amount": "300.00",
            "type": "0", "invoicetype": "1", "email": "cw@example.com"
        }),
        Interface::QuitApply => json!({
            "applicationno": "TH0001", "applyno": applyno, "baohanno": "BH2025112800000001",
            "reason": "项目终止", "scene": "2"
        }),
        Interface::ClaimApply => json!({
            "applicationno": "LP0001", "applyno": applyno, "baohanno": "BH2025112800000001",
            "payeename": "长沙市某某建设管理中心", "payeeaccount": "6222020000000000",
            "payeebank": "中国建设银行长沙分行", "applymount": "200000.00", "applyusername": "李四",
            "applyuserphone": "13900139000", "reason": "中标后无正当理由放弃中标",
            "filelist": [{"fileurl": "http://127.0.0.1:19980/files/a.pdf"}]
        }),
        Interface::LogoutApply => json!({
            "applicationno": "ZX0001", "applyno": applyno, "baohanno": "BH2025112800000001"
        }),
        Interface::CancelApply => json!({"applyno": applyno, "scene": "1"}),
        other => panic!("{other} is not an inbound interface"),
    }
}

/// The sandbox cashier's form for the samples' premium (300.00).
pub const PAYMENT_FORM: [(&str, &str); 5] = [
    ("paytype", "04"),
    ("payname", "湖南建工集团有限公司"),
    ("payaccount", "6222020000001234"),
    ("paybank", "中国银行长沙分行"),
    ("paymoney", "300.00"),
];
