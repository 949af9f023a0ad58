//! The label picker (type-ahead over the project's coded classes) and the segmentation
//! section of the annotation panel: segments with their volumes and HU statistics, the
//! segment being painted, brush radius, 2D/3D, HU threshold, and how the map is drawn.
//!
//! Owns nothing but the picker's text; returns [`Command`]s.

use egui::{Color32, RichText, Ui};

use super::segmentation::{BRUSH_RADIUS_MM, SegmentationLayer};
use super::{Command, theme};
use crate::annotate::codes::{HitSource, search};
use crate::annotate::schema::LabelClass;
use crate::annotate::tools::HuRange;
use crate::project::model::Label;

/// Hits the picker lists while typing.
const PICKER_HITS: usize = 8;

/// "Lesion (SCT 52988006)", or "Lesion (uncoded)".
pub fn label_title(label: &Label) -> String {
    match (&label.scheme, &label.code) {
        (Some(s), Some(c)) => format!("{} ({s} {c})", label.name),
        _ => format!("{} (uncoded)", label.name),
    }
}

/// The current label and a search box over the schema's classes.
pub fn label_picker_ui(
    ui: &mut Ui,
    layer: &mut SegmentationLayer,
    current: &Label,
) -> Vec<Command> {
    let mut commands = Vec::new();
    ui.horizontal(|ui| {
        ui.label("Label");
        ui.label(RichText::new(label_title(current)).color(theme::TEXT));
        if ui
            .small_button("Codes…")
            .on_hover_text(
                "Import a code list (CSV: scheme,code,meaning[,parent]), e.g. your site's SNOMED CT subset, ICD-10 or RadLex; the picker searches it",
            )
            .clicked()
        {
            commands.push(Command::ImportCodeListDialog);
        }
    });
    if layer.classes.is_empty() && layer.code_lists.is_empty() {
        return commands;
    }
    let response = ui
        .horizontal(|ui| {
            let find = ui.label("Find");
            let field = egui::TextEdit::singleline(&mut layer.search)
                .hint_text("name or code: lesion, liver, 52988006")
                .desired_width(f32::INFINITY);
            ui.add(field).labelled_by(find.id)
        })
        .inner;
    let query = layer.search.trim().to_owned();
    if query.is_empty() {
        return commands;
    }
    let classes: Vec<LabelClass> = layer.classes.iter().map(|(_, c)| c.clone()).collect();
    let hits = search(&query, &classes, &layer.code_lists, PICKER_HITS);
    if hits.is_empty() {
        ui.label(
            RichText::new("No class matches.")
                .small()
                .color(theme::TEXT_DIM),
        );
    }
    let mut first = None;
    for hit in &hits {
        let (command, title, colour) = match hit.source {
            HitSource::Class(index) => {
                let class = &classes[index];
                (Command::PickClass(index), class.title(), class.colour.0)
            }
            HitSource::Code { list, entry } => {
                let Some(e) = layer
                    .code_lists
                    .get(list)
                    .and_then(|l| l.entries.get(entry))
                else {
                    continue;
                };
                let source = &layer.code_lists[list].name;
                (
                    Command::PickCode { list, entry },
                    format!(
                        "{} ({} {}) · {source}",
                        e.code.meaning, e.code.scheme, e.code.value
                    ),
                    super::segmentation::colour_of_code(&e.code.value).0,
                )
            }
        };
        first.get_or_insert(command.clone());
        let [r, g, b] = colour;
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter()
                .rect_filled(rect, 2.0, Color32::from_rgb(r, g, b));
            if ui.selectable_label(false, title).clicked() {
                commands.push(command.clone());
            }
        });
    }
    // Enter takes the best match.
    if response.lost_focus()
        && ui.input(|i| i.key_pressed(egui::Key::Enter))
        && let Some(command) = first
    {
        commands.push(command);
    }
    commands
}

/// The segmentation section.
pub fn segmentation_ui(ui: &mut Ui, layer: &SegmentationLayer, editable: bool) -> Vec<Command> {
    let mut commands = Vec::new();
    ui.horizontal(|ui| {
        ui.label(RichText::new("Segmentation").strong());
        if editable
            && ui
                .small_button("New")
                .on_hover_text(
                    "A new label map of this series, with a segment of the current label",
                )
                .clicked()
        {
            commands.push(Command::NewSegmentation);
        }
    });
    if layer.available.len() > 1 {
        let current = layer.shown.as_ref().map(|s| s.info.id);
        let name = layer
            .shown
            .as_ref()
            .map_or("none", |s| s.info.header.name.as_str());
        egui::ComboBox::from_id_salt("segmentation-choice")
            .selected_text(name)
            .show_ui(ui, |ui| {
                for info in &layer.available {
                    if ui
                        .selectable_label(current == Some(info.id), &info.header.name)
                        .clicked()
                    {
                        commands.push(Command::ShowSegmentation(info.id));
                    }
                }
            });
    }
    let Some(shown) = &layer.shown else {
        ui.label(
            RichText::new("None yet: pick Brush (B) and paint, or press New.")
                .small()
                .color(theme::TEXT_DIM),
        );
        return commands;
    };
    if shown.info.has_conflicts {
        ui.label(
            RichText::new("Readers painted the same region differently: see Conflicts.")
                .small()
                .color(theme::ANNOTATION),
        );
    }
    for (index, segment) in &shown.info.segments {
        let stats = shown.stats.get(index);
        let [r, g, b] = segment.colour.0;
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter()
                .rect_filled(rect, 2.0, Color32::from_rgb(r, g, b));
            let active = shown.active == *index;
            if ui
                .selectable_label(active, &segment.name)
                .on_hover_text(segment.class.title())
                .clicked()
            {
                commands.push(Command::SetActiveSegment(*index));
            }
            let text = match stats {
                Some(s) => {
                    let mut t = format!("{:.2} mL", s.volume_ml);
                    if let (Some(m), Some(sd)) = (s.mean_hu, s.sd_hu) {
                        t.push_str(&format!(" · {m:.0} ± {sd:.0} HU"));
                    }
                    t
                }
                None => "empty".to_owned(),
            };
            ui.label(RichText::new(text).small().color(theme::TEXT_DIM));
        });
    }
    if !editable {
        return commands;
    }
    if ui
        .small_button("Add segment")
        .on_hover_text("A new segment of the current label; the brush paints it next")
        .clicked()
    {
        commands.push(Command::AddSegment);
    }
    ui.horizontal(|ui| {
        ui.label("Brush");
        let mut radius = layer.brush_radius_mm;
        let drag = egui::DragValue::new(&mut radius)
            .range(BRUSH_RADIUS_MM)
            .speed(0.1)
            .max_decimals(1)
            .suffix(" mm");
        if ui.add(drag).on_hover_text("Radius ([ and ])").changed() {
            commands.push(Command::SetBrushRadius(radius));
        }
        if ui
            .selectable_label(!layer.sphere, "2D")
            .on_hover_text("A disc on the viewport's plane")
            .clicked()
        {
            commands.push(Command::SetBrushSphere(false));
        }
        if ui
            .selectable_label(layer.sphere, "3D")
            .on_hover_text("A ball through neighbouring slices (flood fill: the whole volume)")
            .clicked()
        {
            commands.push(Command::SetBrushSphere(true));
        }
    });
    ui.horizontal(|ui| {
        let on = layer.threshold.is_some();
        if ui
            .selectable_label(on, "HU range")
            .on_hover_text("Paint and fill only voxels in this range")
            .clicked()
        {
            commands.push(Command::SetThreshold(if on {
                None
            } else {
                Some(HuRange {
                    min_hu: -100.0,
                    max_hu: 200.0,
                })
            }));
        }
        if let Some(range) = layer.threshold {
            let (mut lo, mut hi) = (range.min_hu, range.max_hu);
            let a = ui.add(egui::DragValue::new(&mut lo).speed(1.0).max_decimals(0));
            ui.label("to");
            let b = ui.add(egui::DragValue::new(&mut hi).speed(1.0).max_decimals(0));
            if (a.changed() || b.changed()) && lo <= hi {
                commands.push(Command::SetThreshold(Some(HuRange {
                    min_hu: lo,
                    max_hu: hi,
                })));
            }
        }
    });
    ui.horizontal(|ui| {
        let mut opacity = layer.fill_opacity;
        if ui
            .add(egui::Slider::new(&mut opacity, 0.0..=1.0).text("fill"))
            .changed()
        {
            commands.push(Command::SetLabelStyle {
                fill_opacity: opacity,
                outline: layer.outline,
            });
        }
        if ui.selectable_label(layer.outline, "Outline").clicked() {
            commands.push(Command::SetLabelStyle {
                fill_opacity: layer.fill_opacity,
                outline: !layer.outline,
            });
        }
    });
    if ui
        .small_button("Fill between slices")
        .on_hover_text("Interpolate the active segment between the axial slices painted so far")
        .clicked()
    {
        commands.push(Command::FillBetweenSlices { axis: 2 });
    }
    commands
}
