//! Placeholder until the decisions bench is written (helper A replaces this file).
fn main() {}
