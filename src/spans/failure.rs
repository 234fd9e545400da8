//! How a failure is recorded: [`ClassifyError`] for a service's own error
//! types, and [`Failure`], a ready-made classified error.

use std::borrow::Cow;
use std::fmt;

use crate::attributes::{ErrorType, FailureKind};

/// How a failure is recorded: its low-cardinality `error.type`, and whether it
/// was an expected business outcome or a fault.
///
/// Every method has a default, so the common case is one line: the error is
/// a fault whose `error.type` (and `exception.type`) is its Rust type name,
/// as the semantic conventions recommend for an error identified by its type
/// (one value per type, so the metric attribute stays bounded). The message
/// is its `Display`, scrubbed of PII when it is recorded.
///
/// ```
/// use checkout_otel::spans::ClassifyError;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("ledger unavailable")]
/// struct LedgerError;
///
/// impl ClassifyError for LedgerError {}
///
/// // error.type = "my_service::LedgerError", failure.kind = fault
/// assert!(LedgerError.error_type().as_str().ends_with("::LedgerError"));
/// ```
///
/// When variants differ (a decline is a business rejection, a timeout a
/// fault), say so per variant:
///
/// ```
/// use checkout_otel::attributes::{ErrorType, FailureKind};
/// use checkout_otel::spans::ClassifyError;
///
/// #[derive(Debug, thiserror::Error)]
/// enum PaymentError {
///     #[error("card declined: {0}")]
///     Declined(String),
///     #[error("gateway timed out")]
///     Timeout,
/// }
///
/// impl ClassifyError for PaymentError {
///     fn error_type(&self) -> ErrorType {
///         match self {
///             PaymentError::Declined(_) => ErrorType::CARD_DECLINED,
///             PaymentError::Timeout => ErrorType::TIMEOUT,
///         }
///     }
///     fn failure_kind(&self) -> FailureKind {
///         match self {
///             PaymentError::Declined(_) => FailureKind::Rejection,
///             PaymentError::Timeout => FailureKind::Fault,
///         }
///     }
/// }
/// ```
pub trait ClassifyError: fmt::Display {
    /// The `error.type` value: low cardinality, never an id or a message.
    /// By default the Rust type name of the error (`my_service::LedgerError`).
    fn error_type(&self) -> ErrorType {
        ErrorType::new(std::any::type_name::<Self>())
    }

    /// [`FailureKind::Rejection`] for expected business outcomes (declines,
    /// out of stock), [`FailureKind::Fault`] (the default) for everything else.
    fn failure_kind(&self) -> FailureKind {
        FailureKind::Fault
    }

    /// The `exception.type` of the exception event: by default the Rust type
    /// name of the error.
    fn exception_type(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// Classifies a pointer to an error as the error it points to.
macro_rules! classify_through {
    ($($pointer:ty),*) => {$(
        impl<E: ClassifyError + ?Sized> ClassifyError for $pointer {
            fn error_type(&self) -> ErrorType {
                (**self).error_type()
            }
            fn failure_kind(&self) -> FailureKind {
                (**self).failure_kind()
            }
            fn exception_type(&self) -> &'static str {
                (**self).exception_type()
            }
        }
    )*};
}
classify_through!(&E, Box<E>);

/// A ready-made classified error, for code that has no error type of its own.
///
/// ```
/// use checkout_otel::attributes::ErrorType;
/// use checkout_otel::spans::{ClassifyError, Failure};
/// let f = Failure::rejection(ErrorType::INSUFFICIENT_STOCK, "only 1 left of sku-42");
/// assert_eq!(f.error_type(), ErrorType::INSUFFICIENT_STOCK);
/// assert_eq!(f.to_string(), "only 1 left of sku-42");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    error_type: ErrorType,
    kind: FailureKind,
    message: Cow<'static, str>,
}

impl Failure {
    /// An expected business outcome (decline, out of stock, stale price).
    pub fn rejection(error_type: ErrorType, message: impl Into<Cow<'static, str>>) -> Self {
        Failure {
            error_type,
            kind: FailureKind::Rejection,
            message: message.into(),
        }
    }

    /// A fault (timeout, 5xx, bug).
    pub fn fault(error_type: ErrorType, message: impl Into<Cow<'static, str>>) -> Self {
        Failure {
            error_type,
            kind: FailureKind::Fault,
            message: message.into(),
        }
    }

    /// The failure's message (not yet scrubbed: it is scrubbed when recorded).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl ClassifyError for Failure {
    fn error_type(&self) -> ErrorType {
        self.error_type
    }
    fn failure_kind(&self) -> FailureKind {
        self.kind
    }
    fn exception_type(&self) -> &'static str {
        self.error_type.as_str()
    }
}
