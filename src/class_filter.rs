//! The class filter: which transactions are marked for Ordoro.
