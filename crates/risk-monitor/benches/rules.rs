//! Rules evaluated per second in the core (filled in by the rule core's work).
fn main() {}
