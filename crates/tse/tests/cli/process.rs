//! Running the `tse` binary as a child process and reading what it prints.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// A `tse` child process whose stdout lines arrive on a channel.
pub struct Tse {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

pub fn command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tse"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LOG_LEVEL", "info");
    command
}

impl Tse {
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tse starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one satisfies `found`, returning it; panics after `timeout`.
    pub fn wait_for(&mut self, timeout: Duration, found: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if found(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("timed out; output so far:\n{}", self.seen.join("\n")),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads the ready table `tse up` prints for `count` instances, and its summary line: (instance,
    /// HTTP URL) per row, in order.
    pub fn ready_table(&mut self, count: usize, timeout: Duration) -> Vec<(String, String)> {
        self.wait_for(timeout, |l| l.starts_with("INSTANCE"));
        let rows = (0..count)
            .map(|_| {
                let line = self.wait_for(Duration::from_secs(5), |_| true);
                let fields: Vec<&str> = line.split_whitespace().collect();
                (fields[0].to_owned(), fields[2].to_owned())
            })
            .collect();
        self.wait_for(Duration::from_secs(10), |l| l.starts_with("tse:"));
        rows
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                while let Ok(line) = self.lines.try_recv() {
                    self.seen.push(line);
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "tse did not exit in {timeout:?}; output:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `tse` to completion, returning exit code, stdout and stderr.
pub fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = command(dir).args(args).output().expect("tse runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Extracts `addr=HOST:PORT` from a log line.
pub fn addr_in(line: &str) -> String {
    let start = line.find("addr=").expect("addr field") + 5;
    line[start..].split_whitespace().next().unwrap().to_owned()
}
