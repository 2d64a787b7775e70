//! How a command failed, which decides the exit code: 2 for bad input, 1 for everything else.

/// How a command failed, which decides the exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad input: exit 2.
    Input(String),
    /// The command could not do its job: exit 1.
    Runtime(String),
}

/// Bad input (flags, environment, topology, names): exit 2.
pub(crate) fn input(error: impl std::fmt::Display) -> Failure {
    Failure::Input(error.to_string())
}

/// A command that could not do its job: exit 1.
pub(crate) fn runtime(error: impl std::fmt::Display) -> Failure {
    Failure::Runtime(error.to_string())
}
