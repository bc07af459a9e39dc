//! Business reports (业务报表): what the commitment letter (附件3) and the
//! acceptance (附件4) ask an institution to hand over, per day and per
//! month, per counterpart and per city.
//!
//! [`generate`] counts the figures of a [`Period`] from the tables the
//! workers write ([`figures`]), renders them ([`render`]: XLSX, CSV and a
//! one-page PDF), stores the three files with the issued files and records
//! the report (`reports`). A report generated again replaces the earlier
//! one of its period.

pub mod figures;
pub mod render;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use gw_files::{FileKind, FileStore, NewFile};
use gw_storage::Db;
use gw_storage::reports::{self, ReportRow};
use gw_storage::sea_orm::TransactionTrait;

pub use figures::{Figures, Tables};

/// China Standard Time: the platform's day and month.
fn china() -> chrono::FixedOffset {
    gw_protocol::types::cst()
}

/// A day or a month, in China time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day(NaiveDate),
    /// The month of this date (its first day).
    Month(NaiveDate),
}

#[derive(Debug, thiserror::Error)]
pub enum PeriodError {
    #[error("a day is YYYY-MM-DD, not {0:?}")]
    Day(String),
    #[error("a month is YYYY-MM, not {0:?}")]
    Month(String),
}

impl Period {
    /// `2026-11-28`.
    pub fn day(s: &str) -> Result<Self, PeriodError> {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Period::Day)
            .map_err(|_| PeriodError::Day(s.to_owned()))
    }

    /// `2026-11`.
    pub fn month(s: &str) -> Result<Self, PeriodError> {
        NaiveDate::parse_from_str(&format!("{}-01", s.trim()), "%Y-%m-%d")
            .map(Period::Month)
            .map_err(|_| PeriodError::Month(s.to_owned()))
    }

    /// The China day before the one `now` falls in.
    pub fn yesterday(now: DateTime<Utc>) -> Self {
        let today = now.with_timezone(&china()).date_naive();
        Period::Day(today.pred_opt().unwrap_or(today))
    }

    /// The China month before the one `now` falls in.
    pub fn last_month(now: DateTime<Utc>) -> Self {
        let today = now.with_timezone(&china()).date_naive();
        let first = today.with_day(1).unwrap_or(today);
        let last = first.pred_opt().unwrap_or(first);
        Period::Month(last.with_day(1).unwrap_or(last))
    }

    /// `daily-2026-11-28` or `monthly-2026-11`.
    pub fn name(&self) -> String {
        match self {
            Period::Day(d) => format!("daily-{}", d.format("%Y-%m-%d")),
            Period::Month(d) => format!("monthly-{}", d.format("%Y-%m")),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Period::Day(_) => "daily",
            Period::Month(_) => "monthly",
        }
    }

    /// `[start, end)` in UTC.
    pub fn range(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let (start, end) = match *self {
            Period::Day(d) => (d, d.succ_opt().unwrap_or(d)),
            Period::Month(d) => {
                let next = if d.month() == 12 {
                    NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
                };
                (d, next.unwrap_or(d))
            }
        };
        let utc = |d: NaiveDate| {
            china()
                .from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
                .single()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };
        (utc(start), utc(end))
    }

    /// As a person reads it: `2026-11-28（北京时间）`.
    pub fn label(&self) -> String {
        match self {
            Period::Day(d) => format!("{}（北京时间 00:00–24:00）", d.format("%Y年%m月%d日")),
            Period::Month(d) => format!("{}（北京时间）", d.format("%Y年%m月")),
        }
    }
}

/// A generated report: its record and its tables.
#[derive(Debug, Clone)]
pub struct Report {
    pub row: ReportRow,
    pub tables: Tables,
    /// The files as rendered, by format (`xlsx`, `csv`, `pdf`), for a caller
    /// that writes them out without reading them back from the store.
    pub files: Vec<(&'static str, Vec<u8>)>,
}

/// Counts, renders, stores and records the report of `period`.
pub async fn generate(
    db: &Db,
    files: &dyn FileStore,
    institution: &str,
    period: Period,
) -> anyhow::Result<Report> {
    use anyhow::Context as _;
    let (from, to) = period.range();
    let tables = figures::count(db.conn(), from, to)
        .await
        .context("counting the report's figures")?;
    let title = match period {
        Period::Day(_) => "电子投标保函业务日报",
        Period::Month(_) => "电子投标保函业务月报",
    };
    let now = Utc::now();
    let xlsx = render::xlsx(title, &period.label(), &tables).context("writing the XLSX")?;
    let csv = render::csv(&tables).into_bytes();
    let pdf = render::pdf(
        title,
        &period.label(),
        institution,
        &tables,
        gw_protocol::WireTime::from_utc(now),
    )
    .context("drawing the PDF summary")?;
    let file = |content_type: &str| NewFile {
        kind: FileKind::Report,
        applyno: None,
        counterpart: String::new(),
        content_type: content_type.to_owned(),
    };
    let rendered = vec![("xlsx", xlsx), ("csv", csv), ("pdf", pdf)];
    let mut staged = Vec::with_capacity(rendered.len());
    for (format, bytes) in &rendered {
        let content_type = content_type(format).unwrap_or("application/octet-stream");
        staged.push(
            files
                .upload(file(content_type), bytes.clone().into())
                .await?,
        );
    }
    let tx = db.conn().begin().await?;
    // Replicas writing the same report take turns; the later one replaces.
    gw_storage::locks::hold(&tx, &format!("report:{}", period.name())).await?;
    let mut tokens = Vec::with_capacity(staged.len());
    for s in staged {
        tokens.push(files.record(&tx, s).await?.token);
    }
    let [xlsx_token, csv_token, pdf_token]: [String; 3] = tokens
        .try_into()
        .map_err(|_| anyhow::anyhow!("three report files were not recorded"))?;
    let row = ReportRow {
        name: period.name(),
        period: period.kind().to_owned(),
        starts_at: from,
        ends_at: to,
        generated_at: now,
        figures: serde_json::to_value(&tables)?,
        xlsx_token,
        csv_token,
        pdf_token,
    };
    reports::put(&tx, row.clone()).await?;
    // Announced with the report, in its transaction: a bank's systems
    // binding `report.*` fetch the files.
    let links = rendered
        .iter()
        .map(|(f, _)| ((*f).to_owned(), format!("/admin/reports/{}/{f}", row.name)))
        .collect();
    let (to, message) =
        gw_contract::events::report_message(&gw_contract::events::ReportGenerated {
            name: row.name.clone(),
            period: row.period.clone(),
            starts_at: from,
            ends_at: to,
            files: links,
            totals: serde_json::to_value(&tables.total)?,
        })?;
    gw_bus_sql::outbox::add(&tx, &to, &message).await?;
    tx.commit().await?;
    Ok(Report {
        row,
        tables,
        files: rendered,
    })
}

/// The file of `report` in `format` (`xlsx`, `csv`, `pdf`): its token, the
/// name a person saves it as, and its content type.
pub fn file_of(row: &ReportRow, format: &str) -> Option<(String, String, &'static str)> {
    let token = match format {
        "xlsx" => &row.xlsx_token,
        "csv" => &row.csv_token,
        "pdf" => &row.pdf_token,
        _ => return None,
    };
    Some((
        token.clone(),
        format!("{}.{format}", row.name),
        content_type(format)?,
    ))
}

/// The content type of a report file in `format`.
pub fn content_type(format: &str) -> Option<&'static str> {
    match format {
        "xlsx" => Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        "csv" => Some("text/csv; charset=utf-8"),
        "pdf" => Some("application/pdf"),
        _ => None,
    }
}

/// When the next scheduled run is due: the next `at` (a China time of day)
/// after `now`.
pub fn next_run(now: DateTime<Utc>, at: chrono::NaiveTime) -> DateTime<Utc> {
    let local = now.with_timezone(&china());
    let today = local.date_naive().and_time(at);
    let candidate = china()
        .from_local_datetime(&today)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    if candidate > now {
        candidate
    } else {
        candidate + chrono::Duration::days(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_china_day_is_16_to_16_utc() {
        let (from, to) = Period::day("2026-11-28").unwrap().range();
        assert_eq!(from.to_rfc3339(), "2026-11-27T16:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-11-28T16:00:00+00:00");
    }

    #[test]
    fn a_december_month_ends_in_january() {
        let (from, to) = Period::month("2026-12").unwrap().range();
        assert_eq!(from.to_rfc3339(), "2026-11-30T16:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-12-31T16:00:00+00:00");
    }

    #[test]
    fn bad_periods_are_refused() {
        assert!(Period::day("2026-13-01").is_err());
        assert!(Period::day("28/11/2026").is_err());
        assert!(Period::month("2026-00").is_err());
    }

    #[test]
    fn yesterday_and_last_month_are_china_dates() {
        // 2026-12-01 01:00 in China is 2026-11-30 17:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap();
        assert_eq!(Period::yesterday(now).name(), "daily-2026-11-30");
        assert_eq!(Period::last_month(now).name(), "monthly-2026-11");
    }

    #[test]
    fn the_next_run_is_the_next_china_time_of_day() {
        let at = chrono::NaiveTime::from_hms_opt(1, 0, 0).unwrap();
        // 00:30 China: today 01:00 China.
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 16, 30, 0).unwrap();
        assert_eq!(next_run(now, at).to_rfc3339(), "2026-11-28T17:00:00+00:00");
        // 02:00 China: tomorrow's.
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 18, 0, 0).unwrap();
        assert_eq!(next_run(now, at).to_rfc3339(), "2026-11-29T17:00:00+00:00");
    }
}
