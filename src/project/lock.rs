//! The lock file beside a project (`FILE.lock`): user, host, pid and a heartbeat, so a
//! second opener sees "in use by X on host Y".
//!
//! Owns the lock file and its heartbeat thread only. The user is the operating-system
//! account, not a project member name (member names are never written in clear).
//! A lock is stale when its process is gone (same host) or its heartbeat is older than
//! [`STALE_AFTER`]; a stale lock is taken over.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ProjectError, now_ms};

/// How often the holder rewrites its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// A heartbeat older than this means the holder is gone.
pub const STALE_AFTER: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holder {
    user: String,
    host: String,
    pid: u32,
    heartbeat_ms: i64,
}

impl Holder {
    fn me() -> Holder {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Holder {
            user,
            host: hostname(),
            pid: std::process::id(),
            heartbeat_ms: now_ms(),
        }
    }

    fn is_stale(&self) -> bool {
        let old = now_ms() - self.heartbeat_ms > STALE_AFTER.as_millis() as i64;
        let gone = self.host == hostname()
            && cfg!(target_os = "linux")
            && !Path::new("/proc").join(self.pid.to_string()).exists();
        old || gone
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// A held lock; dropping it stops the heartbeat and removes the file.
pub struct LockFile {
    path: PathBuf,
    stop: Option<(SyncSender<()>, JoinHandle<()>)>,
}

/// The lock file's path for a project file.
pub fn lock_path(project: &Path) -> PathBuf {
    let mut name = project
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    project.with_file_name(name)
}

fn write_holder(path: &Path, holder: &Holder) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("lock-{}", holder.pid));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec(holder).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

impl LockFile {
    /// Takes the lock for `project`, or says who holds it.
    pub fn acquire(project: &Path) -> Result<LockFile, ProjectError> {
        let path = lock_path(project);
        let io = |source| ProjectError::Io {
            context: "cannot write the lock file",
            source,
            path: path.clone(),
        };
        let me = Holder::me();
        for _ in 0..2 {
            // Write a private file, then link it into place: the link fails if a lock exists.
            let tmp = path.with_extension(format!("lock-{}", me.pid));
            std::fs::write(
                &tmp,
                serde_json::to_vec(&me).map_err(|e| io(std::io::Error::other(e)))?,
            )
            .map_err(io)?;
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {
                    return Ok(LockFile {
                        stop: start_heartbeat(path.clone(), me),
                        path,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(e)),
            }
            let text = std::fs::read(&path).unwrap_or_default();
            match serde_json::from_slice::<Holder>(&text) {
                Ok(h) if !h.is_stale() => {
                    return Err(ProjectError::InUse {
                        user: h.user,
                        host: h.host,
                        pid: h.pid,
                        path: project.to_owned(),
                    });
                }
                _ => {
                    tracing::warn!("taking over a stale project lock");
                    std::fs::remove_file(&path).map_err(io)?;
                }
            }
        }
        Err(io(std::io::Error::from(std::io::ErrorKind::AlreadyExists)))
    }
}

fn start_heartbeat(path: PathBuf, mut me: Holder) -> Option<(SyncSender<()>, JoinHandle<()>)> {
    let (tx, rx) = mpsc::sync_channel::<()>(1);
    let spawned = std::thread::Builder::new()
        .name("project-lock-heartbeat".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(HEARTBEAT) {
                me.heartbeat_ms = now_ms();
                if let Err(e) = write_holder(&path, &me) {
                    tracing::warn!("cannot refresh the project lock heartbeat: {e}");
                }
            }
        });
    // Without a thread the lock still works; it goes stale after STALE_AFTER.
    spawned.ok().map(|handle| (tx, handle))
}

impl Drop for LockFile {
    fn drop(&mut self) {
        if let Some((tx, handle)) = self.stop.take() {
            let _ = tx.try_send(());
            drop(tx);
            let _ = handle.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn second_opener_sees_the_holder_and_stale_locks_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.tessera");
        let held = LockFile::acquire(&file).unwrap();
        match LockFile::acquire(&file) {
            Err(ProjectError::InUse { pid, .. }) => assert_eq!(pid, std::process::id()),
            other => panic!("expected InUse, got {:?}", other.err()),
        }
        drop(held);
        assert!(!lock_path(&file).exists());
        let ghost = Holder {
            user: "u".into(),
            host: hostname(),
            pid: u32::MAX - 1,
            heartbeat_ms: now_ms(),
        };
        std::fs::write(lock_path(&file), serde_json::to_vec(&ghost).unwrap()).unwrap();
        let _taken = LockFile::acquire(&file).unwrap();
    }
}
