//! Protocol Buffers definitions of every tse gRPC API, and the prost/tonic code generated from them.
//!
//! Where it sits (the bottom layer: generated code every other crate may use) and the invariants it
//! keeps: `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! - `proto/tse/<area>/v1/*.proto`: the definitions, one package per area (`tse.runtime.v1`, ...).
//! - `build.rs`: compiles them with protox (pure Rust, no `protoc`) and tonic-prost-build.
//! - [`runtime::v1`]: what every instance serves, whatever its service ([`runtime::v1::instance_service_server`]).
//! - [`marketdata::v1`]: the market data simulator's production API.
//! - [`exchange::v1`]: the exchange simulator's production API.
//! - [`custodian::v1`]: the custodian simulator's production API.
//! - [`audit::v1`]: the audit correlator's API (ingestion and queries of every instance's events).
//! - [`trading::v1`]: the trading system engine's production API (strategies, positions, P&L, halt).
//! - [`risk::v1`]: the risk monitor's production API (alerts, their stream, the risk summary, limits).
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors, for gRPC server reflection and for the host's
//!   list of known methods (metrics labels stay bounded).

/// Messages and services shared by every instance.
pub mod runtime {
    /// Version 1 of `tse.runtime`.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/tse.runtime.v1.rs"));
    }
}

/// The market data simulator's production API.
pub mod marketdata {
    /// Version 1 of `tse.marketdata`.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/tse.marketdata.v1.rs"));
    }
}

/// The exchange simulator's production API.
pub mod exchange {
    /// Version 1 of `tse.exchange`.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/tse.exchange.v1.rs"));
    }
}

/// The custodian simulator's production API.
pub mod custodian {
    /// Version 1 of `tse.custodian`.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/tse.custodian.v1.rs"));
    }
}

/// The audit correlator's API.
pub mod audit {
    /// Version 1 of `tse.audit`.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/tse.audit.v1.rs"));
    }
}

/// The trading system engine's production API.
pub mod trading {
    /// Version 1 of `tse.trading`.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/tse.trading.v1.rs"));
    }
}

/// The risk monitor's production API.
pub mod risk {
    /// Version 1 of `tse.risk`.
    #[allow(missing_docs, unreachable_pub, clippy::all)]
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/tse.risk.v1.rs"));
    }
}

/// Encoded `FileDescriptorSet` of every tse `.proto` file (with imports).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tse_descriptor.bin"));
