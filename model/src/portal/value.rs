//! Codes in portal records: senders write the same code as a string or a
//! number (`"KenhThucHien": 2` and `"KenhThucHien": "2"`).

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
}
