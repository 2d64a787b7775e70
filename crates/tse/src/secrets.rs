//! Secrets on disk: files only their owner can read, the ecosystem's admin token kept across runs,
//! and fresh random secrets.

use std::path::{Path, PathBuf};

use tse_runtime::config::{Secret, topology::EcosystemConfig};

/// A fresh random secret: 128 bits, in hex.
pub(crate) fn random_secret() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Makes sure the ecosystem has an admin token: `TSE_ADMIN_TOKEN` when set; else the one in
/// `{data_root}/admin-token` from an earlier run; else a new random one written there (mode 0600).
/// Returns the file holding it, when the token comes from a file.
pub(crate) fn ensure_admin_token(config: &mut EcosystemConfig) -> Result<Option<PathBuf>, String> {
    if config.common.admin_token.is_some() {
        return Ok(None);
    }
    let path = config.data_root.join("admin-token");
    let existing = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| Secret::parse_token("admin-token", t.trim()).ok());
    let token = match existing {
        Some(token) => token,
        None => {
            let text = random_secret();
            std::fs::create_dir_all(&config.data_root)
                .map_err(|e| format!("cannot create {}: {e}", config.data_root.display()))?;
            write_private(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Secret::parse_token("admin-token", &text).map_err(|e| e.to_string())?
        }
    };
    config.common.admin_token = Some(token.clone());
    for instance in &mut config.instances {
        instance.common.admin_token = Some(token.clone());
    }
    Ok(Some(path))
}

/// Writes a file only its owner can read (secrets).
///
/// # Errors
/// The I/O error.
pub(crate) fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_private(path, text)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}
