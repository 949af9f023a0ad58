//! Project-file benchmarks (`cargo bench --bench project`; release build):
//! 1. one annotation edit commit (encrypt, hash, sign, chain, FULL commit) versus a bare
//!    SQLite FULL commit of a same-size row, same run;
//! 2. open + unlock + verify of a 100,000-event project;
//! 3. AES-256-GCM throughput on 64 KiB chunks.
//!
//! Numbers go in the issue note, not into assertions. `TESSERA_BENCH_EVENTS` overrides the
//! event count of (2).

use std::time::{Duration, Instant};

use tessera::project::crypto::{Aad, CHUNK_BYTES, Key32, Sealer};
use tessera::project::model::{
    Annotation, AnnotationBody, Edit, EventPayload, ImageRef, Kind, Label,
};
use tessera::project::{Id, KdfChoice, KdfParams, Project, VerifyOnOpen};

/// Benchmarks only: tiny Argon2 so the numbers measure the file, not the KDF.
const TINY: KdfChoice = KdfChoice::Fixed(KdfParams {
    m_kib: 64,
    t_cost: 1,
    p_lanes: 1,
});

fn annotation(i: usize) -> Annotation {
    Annotation {
        id: Id::random().unwrap_or_default(),
        body: AnnotationBody {
            image: ImageRef::Dicom {
                series_uid: format!("1.2.826.0.1.3680043.8.498.{}", i % 50),
                sop_uid: None,
                frame: Some(i as u32 % 40),
            },
            kind: Kind::Polygon,
            points: (0..8)
                .map(|k| [i as f64 + k as f64, 2.0 * k as f64])
                .collect(),
            label: Label {
                name: "tumour".into(),
                scheme: Some("SCT".into()),
                code: Some("108369006".into()),
                meaning: Some("Neoplasm".into()),
            },
            comment: Some("margin unclear".into()),
        },
    }
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    println!("project benchmarks (release; machine shared with other builds)");

    // 1. Commit latency.
    let n = 300;
    let path = dir.path().join("commit.tessera");
    let (mut s, _) = Project::create(&path, "bench", b"pw", TINY)?;
    for i in 0..20 {
        s.commit_edit(Edit::Create {
            annotation: annotation(i),
        })?;
    }
    let payload_bytes = serde_json::to_vec(&EventPayload {
        edit: Edit::Create {
            annotation: annotation(0),
        },
        undo_of: None,
    })?
    .len();
    let mut ours = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        s.commit_edit(Edit::Create {
            annotation: annotation(i),
        })?;
        ours.push(t.elapsed());
    }
    drop(s);
    let bare_path = dir.path().join("bare.sqlite");
    let conn = rusqlite::Connection::open(&bare_path)?;
    let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE t (id BLOB PRIMARY KEY, data BLOB NOT NULL)")?;
    let row = vec![7u8; payload_bytes + 16 + 12];
    let mut bare = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.execute(
            "INSERT INTO t (id, data) VALUES (?1, ?2)",
            rusqlite::params![Id::random()?, row],
        )?;
        conn.execute_batch("COMMIT")?;
        bare.push(t.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (m_ours, m_bare) = (median(&mut ours), median(&mut bare));
    println!(
        "commit one edit: median {:.3} ms vs bare SQLite FULL commit of a {}-byte row {:.3} ms: {:.2}x",
        m_ours.as_secs_f64() * 1e3,
        row.len(),
        m_bare.as_secs_f64() * 1e3,
        m_ours.as_secs_f64() / m_bare.as_secs_f64()
    );

    // 2. Open + verify of a large project.
    let events: usize = std::env::var("TESSERA_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let path = dir.path().join("big.tessera");
    let (mut s, _) = Project::create(&path, "bench", b"pw", TINY)?;
    let t = Instant::now();
    for batch in 0..events.div_ceil(1000) {
        let payloads: Vec<EventPayload> = (0..1000.min(events - batch * 1000))
            .map(|i| EventPayload {
                edit: Edit::Create {
                    annotation: annotation(batch * 1000 + i),
                },
                undo_of: None,
            })
            .collect();
        s.commit_payloads(&payloads)?;
    }
    println!(
        "built {events} events in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    drop(s);
    let t = Instant::now();
    let mut s = Project::open(&path)?.unlock("bench", b"pw", VerifyOnOpen::Yes)?;
    let open_verify = t.elapsed();
    let t = Instant::now();
    let snap = s.snapshot()?;
    let load_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    s.verify_snapshot(&snap)?;
    println!(
        "  of which: load rows from SQLite {load_s:.2} s, verify in memory {:.2} s",
        t.elapsed().as_secs_f64()
    );
    drop(snap);
    let t = Instant::now();
    let report = s.verify()?;
    println!(
        "open + unlock + verify of {} events: {:.2} s (verify alone again: {:.2} s; {} threads)",
        report.events,
        open_verify.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    drop(s);

    // 3. AES-256-GCM throughput.
    let key = Key32::random()?;
    let sealer = Sealer::new(&key, "bench", 0);
    let (p, r) = (Id::random()?, Id::random()?);
    let aad = Aad {
        project: &p,
        table: "t",
        column: "c",
        row: &r,
        event: &Id::NIL,
        key_id: "bench",
        author: &Id::NIL,
    };
    let chunk = vec![0x5au8; CHUNK_BYTES];
    let rounds = 8192; // 512 MiB
    let t = Instant::now();
    let mut last = None;
    for _ in 0..rounds {
        last = Some(sealer.seal(&aad, &chunk)?);
    }
    let seal_s = t.elapsed().as_secs_f64();
    let sealed = last.ok_or_else(|| anyhow::anyhow!("nothing sealed"))?;
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(sealer.open(&aad, &sealed.nonce, &sealed.ct)?);
    }
    let open_s = t.elapsed().as_secs_f64();
    let bytes = (rounds * CHUNK_BYTES) as f64;
    println!(
        "AES-256-GCM on 64 KiB chunks: seal {:.2} GB/s, open {:.2} GB/s",
        bytes / seal_s / 1e9,
        bytes / open_s / 1e9
    );
    Ok(())
}
