//! The routes the simulated Ordoro serves, as one table: the `/v3/...` routes, which refuse a
//! trailing slash, and the legacy routes, which require one (Ordoro's documented rule). A new
//! route is one variant, one arm in [`parse_route`] and one label in [`route_label`].

use http::Method;
use percent_encoding::percent_decode_str;

/// A route of the simulated API, with its decoded path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/v3/order`.
    Orders,
    /// `/v3/order/{order_number}`.
    Order(String),
    /// `/v3/order/{n}/shipping_address`.
    ShippingAddress(String),
    /// `/v3/order/{n}/billing_address`.
    BillingAddress(String),
    /// `/v3/order/{n}/financial`.
    Financial(String),
    /// `/v3/order/{n}/line`.
    Lines(String),
    /// `/v3/order/{n}/line/{order_line_id}`.
    Line(String, i64),
    /// `/v3/order/{n}/cancel`.
    Cancel(String),
    /// `/v3/order/tag`: the account's order tags.
    Tags,
    /// `/v3/order/{n}/tag/{tag_id}`.
    OrderTag(String, i64),
    /// `/cart/{cart_id}/` (legacy: trailing slash required). The id is kept as written; an id
    /// that is not a known cart is a 404, as Ordoro documents.
    Cart(String),
    /// `/product/{sku}/` (legacy: trailing slash required; the SKU percent-decoded).
    Product(String),
}

/// Splits and decodes a request path. `/v3/...` with a trailing slash, or a legacy route
/// without one, matches nothing, as on Ordoro.
pub(crate) fn parse_route(path: &str) -> Option<Route> {
    match path.strip_prefix("/v3/") {
        Some(rest) => parse_v3(rest),
        None => parse_legacy(path.strip_prefix('/')?.strip_suffix('/')?),
    }
}

fn parse_v3(rest: &str) -> Option<Route> {
    let segments = decode_segments(rest)?;
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let n = |s: &str| s.to_owned();
    match parts.as_slice() {
        ["order"] => Some(Route::Orders),
        // Before `{order_number}`: Ordoro's own route takes the name, as in its document.
        ["order", "tag"] => Some(Route::Tags),
        ["order", number] => Some(Route::Order(n(number))),
        ["order", number, "shipping_address"] => Some(Route::ShippingAddress(n(number))),
        ["order", number, "billing_address"] => Some(Route::BillingAddress(n(number))),
        ["order", number, "financial"] => Some(Route::Financial(n(number))),
        ["order", number, "line"] => Some(Route::Lines(n(number))),
        ["order", number, "line", id] => id.parse().ok().map(|id| Route::Line(n(number), id)),
        ["order", number, "cancel"] => Some(Route::Cancel(n(number))),
        ["order", number, "tag", id] => id.parse().ok().map(|id| Route::OrderTag(n(number), id)),
        _ => None,
    }
}

fn parse_legacy(inner: &str) -> Option<Route> {
    let segments = decode_segments(inner)?;
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["cart", id] => Some(Route::Cart((*id).to_owned())),
        ["product", sku] => Some(Route::Product((*sku).to_owned())),
        _ => None,
    }
}

/// The percent-decoded segments of `path` (no leading slash); none when one is empty (a
/// doubled or trailing slash) or not UTF-8.
fn decode_segments(path: &str) -> Option<Vec<String>> {
    let segments: Vec<String> = path
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8().map(|c| c.into_owned()))
        .collect::<Result<_, _>>()
        .ok()?;
    if segments.iter().any(String::is_empty) { None } else { Some(segments) }
}

/// The key of `requests_by_route`: the method and the path with its parameters named.
pub(crate) fn route_label(method: &Method, route: Option<&Route>) -> String {
    let path = match route {
        None => "(unknown)",
        Some(Route::Orders) => "/v3/order",
        Some(Route::Order(_)) => "/v3/order/{n}",
        Some(Route::ShippingAddress(_)) => "/v3/order/{n}/shipping_address",
        Some(Route::BillingAddress(_)) => "/v3/order/{n}/billing_address",
        Some(Route::Financial(_)) => "/v3/order/{n}/financial",
        Some(Route::Lines(_)) => "/v3/order/{n}/line",
        Some(Route::Line(..)) => "/v3/order/{n}/line/{id}",
        Some(Route::Cancel(_)) => "/v3/order/{n}/cancel",
        Some(Route::Tags) => "/v3/order/tag",
        Some(Route::OrderTag(..)) => "/v3/order/{n}/tag/{id}",
        Some(Route::Cart(_)) => "/cart/{id}/",
        Some(Route::Product(_)) => "/product/{sku}/",
    };
    format!("{method} {path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_decode_their_segments_and_refuse_trailing_slashes() {
        assert_eq!(parse_route("/v3/order"), Some(Route::Orders));
        assert_eq!(parse_route("/v3/order/"), None);
        assert_eq!(parse_route("/v3/order/1-A%20B%2FC"), Some(Route::Order("1-A B/C".into())));
        assert_eq!(parse_route("/v3/order/M-1/line/1001"), Some(Route::Line("M-1".into(), 1001)));
        assert_eq!(parse_route("/v3/order/M-1/line/x"), None);
        assert_eq!(parse_route("/v3/order/M-1/cancel/"), None);
        assert_eq!(parse_route("/v3/order//cancel"), None);
        assert_eq!(parse_route("/order/"), None);
    }

    #[test]
    fn legacy_routes_require_their_trailing_slash() {
        assert_eq!(parse_route("/cart/55/"), Some(Route::Cart("55".into())));
        assert_eq!(parse_route("/cart/55"), None);
        assert_eq!(parse_route("/cart/"), None);
        assert_eq!(parse_route("/cart//"), None);
        assert_eq!(parse_route("/v3/cart/55"), None);
        assert_eq!(parse_route("/product/A%2FB%20C/"), Some(Route::Product("A/B C".into())));
        assert_eq!(parse_route("/product/A"), None);
    }

    #[test]
    fn labels_name_the_parameters() {
        let label = |m: Method, p: &str| route_label(&m, parse_route(p).as_ref());
        assert_eq!(label(Method::GET, "/cart/7/"), "GET /cart/{id}/");
        assert_eq!(label(Method::PUT, "/v3/order/1-A/line/3"), "PUT /v3/order/{n}/line/{id}");
        assert_eq!(label(Method::GET, "/nowhere"), "GET (unknown)");
    }
}
