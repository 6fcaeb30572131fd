//! Files throughput bench (placeholder).
fn main() {}
