use std::path::Path;

fn main() {
    let mut cc = cc::Build::new();
    let jp2dir = Path::new("vendor/src/lib/openjp2");

    let target = std::env::var("CARGO_CFG_TARGET_FAMILY").expect("CARGO_CFG_TARGET_FAMILY");
    if target == "windows" {
        cc.define("OPJ_HAVE__ALIGNED_MALLOC", Some("1"));
        #[cfg(feature = "threads")]
        cc.define("MUTEX_win32", Some("1"));
    } else {
        cc.define("OPJ_HAVE_POSIX_MEMALIGN", Some("1"));
        #[cfg(feature = "threads")]
        cc.define("MUTEX_pthread", Some("1"));
    }
    cc.include(jp2dir);
    cc.include("config");
    cc.define("OPJ_STATIC", Some("1"));
    // Tessera: upstream code, built with its own warning set upstream; cc's -Wall -Wextra
    // would only repeat notes about unused helpers in every build log.
    cc.warnings(false);
    // Tessera: as OpenJPEG's own release builds (CMake Release), no assert() in the
    // block decoder's inner loops.
    cc.define("NDEBUG", None);
    // Tessera: clang turns the selects of the packed MQ decoder (mqc_inl.h,
    // opj_mqc_decode_p_macro) into conditional moves; GCC 12 keeps branches there and
    // decodes about 12 % slower. Any C compiler builds it correctly, and a compiler
    // named in CC / TARGET_CC / CC_<target> still wins.
    // (Naming any rerun-if trigger drops cargo's default of rerunning on every change in
    // the package, so the sources are named too.)
    for path in ["build.rs", "config", "vendor/src/lib/openjp2"] {
        println!("cargo:rerun-if-changed={path}");
    }
    let target = std::env::var("TARGET").unwrap_or_default();
    let cc_vars = [
        "CC".to_string(),
        "TARGET_CC".to_string(),
        format!("CC_{target}"),
        format!("CC_{}", target.replace('-', "_")),
    ];
    for var in &cc_vars {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let cc_named = cc_vars.iter().any(|v| std::env::var_os(v).is_some());
    let clang_works = std::process::Command::new("clang")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !cc_named && clang_works {
        cc.compiler("clang");
    }
    #[cfg(not(feature = "threads"))]
    cc.define("MUTEX_stub", Some("1"));

    let files = [
        "thread.c",
        "bio.c",
        "cio.c",
        "dwt.c",
        "event.c",
        "ht_dec.c",
        "image.c",
        "invert.c",
        "j2k.c",
        "jp2.c",
        "mct.c",
        "mqc.c",
        "openjpeg.c",
        "opj_clock.c",
        "pi.c",
        "t1.c",
        "t2.c",
        "tcd.c",
        "tgt.c",
        "function_list.c",
        "opj_malloc.c",
        "sparse_array.c",
    ];
    for file in &files {
        cc.file(jp2dir.join(file));
    }
    cc.compile("openjp2");
}
