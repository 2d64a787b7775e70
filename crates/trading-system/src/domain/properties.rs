//! Property tests (helper A writes them).
