//! The risk monitor against real instances: each fault of the scenario library, injected through
//! the simulators' back doors, raises the alert that names it, with evidence, through the monitor's
//! production API; and the monitor itself holds no back door.

mod faults;
mod support;
