//! Input validation at the edge: every text field a route takes is checked here before it
//! reaches the database, a cache key or a log line. A bad field is a 422 whose JSON names
//! it: `{"error": "`email` contains a control character", "field": "email"}`.

use crate::error::ApiError;

/// The longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest display or workflow name.
pub const MAX_NAME_CHARS: usize = 100;
/// The shortest password.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest password (Argon2 takes any length; this bounds what a request makes it read).
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// The longest AI prompt.
pub const MAX_PROMPT_CHARS: usize = 20_000;

/// `value` without surrounding whitespace, if it has no control character (CR, LF, NUL,
/// …) and at most `max` characters.
pub fn line<'a>(field: &'static str, value: &'a str, max: usize) -> Result<&'a str, ApiError> {
    text(field, value, max)?;
    Ok(value.trim())
}

/// `value` if it has no control character and at most `max` characters.
pub fn text<'a>(field: &'static str, value: &'a str, max: usize) -> Result<&'a str, ApiError> {
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` contains a control character"),
        ));
    }
    too_long(field, value, max)?;
    Ok(value)
}

/// Multi-line text: like [`text`], but line breaks and tabs are allowed.
pub fn multiline<'a>(field: &'static str, value: &'a str, max: usize) -> Result<&'a str, ApiError> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` contains a control character"),
        ));
    }
    too_long(field, value, max)?;
    Ok(value)
}

fn too_long(field: &'static str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// A password: no control character, [`MIN_PASSWORD_CHARS`] to [`MAX_PASSWORD_CHARS`].
pub fn password(field: &'static str, value: &str) -> Result<(), ApiError> {
    text(field, value, MAX_PASSWORD_CHARS)?;
    if value.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// An email address, trimmed and lowercased: `local@domain`, the local part of at most 64
/// characters from RFC 5322's unquoted set (no leading, trailing or double dot), the domain
/// of two or more labels of letters, digits and inner hyphens. Quoted local parts and
/// address literals are refused: nobody signs up with them, and they are where header
/// injection hides.
pub fn email(field: &'static str, value: &str) -> Result<String, ApiError> {
    let email = line(field, value, MAX_EMAIL_CHARS)?.to_ascii_lowercase();
    let invalid = |why: &str| ApiError::invalid_field(field, format!("`{field}` {why}"));
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(invalid("is not an email address (no `@`)"));
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    if !local_ok {
        return Err(invalid("has an invalid part before the `@`"));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !domain_ok {
        return Err(invalid("has an invalid domain"));
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            email("email", " Ada.Lovelace+fiko@Example.co.uk ").unwrap(),
            "ada.lovelace+fiko@example.co.uk"
        );
        for bad in [
            "ada@localhost",
            "@example.com",
            "ada.example.com",
            "ada@example.com\r\nBcc: eve@example.com",
            "ada\0@example.com",
            "ada@exa\nmple.com",
            ".ada@example.com",
            "a..da@example.com",
            "ada@-example.com",
            "ada@example..com",
            "\"ada\"@example.com",
            "ada@[127.0.0.1]",
            "ada@exam ple.com",
        ] {
            let error = email("email", bad).unwrap_err();
            assert_eq!(error.field, Some("email"), "{bad:?}");
            assert_eq!(error.status.as_u16(), 422, "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(
            email("email", &long)
                .unwrap_err()
                .message
                .contains("longer")
        );
    }

    #[test]
    fn control_characters_are_refused_except_line_breaks_in_multiline_text() {
        assert!(text("name", "Ada\u{7f}", 10).is_err());
        assert!(text("name", "Ada\u{1b}[31m", 10).is_err());
        assert_eq!(line("name", "  Ada  ", 10).unwrap(), "Ada");
        assert!(multiline("prompt", "line one\nline two\r\n\tindented", 100).is_ok());
        assert!(multiline("prompt", "nul\0", 100).is_err());
        assert!(text("name", "ééééé", 5).is_ok());
        assert!(text("name", "éééééé", 5).is_err());
        assert!(password("password", "1234567").is_err());
        assert!(password("password", &"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }
}
