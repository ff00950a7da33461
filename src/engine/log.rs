//! The helpers that build the transaction log's entries: the facts every entry repeats, and the
//! reason and failure details of a failed call.

use chrono::{DateTime, FixedOffset, Utc};

use crate::model::qbo::{EntityKind, Transaction};
use crate::store::{Action, FailureInfo, LedgerEntry, LogEntry};
use crate::{Error, ErrorKind, Reason, Service};

/// The reason code of a failed call.
pub(crate) fn failure_reason(err: &Error) -> Reason {
    match err.kind() {
        ErrorKind::BadInput => Reason::Rejected,
        ErrorKind::NotFound => Reason::OrderNotFound,
        ErrorKind::RateLimited => Reason::RateLimited,
        ErrorKind::Authentication => Reason::AuthFailed,
        ErrorKind::Transport => Reason::TransportError,
        ErrorKind::OutcomeUnknown => Reason::OutcomeUnknown,
        _ => Reason::ServiceError,
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
    /// `CustomerRef.name`, when the document names one.
    pub customer: Option<String>,
    pub sync_token: Option<String>,
    pub last_updated: Option<DateTime<FixedOffset>>,
}

impl TxnFacts {
    pub(crate) fn of(txn: &Transaction) -> Self {
        TxnFacts {
            entity: txn.kind,
            qbo_id: txn.doc.id.clone(),
            doc_number: txn.doc.doc_number.clone().filter(|d| !d.trim().is_empty()),
            customer: customer_name(txn),
            sync_token: Some(txn.doc.sync_token.clone()),
            last_updated: txn.doc.last_updated(),
        }
    }

    pub(crate) fn of_ledger(entry: &LedgerEntry) -> Self {
        TxnFacts {
            entity: entry.key.entity,
            qbo_id: entry.key.qbo_id.clone(),
            doc_number: None,
            customer: None,
            sync_token: Some(entry.sync_token.clone()),
            last_updated: None,
        }
    }
}

/// The customer's name as the transaction names it (`CustomerRef.name`), trimmed; `None` when
/// it names none or a blank one.
fn customer_name(txn: &Transaction) -> Option<String> {
    let name = txn.doc.customer_ref.as_ref()?.name.as_deref()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
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
        reason: Option<Reason>,
        detail: impl Into<Option<String>>,
    ) -> LogEntry {
        LogEntry {
            run_id: self.run_id.clone(),
            at,
            realm: self.realm.clone(),
            entity: facts.entity,
            qbo_id: facts.qbo_id.clone(),
            doc_number: facts.doc_number.clone(),
            customer: facts.customer.clone(),
            sync_token: facts.sync_token.clone(),
            last_updated: facts.last_updated,
            action,
            reason,
            detail: detail.into(),
            order_number: None,
            failure: None,
            dry_run: self.dry_run,
        }
    }
}
