//! Password authentication with SCRAM-SHA-256, the PostgreSQL default.
//!
//! Passwords are turned into SCRAM salted passwords once at start-up; the
//! plain text is not kept. Unknown users get a decoy verifier, so a failed
//! login looks the same whether the user exists or not.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use pgwire::api::auth::sasl::scram::{gen_salted_password, ScramAuth, SCRAM_ITERATIONS};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::{AuthSource, DefaultServerParameterProvider, LoginInfo, Password};
use pgwire::api::ConnectionManager;
use pgwire::error::PgWireResult;

use crate::engine::settings::SERVER_VERSION;

/// A user allowed to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential").field("user", &self.user).field("password", &"<redacted>").finish()
    }
}

struct Verifier {
    salt: Vec<u8>,
    salted_password: Vec<u8>,
}

/// The users and their SCRAM verifiers.
pub struct UserStore {
    users: HashMap<String, Verifier>,
    decoy: Verifier,
}

impl fmt::Debug for UserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserStore").field("users", &self.users.keys().collect::<Vec<_>>()).finish()
    }
}

fn random_salt() -> Vec<u8> {
    uuid::Uuid::new_v4().as_bytes().to_vec()
}

fn verifier(password: &str) -> Verifier {
    let salt = random_salt();
    let salted_password = gen_salted_password(password, &salt, SCRAM_ITERATIONS);
    Verifier { salt, salted_password }
}

impl UserStore {
    pub fn new(credentials: &[Credential]) -> Self {
        let users = credentials.iter().map(|c| (c.user.clone(), verifier(&c.password))).collect();
        let decoy = verifier(&uuid::Uuid::new_v4().to_string());
        Self { users, decoy }
    }

    pub fn contains(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }
}

#[async_trait]
impl AuthSource for UserStore {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        let v = match self.users.get(user) {
            Some(v) => v,
            None => {
                tracing::warn!(user, host = login.host(), "Login attempt for an unknown user.");
                &self.decoy
            }
        };
        Ok(Password::new(Some(v.salt.clone()), v.salted_password.clone()))
    }
}

/// What clients are told about the server at login.
pub fn parameter_provider() -> DefaultServerParameterProvider {
    let mut p = DefaultServerParameterProvider::default();
    p.server_version = SERVER_VERSION.to_string();
    p.is_superuser = false;
    p.time_zone = "UTC".into();
    p.date_style = "ISO, MDY".into();
    p.search_path = "\"$user\", public".into();
    p
}

/// A fresh SCRAM handler for one connection: pgwire 0.41's SASL handler
/// holds the exchange state, so sharing one would mix concurrent logins.
pub fn startup_handler(
    users: Arc<UserStore>,
    params: Arc<DefaultServerParameterProvider>,
    connections: Arc<ConnectionManager>,
) -> SASLAuthStartupHandler<DefaultServerParameterProvider> {
    let mut scram = ScramAuth::new(users);
    scram.set_iterations(SCRAM_ITERATIONS);
    SASLAuthStartupHandler::new(params).with_scram(scram).with_connection_manager(connections)
}
