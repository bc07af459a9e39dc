//! Validation errors. Each one names the field and reads as a clear Chinese
//! sentence, because it goes back to the platform verbatim in `msg`.

use std::fmt;

/// The rule a value broke, without the field name. Newtypes return this from
/// `TryFrom`; the message parsers attach the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Absent, `null`, or only whitespace.
    Missing,
    /// Longer than the standard's length, counted in characters.
    TooLong { max: usize },
    /// Not a plain decimal number (digits, an optional point, no sign or exponent).
    NotAmount,
    /// More than two digits after the point.
    TooManyFractionDigits,
    /// Zero where the value must be positive.
    NotPositive,
    /// Not a decimal rate between 0 and 1.
    NotRate,
    /// Not `yyyy-MM-dd HH:mm:ss`.
    NotTime,
    /// Not one of the enumerated codes.
    NotEnum { allowed: &'static str },
    /// Not a positive whole number of days.
    NotDays,
    /// Not one of the 15 area codes or a 6-digit code under one of them.
    BadAreaCode,
    /// Not an absolute http(s) URL.
    BadUrl,
    /// Not an e-mail address.
    BadEmail,
    /// Carries control characters (identifiers travel in headers and logs).
    ControlChars,
    /// A JSON object, array or boolean where text was expected.
    WrongType,
    /// Required because of another field's value.
    Conditional { when: &'static str },
    /// Must be later than another field.
    NotAfter { other: &'static str },
    /// Must equal a fixed value in this message.
    MustBe { value: &'static str },
}

/// A field that broke a rule. `Display` is the Chinese message for `msg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    pub field: &'static str,
    pub rule: Rule,
}

impl FieldError {
    pub fn new(field: &'static str, rule: Rule) -> Self {
        Self { field, rule }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.field;
        match &self.rule {
            Rule::Missing => write!(f, "{field} 不能为空"),
            Rule::TooLong { max } => write!(f, "{field} 长度不能超过{max}个字符"),
            Rule::NotAmount => write!(f, "{field} 不是合法金额"),
            Rule::TooManyFractionDigits => {
                write!(f, "{field} 不是合法金额（最多两位小数）")
            }
            Rule::NotPositive => write!(f, "{field} 必须大于0"),
            Rule::NotRate => write!(f, "{field} 不是合法费率（0 到 1 之间的小数）"),
            Rule::NotTime => write!(f, "{field} 不是合法时间（格式 yyyy-MM-dd HH:mm:ss）"),
            Rule::NotEnum { allowed } => write!(f, "{field} 取值无效（应为 {allowed}）"),
            Rule::NotDays => write!(f, "{field} 必须为正整数天数"),
            Rule::BadAreaCode => write!(f, "{field} 不是有效的项目地区编码"),
            Rule::BadUrl => write!(f, "{field} 不是合法的 http(s) 地址"),
            Rule::BadEmail => write!(f, "{field} 不是合法的邮箱地址"),
            Rule::ControlChars => write!(f, "{field} 含有非法字符"),
            Rule::WrongType => write!(f, "{field} 类型错误（应为字符串）"),
            Rule::Conditional { when } => write!(f, "{field} 在 {when} 时必须填写"),
            Rule::NotAfter { other } => write!(f, "{field} 必须晚于 {other}"),
            Rule::MustBe { value } => write!(f, "{field} 必须为 {value}"),
        }
    }
}

/// Why a whole message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("请求报文不是合法的 JSON 对象")]
    NotJsonObject,
    #[error("{0}")]
    Field(#[from] FieldError),
}

/// Attaches a field name to a rule error.
pub trait FieldContext<T> {
    fn field(self, field: &'static str) -> Result<T, FieldError>;
}

impl<T> FieldContext<T> for Result<T, Rule> {
    fn field(self, field: &'static str) -> Result<T, FieldError> {
        self.map_err(|rule| FieldError::new(field, rule))
    }
}
