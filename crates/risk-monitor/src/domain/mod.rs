//! The risk monitor's pure core: no I/O, no clock of its own, deterministic.
//!
//! - [`observation`]: what the collectors report — prices, book tops, holdings, orders, fills,
//!   pending settlements, how requests went — each with the simulated time of its data point.
//! - [`limits`]: every rule's thresholds, `for`, hysteresis and window; defaults and validation.
//! - [`alert`]: alerts, their kinds, subjects, severities, lifecycle and evidence.
//! - [`summary`]: the risk picture per entity, per data source and per venue.
//! - [`view`]: the view of the world folded from observations.
//! - [`rules`]: every rule kind measured on the view, one check per subject.
//! - [`monitor`]: the view, the rules evaluated on it, and the alerts they keep.

pub mod alert;
pub mod limits;
pub mod monitor;
pub mod observation;
pub mod rules;
pub mod summary;
pub mod view;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
