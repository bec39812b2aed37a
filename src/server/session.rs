//! One client's session: its own DataFusion session (settings, prepared
//! plans) over the engine's shared catalog, created at first use and kept in
//! the connection's pgwire session extensions. It carries the login's role
//! and cancel switch, and `pg_backend_pid()` / `pg_cancel_backend()` bound
//! to this connection.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use pgwire::api::ClientInfo;
use pgwire::types::format::FormatOptions;

use datafusion::catalog::MemorySchemaProvider;

use super::auth::Role;
use super::temp_views::with_session_views;
use super::cancel::{register_session_functions, QueryCancel, Registration};
use crate::engine::settings::PgSettings;
use crate::engine::{view_name, Engine};

/// Per-connection state.
pub struct ClientSession {
    pub ctx: SessionContext,
    /// What the logged-in user may do (reader when unknown).
    pub role: Role,
    /// Cancels this connection's running statement.
    pub cancel: Arc<QueryCancel>,
    /// Views the server was started with (lower case): not replaceable or
    /// droppable over the wire.
    pub protected_views: HashSet<String>,
    /// This session's own views (`CREATE TEMP VIEW`).
    pub local_views: Arc<MemorySchemaProvider>,
}

impl ClientSession {
    /// The session of `client`, created on first use with the settings the
    /// client sent in its startup packet (`application_name`, `DateStyle`,
    /// `extra_float_digits`, ...).
    pub fn of<C: ClientInfo + ?Sized>(engine: &Engine, client: &C) -> Arc<ClientSession> {
        if let Some(session) = client.session_extensions().get::<ClientSession>() {
            return session;
        }
        // Looked up outside `get_or_insert_with`, which holds the extensions' lock.
        let registration = client.session_extensions().get::<Registration>();
        client.session_extensions().get_or_insert_with(|| {
            let (ctx, local_views) = with_session_views(engine.session());
            let (role, cancel) = match registration {
                Some(reg) => {
                    register_session_functions(&ctx, reg.backends.clone(), reg.pid(), reg.backend.user.clone());
                    (reg.backend.role, reg.backend.cancel.clone())
                }
                None => (Role::Reader, Arc::new(QueryCancel::default())),
            };
            let protected_views =
                engine.sql_files().iter().filter_map(|f| view_name(&f.sql)).map(|n| n.to_ascii_lowercase()).collect();
            let session = ClientSession { ctx, role, cancel, protected_views, local_views };
            session.update_settings(|s| {
                for (key, value) in client.metadata() {
                    // Startup keys that are not settings (user, database) are ignored.
                    let _ = s.set(key, value);
                }
            });
            session
        })
    }

    /// A copy of the session's PostgreSQL settings.
    pub fn settings(&self) -> PgSettings {
        self.ctx
            .state()
            .config()
            .options()
            .extensions
            .get::<PgSettings>()
            .cloned()
            .unwrap_or_default()
    }

    /// Changes the session's PostgreSQL settings.
    pub fn update_settings<R>(&self, f: impl FnOnce(&mut PgSettings) -> R) -> R {
        let state = self.ctx.state_ref();
        let mut state = state.write();
        let options = state.config_mut().options_mut();
        if options.extensions.get::<PgSettings>().is_none() {
            options.extensions.insert(PgSettings::default());
        }
        let settings = options.extensions.get_mut::<PgSettings>().expect("inserted above");
        f(settings)
    }

    /// How values are rendered as text for this session.
    pub fn format_options(&self) -> Arc<FormatOptions> {
        let s = self.settings();
        let mut meta = HashMap::new();
        for key in ["datestyle", "intervalstyle", "bytea_output", "extra_float_digits"] {
            if let Ok(v) = s.get(key) {
                meta.insert(key.to_string(), v);
            }
        }
        Arc::new(FormatOptions::from_client_metadata(&meta))
    }
}
