//! Database client spans for a service's own queries.

use std::borrow::Cow;

use opentelemetry::trace::SpanKind;

use super::handle::span_handle;
use super::{Attrs, CheckoutTracer, SpanSpec, TypedSpan};
use crate::attributes as attr;

/// `db.system.name` of SQLite.
pub const SQLITE: &str = "sqlite";
/// `db.system.name` of PostgreSQL.
pub const POSTGRESQL: &str = "postgresql";
/// `db.system.name` of MySQL.
pub const MYSQL: &str = "mysql";

/// Starts a database `CLIENT` span named `{operation} {collection}` (the
/// semantic conventions' span name), with `db.system.name`,
/// `db.operation.name`, `db.collection.name` and `db.query.text`.
///
/// Every text is `&'static str`: the query must be a parameterised literal
/// (`UPDATE stock SET qty = qty - ?1 WHERE sku = ?2`), so a customer's value
/// cannot end up in `db.query.text` by formatting.
///
/// ```
/// use checkout_otel::spans::{CheckoutTracer, DbQuery, db};
///
/// let tracer = CheckoutTracer::global();
/// let span = tracer.start(
///     DbQuery::new(db::SQLITE, "UPDATE", "stock")
///         .query("UPDATE stock SET available = available - ?1 WHERE sku = ?2 AND available >= ?1"),
/// );
/// span.end();
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct DbQuery {
    system: &'static str,
    operation: &'static str,
    collection: &'static str,
    query: Option<&'static str>,
}

impl DbQuery {
    /// An `operation` (`SELECT`, `UPDATE`, ...) on `collection` (the table) of `system`.
    pub fn new(system: &'static str, operation: &'static str, collection: &'static str) -> Self {
        DbQuery {
            system,
            operation,
            collection,
            query: None,
        }
    }

    /// The parameterised query text.
    pub fn query(mut self, query: &'static str) -> Self {
        self.query = Some(query);
        self
    }
}

impl SpanSpec for DbQuery {
    type Span = DbQuerySpan;
    /// `{operation} {collection}`: the registry's group is `db.client`, but
    /// the span is named after its query.
    fn name(&self) -> Cow<'static, str> {
        Cow::Owned(format!("{} {}", self.operation, self.collection))
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Client
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::DB_SYSTEM_NAME, self.system);
        attrs.str(attr::DB_OPERATION_NAME, self.operation);
        attrs.str(attr::DB_COLLECTION_NAME, self.collection);
        if let Some(query) = self.query {
            attrs.str(attr::DB_QUERY_TEXT, query);
        }
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> DbQuerySpan {
        DbQuerySpan { span }
    }
}

span_handle! {
    /// A database `CLIENT` span (see [`DbQuery`]): end it with `record` to
    /// keep the query's error on it, `span.record(run_query())`.
    DbQuerySpan {}
}
