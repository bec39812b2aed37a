//! Session views: `CREATE TEMP VIEW` lives in one connection only.
//!
//! Plain views go to the engine's shared catalog (every connection sees
//! them, as before). DataFusion refuses temporary views, so each client
//! session gets a catalog list whose `huntlake.public` schema is an overlay:
//! names resolve in the session's own views first, then in the shared
//! schema; everything else (other schemas, registrations of shared views)
//! goes to the shared catalog unchanged. Like PostgreSQL's `pg_temp`, a
//! temporary view may shadow a table, for that session only.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProviderList, MemorySchemaProvider, SchemaProvider, TableProvider,
};
use datafusion::error::Result;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionContext;

use crate::engine::{CATALOG, SCHEMA};

#[derive(Debug)]
struct OverlaySchema {
    local: Arc<MemorySchemaProvider>,
    shared: Arc<dyn SchemaProvider>,
}

#[async_trait]
impl SchemaProvider for OverlaySchema {
    fn owner_name(&self) -> Option<&str> {
        self.shared.owner_name()
    }

    fn table_names(&self) -> Vec<String> {
        let mut names = self.shared.table_names();
        names.extend(self.local.table_names());
        names.sort();
        names.dedup();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match self.local.table(name).await? {
            Some(t) => Ok(Some(t)),
            None => self.shared.table(name).await,
        }
    }

    fn register_table(&self, name: String, table: Arc<dyn TableProvider>) -> Result<Option<Arc<dyn TableProvider>>> {
        self.shared.register_table(name, table)
    }

    fn deregister_table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if self.local.table_exist(name) {
            return self.local.deregister_table(name);
        }
        self.shared.deregister_table(name)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.local.table_exist(name) || self.shared.table_exist(name)
    }
}

#[derive(Debug)]
struct OverlayCatalog {
    shared: Arc<dyn CatalogProvider>,
    public: Arc<OverlaySchema>,
}

impl CatalogProvider for OverlayCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.shared.schema_names()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name == SCHEMA {
            Some(self.public.clone())
        } else {
            self.shared.schema(name)
        }
    }

    fn register_schema(&self, name: &str, schema: Arc<dyn SchemaProvider>) -> Result<Option<Arc<dyn SchemaProvider>>> {
        self.shared.register_schema(name, schema)
    }
}

/// `ctx` with a session-local view schema overlaid on `huntlake.public`;
/// returns the new context and the schema that holds the session's views.
pub fn with_session_views(ctx: SessionContext) -> (SessionContext, Arc<MemorySchemaProvider>) {
    let local = Arc::new(MemorySchemaProvider::new());
    let state = ctx.state();
    let shared_list = state.catalog_list().clone();
    let list = Arc::new(MemoryCatalogProviderList::new());
    for name in shared_list.catalog_names() {
        let Some(catalog) = shared_list.catalog(&name) else { continue };
        let catalog: Arc<dyn CatalogProvider> = match (name == CATALOG, catalog.schema(SCHEMA)) {
            (true, Some(shared)) => {
                Arc::new(OverlayCatalog { shared: catalog, public: Arc::new(OverlaySchema { local: local.clone(), shared }) })
            }
            _ => catalog,
        };
        list.register_catalog(name, catalog);
    }
    let state = SessionStateBuilder::new_from_existing(state).with_catalog_list(list).build();
    (SessionContext::new_with_state(state), local)
}
