//! The preview: one JSON line per transaction of a QBO document, saying what the sync would do
//! with it (`create` with the `POST /v3/order` body, `skip` with a reason code, or `error` with
//! an error code). The `preview` example prints these lines; the library builds them so that
//! tests and hosts get exactly the same output without running the example.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::ordoro::NewOrder;
use crate::model::qbo::{ChangedTransaction, EntityKind, Fault, QboDocument, Transaction};

use super::{Decision, MappingConfig, decide};
use crate::Reason;

/// Which QBO object a preview line is about; each field is null when absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QboRef {
    /// `Invoice`, `SalesReceipt`, or another entity's name.
    pub entity: Option<String>,
    /// The QBO id.
    pub id: Option<String>,
    /// The DocNumber.
    pub doc_number: Option<String>,
}

/// The error of an `error` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewError {
    /// The stable code.
    pub code: Reason,
    /// What was wrong.
    pub message: String,
}

/// One line of preview output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewLine {
    /// The QBO object.
    pub qbo: QboRef,
    /// `create`, `skip` or `error`.
    pub decision: String,
    /// The order body, for `create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<NewOrder>,
    /// The reason code, for `skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Details, for `skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The error, for `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<PreviewError>,
    /// Warnings, for `create`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// For `create` with item data (a [`SkuBook`](super::SkuBook) in the config): each order
    /// line's SKU and where it came from. Absent without item data, so the output is what it
    /// always was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skus: Option<Vec<super::LineSku>>,
}

impl PreviewLine {
    fn skip(qbo: QboRef, reason: Reason, detail: String) -> Self {
        PreviewLine {
            qbo,
            decision: "skip".into(),
            order: None,
            reason: Some(reason),
            detail: Some(detail),
            error: None,
            warnings: Vec::new(),
            skus: None,
        }
    }

    fn error(qbo: QboRef, code: Reason, message: String) -> Self {
        PreviewLine {
            qbo,
            decision: "error".into(),
            order: None,
            reason: None,
            detail: None,
            error: Some(PreviewError { code, message }),
            warnings: Vec::new(),
            skus: None,
        }
    }
}

/// The preview line of one transaction.
pub fn preview_transaction(txn: &Transaction, config: &MappingConfig) -> PreviewLine {
    let qbo = QboRef {
        entity: Some(txn.kind.as_str().into()),
        id: non_blank(&txn.doc.id),
        doc_number: txn.doc.doc_number.as_deref().and_then(non_blank),
    };
    match decide(txn, config) {
        Decision::Create(mapped) => PreviewLine {
            qbo,
            decision: "create".into(),
            order: Some(mapped.order),
            reason: None,
            detail: None,
            error: None,
            warnings: mapped.warnings,
            skus: config.sku_book().is_some().then_some(mapped.skus),
        },
        Decision::Skip { reason, detail } => PreviewLine::skip(qbo, reason, detail),
        Decision::Error { code, message } => PreviewLine::error(qbo, code, message),
    }
}

/// The preview lines of a document: one per invoice or sales receipt (a query row, a batch item's
/// row or object); a `deleted` skip per delete stub of the change feed and per
/// `{"status": "Deleted"}` object, wherever it appears; an `error` line per fault, and one for a document that holds
/// another entity (`unsupported_entity`). An empty query page gives no line.
pub fn preview_document(doc: &QboDocument, config: &MappingConfig) -> Vec<PreviewLine> {
    let each = |txns: Vec<Transaction>| -> Vec<PreviewLine> {
        txns.iter().map(|t| preview_transaction(t, config)).collect()
    };
    match doc {
        QboDocument::Invoice(_) | QboDocument::SalesReceipt(_) | QboDocument::Query(_) => {
            each(doc.transactions())
        }
        QboDocument::Cdc(cdc) => {
            let mut out = Vec::new();
            for kind in EntityKind::ALL {
                for item in cdc.items(kind) {
                    out.push(match item {
                        ChangedTransaction::Changed(d) => preview_transaction(
                            &Transaction { kind, doc: d.as_ref().clone() },
                            config,
                        ),
                        ChangedTransaction::Deleted(stub) => PreviewLine::skip(
                            QboRef {
                                entity: Some(kind.as_str().into()),
                                id: non_blank(&stub.id),
                                doc_number: None,
                            },
                            Reason::Deleted,
                            "deleted in QuickBooks".into(),
                        ),
                    });
                }
            }
            out
        }
        QboDocument::Batch(batch) => {
            let mut out = Vec::new();
            for item in &batch.batch_item_response {
                if let Some(fault) = &item.fault {
                    let message = format!("batch item {}: {}", item.b_id, fault_text(fault));
                    out.push(PreviewLine::error(QboRef::default(), Reason::QboFault, message));
                }
                out.extend(item.transactions().iter().map(|t| preview_transaction(t, config)));
            }
            out
        }
        QboDocument::Fault(envelope) => {
            vec![PreviewLine::error(
                QboRef::default(),
                Reason::QboFault,
                fault_text(&envelope.fault),
            )]
        }
        QboDocument::Other { entity, raw } => vec![PreviewLine::error(
            QboRef {
                entity: Some(entity.clone()),
                id: raw_text(raw, "Id"),
                doc_number: raw_text(raw, "DocNumber"),
            },
            Reason::UnsupportedEntity,
            format!("a {entity} is not an invoice or a sales receipt; only those become orders"),
        )],
    }
}

/// The preview lines of a document given as JSON text. Fails only when the text is not JSON; JSON
/// that is not a readable QBO document gives one `invalid_document` error line.
pub fn preview_json(
    text: &str,
    config: &MappingConfig,
) -> Result<Vec<PreviewLine>, serde_json::Error> {
    let value: Value = serde_json::from_str(text)?;
    let qbo = raw_ref(&value);
    Ok(match QboDocument::from_value(value) {
        Ok(doc) => preview_document(&doc, config),
        Err(e) => vec![PreviewLine::error(qbo, Reason::InvalidDocument, e.message().to_string())],
    })
}

/// The entity, id and DocNumber of a raw document, as far as they can be seen.
fn raw_ref(value: &Value) -> QboRef {
    for entity in ["Invoice", "SalesReceipt"] {
        if let Some(inner) = value.get(entity) {
            return QboRef {
                entity: Some(entity.into()),
                id: raw_text(inner, "Id"),
                doc_number: raw_text(inner, "DocNumber"),
            };
        }
    }
    QboRef { entity: None, id: raw_text(value, "Id"), doc_number: raw_text(value, "DocNumber") }
}

fn raw_text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => non_blank(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn non_blank(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn fault_text(fault: &Fault) -> String {
    let kind = fault.fault_type.as_deref().unwrap_or("Fault");
    let errors: Vec<String> = fault
        .error
        .iter()
        .map(|e| {
            let code = e.code.as_deref().unwrap_or("?");
            let msg = e.message.as_deref().unwrap_or("");
            format!("{code} {msg}").trim().to_string()
        })
        .collect();
    if errors.is_empty() { kind.to_string() } else { format!("{kind}: {}", errors.join("; ")) }
}
