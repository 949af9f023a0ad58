//! The tag tree over real files: every corpus file gives a tree or a typed error (never
//! a panic), and a hostile sequence of many items is capped, not mirrored in memory.

use std::panic::{AssertUnwindSafe, catch_unwind};

use dicom_core::VR;
use dicom_dictionary_std::tags;
use serde::Deserialize;
use tessera::imaging::file::OpenError;
use tessera::imaging::tags::{MAX_NODES, MAX_VALUE_CHARS, TagError, TagNode, TagTree, read_tags};
use tessera::imaging::writer::DatasetBuilder;

use crate::corpus::corpus_dir;

#[derive(Deserialize)]
struct Manifest {
    entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    file: String,
    expect: String,
    #[serde(default)]
    needs_force: bool,
}

/// Elements plus items: the rows a tree holds.
fn rows(nodes: &[TagNode]) -> usize {
    nodes
        .iter()
        .map(|n| 1 + n.items.iter().map(|i| 1 + rows(&i.nodes)).sum::<usize>())
        .sum()
}

#[test]
fn every_corpus_file_gives_a_tree_or_a_typed_error() {
    let Some(dir) = corpus_dir() else {
        eprintln!(
            "tag tree corpus test skipped: no ../shared/corpus/dicom and TESSERA_CORPUS unset"
        );
        return;
    };
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest.entries.len() > 100, "manifest too small");
    let mut failures = Vec::new();
    let mut trees = 0;
    for entry in &manifest.entries {
        let path = dir.join("files").join(&entry.file);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            read_tags(&path).map(|tree| (tree.filter("0008").matches, tree))
        }));
        match outcome {
            Err(_) => failures.push(format!("{}: panicked", entry.file)),
            Ok(Ok((matches, tree))) => {
                trees += 1;
                check_tree(&entry.file, &tree, matches, &mut failures);
            }
            // Files the reference decoder also refused may fail to open, and so may
            // files it read only when forced (no meta group, not DICOM at all).
            Ok(Err(_)) if entry.expect == "error" => {}
            Ok(Err(TagError::Open {
                error: OpenError::NotDicom { .. },
                ..
            })) if entry.needs_force => {}
            Ok(Err(error)) => failures.push(format!("{}: {error}", entry.file)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(trees > 100, "only {trees} trees");
}

fn check_tree(file: &str, tree: &TagTree, matches: usize, failures: &mut Vec<String>) {
    let nodes = tree.nodes();
    if tree.element_count() == 0 || rows(nodes) > MAX_NODES {
        failures.push(format!("{file}: {} elements", tree.element_count()));
    }
    // The meta group comes first; the data set follows in tag order (a data set may
    // hold groups below 0002, such as the odd 0001 of a broken file).
    let meta = nodes.iter().take_while(|n| n.tag.0 == 0x0002).count();
    let dataset = &nodes[meta..];
    if !dataset.windows(2).all(|w| w[0].tag < w[1].tag) {
        failures.push(format!("{file}: data set tags out of order"));
    }
    if matches > tree.element_count() {
        failures.push(format!(
            "{file}: {matches} matches of {}",
            tree.element_count()
        ));
    }
    fn values_bounded(nodes: &[TagNode]) -> bool {
        nodes.iter().all(|n| {
            n.value.chars().count() <= MAX_VALUE_CHARS + 1
                && n.items.iter().all(|i| values_bounded(&i.nodes))
        })
    }
    if !values_bounded(nodes) {
        failures.push(format!("{file}: a value longer than the limit"));
    }
}

#[test]
fn a_sequence_of_many_items_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many-items.dcm");
    let items = MAX_NODES + 20_000;
    DatasetBuilder::new()
        .text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7")
        .text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3")
        .sequence(
            tags::REFERENCED_IMAGE_SEQUENCE,
            (0..items).map(|_| DatasetBuilder::new()).collect(),
        )
        .text(tags::PATIENT_ID, VR::LO, "P1")
        .write(&path)
        .unwrap();
    let tree = read_tags(&path).unwrap();
    assert!(tree.is_truncated());
    assert_eq!(rows(tree.nodes()), MAX_NODES);
    let sequence = tree
        .nodes()
        .iter()
        .find(|n| n.tag == (0x0008, 0x1140))
        .unwrap();
    assert_eq!(sequence.value, format!("{items} items"));
    assert_eq!(sequence.items.len() + sequence.omitted_items, items);
    // Patient ID comes after the sequence: counted, not kept.
    assert_eq!(tree.omitted(), 1);
    assert_eq!(tree.filter("P1").matches, 0);
}
