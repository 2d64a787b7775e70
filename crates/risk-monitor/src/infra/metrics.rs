//! The `risk_*` metrics (H-infra).
