//! The layering rule: egui, eframe and wgpu appear only under `src/app/`.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn domain_code_never_imports_the_gui_stack() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let app = src.join("app");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5, "found only {} source files", files.len());
    let mut offenders = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&app)) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if ["egui", "eframe", "wgpu"].iter().any(|name| {
                code.contains(&format!("{name}::")) || code.contains(&format!("use {name}"))
            }) {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    // main.rs and cli.rs may start the app, through `crate::app` only.
    assert!(
        offenders.is_empty(),
        "GUI types outside src/app:\n{}",
        offenders.join("\n")
    );
}
