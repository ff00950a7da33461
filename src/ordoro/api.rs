//! The [`OrdoroApi`] port: the calls the engine makes to Ordoro for one account, in typed
//! orders, and [`OrdoroApiExt`], the lookup that settles a create whose answer was lost. A
//! create whose response is lost surfaces as
//! [`ErrorKind::OutcomeUnknown`], never as a blind retry.
//! Implemented by [`OrdoroClient`](crate::OrdoroClient) over HTTP, by the host's own client, or
//! by test fakes.

use crate::model::ordoro::{
    AddressUpdate, NewOrder, Order, OrderFinancial, OrderList, PostOrderLine, Product,
    PutOrderLine, SalesChannel,
};
use crate::{Error, ErrorKind, Result, Service};

/// Ordoro's page size limit for `GET /v3/order`.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A search of `GET /v3/order`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrderQuery {
    /// Orders whose `cart_order_id` is exactly this.
    pub cart_order_id: Option<String>,
    /// Orders of this sales channel.
    pub sales_channel: Option<i64>,
    /// Free-text search (matches order numbers).
    pub search: Option<String>,
    /// Page size (1 to 100; Ordoro's default is 10).
    pub limit: Option<u32>,
    /// Offset of the page.
    pub offset: Option<u32>,
}

/// The calls the engine makes to Ordoro for one account.
#[async_trait::async_trait]
pub trait OrdoroApi: std::fmt::Debug + Send + Sync {
    /// `POST /v3/order`. A lost response is [`ErrorKind::OutcomeUnknown`](crate::ErrorKind).
    async fn create_order(&self, order: &NewOrder) -> Result<Order>;

    /// `GET /v3/order/{order_number}`; `None` on 404.
    async fn get_order(&self, order_number: &str) -> Result<Option<Order>>;

    /// `GET /v3/order?...`.
    async fn find_orders(&self, query: &OrderQuery) -> Result<OrderList>;

    /// `PUT /v3/order/{n}/shipping_address`: sets or erases the fields `update` names and
    /// keeps the others.
    async fn update_shipping_address(
        &self,
        order_number: &str,
        update: &AddressUpdate,
    ) -> Result<()>;

    /// `PUT /v3/order/{n}/billing_address`: sets or erases the fields `update` names and keeps
    /// the others.
    async fn update_billing_address(
        &self,
        order_number: &str,
        update: &AddressUpdate,
    ) -> Result<()>;

    /// `PUT /v3/order/{n}/financial`: sets the amounts that are `Some` and keeps the others.
    async fn update_financial(&self, order_number: &str, financial: &OrderFinancial) -> Result<()>;

    /// `POST /v3/order/{n}/line`.
    async fn add_line(&self, order_number: &str, line: &PostOrderLine) -> Result<()>;

    /// `PUT /v3/order/{n}/line/{line_id}`.
    async fn update_line(
        &self,
        order_number: &str,
        line_id: i64,
        line: &PutOrderLine,
    ) -> Result<()>;

    /// `DELETE /v3/order/{n}/line/{line_id}`.
    async fn delete_line(&self, order_number: &str, line_id: i64) -> Result<()>;

    /// `POST /v3/order/{n}/cancel`.
    async fn cancel_order(&self, order_number: &str) -> Result<Order>;

    /// `GET /cart/{cart_id}/`: the sales channel, whose index prefixes its orders' numbers;
    /// `None` on 404. The engine reads it once per process to derive the number of an order
    /// whose create it must settle (see [`SyncConfig::settle_after`](crate::SyncConfig)).
    async fn get_sales_channel(&self, cart_id: i64) -> Result<Option<SalesChannel>>;
    /// `GET /product/{sku}/` (a legacy route: the trailing slash is required, the SKU
    /// percent-encoded); `None` on 404, when the account has no product of that SKU. The
    /// default refuses with a configuration error: a port that cannot look products up cannot
    /// serve the `require_known` unknown-SKU policy.
    async fn get_product(&self, sku: &str) -> Result<Option<Product>> {
        let _ = sku;
        Err(Error::config(
            "this Ordoro port cannot look products up by SKU; use the `create` unknown-SKU \
             policy, or implement OrdoroApi::get_product",
        )
        .with_service(Service::Ordoro))
    }
}

/// Lookups built on [`OrdoroApi`], available on every implementation (the client, the engine's
/// fakes, `dyn OrdoroApi`).
#[async_trait::async_trait]
pub trait OrdoroApiExt: OrdoroApi {
    /// The order created with `cart_order_id == order_id` in `sales_channel` (any channel when
    /// `None`), found with `GET /v3/order?cart_order_id=`. The engine calls it to settle an
    /// [`ErrorKind::OutcomeUnknown`](crate::ErrorKind) create: the mapping sets `cart_order_id`
    /// to the `order_id`.
    ///
    /// Ordoro's order schema does not promise a top-level `cart_order_id` or `sales_channel`, so
    /// the server's filter is trusted and only an order that names another id or channel is
    /// dropped. When Ordoro holds several (which the sync never does on purpose), the oldest one (lowest
    /// id) is returned and a warning is logged.
    async fn find_by_order_id(
        &self,
        order_id: &str,
        sales_channel: Option<i64>,
    ) -> Result<Option<Order>> {
        let query = OrderQuery {
            cart_order_id: Some(order_id.to_owned()),
            sales_channel,
            limit: Some(MAX_PAGE_SIZE),
            ..OrderQuery::default()
        };
        let page = self.find_orders(&query).await?;
        let mut matches: Vec<Order> =
            page.order.into_iter().filter(|o| !contradicts(o, order_id, sales_channel)).collect();
        if matches.len() > 1 {
            tracing::warn!(
                target: "qbo_ordoro::ordoro",
                order_id, count = matches.len(), "several Ordoro orders share one order id"
            );
        }
        matches.sort_by_key(|o| o.id.unwrap_or(i64::MAX));
        Ok(matches.into_iter().next())
    }
}

impl<T: OrdoroApi + ?Sized> OrdoroApiExt for T {}

/// True when `error` is Ordoro refusing a create because the `order_id` is taken.
///
/// Ordoro does not document its duplicate answer; this matches a 400 on `order_id` whose
/// message says the order exists. Confirm with a lookup before relying on it.
pub fn is_duplicate_order(error: &Error) -> bool {
    error.kind() == ErrorKind::BadInput
        && error.service() == Some(Service::Ordoro)
        && error.code() == Some("order_id")
        && error.message().to_ascii_lowercase().contains("exist")
}

/// True when `order` says it belongs to another `cart_order_id` or sales channel.
fn contradicts(order: &Order, order_id: &str, sales_channel: Option<i64>) -> bool {
    let other_id = order.cart_order_id.as_deref().is_some_and(|id| id != order_id);
    let channel = order.sales_channel.as_ref().and_then(|c| c.id);
    let other_channel = matches!((channel, sales_channel), (Some(a), Some(b)) if a != b);
    other_id || other_channel
}
