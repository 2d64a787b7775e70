//! Secrets in configuration: URLs whose password is masked wherever they are shown or logged, and
//! bearer tokens that never print at all.

use std::fmt;

use super::ConfigError;

/// A connection URL (PostgreSQL, Redis). `Display` and `Debug` show it with the password masked
/// (`postgres://user:***@host/db`); only [`SecretUrl::expose`] gives the real one.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl {
    raw: String,
    masked: String,
}

impl SecretUrl {
    /// Parses `value`, read from `from`, requiring one of `schemes`.
    ///
    /// # Errors
    /// Returns [`ConfigError::InvalidSecret`], whose message never contains the value.
    pub fn parse(from: &str, value: &str, schemes: &[&str]) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::InvalidSecret {
            source_name: from.to_owned(),
            reason,
        };
        let mut url = url::Url::parse(value).map_err(|e| invalid(format!("not a URL ({e})")))?;
        if !schemes.contains(&url.scheme()) {
            return Err(invalid(format!(
                "scheme '{}' is not supported; use {}",
                url.scheme(),
                schemes.join(" or ")
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it has no host".into()));
        }
        if url.password().is_some() {
            // Setting a password only fails for URLs that cannot have one, which were refused above.
            let _ = url.set_password(Some("***"));
        }
        mask_query(&mut url);
        Ok(Self {
            raw: value.to_owned(),
            masked: url.to_string(),
        })
    }

    /// Returns the URL with its password masked.
    pub fn masked(&self) -> &str {
        &self.masked
    }

    /// Returns the real URL, to connect with. Never log it.
    pub fn expose(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.masked)
    }
}

/// Masks the values of query parameters that carry credentials (`?user=u&password=pw`, libpq's
/// `sslpassword`, tokens and keys): drivers accept them there as well as in the authority.
fn mask_query(url: &mut url::Url) {
    if url.query().is_none() {
        return;
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(name, value)| {
            let value = if is_credential(&name) {
                "***".into()
            } else {
                value.into_owned()
            };
            (name.into_owned(), value)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
}

/// Whether a query parameter's name says it holds a credential.
fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "key", "auth", "credential"]
        .iter()
        .any(|word| name.contains(word))
}

/// A bearer token. `Display` and `Debug` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Minimum token length.
    pub const MIN_LEN: usize = 8;

    /// Parses a token: at least 8 visible ASCII characters, no spaces.
    ///
    /// # Errors
    /// Returns [`ConfigError::InvalidSecret`], whose message never contains the value.
    pub fn parse_token(from: &str, value: &str) -> Result<Self, ConfigError> {
        if value.len() < Self::MIN_LEN || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::InvalidSecret {
                source_name: from.to_owned(),
                reason: format!(
                    "a token needs at least {} visible ASCII characters and no spaces",
                    Self::MIN_LEN
                ),
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// Returns the token, to compare or hand to a client. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this token, compared without leaking through timing how long the
    /// matching prefix is.
    pub fn matches(&self, given: &str) -> bool {
        let (a, b) = (given.as_bytes(), self.0.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_masked_when_shown() {
        let url = SecretUrl::parse(
            "DATABASE_URL",
            "postgres://tse:pw@127.0.0.1:5432/test",
            &["postgres"],
        )
        .unwrap();
        assert_eq!(url.to_string(), "postgres://tse:***@127.0.0.1:5432/test");
        assert_eq!(
            format!("{url:?}"),
            "SecretUrl(postgres://tse:***@127.0.0.1:5432/test)"
        );
        assert_eq!(url.expose(), "postgres://tse:pw@127.0.0.1:5432/test");
    }

    #[test]
    fn credentials_in_the_query_are_masked_too() {
        let url = SecretUrl::parse(
            "DATABASE_URL",
            "postgres://db:5432/test?user=postgres&password=s3cr3t&sslmode=require&sslpassword=k3y&PassWord=x%20y",
            &["postgres"],
        )
        .unwrap();
        assert_eq!(
            url.masked(),
            "postgres://db:5432/test?user=postgres&password=***&sslmode=require&sslpassword=***&PassWord=***"
        );
        assert!(!format!("{url} {url:?}").contains("s3cr3t"));
        let url = SecretUrl::parse("REDIS_URL", "redis://h:6379/0?token=abc&db=1", &["redis"]).unwrap();
        assert_eq!(url.masked(), "redis://h:6379/0?token=***&db=1");
        assert!(url.expose().contains("token=abc"));
    }

    #[test]
    fn urls_without_password_are_shown_as_is() {
        let url = SecretUrl::parse("REDIS_URL", "redis://127.0.0.1:6379", &["redis"]).unwrap();
        assert_eq!(url.masked(), "redis://127.0.0.1:6379");
    }

    #[test]
    fn wrong_schemes_and_garbage_are_refused_without_echo() {
        let err = SecretUrl::parse("REDIS_URL", "http://u:pw@x", &["redis"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("scheme 'http'") && !err.contains("pw"));
        let err = SecretUrl::parse("REDIS_URL", "not a url pw", &["redis"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a URL") && !err.contains("pw"));
    }

    #[test]
    fn token_comparison_needs_every_byte() {
        let token = Secret::parse_token("TSE_ADMIN_TOKEN", "secret-token").unwrap();
        assert!(token.matches("secret-token"));
        assert!(!token.matches("secret-tokem"));
        assert!(!token.matches("secret"));
        assert!(!token.matches("secret-token-and-more"));
    }

    #[test]
    fn tokens_never_print() {
        let token = Secret::parse_token("TSE_ADMIN_TOKEN", "0123456789abcdef").unwrap();
        assert_eq!(token.to_string(), "***");
        assert!(!format!("{token:?}").contains("0123"));
        assert!(Secret::parse_token("T", "short").is_err());
        assert!(Secret::parse_token("T", "has a space in it").is_err());
    }
}
