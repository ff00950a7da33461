//! Shipping lines: which sales lines are the shipping charge rather than a product.
