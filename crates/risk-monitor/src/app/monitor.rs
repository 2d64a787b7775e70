//! The monitor task (lead).
