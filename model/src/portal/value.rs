//! Scalars in portal records as senders write them: the same code as a
//! string or a number (`"KenhThucHien": 2` and `"KenhThucHien": "2"`),
//! flags as booleans, digits or words, amounts as numbers or text.

use serde_json::Value;

/// A code as text, trimmed: `None` for `null` or an empty string. The
/// error says what was found, for the message that names the field.
pub fn code(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => {
            let s = s.trim();
            Ok((!s.is_empty()).then(|| s.to_string()))
        }
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        other => Err(format!(
            "{other} is not a code (a string or a whole number)"
        )),
    }
}

/// A small whole number (status, channel, flags): from a string or a
/// number.
pub fn small(value: &Value) -> Result<Option<u8>, String> {
    let Some(code) = code(value)? else {
        return Ok(None);
    };
    code.parse::<u8>()
        .map(Some)
        .map_err(|_| format!("{code:?} is not a whole number from 0 to 255"))
}

/// A yes/no flag as senders write it: `true`/`false`, `1`/`0`, or those
/// as strings (`"True"`, `"1"`).
pub fn flag(value: &Value) -> Result<Option<bool>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(Some(false)),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(Some(true)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(format!("{s:?} is not a yes/no flag (true/false or 1/0)")),
        },
        other => Err(format!("{other} is not a yes/no flag (true/false or 1/0)")),
    }
}

/// An amount of money (VND), from a number or a string: not negative.
pub fn amount(value: &Value) -> Result<Option<f64>, String> {
    let x = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match x {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
        _ => Err(format!(
            "{value} is not an amount (a number of đồng, 0 or more)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_code_is_read_from_a_string_or_a_number() {
        assert_eq!(code(&json!("G09.20 ")), Ok(Some("G09.20".into())));
        assert_eq!(code(&json!(27)), Ok(Some("27".into())));
        assert_eq!(code(&json!("")), Ok(None));
        assert_eq!(code(&Value::Null), Ok(None));
        assert!(code(&json!(2.5)).unwrap_err().contains("2.5 is not a code"));
        assert!(code(&json!([1])).unwrap_err().contains("is not a code"));
        assert_eq!(small(&json!("2")), Ok(Some(2)));
        assert_eq!(small(&json!(10)), Ok(Some(10)));
        assert!(
            small(&json!("hai"))
                .unwrap_err()
                .contains("\"hai\" is not a whole number")
        );
        assert!(small(&json!(300)).unwrap_err().contains("\"300\""));
    }

    #[test]
    fn flags_and_amounts_take_the_forms_senders_use() {
        for (v, want) in [
            (json!(true), Some(true)),
            (json!(0), Some(false)),
            (json!("True"), Some(true)),
            (json!("0"), Some(false)),
            (json!(""), None),
            (Value::Null, None),
        ] {
            assert_eq!(flag(&v), Ok(want), "{v}");
        }
        assert!(
            flag(&json!(2))
                .unwrap_err()
                .contains("2 is not a yes/no flag")
        );
        assert!(
            flag(&json!("có"))
                .unwrap_err()
                .contains("\"có\" is not a yes/no flag")
        );
        assert_eq!(amount(&json!(50000)), Ok(Some(50_000.0)));
        assert_eq!(amount(&json!(" 1500.5 ")), Ok(Some(1_500.5)));
        assert_eq!(amount(&json!("")), Ok(None));
        assert!(
            amount(&json!(-1))
                .unwrap_err()
                .contains("-1 is not an amount")
        );
        assert!(
            amount(&json!("năm nghìn"))
                .unwrap_err()
                .contains("is not an amount")
        );
    }
}
