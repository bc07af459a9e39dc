//! Amounts in Chinese capitals (大写金额), as banks write them on guarantees:
//! `200000.00` is 贰拾万元整, `1234.56` is 壹仟贰佰叁拾肆元伍角陆分.

use gw_protocol::Amount;

const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
const PLACES: [&str; 4] = ["", "拾", "佰", "仟"];
const GROUPS: [&str; 5] = ["", "万", "亿", "万亿", "亿亿"];

/// One group of four digits (1..=9999), without leading zeros.
fn group(g: u32) -> String {
    let mut out = String::new();
    let mut zero = false;
    for place in (0..4).rev() {
        let d = (g / 10u32.pow(place)) % 10;
        if d == 0 {
            zero = !out.is_empty();
            continue;
        }
        if zero {
            out.push('零');
            zero = false;
        }
        out.push(DIGITS[d as usize]);
        out.push_str(PLACES[place as usize]);
    }
    out
}

fn integer(mut n: u128) -> String {
    if n == 0 {
        return "零".to_owned();
    }
    let mut groups = Vec::new();
    while n > 0 {
        groups.push((n % 10_000) as u32);
        n /= 10_000;
    }
    let mut out = String::new();
    let mut gap = false;
    for (i, g) in groups.iter().enumerate().rev() {
        if *g == 0 {
            gap = !out.is_empty();
            continue;
        }
        if !out.is_empty() && (gap || *g < 1000) {
            out.push('零');
        }
        out.push_str(&group(*g));
        out.push_str(GROUPS.get(i).copied().unwrap_or(""));
        gap = false;
    }
    out
}

/// The amount in capitals, ending in 整 when there are no fen.
pub fn to_capital(amount: &Amount) -> String {
    let cents = amount.to_cents().unwrap_or(0).max(0) as u128;
    let yuan = cents / 100;
    let jiao = (cents / 10 % 10) as usize;
    let fen = (cents % 10) as usize;
    let mut out = String::new();
    if yuan > 0 || (jiao == 0 && fen == 0) {
        out.push_str(&integer(yuan));
        out.push('元');
    }
    if jiao > 0 {
        out.push(DIGITS[jiao]);
        out.push('角');
    } else if fen > 0 && yuan > 0 {
        out.push('零');
    }
    if fen > 0 {
        out.push(DIGITS[fen]);
        out.push('分');
    } else {
        out.push('整');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(s: &str) -> String {
        to_capital(&Amount::try_from(s).unwrap())
    }

    #[test]
    fn common_amounts() {
        assert_eq!(cap("200000.00"), "贰拾万元整");
        assert_eq!(cap("1234.56"), "壹仟贰佰叁拾肆元伍角陆分");
        assert_eq!(cap("300"), "叁佰元整");
        assert_eq!(cap("10"), "壹拾元整");
        assert_eq!(cap("0"), "零元整");
    }

    #[test]
    fn zeros_inside_and_between_groups() {
        assert_eq!(cap("1001"), "壹仟零壹元整");
        assert_eq!(cap("100010000"), "壹亿零壹万元整");
        assert_eq!(cap("10000001"), "壹仟万零壹元整");
        assert_eq!(cap("1000000"), "壹佰万元整");
        assert_eq!(cap("105000"), "壹拾万伍仟元整");
        assert_eq!(cap("1010"), "壹仟零壹拾元整");
        assert_eq!(cap("100000000"), "壹亿元整");
    }

    #[test]
    fn jiao_and_fen() {
        assert_eq!(cap("100.05"), "壹佰元零伍分");
        assert_eq!(cap("100.50"), "壹佰元伍角整");
        assert_eq!(cap("0.50"), "伍角整");
        assert_eq!(cap("0.05"), "伍分");
    }
}
