//! Ordoro: the [`OrdoroApi`] port the engine writes through, and its HTTP client.
//!
//! The port speaks in typed orders; the client turns each call into Ordoro's `/v3/order` routes
//! (Basic auth with the API key's id and secret, order numbers URL-encoded) and Ordoro's error
//! body back into [`Error`](crate::Error)s. A create whose response is lost surfaces as
//! [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown), never as a blind retry.

use crate::Result;
use crate::model::ordoro::{
    NewOrder, Order, OrderFinancial, OrderList, OrdoroAddress, PostOrderLine, PutOrderLine,
};

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

    /// `PUT /v3/order/{n}/shipping_address`.
    async fn update_shipping_address(
        &self,
        order_number: &str,
        address: &OrdoroAddress,
    ) -> Result<()>;

    /// `PUT /v3/order/{n}/billing_address`.
    async fn update_billing_address(
        &self,
        order_number: &str,
        address: &OrdoroAddress,
    ) -> Result<()>;

    /// `PUT /v3/order/{n}/financial`.
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
}
