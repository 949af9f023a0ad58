//! The DICOM tag browser panel: a search field, a match count, and the current
//! instance's elements as a table (tag, name, VR, value) with sequences that fold.
//!
//! Owns [`TagBrowserState`] (the query and the cached search result); fold state lives
//! in egui memory under stable ids (the tag path), like `CollapsingHeader`'s. Rows are
//! virtualised, so a tree of 100,000 elements costs per frame only what is on screen
//! plus one walk over the unfolded rows. Shows patient data on purpose (the user opened
//! an inspection tool) and never logs it.

use std::sync::Arc;

use egui::collapsing_header::{CollapsingState, paint_default_icon};
use egui::text::{LayoutJob, TextWrapping};
use egui::{
    Align, Color32, FontId, Galley, Id, Label, Layout, Rect, Response, RichText, Sense, TextEdit,
    TextFormat, Ui, UiBuilder, Vec2, WidgetInfo, pos2, vec2,
};

use super::theme;
use crate::imaging::tags::{FilteredTags, MAX_NODES, TagNode, TagTree};

/// The browser's own state: what the user searches for, and the last search result.
#[derive(Default)]
pub struct TagBrowserState {
    pub query: String,
    cache: Option<SearchCache>,
}

struct SearchCache {
    tree_id: u64,
    query: String,
    result: FilteredTags,
}

impl TagBrowserState {
    /// The tree to show for the current query, searching only when the query or the
    /// tree changed.
    fn view<'a>(&'a mut self, tree: &'a TagTree) -> (&'a TagTree, Option<usize>) {
        let query = self.query.trim();
        if query.is_empty() {
            self.cache = None;
            return (tree, None);
        }
        let stale = self
            .cache
            .as_ref()
            .is_none_or(|c| c.tree_id != tree.id() || c.query != query);
        if stale {
            self.cache = Some(SearchCache {
                tree_id: tree.id(),
                query: query.to_owned(),
                result: tree.filter(query),
            });
        }
        match &self.cache {
            Some(cache) => (&cache.result.tree, Some(cache.result.matches)),
            None => (tree, None),
        }
    }
}

/// Draws the browser for `tree` (or says why there is none: `error`, or nothing open).
pub fn tag_browser_ui(
    ui: &mut Ui,
    tree: Option<&TagTree>,
    error: Option<&str>,
    state: &mut TagBrowserState,
) {
    ui.expand_to_include_rect(ui.max_rect());
    ui.add_space(2.0);
    ui.label(
        RichText::new("DICOM TAGS")
            .small()
            .strong()
            .color(theme::TEXT_DIM),
    );
    ui.add_space(4.0);
    if let Some(error) = error {
        ui.add(Label::new(RichText::new(format!("⚠ {error}")).color(theme::ERROR)).wrap());
        return;
    }
    let Some(tree) = tree else {
        ui.label(RichText::new("No image selected").color(theme::TEXT_DIM));
        return;
    };

    search_field_ui(ui, &mut state.query);
    let total = tree.element_count();
    let truncated = tree.is_truncated();
    let (shown, matches) = state.view(tree);
    ui.add_space(2.0);
    let mut count = match matches {
        Some(matches) => format!("{} of {} match", grouped(matches), grouped(total)),
        None => format!("{} elements", grouped(total)),
    };
    if truncated {
        count.push_str(&format!(
            " · only the first {} rows kept",
            grouped(MAX_NODES)
        ));
    }
    ui.label(RichText::new(count).small().color(theme::TEXT_DIM));
    ui.add_space(4.0);

    let filtered = matches.is_some();
    let rows = visible_rows(ui, shown, filtered);
    header_ui(ui);
    if rows.is_empty() {
        ui.add_space(6.0);
        let text = if filtered {
            "No tags match"
        } else {
            "No elements"
        };
        ui.label(RichText::new(text).color(theme::TEXT_DIM));
        return;
    }
    ui.scope(|ui| {
        ui.spacing_mut().item_spacing.y = 0.0;
        egui::ScrollArea::vertical()
            .id_salt("tag-browser-rows")
            .auto_shrink([false, false])
            .show_rows(ui, theme::TAG_ROW_HEIGHT, rows.len(), |ui, range| {
                for index in range {
                    if let Some(row) = rows.get(index) {
                        row_ui(ui, index, row);
                    }
                }
            });
    });
}

fn search_field_ui(ui: &mut Ui, query: &mut String) {
    ui.horizontal(|ui| {
        let clear_width = if query.is_empty() { 0.0 } else { 24.0 };
        let field = TextEdit::singleline(query)
            .hint_text("Search tags, names, values")
            .desired_width(ui.available_width() - clear_width);
        let field = ui.add(field).accessible_name("Search tags");
        if !query.is_empty()
            && ui
                .small_button("×")
                .accessible_name("Clear search")
                .on_hover_text("Clear search")
                .clicked()
        {
            query.clear();
            field.request_focus();
        }
    });
}

/// One line of the table.
enum Row<'a> {
    Element {
        node: &'a TagNode,
        depth: usize,
        id: Id,
        /// Sequences only: whether their items show.
        open: bool,
    },
    Item {
        sequence: &'a TagNode,
        number: usize,
        /// Shown unfiltered only: a search hides some of an item's elements.
        elements: Option<usize>,
        depth: usize,
        id: Id,
        open: bool,
    },
    /// Rows the tree left out (node or depth limit).
    More {
        count: usize,
        what: &'static str,
        depth: usize,
    },
}

/// The rows the fold state lets through, in display order. Searching opens
/// everything by default (under ids of its own, so folding there keeps the plain view).
fn visible_rows<'a>(ui: &Ui, tree: &'a TagTree, filtered: bool) -> Vec<Row<'a>> {
    let root = ui.make_persistent_id(("tag-browser", filtered));
    let mut rows = Vec::new();
    push_nodes(ui, tree.nodes(), 0, root, filtered, &mut rows);
    if tree.omitted() > 0 {
        rows.push(Row::More {
            count: tree.omitted(),
            what: "elements",
            depth: 0,
        });
    }
    rows
}

fn push_nodes<'a>(
    ui: &Ui,
    nodes: &'a [TagNode],
    depth: usize,
    parent: Id,
    filtered: bool,
    rows: &mut Vec<Row<'a>>,
) {
    for node in nodes {
        let id = parent.with(node.tag);
        let open = node.sequence
            && CollapsingState::load_with_default_open(ui.ctx(), id, filtered).is_open();
        rows.push(Row::Element {
            node,
            depth,
            id,
            open,
        });
        if !open {
            continue;
        }
        for item in &node.items {
            let item_id = id.with(("item", item.number));
            let item_open =
                CollapsingState::load_with_default_open(ui.ctx(), item_id, true).is_open();
            rows.push(Row::Item {
                sequence: node,
                number: item.number,
                elements: (!filtered).then_some(item.nodes.len() + item.omitted),
                depth: depth + 1,
                id: item_id,
                open: item_open,
            });
            if item_open {
                push_nodes(ui, &item.nodes, depth + 2, item_id, filtered, rows);
                if item.omitted > 0 {
                    rows.push(Row::More {
                        count: item.omitted,
                        what: "elements",
                        depth: depth + 2,
                    });
                }
            }
        }
        if node.omitted_items > 0 {
            rows.push(Row::More {
                count: node.omitted_items,
                what: "items",
                depth: depth + 1,
            });
        }
    }
}

/// Where the columns start in a row of `rect` (depth 0; deeper rows shift tag and name).
struct Columns {
    left: f32,
    name: f32,
    vr: f32,
    value: f32,
    right: f32,
}

impl Columns {
    fn of(rect: Rect) -> Self {
        let fixed = theme::TAG_INDENT
            + theme::TAG_COLUMN_WIDTH
            + theme::TAG_VR_COLUMN_WIDTH
            + 3.0 * theme::TAG_COLUMN_GAP;
        let flexible = (rect.width() - fixed).max(120.0);
        let name =
            rect.left() + theme::TAG_INDENT + theme::TAG_COLUMN_WIDTH + theme::TAG_COLUMN_GAP;
        let name_width = (flexible * 0.5).min(theme::TAG_NAME_COLUMN_MAX_WIDTH);
        let vr = name + name_width + theme::TAG_COLUMN_GAP;
        Self {
            left: rect.left(),
            name,
            vr,
            value: vr + theme::TAG_VR_COLUMN_WIDTH + theme::TAG_COLUMN_GAP,
            right: rect.right(),
        }
    }

    /// The cell from `x` to `end` within the row's height.
    fn cell(row: Rect, x: f32, end: f32) -> Rect {
        Rect::from_x_y_ranges(x..=end.max(x + 1.0), row.y_range())
    }
}

fn header_ui(ui: &mut Ui) {
    let (rect, _) = ui.allocate_exact_size(
        vec2(ui.available_width(), theme::TAG_ROW_HEIGHT),
        Sense::hover(),
    );
    let columns = Columns::of(rect);
    let tag_x = columns.left + theme::TAG_INDENT;
    let font = FontId::proportional(11.0);
    for (x, end, text) in [
        (tag_x, columns.name, "Tag"),
        (columns.name, columns.vr, "Name"),
        (columns.vr, columns.value, "VR"),
        (columns.value, columns.right, "Value"),
    ] {
        paint_text(
            ui,
            Columns::cell(rect, x, end),
            text,
            font.clone(),
            theme::TEXT_DIM,
        );
    }
    ui.painter().hline(
        rect.x_range(),
        rect.bottom() - 0.5,
        egui::Stroke::new(1.0, theme::SEPARATOR),
    );
}

fn row_ui(ui: &mut Ui, index: usize, row: &Row<'_>) {
    let (rect, _) = ui.allocate_exact_size(
        vec2(ui.available_width(), theme::TAG_ROW_HEIGHT),
        Sense::hover(),
    );
    if index % 2 == 1 {
        ui.painter().rect_filled(rect, 0.0, theme::ROW_STRIPE);
    }
    let columns = Columns::of(rect);
    match *row {
        Row::Element {
            node,
            depth,
            id,
            open,
        } => element_row_ui(ui, rect, &columns, node, depth, id, open),
        Row::Item {
            sequence,
            number,
            elements,
            depth,
            id,
            open,
        } => {
            let label = format!("{} item {number}", sequence.name);
            let response = fold_row(ui, rect, id, open, &label);
            let x = columns.left + depth as f32 * theme::TAG_INDENT;
            paint_icon(ui, &response, x, open);
            let text_x = x + theme::TAG_INDENT;
            paint_text(
                ui,
                Columns::cell(rect, text_x, columns.vr),
                &format!("Item {number}"),
                FontId::proportional(13.0),
                theme::TEXT,
            );
            let count = match elements {
                None => String::new(),
                Some(1) => "1 element".to_owned(),
                Some(n) => format!("{} elements", grouped(n)),
            };
            paint_text(
                ui,
                Columns::cell(rect, columns.value, columns.right),
                &count,
                FontId::proportional(12.0),
                theme::TEXT_DIM,
            );
        }
        Row::More { count, what, depth } => {
            let x = columns.left + (depth as f32 + 1.0) * theme::TAG_INDENT;
            let text = format!("… {} more {what} not shown", grouped(count));
            cell_label(
                ui,
                Columns::cell(rect, x, columns.right),
                RichText::new(text).italics().color(theme::TEXT_DIM),
            );
        }
    }
}

fn element_row_ui(
    ui: &mut Ui,
    rect: Rect,
    columns: &Columns,
    node: &TagNode,
    depth: usize,
    id: Id,
    open: bool,
) {
    let indent = depth as f32 * theme::TAG_INDENT;
    let tag_x = columns.left + indent + theme::TAG_INDENT;
    let name_x = columns.name + indent;
    let name_end = columns.vr - theme::TAG_COLUMN_GAP;
    let tag_colour = if node.private {
        theme::PRIVATE_TAG
    } else {
        theme::TEXT_DIM
    };
    let response = if node.sequence {
        let response = fold_row(ui, rect, id, open, &node.name);
        paint_icon(ui, &response, columns.left + indent, open);
        // The row itself carries the name for accessibility: paint, do not label.
        paint_text(
            ui,
            Columns::cell(rect, tag_x, name_x - theme::TAG_COLUMN_GAP),
            &node.tag_text(),
            theme::tag_font(),
            tag_colour,
        );
        let name_x = paint_badge(ui, rect, name_x, node.private);
        let colour = if node.private {
            theme::PRIVATE_TAG
        } else {
            theme::TEXT
        };
        paint_text(
            ui,
            Columns::cell(rect, name_x, name_end),
            &node.name,
            FontId::proportional(13.0),
            colour,
        );
        paint_text(
            ui,
            Columns::cell(rect, columns.vr, columns.value),
            &node.vr,
            theme::tag_font(),
            theme::TEXT_DIM,
        );
        paint_text(
            ui,
            Columns::cell(rect, columns.value, columns.right),
            &node.value,
            FontId::proportional(13.0),
            theme::TEXT_DIM,
        );
        response
    } else {
        let response = ui.interact(rect, id, Sense::click());
        if response.hovered() {
            ui.painter()
                .rect_filled(rect, 0.0, theme::PANEL_BACKGROUND_RAISED);
        }
        let tag = cell_label(
            ui,
            Columns::cell(rect, tag_x, name_x - theme::TAG_COLUMN_GAP),
            RichText::new(node.tag_text())
                .font(theme::tag_font())
                .color(tag_colour),
        );
        if node.private {
            tag.on_hover_text("Private tag: defined by a vendor, not by the DICOM standard");
        }
        let name_x = paint_badge(ui, rect, name_x, node.private);
        let colour = if node.private {
            theme::PRIVATE_TAG
        } else {
            theme::TEXT
        };
        cell_label(
            ui,
            Columns::cell(rect, name_x, name_end),
            RichText::new(&node.name).color(colour),
        );
        let length = match node.length {
            Some(1) => "1 byte".to_owned(),
            Some(n) => format!("{} bytes", grouped(n as usize)),
            None => "undefined length".to_owned(),
        };
        cell_label(
            ui,
            Columns::cell(rect, columns.vr, columns.value),
            RichText::new(&node.vr)
                .font(theme::tag_font())
                .color(theme::TEXT_DIM),
        )
        .on_hover_text(format!("{} · {length}", node.vr));
        cell_label(
            ui,
            Columns::cell(rect, columns.value, columns.right),
            RichText::new(&node.value),
        );
        response
    };
    response.context_menu(|ui| {
        if ui.button("Copy value").clicked() {
            ui.ctx().copy_text(node.value.clone());
            ui.close();
        }
        if ui.button("Copy tag").clicked() {
            ui.ctx().copy_text(node.tag_text());
            ui.close();
        }
    });
}

/// A row that folds: toggles on click, hover highlight, accessible as a disclosure.
fn fold_row(ui: &mut Ui, rect: Rect, id: Id, open: bool, label: &str) -> Response {
    let response = ui.interact(rect, id, Sense::click());
    let mut state = CollapsingState::load_with_default_open(ui.ctx(), id, open);
    if response.clicked() {
        state.set_open(!open);
        state.store(ui.ctx());
        ui.ctx().request_repaint();
    }
    if response.hovered() {
        ui.painter()
            .rect_filled(rect, 0.0, theme::PANEL_BACKGROUND_RAISED);
    }
    response.widget_info(|| WidgetInfo::labeled(egui::Role::DisclosureTriangle, true, label));
    ui.ctx()
        .accesskit_node_builder(response.id, |node| node.set_expanded(open));
    response
}

fn paint_icon(ui: &mut Ui, response: &Response, x: f32, open: bool) {
    let size = theme::TAG_INDENT * 0.6;
    let centre = pos2(x + theme::TAG_INDENT / 2.0, response.rect.center().y);
    let icon = response
        .clone()
        .with_new_rect(Rect::from_center_size(centre, Vec2::splat(size)));
    paint_default_icon(ui, if open { 1.0 } else { 0.0 }, &icon);
}

/// Paints the "private" badge at `x` when `private`; returns where the name starts.
fn paint_badge(ui: &Ui, row: Rect, x: f32, private: bool) -> f32 {
    if !private {
        return x;
    }
    let galley = ui.painter().layout_no_wrap(
        "private".to_owned(),
        theme::badge_font(),
        theme::PRIVATE_TAG,
    );
    let size = galley.size() + vec2(8.0, 2.0);
    let badge = Rect::from_min_size(pos2(x, row.center().y - size.y / 2.0), size);
    ui.painter()
        .rect_filled(badge, theme::card_radius(), theme::PRIVATE_BADGE);
    ui.painter().galley(
        badge.center() - galley.size() / 2.0,
        galley,
        theme::PRIVATE_TAG,
    );
    badge.right() + 6.0
}

/// A one-line label in `cell`, elided with "…" (the full text on hover).
fn cell_label(ui: &mut Ui, cell: Rect, text: RichText) -> Response {
    ui.scope_builder(
        UiBuilder::new()
            .max_rect(cell)
            .layout(Layout::left_to_right(Align::Center)),
        |ui| {
            ui.set_clip_rect(cell.intersect(ui.clip_rect()));
            ui.add(Label::new(text).truncate().selectable(false))
        },
    )
    .inner
}

/// Paints `text` in `cell`, elided with "…" (for rows that are one widget).
fn paint_text(ui: &Ui, cell: Rect, text: &str, font: FontId, colour: Color32) {
    let mut job = LayoutJob::single_section(text.to_owned(), TextFormat::simple(font, colour));
    job.wrap = TextWrapping::truncate_at_width(cell.width());
    let galley: Arc<Galley> = ui.painter().layout_job(job);
    let pos = pos2(cell.left(), cell.center().y - galley.size().y / 2.0);
    ui.painter()
        .with_clip_rect(cell.intersect(ui.clip_rect()))
        .galley(pos, galley, colour);
}

/// 1234567 -> "1,234,567".
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(100_000), "100,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
