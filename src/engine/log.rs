//! Reason codes of the transaction log and the helpers that build its entries.

use chrono::{DateTime, FixedOffset, Utc};

use crate::model::qbo::{EntityKind, Transaction};
use crate::store::{Action, FailureInfo, LedgerEntry, LogEntry};
use crate::{Error, ErrorKind, Service};

/// Reason codes the engine itself writes into the log (the mapping adds its own skip codes,
/// such as `class_mismatch` or `no_class`, and address errors add theirs, such as
/// `missing_state`).
pub mod reason {
    /// The transaction's SyncToken is the one already handled.
    pub const UNCHANGED: &str = "unchanged";
    /// The transaction changed after its order was created, and updating is off.
    pub const ALREADY_SYNCED: &str = "already_synced";
    /// The transaction is voided.
    pub const VOIDED: &str = "voided";
    /// The transaction was deleted in QBO.
    pub const DELETED: &str = "deleted";
    /// The order has shipped, so it is left alone.
    pub const ORDER_SHIPPED: &str = "order_shipped";
    /// The order is cancelled, so it is left alone.
    pub const ORDER_CANCELLED: &str = "order_cancelled";
    /// The order went to a dropshipper, so it is left alone.
    pub const ORDER_DROPSHIPPED: &str = "order_dropshipped";
    /// The ledger names an order Ordoro no longer has.
    pub const ORDER_NOT_FOUND: &str = "order_not_found";
    /// Ordoro says the order exists, but no lookup finds it.
    pub const DUPLICATE_ORDER: &str = "duplicate_order";
    /// Ordoro rejected the request as invalid (status, code and message in the failure).
    pub const REJECTED: &str = "rejected";
    /// A service throttled the request past the client's retries.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// A service answered with a server error past the client's retries.
    pub const SERVICE_ERROR: &str = "service_error";
    /// No answer arrived (connection refused, timeout).
    pub const TRANSPORT_ERROR: &str = "transport_error";
    /// A create may or may not have happened and no lookup could settle it yet.
    pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";
    /// Credentials were refused.
    pub const AUTH_FAILED: &str = "auth_failed";
}

/// The reason code of a failed call.
pub(crate) fn failure_reason(err: &Error) -> &'static str {
    match err.kind() {
        ErrorKind::BadInput => reason::REJECTED,
        ErrorKind::NotFound => reason::ORDER_NOT_FOUND,
        ErrorKind::RateLimited => reason::RATE_LIMITED,
        ErrorKind::Authentication => reason::AUTH_FAILED,
        ErrorKind::Transport => reason::TRANSPORT_ERROR,
        ErrorKind::OutcomeUnknown => reason::OUTCOME_UNKNOWN,
        _ => reason::SERVICE_ERROR,
    }
}

/// What a service said, for the log.
pub(crate) fn failure_info(err: &Error) -> FailureInfo {
    FailureInfo {
        service: err.service().map(|s| {
            match s {
                Service::Qbo => "qbo",
                Service::Ordoro => "ordoro",
            }
            .to_string()
        }),
        status: err.status(),
        code: err.code().map(str::to_string),
        message: err.message().to_string(),
        request_id: err.request_id().map(str::to_string),
    }
}

/// The facts about a transaction that every log entry repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TxnFacts {
    pub entity: EntityKind,
    pub qbo_id: String,
    pub doc_number: Option<String>,
    pub sync_token: Option<String>,
    pub last_updated: Option<DateTime<FixedOffset>>,
}

impl TxnFacts {
    pub(crate) fn of(txn: &Transaction) -> Self {
        TxnFacts {
            entity: txn.kind,
            qbo_id: txn.doc.id.clone(),
            doc_number: txn.doc.doc_number.clone().filter(|d| !d.trim().is_empty()),
            sync_token: Some(txn.doc.sync_token.clone()),
            last_updated: txn.doc.last_updated(),
        }
    }

    pub(crate) fn of_ledger(entry: &LedgerEntry) -> Self {
        TxnFacts {
            entity: entry.key.entity,
            qbo_id: entry.key.qbo_id.clone(),
            doc_number: None,
            sync_token: Some(entry.sync_token.clone()),
            last_updated: None,
        }
    }
}

/// Builds log entries for one run.
#[derive(Debug, Clone)]
pub(crate) struct EntryMaker {
    pub run_id: String,
    pub realm: String,
    pub dry_run: bool,
}

impl EntryMaker {
    pub(crate) fn entry(
        &self,
        at: DateTime<Utc>,
        facts: &TxnFacts,
        action: Action,
        reason: Option<&str>,
        detail: impl Into<Option<String>>,
    ) -> LogEntry {
        LogEntry {
            run_id: self.run_id.clone(),
            at,
            realm: self.realm.clone(),
            entity: facts.entity,
            qbo_id: facts.qbo_id.clone(),
            doc_number: facts.doc_number.clone(),
            sync_token: facts.sync_token.clone(),
            last_updated: facts.last_updated,
            action,
            reason: reason.map(str::to_string),
            detail: detail.into(),
            order_number: None,
            failure: None,
            dry_run: self.dry_run,
        }
    }
}
