//! What a panic does in `tse`: it is logged as an ERROR (in the instance's log and with the instance
//! named, when it happens inside an instance's span), and a panic that reaches `main` exits 1, one of
//! the documented exit codes, instead of Rust's 101 with a backtrace on stderr.
//!
//! A panic inside an instance's task or request handler does not end the process here: the host
//! catches it, answers 500 or stops that instance with a failure, and `tse` exits 1 once the
//! instances have stopped.

use std::{any::Any, panic::Location, process::ExitCode};

/// Replaces Rust's default panic output with an ERROR log line (on stderr before logging starts).
pub(crate) fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let report = report(info.payload(), info.location());
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        if tracing::dispatcher::has_been_set() {
            // Inside an instance's span, the line goes to that instance's file and names it.
            let backtrace = std::backtrace::Backtrace::capture();
            if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
                tracing::error!(thread, %backtrace, "{report}");
            } else {
                tracing::error!(thread, "{report}");
            }
        } else {
            eprintln!("tse: {report} (thread {thread})");
        }
    }));
}

/// Runs `main`; a panic that reaches it (already reported by the hook) exits 1.
pub(crate) fn exit_1_on_panic(main: impl FnOnce() -> ExitCode) -> ExitCode {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(main)).unwrap_or(ExitCode::FAILURE)
}

/// The one-line report of a panic: its message and where it was raised.
fn report(payload: &(dyn Any + Send), location: Option<&Location<'_>>) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    let message = message.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    match location {
        Some(at) => format!(
            "panicked at {}:{}:{}: {message}",
            at.file(),
            at.line(),
            at.column()
        ),
        None => format!("panicked: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_gives_the_message_on_one_line_and_where_it_was_raised() {
        let at = Location::caller();
        let payload: Box<dyn Any + Send> = Box::new(String::from("Division overflowed\nin the book"));
        assert_eq!(
            report(payload.as_ref(), Some(at)),
            format!(
                "panicked at {}:{}:{}: Division overflowed in the book",
                at.file(),
                at.line(),
                at.column()
            )
        );
        let payload: Box<dyn Any + Send> = Box::new("static text");
        assert_eq!(report(payload.as_ref(), None), "panicked: static text");
        let payload: Box<dyn Any + Send> = Box::new(17_u8);
        assert_eq!(
            report(payload.as_ref(), None),
            "panicked: a panic without a message"
        );
    }

    #[test]
    fn a_panic_that_reaches_main_exits_1() {
        let code = exit_1_on_panic(|| panic!("a bug"));
        assert_eq!(code, ExitCode::FAILURE);
        assert_eq!(exit_1_on_panic(|| ExitCode::from(2)), ExitCode::from(2));
    }
}
