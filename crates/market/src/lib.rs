//! Market types the services share: identifiers parsed once where a request enters (the API edge),
//! so the layers below take a [`Symbol`], an [`AccountId`] or a [`Side`] instead of re-checking a
//! `String`, and the [`Balance`] of one account in one asset.
//!
//! Each identifier has a checked `parse` whose error says what is wrong, [`Display`](std::fmt::Display)
//! in its canonical spelling, and serde as a plain string (deserializing parses).
//!
//! Where it sits (a pure crate: no I/O, no runtime) and the invariants it keeps: `ARCHITECTURE.md`
//! at the repository root.
//!
//! # Layout
//! - [`id`]: [`Symbol`], [`Asset`], [`AccountId`], [`ClientOrderId`].
//! - [`side`]: [`Side`], buy or sell.
//! - [`balance`]: [`Balance`], available and locked.
//!
//! No I/O and no service's rules: which symbols are listed or which accounts exist is each
//! service's question.

pub mod balance;
pub mod id;
pub mod side;

pub use balance::Balance;
pub use id::{AccountId, Asset, ClientOrderId, IdError, Symbol};
pub use side::{Side, SideError};
