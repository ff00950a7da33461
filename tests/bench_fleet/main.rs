//! The fleet benchmark (work in progress).
fn main() {}
