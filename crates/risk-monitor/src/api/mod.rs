//! The production API (H-api).
