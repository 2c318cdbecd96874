//! Who is asking, and what they may see.
//!
//! A caller proves who they are with a token: HTTP's bearer, the Postgres
//! password, Flight SQL's basic password or bearer. The configuration keeps
//! only each token's SHA-256 (tokens are 256 random bits, so a plain hash is
//! enough; `hoso token` makes one), with a user name and a role:
//!
//! - `admin`: every row, every table, every query in `system.queries`;
//! - `planner`: every province's rows, its own queries;
//! - `province:<code>`: only rows of that province exist for it, in every
//!   table and view (the scans filter them, see [`crate::catalog`]);
//! - `ingest`: may publish events, may not run SQL.
//!
//! With no token configured, hoso is in local mode: it serves loopback only
//! and takes the user `hoso` with password `hoso` (and HTTP without a token)
//! as `admin`, so a newcomer needs no set-up.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The user and password of local mode.
pub const LOCAL_USER: &str = "hoso";
pub const LOCAL_PASSWORD: &str = "hoso";

/// What a caller may do and see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    Admin,
    Planner,
    /// The two-digit NSO code of the one province it sees.
    Province(String),
    Ingest,
}

impl Role {
    pub fn parse(text: &str) -> Result<Role, String> {
        match text {
            "admin" => Ok(Role::Admin),
            "planner" => Ok(Role::Planner),
            "ingest" => Ok(Role::Ingest),
            _ => match text.strip_prefix("province:") {
                Some(code) if code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()) => {
                    Ok(Role::Province(code.to_string()))
                }
                _ => Err(format!(
                    "unknown role {text:?}: use admin, planner, ingest or province:<two-digit code>"
                )),
            },
        }
    }

    /// The province whose rows alone it sees, if it is scoped.
    pub fn province(&self) -> Option<&str> {
        match self {
            Role::Province(code) => Some(code),
            _ => None,
        }
    }

    /// Whether it may run SQL.
    pub fn may_query(&self) -> bool {
        !matches!(self, Role::Ingest)
    }

    /// Whether it may publish events.
    pub fn may_ingest(&self) -> bool {
        matches!(self, Role::Admin | Role::Ingest)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Admin => f.write_str("admin"),
            Role::Planner => f.write_str("planner"),
            Role::Province(code) => write!(f, "province:{code}"),
            Role::Ingest => f.write_str("ingest"),
        }
    }
}

/// The protocol a query came by, for `system.queries`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Postgres,
    FlightSql,
    /// hoso's own queries: alert rules.
    Internal,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Postgres => "postgres",
            Protocol::FlightSql => "flight_sql",
            Protocol::Internal => "internal",
        }
    }
}

/// An authenticated caller of the executor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user: Arc<str>,
    pub role: Role,
    pub protocol: Protocol,
}

impl Caller {
    pub fn new(user: &str, role: Role, protocol: Protocol) -> Self {
        Caller {
            user: user.into(),
            role,
            protocol,
        }
    }
}

/// One `[[auth.tokens]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The name the caller is known by: the Postgres user, Flight SQL's
    /// basic user, `system.queries.user`.
    pub user: String,
    /// `admin`, `planner`, `province:<code>` or `ingest`.
    pub role: String,
    /// The token's SHA-256, in hex (`hoso token` prints it).
    pub sha256: String,
}

/// The `[auth]` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// No tokens: local mode (loopback only, `hoso`/`hoso` as admin).
    pub tokens: Vec<TokenConfig>,
}

/// Token checks, built once from the configuration.
#[derive(Clone, Debug)]
pub struct Auth {
    by_hash: Arc<HashMap<[u8; 32], Account>>,
}

#[derive(Debug)]
struct Account {
    user: Arc<str>,
    role: Role,
}

impl Auth {
    /// Checks every entry: a hash of 64 hex digits, a known role, a user
    /// name used once.
    pub fn new(config: &AuthConfig) -> Result<Auth, String> {
        let mut by_hash = HashMap::new();
        let mut users = std::collections::HashSet::new();
        for (i, t) in config.tokens.iter().enumerate() {
            let at = format!("auth.tokens[{i}] (user {:?})", t.user);
            if t.user.is_empty() || t.user.chars().any(|c| c.is_whitespace() || c == ':') {
                return Err(format!(
                    "{at}: the user must be a non-empty name without spaces or ':'"
                ));
            }
            if !users.insert(t.user.as_str()) {
                return Err(format!(
                    "{at}: the user appears twice; each token names its own user"
                ));
            }
            let role = Role::parse(&t.role).map_err(|e| format!("{at}: {e}"))?;
            let hash = parse_hash(&t.sha256).ok_or_else(|| {
                format!("{at}: sha256 must be 64 hex digits (`hoso token` prints it)")
            })?;
            let account = Account {
                user: t.user.as_str().into(),
                role,
            };
            if by_hash.insert(hash, account).is_some() {
                return Err(format!("{at}: the same token is configured twice"));
            }
        }
        Ok(Auth {
            by_hash: Arc::new(by_hash),
        })
    }

    /// Local mode: no token configured.
    pub fn local() -> Auth {
        Auth {
            by_hash: Arc::new(HashMap::new()),
        }
    }

    /// Whether no token is configured (loopback only, `hoso`/`hoso`).
    pub fn is_local(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The caller a bearer token stands for. In local mode, no token at all
    /// is the local admin.
    pub fn bearer(&self, token: Option<&str>, protocol: Protocol) -> Result<Caller, AuthError> {
        match token {
            None if self.is_local() => Ok(Caller::new(LOCAL_USER, Role::Admin, protocol)),
            None => Err(AuthError::Missing),
            Some(token) if self.is_local() && token == LOCAL_PASSWORD => {
                Ok(Caller::new(LOCAL_USER, Role::Admin, protocol))
            }
            Some(token) => match self.by_hash.get(&hash(token)) {
                Some(a) => Ok(Caller {
                    user: a.user.clone(),
                    role: a.role.clone(),
                    protocol,
                }),
                None => Err(AuthError::Invalid),
            },
        }
    }

    /// The caller a user name and password (the token) stand for: the
    /// Postgres login, Flight SQL's basic handshake.
    pub fn password(
        &self,
        user: &str,
        password: &str,
        protocol: Protocol,
    ) -> Result<Caller, AuthError> {
        if self.is_local() {
            return if user == LOCAL_USER && password == LOCAL_PASSWORD {
                Ok(Caller::new(LOCAL_USER, Role::Admin, protocol))
            } else {
                Err(AuthError::Invalid)
            };
        }
        match self.by_hash.get(&hash(password)) {
            Some(a) if &*a.user == user => Ok(Caller {
                user: a.user.clone(),
                role: a.role.clone(),
                protocol,
            }),
            _ => Err(AuthError::Invalid),
        }
    }
}

/// Why a caller was not let in. The message never says which part was
/// wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required: send a token (HTTP: Authorization: Bearer <token>)")]
    Missing,
    #[error("authentication failed: unknown user or token")]
    Invalid,
}

/// A new token: 256 random bits, as `hoso_` and 64 hex digits.
pub fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness from the OS: {e}"))?;
    Ok(format!("hoso_{}", to_hex(&bytes)))
}

/// What `[[auth.tokens]]` keeps of a token.
pub fn token_sha256(token: &str) -> String {
    to_hex(&hash(token))
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entries: &[(&str, &str, &str)]) -> AuthConfig {
        AuthConfig {
            tokens: entries
                .iter()
                .map(|(user, role, token)| TokenConfig {
                    user: user.to_string(),
                    role: role.to_string(),
                    sha256: token_sha256(token),
                })
                .collect(),
        }
    }

    #[test]
    fn roles_parse_and_print_back() {
        for text in ["admin", "planner", "ingest", "province:91", "province:01"] {
            assert_eq!(Role::parse(text).unwrap().to_string(), text);
        }
        for bad in [
            "",
            "Admin",
            "province:",
            "province:9",
            "province:911",
            "province:ab",
        ] {
            assert!(Role::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Role::parse("province:91").unwrap().province(), Some("91"));
        assert!(!Role::Ingest.may_query());
        assert!(!Role::Planner.may_ingest());
    }

    #[test]
    fn tokens_are_checked_by_their_hash() {
        let auth = Auth::new(&config(&[
            ("ag", "province:91", "secret-ag"),
            ("root", "admin", "secret-root"),
        ]))
        .unwrap();
        assert!(!auth.is_local());
        let c = auth.bearer(Some("secret-ag"), Protocol::Http).unwrap();
        assert_eq!((&*c.user, c.role), ("ag", Role::Province("91".into())));
        assert_eq!(auth.bearer(None, Protocol::Http), Err(AuthError::Missing));
        assert_eq!(
            auth.bearer(Some("secret-a"), Protocol::Http),
            Err(AuthError::Invalid)
        );
        // The local login is gone once tokens exist.
        assert_eq!(
            auth.password("hoso", "hoso", Protocol::Postgres),
            Err(AuthError::Invalid)
        );
        let c = auth
            .password("root", "secret-root", Protocol::Postgres)
            .unwrap();
        assert_eq!(c.role, Role::Admin);
        // A token only works with its own user name.
        assert_eq!(
            auth.password("ag", "secret-root", Protocol::Postgres),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn local_mode_is_the_hoso_admin() {
        let auth = Auth::local();
        assert!(auth.is_local());
        assert_eq!(auth.bearer(None, Protocol::Http).unwrap().role, Role::Admin);
        assert_eq!(
            auth.password("hoso", "hoso", Protocol::FlightSql)
                .unwrap()
                .role,
            Role::Admin
        );
        assert_eq!(
            auth.password("hoso", "nope", Protocol::Postgres),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn bad_entries_are_named() {
        let mut c = config(&[("ag", "province:91", "a")]);
        c.tokens[0].sha256 = "abc".into();
        assert!(Auth::new(&c).unwrap_err().contains("auth.tokens[0]"));
        let c = config(&[("ag", "province:91", "a"), ("ag", "admin", "b")]);
        assert!(Auth::new(&c).unwrap_err().contains("twice"));
        let c = config(&[("ag", "governor", "a")]);
        assert!(Auth::new(&c).unwrap_err().contains("unknown role"));
        let c = config(&[("a b", "admin", "a")]);
        assert!(Auth::new(&c).unwrap_err().contains("without spaces"));
    }

    #[test]
    fn new_tokens_are_random_and_hash_to_64_hex_digits() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("hoso_") && a.len() == 69, "{a}");
        let h = token_sha256(&a);
        assert_eq!(parse_hash(&h), Some(hash(&a)));
    }
}
