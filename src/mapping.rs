//! From transaction to order: the decision (create or skip, and why) and the `POST /v3/order` body.
