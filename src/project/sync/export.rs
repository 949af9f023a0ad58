//! Writing a bundle ([`Session::export_bundle`]) and a whole copy of the file
//! ([`Session::save_copy`]). Reads SQLite, writes only the bundle (temp file, fsync,
//! rename, fsync of the folder, read back) and one audit entry.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use ed25519_dalek::{Signature, Signer, Verifier};
use rusqlite::OptionalExtension;
use zeroize::Zeroizing;

use super::records::{Manifest, encode_event, encode_member, encode_tip};
use super::{
    ExportSummary, bundle_key_label, data_key_aad, end_message, io_err, refused, sync_dir,
    temp_path,
};
use crate::project::audit::{Action, Outcome};
use crate::project::bundle::{
    BundleError, BundleReader, BundleWriter, Header, KeyEntry, Kind, Wire,
};
use crate::project::crypto::Key32;
use crate::project::events::{self, EventRow, TipRow};
use crate::project::id::Id;
use crate::project::keys::GrantRow;
use crate::project::session::Session;
use crate::project::{ProjectError, load_members, now_ms};

impl Session {
    /// Writes a bundle of every event the holder of `since` may lack (everything when
    /// empty), with membership and tips; `progress(done, total)` is called as events
    /// are written. Atomic: temp file, fsync, rename, fsync of the folder; read back and
    /// checked before returning.
    pub fn export_bundle(
        &mut self,
        out: &Path,
        since: &[Id],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<ExportSummary, ProjectError> {
        let members = self.members()?;
        let user_id = self.user_id;
        let heads = self.heads()?;
        let (project, u) = self.parts()?;
        let pid = project.project_id;
        let conn = &project.conn;
        let member_rows = load_members(conn)?;
        let tips: Vec<TipRow> = conn
            .prepare("SELECT author_id, seq, event_hash, signature FROM tips ORDER BY author_id, seq, event_hash")?
            .query_map([], |r| {
                Ok(TipRow {
                    author_id: r.get(0)?,
                    seq: r.get(1)?,
                    event_hash: r.get(2)?,
                    signature: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let excluded = ancestors_of(conn, since)?;
        let all: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
        let total = (all.max(0) as u64).saturating_sub(excluded.len() as u64);

        let content_key = Key32::random()?;
        let bundle_id = Id::random()?;
        let key_id = u.keys.sealer.key_id().to_owned();
        let dk = u.keys.sealer.seal(
            &data_key_aad(&pid, &bundle_id, &key_id),
            content_key.expose(),
        )?;
        let mut entries = vec![KeyEntry {
            user: Id::NIL,
            eph_pk: [0; 32],
            nonce: dk.nonce.as_slice().try_into().unwrap_or([0; 12]),
            ct: dk.ct,
        }];
        let label = bundle_key_label(&bundle_id);
        for m in members.values().filter(|m| m.active) {
            let g = GrantRow::seal(&pid, m.user_id, &label, &m.box_pk, &content_key)
                .map_err(crate::project::slot_err(&m.name))?;
            entries.push(KeyEntry {
                user: m.user_id,
                eph_pk: g.eph_pk.as_slice().try_into().unwrap_or([0; 32]),
                nonce: g.nonce.as_slice().try_into().unwrap_or([0; 12]),
                ct: g.ct,
            });
        }
        let header = Header {
            project_id: pid,
            bundle_id,
            data_key_id: key_id,
            entries,
        };

        let tmp = temp_path(out)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("cannot create the bundle", &tmp))?;
        let written = (|| -> Result<(), ProjectError> {
            let mut w = BundleWriter::new(
                BufWriter::with_capacity(1 << 18, file),
                &header,
                &content_key,
            )?;
            let manifest = Manifest {
                exporter: user_id,
                created_ms: now_ms(),
                events: total,
                members: member_rows.len() as u32,
                tips: tips.len() as u32,
                heads: heads.clone(),
            };
            w.record(Kind::Manifest, &manifest.encode())?;
            for m in &member_rows {
                let name = Zeroizing::new(m.name(&pid, &u.keys.sealer)?);
                w.record(Kind::Member, &encode_member(m, &name))?;
            }
            for t in &tips {
                w.record(Kind::Tip, &encode_tip(t))?;
            }
            let mut stmt = conn.prepare(&format!(
                "SELECT {}, p.chunk, p.key_id, p.nonce, p.ct FROM events e INDEXED BY events_by_hlc
                 JOIN event_payloads p ON p.event_id = e.event_id ORDER BY e.hlc, e.event_id, p.chunk",
                prefixed_event_columns()
            ))?;
            let mut rows = stmt.query([])?;
            let mut pending: Option<(EventRow, Vec<events::PayloadRow>)> = None;
            let mut wire = Wire::default();
            let mut done = 0u64;
            let mut emit = |ev: EventRow,
                            chunks: Vec<events::PayloadRow>,
                            w: &mut BundleWriter<_>|
             -> Result<(), ProjectError> {
                if excluded.contains(&ev.event_id) {
                    return Ok(());
                }
                let blob = events::open_payload(&pid, &u.keys.sealer, &ev, &chunks)
                    .map_err(|e| ProjectError::Format(e.into()))?;
                encode_event(&mut wire, &ev, &blob);
                w.record(Kind::Event, &wire.0)?;
                wire.0.iter_mut().for_each(|b| *b = 0);
                done += 1;
                if done.is_multiple_of(1024) || done == total {
                    progress(done, total);
                }
                Ok(())
            };
            while let Some(r) = rows.next()? {
                let ev = events::event_row(r)?;
                let chunk = events::PayloadRow {
                    event_id: ev.event_id,
                    chunk: r.get(11)?,
                    key_id: r.get(12)?,
                    nonce: r.get(13)?,
                    ct: r.get(14)?,
                };
                match &mut pending {
                    Some((p, chunks)) if p.event_id == ev.event_id => chunks.push(chunk),
                    _ => {
                        if let Some((p, chunks)) = pending.replace((ev, vec![chunk])) {
                            emit(p, chunks, &mut w)?;
                        }
                    }
                }
            }
            if let Some((p, chunks)) = pending.take() {
                emit(p, chunks, &mut w)?;
            }
            let msg = end_message(&pid, &w.header_hash(), &w.content_digest());
            let sig = u.secrets.signing.sign(&msg).to_bytes();
            let buf = w.finish(&sig)?;
            let file = buf
                .into_inner()
                .map_err(|e| ProjectError::Bundle(BundleError::Io(e.into_error())))?;
            file.sync_all()
                .map_err(io_err("cannot sync the bundle", &tmp))?;
            Ok(())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        if let Err(e) = std::fs::rename(&tmp, out) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err("cannot move the bundle into place", out)(e));
        }
        sync_dir(out)?;

        // Read back: every chunk authenticates, the counts match, the signature holds.
        let signer = u.secrets.signing.verifying_key();
        let file = File::open(out).map_err(io_err("cannot read the bundle back", out))?;
        let mut r = BundleReader::open(BufReader::with_capacity(1 << 18, file), |_| {
            Ok(content_key.clone())
        })?;
        let mut n = 0u64;
        while let Some(rec) = r.next_record()? {
            match rec.kind {
                Kind::Event => n += 1,
                Kind::End => {
                    let digest = r.content_digest().unwrap_or_default();
                    let sig = Signature::from_slice(&rec.body)
                        .map_err(|_| BundleError::Malformed("bad signature"))?;
                    if signer
                        .verify(&end_message(&pid, &r.header_hash(), &digest), &sig)
                        .is_err()
                    {
                        return Err(refused(
                            "read back: the exporter's signature does not verify".into(),
                        ));
                    }
                }
                _ => {}
            }
        }
        if n != total {
            return Err(refused(format!("read back {n} events, wrote {total}")));
        }
        let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
        let file_name = out
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.record(Action::SyncExport, Outcome::Success, Some(&file_name))?;
        Ok(ExportSummary {
            events: total,
            members: member_rows.len(),
            bytes,
            heads,
        })
    }

    /// Writes a consistent copy of the whole project file to `out` (SQLite's `VACUUM
    /// INTO`: a snapshot that includes committed WAL content, never a raw file copy), for
    /// sending to a member who keeps working on it as a sibling that syncs by bundles.
    pub fn save_copy(&mut self, out: &Path) -> Result<(), ProjectError> {
        if out.exists() {
            return Err(ProjectError::Exists(out.to_owned()));
        }
        let (project, _) = self.parts()?;
        let target = out
            .to_str()
            .ok_or_else(|| ProjectError::Format("the copy's path is not UTF-8".into()))?;
        project.conn.execute("VACUUM INTO ?1", [target])?;
        File::open(out)
            .and_then(|f| f.sync_all())
            .map_err(io_err("cannot sync the copy", out))?;
        sync_dir(out)
    }
}

fn prefixed_event_columns() -> String {
    events::EVENT_COLUMNS
        .split(", ")
        .map(|c| format!("e.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Event ids that are `since` or their ancestors (those this copy knows).
fn ancestors_of(conn: &rusqlite::Connection, since: &[Id]) -> Result<HashSet<Id>, ProjectError> {
    let mut out = HashSet::new();
    if since.is_empty() {
        return Ok(out);
    }
    let mut stmt = conn.prepare_cached("SELECT parents FROM events WHERE event_id = ?1")?;
    let mut stack: Vec<Id> = since.to_vec();
    while let Some(id) = stack.pop() {
        if out.contains(&id) {
            continue;
        }
        let parents: Option<Vec<u8>> = stmt.query_row([id], |r| r.get(0)).optional()?;
        let Some(parents) = parents else { continue };
        out.insert(id);
        stack.extend(parents.chunks(16).filter_map(Id::from_slice));
    }
    Ok(out)
}
