//! Project-file benchmarks (`cargo bench --bench project`; release build):
//! 1. one annotation edit commit (encrypt, hash, sign, chain, FULL commit) versus a bare
//!    SQLite FULL commit of a same-size row, same run;
//! 2. open + unlock + verify of a 100,000-event project;
//! 3. AES-256-GCM throughput on 64 KiB chunks;
//! 4. sync: export of every event to a bundle, and import-merge of that bundle into a
//!    copy of the project that lacks them (time and peak resident memory).
//!
//! Numbers go in the issue note, not into assertions. `TESSERA_BENCH_EVENTS` overrides the
//! event count of (2), `TESSERA_BENCH_COMMITS` the pairs of (1) (0 skips it),
//! `TESSERA_BENCH_AES=0` skips (3), `TESSERA_BENCH_KEEP=DIR` keeps the large project
//! between runs. Each phase prints wall and process CPU time and the load average.

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
                plane: None,
                provenance: None,
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

/// Current resident memory (Linux; 0 elsewhere).
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Samples resident memory every 2 ms on a named thread; `stop` returns (start, peak).
struct RssSampler {
    start: u64,
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start() -> anyhow::Result<RssSampler> {
        use std::sync::atomic::Ordering;
        let start = rss_bytes();
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(start));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, d) = (peak.clone(), done.clone());
        let thread = std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                while !d.load(Ordering::Relaxed) {
                    p.fetch_max(rss_bytes(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2));
                }
            })?;
        Ok(RssSampler {
            start,
            peak,
            done,
            thread: Some(thread),
        })
    }

    fn stop(mut self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        (
            self.start,
            self.peak.load(Ordering::Relaxed).max(rss_bytes()),
        )
    }
}

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time of the whole process (all threads) so far, in seconds: with other builds
/// loading the machine, wall time alone says little.
fn cpu_s() -> f64 {
    clock_s(rustix::time::ClockId::ProcessCPUTime)
}

/// CPU time of the calling thread so far: the part of a phase that no other thread can
/// take over (what bounds its wall time on an idle machine).
fn thread_cpu_s() -> f64 {
    clock_s(rustix::time::ClockId::ThreadCPUTime)
}

fn clock_s(id: rustix::time::ClockId) -> f64 {
    let t = rustix::time::clock_gettime(id);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// Wall, process CPU and calling-thread CPU seconds of one phase.
struct Span {
    wall: Instant,
    cpu: f64,
    thread_cpu: f64,
}

impl Span {
    fn start() -> Span {
        Span {
            wall: Instant::now(),
            cpu: cpu_s(),
            thread_cpu: thread_cpu_s(),
        }
    }

    /// "1.23 s wall, 2.34 s CPU (0.98 s on the calling thread)".
    fn done(&self) -> String {
        format!(
            "{:.2} s wall, {:.2} s CPU ({:.2} s on the calling thread)",
            self.wall.elapsed().as_secs_f64(),
            cpu_s() - self.cpu,
            thread_cpu_s() - self.thread_cpu
        )
    }
}

/// The 1-minute load average (Linux; "?" elsewhere).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Commits `n` edits, each paired with a bare SQLite FULL commit of `row` into `conn`
/// (same folder, interleaved A/B with alternating order), and prints both medians.
fn commit_pairs(
    s: &mut tessera::project::Session,
    conn: &rusqlite::Connection,
    row: &[u8],
    n: usize,
    what: &str,
) -> anyhow::Result<()> {
    let bare_commit = || -> anyhow::Result<Duration> {
        let t = Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.execute(
            "INSERT INTO t (id, data) VALUES (?1, ?2)",
            rusqlite::params![Id::random()?, row],
        )?;
        conn.execute_batch("COMMIT")?;
        Ok(t.elapsed())
    };
    for i in 0..20.min(n) {
        s.commit_edit(Edit::Create {
            annotation: annotation(i),
        })?;
        bare_commit()?;
    }
    let (mut ours, mut bare, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let mut one_ours = || -> anyhow::Result<Duration> {
            let t = Instant::now();
            s.commit_edit(Edit::Create {
                annotation: annotation(i),
            })?;
            Ok(t.elapsed())
        };
        let (a, b) = if i % 2 == 0 {
            let a = one_ours()?;
            (a, bare_commit()?)
        } else {
            let b = bare_commit()?;
            (one_ours()?, b)
        };
        ours.push(a);
        bare.push(b);
        ratios.push(a.as_secs_f64() / b.as_secs_f64().max(1e-9));
    }
    if n > 0 {
        ratios.sort_by(f64::total_cmp);
        let (o50, b50) = (quantile(&mut ours, 0.5), quantile(&mut bare, 0.5));
        println!(
            "{what}, {n} interleaved pairs: ours median {:.3} ms (p10 {:.3}, p90 {:.3}); bare SQLite FULL commit of a {}-byte row median {:.3} ms (p10 {:.3}, p90 {:.3}); ratio of medians {:.2}x, median of pair ratios {:.2}x",
            ms(o50),
            ms(quantile(&mut ours, 0.1)),
            ms(quantile(&mut ours, 0.9)),
            row.len(),
            ms(b50),
            ms(quantile(&mut bare, 0.1)),
            ms(quantile(&mut bare, 0.9)),
            o50.as_secs_f64() / b50.as_secs_f64(),
            ratios[ratios.len() / 2]
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // On the real disk (target/tmp), never a tmpfs: fsync is what a commit costs.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    // TESSERA_BENCH_KEEP=DIR keeps the 100,000-event project there between runs.
    let keep = std::env::var_os("TESSERA_BENCH_KEEP").map(std::path::PathBuf::from);
    println!(
        "project benchmarks (release; machine shared with other builds; {} threads; load average {})",
        rayon::current_num_threads(),
        load_average()
    );

    // 1. Commit latency: ours and a bare SQLite FULL commit of a same-size row, in the
    // same folder, interleaved A/B (alternating which goes first), many iterations.
    let n: usize = std::env::var("TESSERA_BENCH_COMMITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let path = dir.path().join("commit.tessera");
    let (mut s, _) = Project::create(&path, "bench", b"pw", TINY)?;
    let payload_bytes = serde_json::to_vec(&EventPayload::new(Edit::Create {
        annotation: annotation(0),
    }))?
    .len();
    let bare_path = dir.path().join("bare.sqlite");
    let conn = rusqlite::Connection::open(&bare_path)?;
    let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE t (id BLOB PRIMARY KEY, data BLOB NOT NULL)")?;
    let row = vec![7u8; payload_bytes + 16 + 12];
    commit_pairs(&mut s, &conn, &row, n, "commit one edit")?;
    drop(s);
    // 2. Open + verify of a large project.
    let events: usize = std::env::var("TESSERA_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let big_dir = keep.clone().unwrap_or_else(|| dir.path().to_owned());
    let path = big_dir.join("big.tessera");
    let empty = big_dir.join("empty.tessera");
    let reuse = keep.is_some() && path.exists() && empty.exists();
    if !reuse {
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&empty);
        let (s, _) = Project::create(&path, "bench", b"pw", TINY)?;
        drop(s);
        std::fs::copy(&path, &empty)?;
    }
    // The receiver of the sync benchmark: the same project before the events.
    let receiver = dir.path().join("receiver.tessera");
    std::fs::copy(&empty, &receiver)?;
    let mut s = Project::open(&path)?.unlock("bench", b"pw", VerifyOnOpen::No)?;
    let t = Instant::now();
    let built = if reuse { 0 } else { events };
    for batch in 0..built.div_ceil(1000) {
        let payloads: Vec<EventPayload> = (0..1000.min(built - batch * 1000))
            .map(|i| {
                EventPayload::new(Edit::Create {
                    annotation: annotation(batch * 1000 + i),
                })
            })
            .collect();
        s.commit_payloads(&payloads)?;
    }
    if reuse {
        println!("reusing the project kept in TESSERA_BENCH_KEEP");
    } else {
        println!(
            "built {events} events in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    drop(s);
    // TESSERA_BENCH_ONLY=verify|sync runs one part (for profiling under perf).
    let only = std::env::var("TESSERA_BENCH_ONLY").unwrap_or_default();
    let mut s = if only == "sync" {
        Project::open(&path)?.unlock("bench", b"pw", VerifyOnOpen::No)?
    } else {
        let load_before = load_average();
        let t = Span::start();
        let mut s = Project::open(&path)?.unlock("bench", b"pw", VerifyOnOpen::Yes)?;
        let open_verify = t.done();
        println!(
            "open + unlock + verify of {events} events: {open_verify} (load average before {load_before})"
        );
        if only == "verify" {
            return Ok(());
        }
        let t = Span::start();
        let snap = s.snapshot()?;
        let load = t.done();
        let t = Span::start();
        s.verify_snapshot(&snap)?;
        println!(
            "  verify again, load rows from SQLite {load}; verify in memory {}",
            t.done()
        );
        drop(snap);
        s
    };

    // 1b. Commit latency in the large project (a copy: the kept project stays as built).
    if n > 0 && only.is_empty() {
        let copy = dir.path().join("big-commit.tessera");
        std::fs::copy(&path, &copy)?;
        let mut c = Project::open(&copy)?.unlock("bench", b"pw", VerifyOnOpen::No)?;
        commit_pairs(
            &mut c,
            &conn,
            &row,
            n.min(200),
            &format!("commit one edit into the {events}-event project"),
        )?;
    }

    // 4. Sync: export of all events, then import-merge into a copy that lacks them.
    let bundle = dir.path().join("big.tsync");
    let mib = |b: u64| b as f64 / 1048576.0;
    let load_export = load_average();
    let sampler = RssSampler::start()?;
    let t = Span::start();
    let summary = s.export_bundle(&bundle, &[], &mut |_, _| {})?;
    let export_s = t.done();
    let (rss0, export_peak) = sampler.stop();
    drop(s);
    let mut r = Project::open(&receiver)?.unlock("bench", b"pw", VerifyOnOpen::No)?;
    let load_import = load_average();
    let sampler = RssSampler::start()?;
    let t = Span::start();
    let imported = r.import_commit(&bundle, &mut |_, _| {})?;
    let import_s = t.done();
    let (rss1, import_peak) = sampler.stop();
    println!(
        "export of {} events: {export_s} (load average before {load_export}; {} bytes; resident memory {:.0} MiB before, peak {:.0} MiB)",
        summary.events,
        summary.bytes,
        mib(rss0),
        mib(export_peak)
    );
    println!(
        "import-merge of {} new events: {import_s} (load average before {load_import}; resident memory {:.0} MiB before, peak {:.0} MiB)",
        imported.new_event_count(),
        mib(rss1),
        mib(import_peak)
    );
    drop(r);

    // 3. AES-256-GCM throughput (TESSERA_BENCH_AES=0 skips it).
    if std::env::var("TESSERA_BENCH_AES").is_ok_and(|v| v == "0") {
        return Ok(());
    }
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
