//! The DICOM tag tree: one instance's file meta group and data set as display rows
//! (tag, name, VR, value text), nested sequences as items, private tags marked, and a
//! case-insensitive search that keeps the path to every match.
//!
//! Owns turning a parsed object into bounded display text; it never reads Pixel Data
//! (a header-only open describes it from where the pre-scan found it) and never logs:
//! the tree holds patient data for the user who opened the browser, nobody else.
//! Headless: never imports egui.

mod text;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use dicom_core::dictionary::DataDictionary;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, DataElementHeader, Length, Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use super::file::{self, Instance, OpenError, ReadMode};
use text::{bounded_text, readable_name, value_text};

/// Most rows (elements and items) one tree holds; the rest is counted, not kept.
pub const MAX_NODES: usize = 100_000;
/// Deepest sequence nesting shown (the opener refuses deeper files anyway).
pub const MAX_DEPTH: usize = 64;
/// Longest value text, in characters, before it is cut with "…".
pub const MAX_VALUE_CHARS: usize = 256;

/// Why the tags of a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error("cannot read the tags: {error}: {}", path.display())]
    Open { error: OpenError, path: PathBuf },
}

/// One element as shown in the tag browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagNode {
    /// (group, element).
    pub tag: (u16, u16),
    /// Readable name ("Patient's Name"), "Private tag (CREATOR)" or "Unknown tag".
    pub name: String,
    /// Dictionary keyword ("PatientName"); empty when the dictionary has none.
    pub keyword: String,
    /// Two-letter value representation as read.
    pub vr: String,
    /// Display text, at most [`MAX_VALUE_CHARS`] characters plus "…".
    pub value: String,
    /// Value length in bytes as encoded; `None` for an undefined length (sequences and
    /// encapsulated Pixel Data usually).
    pub length: Option<u64>,
    /// Odd group: defined by a vendor, not by the standard.
    pub private: bool,
    /// Whether this is a sequence (its items are in `items`).
    pub sequence: bool,
    pub items: Vec<SequenceItem>,
    /// Items left out because the tree reached [`MAX_NODES`] or [`MAX_DEPTH`].
    pub omitted_items: usize,
}

/// One item of a sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceItem {
    /// 1-based position in the sequence (kept when a search hides other items).
    pub number: usize,
    pub nodes: Vec<TagNode>,
    /// Elements left out because the tree reached [`MAX_NODES`].
    pub omitted: usize,
}

/// An instance's elements, meta group first, in tag order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagTree {
    id: u64,
    nodes: Vec<TagNode>,
    omitted: usize,
    element_count: usize,
}

/// The result of [`TagTree::filter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilteredTags {
    /// Matching elements and the sequences and items on the way to them.
    pub tree: TagTree,
    /// How many elements match themselves (ancestors kept for context do not count).
    pub matches: usize,
}

/// Distinguishes trees so views can cache work per tree.
static NEXT_TREE_ID: AtomicU64 = AtomicU64::new(1);

impl TagTree {
    fn new(nodes: Vec<TagNode>, omitted: usize) -> Self {
        let element_count = count_elements(&nodes);
        Self {
            id: NEXT_TREE_ID.fetch_add(1, Ordering::Relaxed),
            nodes,
            omitted,
            element_count,
        }
    }

    /// Differs between trees built separately (clones share it): a cache key.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Top-level elements.
    pub fn nodes(&self) -> &[TagNode] {
        &self.nodes
    }

    /// Top-level elements left out because the tree reached [`MAX_NODES`].
    pub fn omitted(&self) -> usize {
        self.omitted
    }

    /// Whether anything was left out anywhere (node or depth limit).
    pub fn is_truncated(&self) -> bool {
        fn any(nodes: &[TagNode]) -> bool {
            nodes.iter().any(|n| {
                n.omitted_items > 0 || n.items.iter().any(|i| i.omitted > 0 || any(&i.nodes))
            })
        }
        self.omitted > 0 || any(&self.nodes)
    }

    /// Elements in the tree at every level (items not counted).
    pub fn element_count(&self) -> usize {
        self.element_count
    }

    /// The elements matching `query`, case-insensitively, with their ancestors.
    ///
    /// The query is split at whitespace; an element matches when every word occurs in
    /// its tag (`(0010,0010)`, `0010,0010` or `00100010`), name, keyword or value.
    /// A matching sequence keeps all its items; otherwise only items holding a match
    /// are kept, under their original numbers. An empty query matches everything.
    pub fn filter(&self, query: &str) -> FilteredTags {
        let terms: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        if terms.is_empty() {
            return FilteredTags {
                tree: self.clone(),
                matches: self.element_count,
            };
        }
        let mut matches = 0;
        let nodes = filter_nodes(&self.nodes, &terms, &mut matches);
        FilteredTags {
            tree: TagTree::new(nodes, 0),
            matches,
        }
    }
}

impl TagNode {
    /// The tag as `(gggg,eeee)`, upper-case hex.
    pub fn tag_text(&self) -> String {
        format!("({:04X},{:04X})", self.tag.0, self.tag.1)
    }

    fn matches(&self, terms: &[String]) -> bool {
        let (g, e) = self.tag;
        let haystack = format!(
            "({g:04x},{e:04x}) {g:04x}{e:04x}\u{1}{}\u{1}{}\u{1}{}",
            self.name, self.keyword, self.value
        )
        .to_lowercase();
        terms.iter().all(|term| haystack.contains(term.as_str()))
    }
}

fn count_elements(nodes: &[TagNode]) -> usize {
    nodes
        .iter()
        .map(|n| {
            1 + n
                .items
                .iter()
                .map(|i| count_elements(&i.nodes))
                .sum::<usize>()
        })
        .sum()
}

fn filter_nodes(nodes: &[TagNode], terms: &[String], matches: &mut usize) -> Vec<TagNode> {
    let mut kept = Vec::new();
    for node in nodes {
        let own = node.matches(terms);
        if own {
            *matches += 1;
        }
        let mut items = Vec::new();
        for item in &node.items {
            let inner = filter_nodes(&item.nodes, terms, matches);
            if own {
                items.push(item.clone());
            } else if !inner.is_empty() {
                items.push(SequenceItem {
                    number: item.number,
                    nodes: inner,
                    omitted: 0,
                });
            }
        }
        if own || !items.is_empty() {
            kept.push(TagNode {
                items,
                omitted_items: if own { node.omitted_items } else { 0 },
                ..node_without_items(node)
            });
        }
    }
    kept
}

fn node_without_items(node: &TagNode) -> TagNode {
    TagNode {
        tag: node.tag,
        name: node.name.clone(),
        keyword: node.keyword.clone(),
        vr: node.vr.clone(),
        value: node.value.clone(),
        length: node.length,
        private: node.private,
        sequence: node.sequence,
        items: Vec::new(),
        omitted_items: 0,
    }
}

/// Opens `path` without loading Pixel Data and builds its tag tree.
pub fn read_tags(path: &Path) -> Result<TagTree, TagError> {
    let instance = file::open(path, ReadMode::HeaderOnly).map_err(|error| TagError::Open {
        error,
        path: path.to_path_buf(),
    })?;
    Ok(instance_tags(&instance))
}

/// The tree of an opened instance; Pixel Data that a header-only open skipped is
/// described from its location in the file.
pub fn instance_tags(instance: &Instance) -> TagTree {
    let mut builder = Builder::default();
    let mut nodes = builder.meta(instance.object.meta().to_element_iter());
    let (dataset, mut omitted) = builder.dataset(&instance.object, 0);
    nodes.extend(dataset);
    if let Some(location) = instance.pixel_data
        && !instance.pixel_data_loaded()
    {
        if builder.take() {
            let node = unloaded_pixel_data(location);
            let at = nodes.partition_point(|n| n.tag < node.tag);
            nodes.insert(at, node);
        } else {
            omitted += 1;
        }
    }
    TagTree::new(nodes, omitted)
}

/// The tree of an object already in memory (its meta group, then its data set).
pub fn tag_tree(object: &DefaultDicomObject) -> TagTree {
    tree_with(object, Builder::default())
}

fn tree_with(object: &DefaultDicomObject, mut builder: Builder) -> TagTree {
    let mut nodes = builder.meta(object.meta().to_element_iter());
    let (dataset, omitted) = builder.dataset(object, 0);
    nodes.extend(dataset);
    TagTree::new(nodes, omitted)
}

/// Keeps count of the rows made so far against a limit ([`MAX_NODES`]).
struct Builder {
    made: usize,
    limit: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            made: 0,
            limit: MAX_NODES,
        }
    }
}

impl Builder {
    /// Reserves one row; false once the limit is reached.
    fn take(&mut self) -> bool {
        if self.made >= self.limit {
            return false;
        }
        self.made += 1;
        true
    }

    fn meta<I, P>(&mut self, elements: impl Iterator<Item = DataElement<I, P>>) -> Vec<TagNode> {
        let mut nodes = Vec::new();
        for element in elements {
            let Some(value) = element.value().primitive() else {
                continue;
            };
            if self.take() {
                nodes.push(primitive_node(element.header(), value, None));
            }
        }
        nodes
    }

    /// The elements of one data set (top level or item), and how many were left out.
    fn dataset(&mut self, object: &InMemDicomObject, depth: usize) -> (Vec<TagNode>, usize) {
        let mut nodes = Vec::new();
        let mut omitted = 0;
        for element in object.iter() {
            if !self.take() {
                omitted += 1;
                continue;
            }
            let header = element.header();
            let creator = private_creator(object, header.tag);
            let node = match element.value() {
                Value::Primitive(value) => primitive_node(header, value, creator.as_deref()),
                Value::Sequence(sequence) => {
                    let items = sequence.items();
                    let mut node = base_node(header, creator.as_deref());
                    node.sequence = true;
                    node.value = match items.len() {
                        1 => "1 item".to_string(),
                        n => format!("{n} items"),
                    };
                    for (index, item) in items.iter().enumerate() {
                        if depth >= MAX_DEPTH || !self.take() {
                            node.omitted_items += 1;
                            continue;
                        }
                        let (inner, omitted) = self.dataset(item, depth + 1);
                        node.items.push(SequenceItem {
                            number: index + 1,
                            nodes: inner,
                            omitted,
                        });
                    }
                    node
                }
                Value::PixelSequence(fragments) => {
                    let bytes: u64 = fragments.fragments().iter().map(|f| f.len() as u64).sum();
                    let mut node = base_node(header, creator.as_deref());
                    node.value = pixel_text(header.tag, Some(bytes), "encapsulated");
                    node
                }
            };
            nodes.push(node);
        }
        (nodes, omitted)
    }
}

/// The creator of a private data element (gggg,xxyy): the value of (gggg,00xx).
fn private_creator(object: &InMemDicomObject, tag: Tag) -> Option<String> {
    let block = tag.1 >> 8;
    if tag.0.is_multiple_of(2) || block < 0x10 {
        return None;
    }
    let creator = object.get(Tag(tag.0, block))?.value().to_str().ok()?;
    let creator = creator.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!creator.is_empty()).then(|| bounded_text(creator))
}

fn base_node(header: &DataElementHeader, creator: Option<&str>) -> TagNode {
    let tag = header.tag;
    let private = tag.0 % 2 == 1;
    let keyword = StandardDataDictionary
        .by_tag(tag)
        .map(|entry| entry.alias)
        .unwrap_or_default();
    let name = if private && (0x0010..=0x00FF).contains(&tag.1) {
        "Private Creator".to_string()
    } else if private && tag.1 != 0x0000 {
        match creator {
            Some(creator) => format!("Private tag ({creator})"),
            None => "Private tag".to_string(),
        }
    } else if keyword.is_empty() {
        "Unknown tag".to_string()
    } else {
        readable_name(keyword)
    };
    TagNode {
        tag: (tag.0, tag.1),
        name,
        keyword: keyword.to_string(),
        vr: header.vr.to_string().to_owned(),
        value: String::new(),
        length: header.len.get().map(u64::from),
        private,
        sequence: false,
        items: Vec::new(),
        omitted_items: 0,
    }
}

fn primitive_node(
    header: &DataElementHeader,
    value: &PrimitiveValue,
    creator: Option<&str>,
) -> TagNode {
    let mut node = base_node(header, creator);
    if node.length.is_none() {
        node.length = Some(value.calculate_byte_len() as u64);
    }
    node.value = if header.tag == tags::PIXEL_DATA {
        pixel_text(header.tag, node.length, "native")
    } else {
        value_text(header.vr, value)
    };
    node
}

fn unloaded_pixel_data(location: file::PixelDataLocation) -> TagNode {
    let (vr, kind) = match location.length {
        Some(_) => (VR::OW, "native"),
        None => (VR::OB, "encapsulated"),
    };
    let header = DataElementHeader::new(
        tags::PIXEL_DATA,
        vr,
        location.length.map_or(Length::UNDEFINED, Length),
    );
    let mut node = base_node(&header, None);
    node.value = pixel_text(tags::PIXEL_DATA, node.length, kind);
    if location.truncated {
        node.value.push_str(" (file cut short)");
    }
    node
}

fn pixel_text(tag: Tag, bytes: Option<u64>, kind: &str) -> String {
    let what = if tag == tags::PIXEL_DATA {
        "pixel data"
    } else {
        "fragments"
    };
    match bytes {
        Some(bytes) => format!("<{what}, {bytes} bytes, {kind}>"),
        None => format!("<{what}, {kind}>"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::imaging::writer::{DatasetBuilder, SliceSpec};
    use dicom_dictionary_std::uids;
    use dicom_object::meta::FileMetaTableBuilder;

    const CREATOR: Tag = Tag(0x0009, 0x0010);
    const PRIVATE_VALUE: Tag = Tag(0x0009, 0x1001);

    /// Patient name, a private block, a long text, binary data, and a sequence of two
    /// items whose second holds a nested sequence.
    fn object() -> DefaultDicomObject {
        let nested = DatasetBuilder::new().text(tags::CODE_MEANING, VR::LO, "Deep marker");
        let items = vec![
            DatasetBuilder::new().text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, "1.2.3.1"),
            DatasetBuilder::new()
                .text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, "1.2.3.2")
                .sequence(tags::CONCEPT_NAME_CODE_SEQUENCE, vec![nested]),
        ];
        DatasetBuilder::new()
            .text(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE)
            .text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4")
            .sequence(tags::REFERENCED_IMAGE_SEQUENCE, items)
            .text(CREATOR, VR::LO, "ACME 1.0")
            .text(PRIVATE_VALUE, VR::LO, "secret sauce")
            .text(tags::PATIENT_NAME, VR::PN, "Doe^Jane")
            .text(tags::PATIENT_COMMENTS, VR::LT, &"x".repeat(1000))
            .bytes(tags::ENCAPSULATED_DOCUMENT, VR::OB, (0u8..10).collect())
            .into_object()
            .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
            .unwrap()
    }

    fn find(nodes: &[TagNode], tag: Tag) -> &TagNode {
        nodes
            .iter()
            .find(|n| n.tag == (tag.0, tag.1))
            .unwrap_or_else(|| panic!("no {tag}"))
    }

    #[test]
    fn names_values_and_private_tags() {
        let tree = tag_tree(&object());
        let nodes = tree.nodes();
        let ts = find(nodes, tags::TRANSFER_SYNTAX_UID);
        assert_eq!(ts.value, "1.2.840.10008.1.2.1 (Explicit VR Little Endian)");
        assert_eq!(ts.name, "Transfer Syntax UID");
        let name = find(nodes, tags::PATIENT_NAME);
        assert_eq!(
            (name.name.as_str(), name.keyword.as_str(), name.vr.as_str()),
            ("Patient's Name", "PatientName", "PN")
        );
        assert_eq!((name.value.as_str(), name.length), ("Doe^Jane", Some(8)));
        assert!(!name.private);

        let creator = find(nodes, CREATOR);
        assert!(creator.private);
        assert_eq!(
            (creator.name.as_str(), creator.value.as_str()),
            ("Private Creator", "ACME 1.0")
        );
        let private = find(nodes, PRIVATE_VALUE);
        assert!(private.private);
        assert_eq!(private.name, "Private tag (ACME 1.0)");
        assert_eq!(private.value, "secret sauce");

        let long = find(nodes, tags::PATIENT_COMMENTS);
        assert_eq!(long.value.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(long.value.ends_with("x…"));
        assert_eq!(long.length, Some(1000));

        let binary = find(nodes, tags::ENCAPSULATED_DOCUMENT);
        assert_eq!(binary.value, "<10 bytes> 00 01 02 03 04 05 06 07 …");

        let sequence = find(nodes, tags::REFERENCED_IMAGE_SEQUENCE);
        assert!(sequence.sequence);
        assert_eq!(sequence.value, "2 items");
        assert_eq!(sequence.length, None);
        assert_eq!(sequence.items.len(), 2);
        assert_eq!(sequence.items[1].number, 2);
        let inner = find(&sequence.items[1].nodes, tags::CONCEPT_NAME_CODE_SEQUENCE);
        assert_eq!(inner.items[0].nodes[0].value, "Deep marker");

        // Meta group first, then tag order; every element counted at every level.
        assert_eq!(nodes[0].tag.0, 0x0002);
        assert!(nodes.windows(2).all(|w| w[0].tag < w[1].tag));
        assert_eq!(tree.element_count(), count_elements(nodes));
        assert!(!tree.is_truncated());
    }

    #[test]
    fn filter_keeps_the_path_to_nested_matches() {
        let tree = tag_tree(&object());
        let found = tree.filter("  DEEP   marker ");
        assert_eq!(found.matches, 1);
        let nodes = found.tree.nodes();
        assert_eq!(nodes.len(), 1);
        let sequence = &nodes[0];
        assert_eq!(sequence.tag, (0x0008, 0x1140));
        // Item 1 holds no match: only item 2 stays, under its own number.
        assert_eq!(sequence.items.len(), 1);
        assert_eq!(sequence.items[0].number, 2);
        let inner = &sequence.items[0].nodes;
        assert_eq!(inner.len(), 1);
        assert_eq!(inner[0].items[0].nodes[0].value, "Deep marker");
        assert_eq!(found.tree.element_count(), 3);
        assert_ne!(found.tree.id(), tree.id());

        for query in [
            "(0010,0010)",
            "0010,0010",
            "00100010",
            "patient's NAME",
            "doe^j",
        ] {
            let found = tree.filter(query);
            assert_eq!(found.matches, 1, "{query}");
            assert_eq!(found.tree.nodes()[0].tag, (0x0010, 0x0010), "{query}");
        }
        // A matching sequence keeps every item.
        let found = tree.filter("ReferencedImageSequence");
        assert_eq!(found.tree.nodes()[0].items.len(), 2);
        assert_eq!(tree.filter("acme").matches, 2);
        assert_eq!(tree.filter("no such thing").matches, 0);
        assert_eq!(tree.filter(" ").matches, tree.element_count());
    }

    #[test]
    fn the_node_limit_counts_what_it_leaves_out() {
        let items = (0..50)
            .map(|i| DatasetBuilder::new().is(tags::INSTANCE_NUMBER, i))
            .collect();
        let object = DatasetBuilder::new()
            .sequence(tags::REFERENCED_IMAGE_SEQUENCE, items)
            .text(tags::PATIENT_ID, VR::LO, "P1")
            .into_object()
            .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
            .unwrap();
        let full = tag_tree(&object);
        let limit = 20;
        let tree = tree_with(&object, Builder { made: 0, limit });
        assert!(tree.is_truncated() && !full.is_truncated());
        let meta = full.nodes().iter().filter(|n| n.tag.0 == 2).count();
        let sequence = find(tree.nodes(), tags::REFERENCED_IMAGE_SEQUENCE);
        // Rows: meta elements, the sequence, then item + element pairs until the limit.
        let room = limit - meta - 1;
        assert_eq!(sequence.items.len(), room.div_ceil(2));
        assert_eq!(sequence.omitted_items, 50 - sequence.items.len());
        assert_eq!(tree.omitted(), 1, "Patient ID did not fit");
        assert_eq!(sequence.value, "50 items");
    }

    #[test]
    fn header_only_files_describe_pixel_data_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slice.dcm");
        let spec = SliceSpec::axial_ct("tags", 1, 0.0);
        spec.write(&path, &vec![0i16; 64 * 64]).unwrap();
        let tree = read_tags(&path).unwrap();
        let pixels = find(tree.nodes(), tags::PIXEL_DATA);
        assert_eq!(pixels.value, "<pixel data, 8192 bytes, native>");
        assert_eq!(pixels.length, Some(8192));
        assert_eq!(tree.nodes().last().map(|n| n.tag), Some((0x7FE0, 0x0010)));
        assert_eq!(find(tree.nodes(), tags::PATIENT_ID).value, "SYN0001");

        let junk = dir.path().join("junk.txt");
        std::fs::write(&junk, b"not a DICOM file at all").unwrap();
        let err = read_tags(&junk).unwrap_err().to_string();
        assert!(err.starts_with("cannot read the tags: "), "{err}");
        assert!(err.ends_with(&junk.display().to_string()), "{err}");
    }
}
