//! Collectors (H-feeds).
