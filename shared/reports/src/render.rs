//! A report as files a finance or compliance person opens: XLSX (one sheet
//! per table), CSV (one line per counterpart and the total), and a one-page
//! PDF summary in the guarantee's font.

use rust_xlsxwriter::{Format, Workbook};

use crate::figures::{Figures, Tables};

/// Row labels and values of one counterpart's figures, in report order.
pub fn rows(f: &Figures) -> Vec<(&'static str, String)> {
    let yuan = |c: i64| rust_decimal::Decimal::new(c, 2).to_string();
    let secs = |s: Option<i64>| s.map(|s| s.to_string()).unwrap_or_default();
    vec![
        ("受理申请 applications", f.applications.to_string()),
        ("审核通过 approved", f.approved.to_string()),
        ("审核拒绝 rejected", f.rejected.to_string()),
        ("转人工 referred", f.referred.to_string()),
        ("撤销 cancelled", f.cancelled.to_string()),
        ("出函 guarantees issued", f.guarantees_issued.to_string()),
        ("担保金额（元）guaranteed", yuan(f.guaranteed_cents)),
        (
            "还原 guarantees restored",
            f.guarantees_restored.to_string(),
        ),
        ("保费笔数 premiums", f.premiums_count.to_string()),
        ("保费（元）premiums collected", yuan(f.premiums_cents)),
        ("退保 refunds", f.refunds.to_string()),
        ("退保金额（元）refunded", yuan(f.refunds_cents)),
        ("理赔 claims paid", f.claims_paid.to_string()),
        ("理赔金额（元）claims paid", yuan(f.claims_paid_cents)),
        ("理赔时效中位（秒）claim p50 s", secs(f.claim_seconds_p50)),
        ("理赔时效最长（秒）claim max s", secs(f.claim_seconds_max)),
        ("理赔拒绝 claims refused", f.claims_refused.to_string()),
        ("注销 write-offs", f.write_offs.to_string()),
        (
            "推送成功 notices delivered",
            f.notices_delivered.to_string(),
        ),
        ("推送时延中位（秒）notice p50 s", secs(f.notice_seconds_p50)),
        ("推送时延 p99（秒）notice p99 s", secs(f.notice_seconds_p99)),
        ("重试推送 notices retried", f.notices_retried.to_string()),
        ("推送失败 notices dead", f.notices_dead.to_string()),
    ]
}

/// The XLSX: sheet 汇总 (a row per figure, a column per counterpart and
/// the total), sheet 地区 (guarantees per city), sheet 说明 (the period).
pub fn xlsx(title: &str, period: &str, t: &Tables) -> anyhow::Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let s = wb.add_worksheet();
    s.set_name("汇总")?;
    s.write_string_with_format(0, 0, "指标 figure", &bold)?;
    let columns: Vec<(&str, &Figures)> = std::iter::once(("合计 total", &t.total))
        .chain(t.by_counterpart.iter().map(|(k, v)| (k.as_str(), v)))
        .collect();
    for (c, (name, _)) in columns.iter().enumerate() {
        s.write_string_with_format(0, col(c + 1)?, *name, &bold)?;
    }
    for (c, (_, f)) in columns.iter().enumerate() {
        for (r, (label, value)) in rows(f).into_iter().enumerate() {
            let r = row(r + 1)?;
            if c == 0 {
                s.write_string(r, 0, label)?;
            }
            // Numbers as numbers, so a spreadsheet sums them.
            match value.parse::<f64>() {
                Ok(n) => s.write_number(r, col(c + 1)?, n)?,
                Err(_) => s.write_string(r, col(c + 1)?, &value)?,
            };
        }
    }
    let last = row(rows(&t.total).len() + 1)?;
    s.write_string(last, 0, "验真 verifications")?;
    s.write_number(last, 1, t.verifications as f64)?;
    s.set_column_width(0, 36)?;

    let cities = wb.add_worksheet();
    cities.set_name("地区")?;
    for (c, h) in [
        "地区 areacode",
        "出函 guarantees",
        "担保金额（元）guaranteed",
    ]
    .iter()
    .enumerate()
    {
        cities.write_string_with_format(0, col(c)?, *h, &bold)?;
    }
    for (i, (city, (n, cents))) in t.by_city.iter().enumerate() {
        let r = row(i + 1)?;
        cities.write_string(r, 0, city)?;
        cities.write_number(r, 1, *n as f64)?;
        cities.write_number(r, 2, *cents as f64 / 100.0)?;
    }
    cities.set_column_width(0, 16)?;

    let about = wb.add_worksheet();
    about.set_name("说明")?;
    about.write_string_with_format(0, 0, title, &bold)?;
    about.write_string(1, 0, period)?;
    about.write_string(
        2,
        0,
        "时间为北京时间；金额单位为元；数据取自网关业务库（各工作服务写入的同一数据）。",
    )?;
    Ok(wb.save_to_buffer()?)
}

fn col(i: usize) -> anyhow::Result<u16> {
    Ok(u16::try_from(i)?)
}

fn row(i: usize) -> anyhow::Result<u32> {
    Ok(u32::try_from(i)?)
}

/// The CSV: a header of figure names, then a line for the total and one
/// per counterpart.
pub fn csv(t: &Tables) -> String {
    let header: Vec<&str> = rows(&t.total).iter().map(|(l, _)| *l).collect();
    let mut out = format!("counterpart,{}\n", header.join(","));
    for (name, f) in std::iter::once(("total", &t.total))
        .chain(t.by_counterpart.iter().map(|(k, v)| (k.as_str(), v)))
    {
        let values: Vec<String> = rows(f).into_iter().map(|(_, v)| v).collect();
        out.push_str(&format!("{name},{}\n", values.join(",")));
    }
    out
}

/// The one-page PDF summary of the total.
pub fn pdf(
    title: &str,
    period: &str,
    institution: &str,
    t: &Tables,
    at: gw_protocol::WireTime,
) -> anyhow::Result<Vec<u8>> {
    use gw_documents::MARGIN;
    gw_documents::one_page(title, at, |c| {
        c.fill((0, 0, 0));
        c.centered(MARGIN + 22.0, 22.0, title);
        c.centered(MARGIN + 46.0, 12.0, period);
        let mut y = MARGIN + 76.0;
        y = c.field(y, "机构：", institution);
        c.rule(y - 12.0);
        y += 4.0;
        for (label, value) in rows(&t.total) {
            y = c.field(
                y,
                &format!("{label}："),
                if value.is_empty() { "—" } else { &value },
            );
        }
        y = c.field(y, "验真 verifications：", &t.verifications.to_string());
        c.rule(y - 12.0);
        let _ = c.field(y + 4.0, "生成时间：", &at.to_string());
        Ok(())
    })
}
