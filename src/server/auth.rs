//! Logins: SCRAM-SHA-256 against stored verifiers ([`super::scram`]) and the
//! role each user gets.
//!
//! Users are configured with PostgreSQL-format verifiers, never passwords.
//! Unknown users get a decoy verifier with a salt that is stable per name, so
//! a failed login looks the same whether the user exists or not (no user
//! enumeration). Failed logins are throttled per peer address by the
//! connection loop ([`super::throttle`]), which sees the outcome of this
//! handler.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata, DefaultServerParameterProvider,
    StartupHandler,
};
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::{Authentication, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage, ProtocolVersion};
use tokio::sync::Mutex;

use super::cancel::{Backend, Backends};
use super::errors::{self, sqlstate};
use super::scram::{self, ScramError, ScramVerifier};
use crate::engine::settings::SERVER_VERSION;

const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// What a user may do over SQL. Nobody may modify lake data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Queries only.
    #[default]
    Reader,
    /// Queries, and creates and drops views.
    Analyst,
}

impl Role {
    pub fn may_create_views(self) -> bool {
        matches!(self, Role::Analyst)
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Analyst => "analyst",
        }
    }
}

/// A user allowed to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub user: String,
    pub verifier: ScramVerifier,
    pub role: Role,
}

impl Credential {
    pub fn new(user: impl Into<String>, verifier: ScramVerifier, role: Role) -> Self {
        Self { user: user.into(), verifier, role }
    }

    /// A credential from a password known in memory (the demo login and
    /// tests); the password itself is not kept.
    pub fn from_password(user: impl Into<String>, password: &str, role: Role) -> Self {
        Self::new(user, ScramVerifier::generate(password), role)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential").field("user", &self.user).field("role", &self.role).finish_non_exhaustive()
    }
}

/// The users, their verifiers and roles.
pub struct UserStore {
    users: HashMap<String, (ScramVerifier, Role)>,
    /// Key for decoy salts; random per process.
    decoy_key: Vec<u8>,
}

impl fmt::Debug for UserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserStore").field("users", &self.users.keys().collect::<Vec<_>>()).finish()
    }
}

impl UserStore {
    pub fn new(credentials: &[Credential]) -> Self {
        let users = credentials.iter().map(|c| (c.user.clone(), (c.verifier.clone(), c.role))).collect();
        Self { users, decoy_key: scram::random_bytes(32) }
    }

    pub fn contains(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// The verifier to run the exchange with, and the role if the user exists.
    fn lookup(&self, user: &str) -> (ScramVerifier, Option<Role>) {
        match self.users.get(user) {
            Some((v, role)) => (v.clone(), Some(*role)),
            None => (ScramVerifier::decoy(&self.decoy_key, user), None),
        }
    }
}

/// Who a connection is logged in as; kept in the session extensions (not in
/// the client-supplied startup metadata, which a client could forge).
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub user: String,
    pub role: Role,
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

enum State {
    Initial,
    /// AuthenticationSASL sent; waiting for SASLInitialResponse.
    MechanismSent,
    /// server-first sent; waiting for client-final.
    FirstSent(Box<scram::ServerFirst>, ScramVerifier, Option<Role>),
    Done,
}

/// The SCRAM login of one connection.
pub struct ScramStartup {
    users: Arc<UserStore>,
    params: Arc<DefaultServerParameterProvider>,
    backends: Arc<Backends>,
    state: Mutex<State>,
}

impl ScramStartup {
    pub fn new(users: Arc<UserStore>, params: Arc<DefaultServerParameterProvider>, backends: Arc<Backends>) -> Self {
        Self { users, params, backends, state: Mutex::new(State::Initial) }
    }
}

fn protocol_error(e: ScramError) -> PgWireError {
    errors::fatal(sqlstate::PROTOCOL_VIOLATION, e.to_string())
}

#[async_trait]
impl StartupHandler for ScramStartup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut state = self.state.lock().await;
        match (&*state, message) {
            (State::Initial, PgWireFrontendMessage::Startup(startup)) => {
                protocol_negotiation(client, &startup).await?;
                save_startup_parameters_to_metadata(client, &startup);
                if client.metadata().get("user").is_none_or(|u| u.is_empty()) {
                    return Err(errors::fatal(sqlstate::INVALID_AUTHORIZATION, "no PostgreSQL user name specified in startup packet"));
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(vec![SCRAM_SHA_256.into()])))
                    .await?;
                *state = State::MechanismSent;
            }
            (State::MechanismSent, PgWireFrontendMessage::PasswordMessageFamily(msg)) => {
                let initial = msg.into_sasl_initial_response()?;
                if initial.auth_method != SCRAM_SHA_256 {
                    return Err(PgWireError::UnsupportedSASLAuthMethod(initial.auth_method));
                }
                let user = client.metadata().get("user").cloned().unwrap_or_default();
                let (verifier, role) = self.users.lookup(&user);
                let data = initial.data.unwrap_or_default();
                let first = scram::client_first(&data, &verifier).map_err(protocol_error)?;
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASLContinue(
                        first.message().as_bytes().to_vec().into(),
                    )))
                    .await?;
                *state = State::FirstSent(Box::new(first), verifier, role);
            }
            (State::FirstSent(first, verifier, role), PgWireFrontendMessage::PasswordMessageFamily(msg)) => {
                let response = msg.into_sasl_response()?;
                let user = client.metadata().get("user").cloned().unwrap_or_default();
                let server_final = match (scram::client_final(first, &response.data, verifier), role) {
                    (Ok(f), Some(_)) => f,
                    // Unknown users and wrong proofs fail the same way.
                    (Ok(_), None) | (Err(ScramError::WrongProof), _) => return Err(PgWireError::InvalidPassword(user)),
                    (Err(e), _) => return Err(protocol_error(e)),
                };
                let role = role.expect("checked above");
                *state = State::Done;
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASLFinal(server_final.into_bytes().into())))
                    .await?;
                let pid = self.backends.next_pid();
                let secret = match client.protocol_version() {
                    ProtocolVersion::PROTOCOL3_0 => {
                        SecretKey::I32(i32::from_be_bytes(scram::random_bytes(4).try_into().expect("4 bytes")))
                    }
                    _ => SecretKey::Bytes(scram::random_bytes(32).into()),
                };
                client.set_pid_and_secret_key(pid, secret.clone());
                let registration = self.backends.register(pid, secret, Backend::new(user.clone(), role));
                client.session_extensions().insert(registration);
                client.session_extensions().insert(LoggedIn { user, role });
                finish_authentication(client, self.params.as_ref()).await?;
            }
            _ => return Err(errors::fatal(sqlstate::PROTOCOL_VIOLATION, "unexpected message during authentication")),
        }
        Ok(())
    }
}
