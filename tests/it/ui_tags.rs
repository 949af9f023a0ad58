//! The tag browser panel alone, driven through its AccessKit labels: search, count,
//! fold and unfold a sequence; rendered once through wgpu.

use std::path::Path;

use dicom_core::{Tag, VR};
use dicom_dictionary_std::{tags, uids};
use egui::Vec2;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use tessera::app::tag_browser::{TagBrowserState, tag_browser_ui};
use tessera::app::theme;
use tessera::imaging::tags::{TagTree, read_tags};
use tessera::imaging::writer::DatasetBuilder;

struct Panel {
    tree: TagTree,
    state: TagBrowserState,
}

/// A small CT-like instance with a two-item sequence, a private block and pixels.
fn write_instance(path: &Path) {
    let items = vec![
        DatasetBuilder::new()
            .text(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                uids::CT_IMAGE_STORAGE,
            )
            .text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, "1.2.826.0.1.1"),
        DatasetBuilder::new()
            .text(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                uids::CT_IMAGE_STORAGE,
            )
            .text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, "1.2.826.0.1.2"),
    ];
    DatasetBuilder::new()
        .text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100")
        .texts(tags::IMAGE_TYPE, VR::CS, &["ORIGINAL", "PRIMARY", "AXIAL"])
        .text(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE)
        .text(tags::SOP_INSTANCE_UID, VR::UI, "1.2.826.0.1.3")
        .text(tags::MODALITY, VR::CS, "CT")
        .text(tags::MANUFACTURER, VR::LO, "Tessera synthetic")
        .sequence(tags::REFERENCED_IMAGE_SEQUENCE, items)
        .text(Tag(0x0009, 0x0010), VR::LO, "ACME 1.0")
        .text(Tag(0x0009, 0x1001), VR::LO, "vendor value")
        .text(tags::PATIENT_NAME, VR::PN, "Doe^Jane")
        .text(tags::PATIENT_ID, VR::LO, "SYN0001")
        .text(tags::PATIENT_BIRTH_DATE, VR::DA, "19700101")
        .text(
            tags::PATIENT_COMMENTS,
            VR::LT,
            &"A long comment. ".repeat(40),
        )
        .us(tags::ROWS, 4)
        .us(tags::COLUMNS, 4)
        .us(tags::BITS_ALLOCATED, 16)
        .pixel_data_u16(&[0; 16])
        .write(path)
        .unwrap();
}

fn harness(tree: TagTree) -> Harness<'static, Panel> {
    Harness::builder()
        .with_size(Vec2::new(820.0, 660.0))
        .with_context_setup(theme::apply)
        .wgpu()
        .build_ui_state(
            |ui, panel: &mut Panel| {
                egui::Frame::new()
                    .inner_margin(theme::panel_margin())
                    .show(ui, |ui| {
                        tag_browser_ui(ui, Some(&panel.tree), None, &mut panel.state);
                    });
            },
            Panel {
                tree,
                state: TagBrowserState::default(),
            },
        )
}

#[test]
fn searches_counts_and_unfolds_sequences() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("instance.dcm");
    write_instance(&path);
    let tree = read_tags(&path)?;
    let total = tree.element_count();
    let mut harness = harness(tree);
    harness.run();

    harness.get_by_label(&format!("{total} elements"));
    harness.get_by_label("Patient's Name");
    harness.get_by_label("Private tag (ACME 1.0)");
    harness.get_by_label("<pixel data, 32 bytes, native>");

    // Folded at first; a click shows both items and their elements.
    assert!(
        harness
            .query_by_label("Referenced Image Sequence item 1")
            .is_none()
    );
    harness.get_by_label("Referenced Image Sequence").click();
    harness.run();
    harness.get_by_label("Referenced Image Sequence item 1");
    harness.get_by_label("Referenced Image Sequence item 2");
    harness.get_by_label("1.2.826.0.1.2");

    // A search keeps the matches and the path to them, unfolded.
    harness.get_by_label("Referenced Image Sequence").click();
    harness.run();
    harness.get_by_label("Search tags").focus();
    harness.run();
    harness.get_by_label("Search tags").type_text("0.1.2");
    harness.run();
    assert_eq!(harness.state().state.query, "0.1.2");
    harness.get_by_label(&format!("1 of {total} match"));
    harness.get_by_label("Referenced Image Sequence item 2");
    assert!(
        harness
            .query_by_label("Referenced Image Sequence item 1")
            .is_none()
    );
    assert!(harness.query_by_label("Patient's Name").is_none());

    harness.get_by_label("Search tags").type_text(" patient");
    harness.run();
    harness.get_by_label(&format!("0 of {total} match"));
    harness.get_by_label("No tags match");

    harness.get_by_label("Clear search").click();
    harness.run();
    harness.get_by_label("Search tags").type_text("PATIENT");
    harness.run();
    // Patient's Name, ID, Birth Date, Comments.
    harness.get_by_label(&format!("4 of {total} match"));
    harness.get_by_label("Patient's Birth Date");
    harness.get_by_label("Clear search").click();
    harness.run();
    harness.get_by_label(&format!("{total} elements"));

    // Through the real wgpu path; set TESSERA_TAG_BROWSER_PNG to keep the picture.
    harness.get_by_label("Referenced Image Sequence").click();
    harness.run();
    let image = harness.render()?;
    assert_eq!((image.width(), image.height()), (820, 660));
    if let Some(png) = std::env::var_os("TESSERA_TAG_BROWSER_PNG") {
        image.save(png)?;
    }
    Ok(())
}
