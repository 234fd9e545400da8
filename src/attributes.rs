//! The telemetry contract: every span, attribute, event and metric name this
//! crate emits, as constants.
//!
//! Names are an API. Dashboards, alerts and the collector's redaction
//! allow-list key on them, so they change only with a major version. The same
//! names are listed, with types and briefs, in the machine-readable registry
//! `registry/checkout.yaml` (OpenTelemetry weaver `groups:` format), and a test
//! keeps the registry and these constants in agreement.
//!
//! Standard concepts use the current OpenTelemetry semantic conventions and are
//! taken from [`opentelemetry_semantic_conventions`] so they cannot drift;
//! domain names follow the checkout article this project started from.
//!
//! ```
//! use checkout_otel::attributes as attr;
//! assert_eq!(attr::CHECKOUT_PROCESS, "checkout.process");
//! assert_eq!(attr::USER_HASH, "user.hash");
//! assert_eq!(attr::CheckoutStep::ProcessingPayment.as_str(), "processing_payment");
//! ```

use opentelemetry::Value;
use opentelemetry_semantic_conventions::attribute as semconv;

// ---------------------------------------------------------------------------
// Resource
// ---------------------------------------------------------------------------

/// `service.name`: logical name of the service (resource).
pub const SERVICE_NAME: &str = semconv::SERVICE_NAME;
/// `service.version`: version of the service (resource).
pub const SERVICE_VERSION: &str = semconv::SERVICE_VERSION;
/// `service.namespace`: namespace grouping services, e.g. `shop` (resource).
pub const SERVICE_NAMESPACE: &str = semconv::SERVICE_NAMESPACE;
/// `service.instance.id`: unique id of this process instance (resource).
pub const SERVICE_INSTANCE_ID: &str = semconv::SERVICE_INSTANCE_ID;
/// `deployment.environment.name`: e.g. `production`, `staging` (resource).
/// Replaces the deprecated `deployment.environment`.
pub const DEPLOYMENT_ENVIRONMENT_NAME: &str = semconv::DEPLOYMENT_ENVIRONMENT_NAME;

// Detected where the service runs (`init::ResourceDetection`); all in
// development in the semantic conventions.
/// `host.name`: name of the host: the kernel's hostname, in a container the container's (detected).
pub const HOST_NAME: &str = semconv::HOST_NAME;
/// `host.arch`: CPU architecture, e.g. `amd64`, `arm64` (detected).
pub const HOST_ARCH: &str = semconv::HOST_ARCH;
/// `os.type`: operating system family, e.g. `linux`, `darwin` (detected).
pub const OS_TYPE: &str = semconv::OS_TYPE;
/// `os.name`: operating system name from os-release, e.g. `Debian GNU/Linux` (detected).
pub const OS_NAME: &str = semconv::OS_NAME;
/// `os.version`: operating system version from os-release, e.g. `12` (detected).
pub const OS_VERSION: &str = semconv::OS_VERSION;
/// `os.description`: human-readable operating system, e.g. `Debian GNU/Linux 12 (bookworm)` (detected).
pub const OS_DESCRIPTION: &str = semconv::OS_DESCRIPTION;
/// `process.pid`: process id (detected).
pub const PROCESS_PID: &str = semconv::PROCESS_PID;
/// `process.executable.name`: file name of the executable (detected).
pub const PROCESS_EXECUTABLE_NAME: &str = semconv::PROCESS_EXECUTABLE_NAME;
/// `process.runtime.name`: `rustc` (detected).
pub const PROCESS_RUNTIME_NAME: &str = semconv::PROCESS_RUNTIME_NAME;
/// `container.id`: id of the container the process runs in (detected).
pub const CONTAINER_ID: &str = semconv::CONTAINER_ID;
/// `k8s.pod.name`: Kubernetes pod name (detected).
pub const K8S_POD_NAME: &str = semconv::K8S_POD_NAME;
/// `k8s.namespace.name`: Kubernetes namespace (detected).
pub const K8S_NAMESPACE_NAME: &str = semconv::K8S_NAMESPACE_NAME;
/// `k8s.node.name`: Kubernetes node name (detected).
pub const K8S_NODE_NAME: &str = semconv::K8S_NODE_NAME;
/// `k8s.pod.uid`: Kubernetes pod UID (detected).
pub const K8S_POD_UID: &str = semconv::K8S_POD_UID;

// ---------------------------------------------------------------------------
// Span names
// ---------------------------------------------------------------------------

/// Root span of one checkout (`SERVER` when it is the entry point of a request).
pub const CHECKOUT_PROCESS: &str = "checkout.process";
/// Cart validation: contents and prices.
pub const CART_VALIDATE: &str = "cart.validate";
/// Loading the cart's contents.
pub const CART_FETCH_CONTENTS: &str = "cart.fetch_contents";
/// Comparing the cart's prices with the catalogue.
pub const CART_VERIFY_PRICES: &str = "cart.verify_prices";
/// Reserving stock for every item of the cart.
pub const INVENTORY_RESERVE_BATCH: &str = "inventory.reserve_batch";
/// Reserving stock for one item.
pub const INVENTORY_RESERVE_ITEM: &str = "inventory.reserve_item";
/// Releasing reservations after a later step failed (compensation).
pub const INVENTORY_RELEASE: &str = "inventory.release";
/// Charging the customer (`CLIENT` of the payment service or provider).
pub const PAYMENT_PROCESS: &str = "payment.process";
/// The call to the external payment gateway (`CLIENT`).
pub const PAYMENT_GATEWAY_CALL: &str = "payment.gateway_call";
/// Creating the order record.
pub const ORDER_CREATE: &str = "order.create";
/// Sending the confirmation (fire-and-forget).
pub const NOTIFICATION_SEND: &str = "notification.send";

// ---------------------------------------------------------------------------
// Standard attributes (semantic conventions)
// ---------------------------------------------------------------------------

/// `error.type`: low-cardinality class of a failure (`card_declined`, `timeout`, ...).
pub const ERROR_TYPE: &str = semconv::ERROR_TYPE;
/// `exception.type` on an `exception` event.
pub const EXCEPTION_TYPE: &str = semconv::EXCEPTION_TYPE;
/// `exception.message` on an `exception` event (always scrubbed).
pub const EXCEPTION_MESSAGE: &str = semconv::EXCEPTION_MESSAGE;
/// Name of the event that records an exception.
pub const EXCEPTION_EVENT: &str = "exception";
/// `user.hash`: the only way a user is recorded (keyed HMAC-SHA256, hex).
pub const USER_HASH: &str = semconv::USER_HASH;
/// `http.request.method`.
pub const HTTP_REQUEST_METHOD: &str = semconv::HTTP_REQUEST_METHOD;
/// `http.response.status_code`.
pub const HTTP_RESPONSE_STATUS_CODE: &str = semconv::HTTP_RESPONSE_STATUS_CODE;
/// `http.route`: the matched route template on server spans (`/orders/{id}`).
pub const HTTP_ROUTE: &str = semconv::HTTP_ROUTE;
/// `url.full`, with query string and credentials removed.
pub const URL_FULL: &str = semconv::URL_FULL;
/// `server.address`.
pub const SERVER_ADDRESS: &str = semconv::SERVER_ADDRESS;
/// `server.port`.
pub const SERVER_PORT: &str = semconv::SERVER_PORT;
/// `http.request.method_original`: the method as received, on server spans
/// whose method is outside the well-known set (`http.request.method` is
/// then `_OTHER`).
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = semconv::HTTP_REQUEST_METHOD_ORIGINAL;
/// `url.path` on server spans: the request path, checked like a URL.
pub const URL_PATH: &str = semconv::URL_PATH;
/// `url.scheme` on server spans: `http` or `https`.
pub const URL_SCHEME: &str = semconv::URL_SCHEME;
/// `client.address` on server spans: the buyer's IP address, anonymised
/// (IPv4 to its /24, IPv6 to its /48).
pub const CLIENT_ADDRESS: &str = semconv::CLIENT_ADDRESS;
/// `network.protocol.version` on server spans: `1.1`, `2`.
pub const NETWORK_PROTOCOL_VERSION: &str = semconv::NETWORK_PROTOCOL_VERSION;
/// `user_agent.original` on server spans, scrubbed.
pub const USER_AGENT_ORIGINAL: &str = semconv::USER_AGENT_ORIGINAL;
/// `rpc.system.name` on gRPC spans: `grpc`.
pub const RPC_SYSTEM_NAME: &str = semconv::RPC_SYSTEM_NAME;
/// `rpc.method` on gRPC spans: the fully-qualified method,
/// `{package.Service}/{Method}` (`shop.Payment/Charge`), or `_OTHER` for a
/// path that is not a well-formed gRPC method.
pub const RPC_METHOD: &str = semconv::RPC_METHOD;
/// `rpc.method_original` on gRPC spans whose `rpc.method` is `_OTHER`: the
/// path as received, scrubbed and bounded.
pub const RPC_METHOD_ORIGINAL: &str = semconv::RPC_METHOD_ORIGINAL;
/// `rpc.response.status_code` on gRPC spans: the status code's name (`OK`,
/// `NOT_FOUND`, `DEADLINE_EXCEEDED`).
pub const RPC_RESPONSE_STATUS_CODE: &str = semconv::RPC_RESPONSE_STATUS_CODE;
/// `peer.service`: the logical name of the remote service on the gateway
/// client span.
///
/// Deprecated in the semantic conventions in favour of `service.peer.name`,
/// which is still in development; service-graph backends (Tempo, Jaeger,
/// Grafana) still key on `peer.service`, so we keep emitting it.
pub const PEER_SERVICE: &str = "peer.service";
/// `db.system.name`, e.g. `sqlite`, `postgresql`.
pub const DB_SYSTEM_NAME: &str = semconv::DB_SYSTEM_NAME;
/// `db.operation.name`, e.g. `SELECT`, `UPDATE`.
pub const DB_OPERATION_NAME: &str = semconv::DB_OPERATION_NAME;
/// `db.collection.name`: the table.
pub const DB_COLLECTION_NAME: &str = semconv::DB_COLLECTION_NAME;
/// `db.query.text`: parameterised query text only, never literal values.
pub const DB_QUERY_TEXT: &str = semconv::DB_QUERY_TEXT;

// ---------------------------------------------------------------------------
// Domain attributes
// ---------------------------------------------------------------------------

/// `cart.id`.
pub const CART_ID: &str = "cart.id";
/// `cart.item_count`: number of line items in the cart.
pub const CART_ITEM_COUNT: &str = "cart.item_count";
/// `cart.stale_prices`: number of items whose price changed.
pub const CART_STALE_PRICES: &str = "cart.stale_prices";
/// `product.id`.
pub const PRODUCT_ID: &str = "product.id";
/// `quantity.requested`.
pub const QUANTITY_REQUESTED: &str = "quantity.requested";
/// `quantity.available` (on the `insufficient_stock` event).
pub const QUANTITY_AVAILABLE: &str = "quantity.available";
/// `inventory.item_count`: items in a reservation batch.
pub const INVENTORY_ITEM_COUNT: &str = "inventory.item_count";
/// `inventory.reservations_created`.
pub const INVENTORY_RESERVATIONS_CREATED: &str = "inventory.reservations_created";
/// `inventory.reservations_released` (on the compensation span).
pub const INVENTORY_RESERVATIONS_RELEASED: &str = "inventory.reservations_released";
/// `inventory.reservation_id`: id of a reservation batch.
pub const INVENTORY_RESERVATION_ID: &str = "inventory.reservation_id";
/// `reservation.id`: id of one item's reservation.
pub const RESERVATION_ID: &str = "reservation.id";
/// `order.id`.
pub const ORDER_ID: &str = "order.id";
/// `payment.amount`: exact decimal string of the amount in major units (`"12.34"`).
pub const PAYMENT_AMOUNT: &str = "payment.amount";
/// `payment.amount_minor`: the amount in integer minor units (`1234`).
pub const PAYMENT_AMOUNT_MINOR: &str = "payment.amount_minor";
/// `payment.currency`: ISO 4217 code.
pub const PAYMENT_CURRENCY: &str = "payment.currency";
/// `payment.method_type`: `card`, `wallet`, `bank_transfer`, `other`.
pub const PAYMENT_METHOD_TYPE: &str = "payment.method_type";
/// `payment.card.brand`: `visa`, `mastercard`, ... (cards only).
pub const PAYMENT_CARD_BRAND: &str = "payment.card.brand";
/// `payment.card.last4`: last four digits (cards only).
pub const PAYMENT_CARD_LAST4: &str = "payment.card.last4";
/// `payment.charge_id`: the gateway's charge id.
pub const PAYMENT_CHARGE_ID: &str = "payment.charge_id";
/// `payment.status`: `succeeded`, `declined`, `failed`.
pub const PAYMENT_STATUS: &str = "payment.status";
/// `payment.decline_code`: the gateway's decline code, bounded (`other` when unknown).
pub const PAYMENT_DECLINE_CODE: &str = "payment.decline_code";
/// `payment.decline_class`: `soft` (retryable) or `hard`.
pub const PAYMENT_DECLINE_CLASS: &str = "payment.decline_class";
/// `payment.gateway_latency_ms`: gateway round trip in milliseconds.
pub const PAYMENT_GATEWAY_LATENCY_MS: &str = "payment.gateway_latency_ms";
/// `payment.attempt`: 1-based attempt number of a gateway call.
pub const PAYMENT_ATTEMPT: &str = "payment.attempt";
/// `checkout.step`: the step a checkout is in (see [`CheckoutStep`]).
pub const CHECKOUT_STEP: &str = "checkout.step";
/// `checkout.failure_step`: the step a failed checkout failed in.
pub const CHECKOUT_FAILURE_STEP: &str = "checkout.failure_step";
/// `checkout.total`: exact decimal string of the order total in major units.
pub const CHECKOUT_TOTAL: &str = "checkout.total";
/// `checkout.total_minor`: the order total in integer minor units.
pub const CHECKOUT_TOTAL_MINOR: &str = "checkout.total_minor";
/// `checkout.currency`: ISO 4217 code of the total.
pub const CHECKOUT_CURRENCY: &str = "checkout.currency";
/// `checkout.item_count`.
pub const CHECKOUT_ITEM_COUNT: &str = "checkout.item_count";
/// `checkout.status` (spans and metrics, see [`CheckoutStatus`]).
pub const CHECKOUT_STATUS: &str = "checkout.status";
/// `failure.kind`: `rejection` (an expected business outcome such as a decline
/// or an out-of-stock answer) or `fault` (timeouts, 5xx, bugs).
pub const FAILURE_KIND: &str = "failure.kind";
/// `notification.channel` (see [`NotificationChannel`]).
pub const NOTIFICATION_CHANNEL: &str = "notification.channel";
/// `price.expected` (minor units, on `price_mismatch`).
pub const PRICE_EXPECTED: &str = "price.expected";
/// `price.actual` (minor units, on `price_mismatch`).
pub const PRICE_ACTUAL: &str = "price.actual";

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/// A cart line whose price differs from the catalogue.
pub const EVENT_PRICE_MISMATCH: &str = "price_mismatch";
/// Not enough stock for an item.
pub const EVENT_INSUFFICIENT_STOCK: &str = "insufficient_stock";
/// Milestone on `checkout.process`: the cart is valid.
pub const EVENT_CART_VALIDATED: &str = "cart_validated";
/// Milestone on `checkout.process`: stock is reserved for every item.
pub const EVENT_INVENTORY_RESERVED: &str = "inventory_reserved";
/// Milestone on `checkout.process`: the payment went through.
pub const EVENT_PAYMENT_PROCESSED: &str = "payment_processed";
/// Milestone on `checkout.process`: the order exists.
pub const EVENT_ORDER_CREATED: &str = "order_created";

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/// Counter of finished checkouts, unit `{checkout}`.
pub const METRIC_CHECKOUT_COMPLETED: &str = "checkout.completed";
/// Histogram of checkout durations, unit `s`.
pub const METRIC_CHECKOUT_DURATION: &str = "checkout.duration";
/// Histogram of checkout step durations, unit `s`.
pub const METRIC_CHECKOUT_STEP_DURATION: &str = "checkout.step.duration";
/// Counter of payment declines, unit `{decline}`.
pub const METRIC_PAYMENT_DECLINES: &str = "checkout.payment.declines";
/// Histogram of payment gateway latency, unit `s`.
pub const METRIC_PAYMENT_GATEWAY_DURATION: &str = "checkout.payment.gateway.duration";
/// Counter of items that could not be reserved, unit `{item}`.
pub const METRIC_INVENTORY_SHORTFALLS: &str = "checkout.inventory.shortfalls";
/// `checkout.item_count_bucket`: `small` (up to 10 items) or `large`.
pub const CHECKOUT_ITEM_COUNT_BUCKET: &str = "checkout.item_count_bucket";
/// `step.status` on `checkout.step.duration` (see [`StepStatus`]).
pub const STEP_STATUS: &str = "step.status";

// ---------------------------------------------------------------------------
// Bounded attribute values
// ---------------------------------------------------------------------------

macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $value:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as it appears in telemetry.
            pub const fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $value ),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$name> for Value {
            fn from(v: $name) -> Value {
                Value::from(v.as_str())
            }
        }
    };
}
// Also used by `pii` for its own bounded values (card brand, payment method type).
pub(crate) use string_enum;

string_enum! {
    /// The step a checkout is in (`checkout.step`, `checkout.failure_step`).
    pub enum CheckoutStep {
        /// The checkout was accepted and nothing has run yet.
        Initiated => "initiated",
        /// Fetching the cart and verifying its prices.
        ValidatingCart => "validating_cart",
        /// Reserving stock for every item.
        ReservingInventory => "reserving_inventory",
        /// Charging the customer.
        ProcessingPayment => "processing_payment",
        /// Creating the order record.
        CreatingOrder => "creating_order",
        /// Done.
        Complete => "complete",
    }
}

string_enum! {
    /// Outcome of a whole checkout (`checkout.status`).
    pub enum CheckoutStatus {
        /// The order was placed.
        Success => "success",
        /// An expected business outcome stopped it (decline, out of stock, stale price).
        Rejected => "rejected",
        /// A fault stopped it (timeout, 5xx, bug).
        Failed => "failed",
    }
}

string_enum! {
    /// Outcome of one checkout step (`step.status`).
    pub enum StepStatus {
        /// The step succeeded.
        Ok => "ok",
        /// The step ended in an expected business outcome.
        Rejected => "rejected",
        /// The step failed with a fault.
        Failed => "failed",
    }
}

string_enum! {
    /// Whether a failure was expected (`failure.kind`).
    pub enum FailureKind {
        /// An expected business outcome (a decline, an out-of-stock answer).
        Rejection => "rejection",
        /// A fault: timeout, 5xx, unexpected error.
        Fault => "fault",
    }
}

string_enum! {
    /// Class of a payment decline (`payment.decline_class`).
    pub enum DeclineClass {
        /// Retryable: insufficient funds, issuer unavailable, try again later.
        Soft => "soft",
        /// Final: stolen card, invalid account, do not honour.
        Hard => "hard",
    }
}

string_enum! {
    /// Outcome of a payment (`payment.status`).
    pub enum PaymentStatus {
        /// The charge succeeded.
        Succeeded => "succeeded",
        /// The issuer or gateway declined it.
        Declined => "declined",
        /// The call failed (timeout, 5xx, network).
        Failed => "failed",
    }
}

string_enum! {
    /// How a confirmation is sent (`notification.channel`).
    pub enum NotificationChannel {
        /// Email.
        Email => "email",
        /// Text message.
        Sms => "sms",
        /// Mobile push notification.
        Push => "push",
        /// A webhook to the merchant's systems.
        Webhook => "webhook",
    }
}

string_enum! {
    /// Size class of a checkout (`checkout.item_count_bucket`).
    pub enum ItemCountBucket {
        /// Up to 10 items.
        Small => "small",
        /// More than 10 items.
        Large => "large",
    }
}

impl ItemCountBucket {
    /// The bucket of a checkout with `item_count` items.
    pub const fn of(item_count: u64) -> Self {
        if item_count > 10 {
            ItemCountBucket::Large
        } else {
            ItemCountBucket::Small
        }
    }
}

/// A low-cardinality `error.type` value.
///
/// Only `&'static str` values can be made into an `ErrorType`, so an id, an
/// amount or a message cannot end up as an error type by accident.
///
/// ```
/// use checkout_otel::attributes::ErrorType;
/// const FRAUD_SUSPECTED: ErrorType = ErrorType::new("fraud_suspected");
/// assert_eq!(ErrorType::CARD_DECLINED.as_str(), "card_declined");
/// assert_eq!(FRAUD_SUSPECTED.as_str(), "fraud_suspected");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorType(&'static str);

impl ErrorType {
    /// Not enough stock for an item.
    pub const INSUFFICIENT_STOCK: ErrorType = ErrorType("insufficient_stock");
    /// Cart prices changed since the customer saw them.
    pub const PRICE_MISMATCH: ErrorType = ErrorType("price_mismatch");
    /// The cart is empty, unknown or otherwise invalid.
    pub const INVALID_CART: ErrorType = ErrorType("invalid_cart");
    /// The issuer declined the card.
    pub const CARD_DECLINED: ErrorType = ErrorType("card_declined");
    /// A call did not answer in time.
    pub const TIMEOUT: ErrorType = ErrorType("timeout");
    /// A dependency answered with a server error (5xx).
    pub const UPSTREAM_ERROR: ErrorType = ErrorType("upstream_error");
    /// A dependency could not be reached.
    pub const UNAVAILABLE: ErrorType = ErrorType("unavailable");
    /// The request was invalid.
    pub const INVALID_REQUEST: ErrorType = ErrorType("invalid_request");
    /// A database operation failed.
    pub const DATABASE: ErrorType = ErrorType("database");
    /// The checkout was abandoned before it finished (the request was
    /// cancelled, or its handle dropped without an outcome).
    pub const CANCELLED: ErrorType = ErrorType("cancelled");
    /// Anything not classified more precisely. Per the semantic conventions.
    pub const OTHER: ErrorType = ErrorType("_OTHER");

    /// Every error type defined here.
    pub const KNOWN: &'static [ErrorType] = &[
        ErrorType::INSUFFICIENT_STOCK,
        ErrorType::PRICE_MISMATCH,
        ErrorType::INVALID_CART,
        ErrorType::CARD_DECLINED,
        ErrorType::TIMEOUT,
        ErrorType::UPSTREAM_ERROR,
        ErrorType::UNAVAILABLE,
        ErrorType::INVALID_REQUEST,
        ErrorType::DATABASE,
        ErrorType::CANCELLED,
        ErrorType::OTHER,
    ];

    /// The error type defined here whose value is `value` (for example one
    /// received from another service), or `None`. Never allocates, so a
    /// string from the wire cannot become a new metric value.
    ///
    /// ```
    /// use checkout_otel::attributes::ErrorType;
    /// assert_eq!(ErrorType::from_known("timeout"), Some(ErrorType::TIMEOUT));
    /// assert_eq!(ErrorType::from_known("anything else"), None);
    /// ```
    pub fn from_known(value: &str) -> Option<ErrorType> {
        ErrorType::KNOWN.iter().copied().find(|e| e.0 == value)
    }

    /// An error type of your own. Keep the set of values small and fixed:
    /// it becomes a metric attribute.
    pub const fn new(value: &'static str) -> Self {
        ErrorType(value)
    }

    /// The value as it appears in telemetry.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for ErrorType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl From<ErrorType> for Value {
    fn from(v: ErrorType) -> Value {
        Value::from(v.0)
    }
}

string_enum! {
    /// A payment gateway's decline code, reduced to a bounded set
    /// (`payment.decline_code`). Unknown codes become [`DeclineCode::Other`],
    /// so a gateway cannot inflate metric cardinality.
    pub enum DeclineCode {
        /// Not enough funds (soft).
        InsufficientFunds => "insufficient_funds",
        /// Issuer declined without a reason (soft).
        GenericDecline => "generic_decline",
        /// Issuer says do not honour (hard).
        DoNotHonor => "do_not_honor",
        /// Card expired (hard).
        ExpiredCard => "expired_card",
        /// Wrong CVC (soft: the customer can correct it).
        IncorrectCvc => "incorrect_cvc",
        /// Card reported lost (hard).
        LostCard => "lost_card",
        /// Card reported stolen (hard).
        StolenCard => "stolen_card",
        /// Suspected fraud (hard).
        Fraudulent => "fraudulent",
        /// Issuer or network temporarily unavailable (soft).
        TryAgainLater => "try_again_later",
        /// Processing error at the gateway (soft).
        ProcessingError => "processing_error",
        /// Any code not listed here.
        Other => "other",
    }
}

impl DeclineCode {
    /// Maps a gateway's code (case-insensitive, `-` or `_` separated) to the
    /// bounded set; anything unknown is [`DeclineCode::Other`].
    pub fn from_gateway_code(code: &str) -> Self {
        let code = code.trim();
        DeclineCode::ALL
            .iter()
            .copied()
            .find(|known| {
                known.as_str().len() == code.len()
                    && known
                        .as_str()
                        .bytes()
                        .zip(code.bytes())
                        .all(|(k, c)| k == c.to_ascii_lowercase() || (k == b'_' && c == b'-'))
            })
            .unwrap_or(DeclineCode::Other)
    }

    /// Whether a retry may succeed ([`DeclineClass::Soft`]) or not ([`DeclineClass::Hard`]).
    pub const fn class(self) -> DeclineClass {
        match self {
            DeclineCode::InsufficientFunds
            | DeclineCode::GenericDecline
            | DeclineCode::IncorrectCvc
            | DeclineCode::TryAgainLater
            | DeclineCode::ProcessingError => DeclineClass::Soft,
            DeclineCode::DoNotHonor
            | DeclineCode::ExpiredCard
            | DeclineCode::LostCard
            | DeclineCode::StolenCard
            | DeclineCode::Fraudulent
            | DeclineCode::Other => DeclineClass::Hard,
        }
    }
}

/// Every span name in the contract.
pub const CONTRACT_SPAN_NAMES: &[&str] = &[
    CHECKOUT_PROCESS,
    CART_VALIDATE,
    CART_FETCH_CONTENTS,
    CART_VERIFY_PRICES,
    INVENTORY_RESERVE_BATCH,
    INVENTORY_RESERVE_ITEM,
    INVENTORY_RELEASE,
    PAYMENT_PROCESS,
    PAYMENT_GATEWAY_CALL,
    ORDER_CREATE,
    NOTIFICATION_SEND,
];

/// Every span and event attribute key in the contract (the allow-list of the
/// strict redacting exporter and of the collector's redaction processor).
pub const CONTRACT_ATTRIBUTE_KEYS: &[&str] = &[
    ERROR_TYPE,
    EXCEPTION_TYPE,
    EXCEPTION_MESSAGE,
    USER_HASH,
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
    URL_FULL,
    SERVER_ADDRESS,
    SERVER_PORT,
    HTTP_REQUEST_METHOD_ORIGINAL,
    URL_PATH,
    URL_SCHEME,
    CLIENT_ADDRESS,
    NETWORK_PROTOCOL_VERSION,
    USER_AGENT_ORIGINAL,
    RPC_SYSTEM_NAME,
    RPC_METHOD,
    RPC_METHOD_ORIGINAL,
    RPC_RESPONSE_STATUS_CODE,
    PEER_SERVICE,
    DB_SYSTEM_NAME,
    DB_OPERATION_NAME,
    DB_COLLECTION_NAME,
    DB_QUERY_TEXT,
    CART_ID,
    CART_ITEM_COUNT,
    CART_STALE_PRICES,
    PRODUCT_ID,
    QUANTITY_REQUESTED,
    QUANTITY_AVAILABLE,
    INVENTORY_ITEM_COUNT,
    INVENTORY_RESERVATIONS_CREATED,
    INVENTORY_RESERVATIONS_RELEASED,
    INVENTORY_RESERVATION_ID,
    RESERVATION_ID,
    ORDER_ID,
    PAYMENT_AMOUNT,
    PAYMENT_AMOUNT_MINOR,
    PAYMENT_CURRENCY,
    PAYMENT_METHOD_TYPE,
    PAYMENT_CARD_BRAND,
    PAYMENT_CARD_LAST4,
    PAYMENT_CHARGE_ID,
    PAYMENT_STATUS,
    PAYMENT_DECLINE_CODE,
    PAYMENT_DECLINE_CLASS,
    PAYMENT_GATEWAY_LATENCY_MS,
    PAYMENT_ATTEMPT,
    CHECKOUT_STEP,
    CHECKOUT_FAILURE_STEP,
    CHECKOUT_TOTAL,
    CHECKOUT_TOTAL_MINOR,
    CHECKOUT_CURRENCY,
    CHECKOUT_ITEM_COUNT,
    CHECKOUT_STATUS,
    FAILURE_KIND,
    NOTIFICATION_CHANNEL,
    PRICE_EXPECTED,
    PRICE_ACTUAL,
];

/// Every event name in the contract.
pub const CONTRACT_EVENT_NAMES: &[&str] = &[
    EXCEPTION_EVENT,
    EVENT_PRICE_MISMATCH,
    EVENT_INSUFFICIENT_STOCK,
    EVENT_CART_VALIDATED,
    EVENT_INVENTORY_RESERVED,
    EVENT_PAYMENT_PROCESSED,
    EVENT_ORDER_CREATED,
];

/// Every metric name in the contract.
pub const CONTRACT_METRIC_NAMES: &[&str] = &[
    METRIC_CHECKOUT_COMPLETED,
    METRIC_CHECKOUT_DURATION,
    METRIC_CHECKOUT_STEP_DURATION,
    METRIC_PAYMENT_DECLINES,
    METRIC_PAYMENT_GATEWAY_DURATION,
    METRIC_INVENTORY_SHORTFALLS,
];

/// Every metric attribute key in the contract. Each takes only values from a
/// bounded enum of this module.
pub const CONTRACT_METRIC_ATTRIBUTE_KEYS: &[&str] = &[
    CHECKOUT_STATUS,
    CHECKOUT_ITEM_COUNT_BUCKET,
    CHECKOUT_STEP,
    STEP_STATUS,
    ERROR_TYPE,
    PAYMENT_DECLINE_CLASS,
    PAYMENT_DECLINE_CODE,
    PAYMENT_STATUS,
];

/// Resource attribute keys the crate sets.
pub const CONTRACT_RESOURCE_KEYS: &[&str] = &[
    SERVICE_NAME,
    SERVICE_VERSION,
    SERVICE_NAMESPACE,
    SERVICE_INSTANCE_ID,
    DEPLOYMENT_ENVIRONMENT_NAME,
    HOST_NAME,
    HOST_ARCH,
    OS_TYPE,
    OS_NAME,
    OS_VERSION,
    OS_DESCRIPTION,
    PROCESS_PID,
    PROCESS_EXECUTABLE_NAME,
    PROCESS_RUNTIME_NAME,
    CONTAINER_ID,
    K8S_POD_NAME,
    K8S_NAMESPACE_NAME,
    K8S_NODE_NAME,
    K8S_POD_UID,
];
