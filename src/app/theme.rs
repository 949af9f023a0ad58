//! Colours, spacing and text sizes of the workstation, and installing them into egui.
//!
//! Owns every visual constant; views name these instead of writing literals.

use egui::{Color32, CornerRadius, FontId, Margin, Stroke, Visuals};

/// Behind images: pure black, as on a reading-room display.
pub const VIEWPORT_BACKGROUND: Color32 = Color32::BLACK;
/// Panels around the viewport: dark and neutral so they do not tint perception of grey.
pub const PANEL_BACKGROUND: Color32 = Color32::from_gray(24);
pub const PANEL_BACKGROUND_RAISED: Color32 = Color32::from_gray(34);
pub const SEPARATOR: Color32 = Color32::from_gray(48);

/// Overlay text on images.
pub const OVERLAY_TEXT: Color32 = Color32::from_gray(225);
pub const OVERLAY_TEXT_DIM: Color32 = Color32::from_gray(160);
/// Behind overlay text, so it stays legible on bright anatomy.
pub const OVERLAY_SHADOW: Color32 = Color32::from_black_alpha(150);
/// Orientation letters (A/P/R/L/S/I) at the image edges.
pub const ORIENTATION_TEXT: Color32 = Color32::from_rgb(240, 200, 90);

pub const TEXT: Color32 = Color32::from_gray(215);
pub const TEXT_DIM: Color32 = Color32::from_gray(140);
pub const ACCENT: Color32 = Color32::from_rgb(70, 140, 220);
pub const SELECTION: Color32 = Color32::from_rgb(38, 70, 110);
pub const ERROR: Color32 = Color32::from_rgb(235, 100, 90);
/// Private (vendor) tags in the tag browser, and the fill of their badge.
pub const PRIVATE_TAG: Color32 = Color32::from_rgb(205, 160, 235);
pub const PRIVATE_BADGE: Color32 = Color32::from_rgb(64, 44, 82);
/// Every other row of a table, for the eye to follow a line.
pub const ROW_STRIPE: Color32 = Color32::from_gray(30);

/// Annotations: drawn, selected, being drawn.
pub const ANNOTATION: Color32 = Color32::from_rgb(250, 205, 70);
pub const ANNOTATION_SELECTED: Color32 = Color32::from_rgb(110, 220, 255);
pub const ANNOTATION_DRAFT: Color32 = Color32::from_rgb(255, 150, 60);
/// Slides: the glass behind transparent (unscanned) areas and tiles still loading,
/// the hatching of unreadable tiles, the minimap's viewport rectangle.
pub const SLIDE_GLASS: Color32 = Color32::from_gray(242);
pub const SLIDE_BLANK_TILE: Color32 = Color32::from_rgb(90, 80, 80);
pub const SLIDE_VIEW_RECT: Color32 = Color32::from_rgb(30, 200, 120);

/// Sizes in points.
pub const SERIES_PANEL_WIDTH: f32 = 260.0;
pub const SERIES_PANEL_MIN_WIDTH: f32 = 200.0;
pub const THUMBNAIL_SIZE: f32 = 72.0;
pub const CARD_PADDING: i8 = 6;
pub const CARD_SPACING: f32 = 6.0;
pub const PANEL_MARGIN: i8 = 10;
pub const OVERLAY_MARGIN: f32 = 10.0;
pub const OVERLAY_LINE_GAP: f32 = 2.0;
pub const STATUS_BAR_HEIGHT: f32 = 26.0;
/// Space around the image inside the viewport.
pub const VIEWPORT_PADDING: f32 = 4.0;
/// Modal forms (project passphrase, recovery code).
pub const DIALOG_WIDTH: f32 = 420.0;
pub const DIALOG_GAP: f32 = 8.0;
/// Default width of the annotation panel.
pub const ANNOTATION_PANEL_WIDTH: f32 = 300.0;
/// Default width of the tag browser panel.
pub const TAG_PANEL_WIDTH: f32 = 460.0;
/// Tag browser: row height, indent per sequence level, fixed column widths.
pub const TAG_ROW_HEIGHT: f32 = 20.0;
pub const TAG_INDENT: f32 = 14.0;
pub const TAG_COLUMN_WIDTH: f32 = 86.0;
pub const TAG_VR_COLUMN_WIDTH: f32 = 28.0;
pub const TAG_NAME_COLUMN_MAX_WIDTH: f32 = 280.0;
pub const TAG_COLUMN_GAP: f32 = 8.0;

pub fn overlay_font() -> FontId {
    FontId::proportional(14.0)
}

pub fn overlay_font_large() -> FontId {
    FontId::proportional(16.0)
}

pub fn orientation_font() -> FontId {
    FontId::proportional(18.0)
}

/// Tags and VRs: fixed width, so columns of hex line up.
pub fn tag_font() -> FontId {
    FontId::monospace(12.0)
}

/// The "private" badge in the tag browser.
pub fn badge_font() -> FontId {
    FontId::proportional(10.0)
}

pub fn card_radius() -> CornerRadius {
    CornerRadius::same(4)
}

pub fn card_margin() -> Margin {
    Margin::same(CARD_PADDING)
}

pub fn panel_margin() -> Margin {
    Margin::same(PANEL_MARGIN)
}

/// Dark visuals tuned for image reading.
pub fn apply(ctx: &egui::Context) {
    let mut visuals = Visuals::dark();
    visuals.panel_fill = PANEL_BACKGROUND;
    visuals.window_fill = PANEL_BACKGROUND_RAISED;
    visuals.extreme_bg_color = VIEWPORT_BACKGROUND;
    visuals.override_text_color = Some(TEXT);
    visuals.selection.bg_fill = SELECTION;
    visuals.selection.stroke = Stroke::new(1.0, ACCENT);
    visuals.widgets.noninteractive.bg_stroke = Stroke::new(1.0, SEPARATOR);
    // Always dark, whatever the desktop theme: reading images needs a dark surround.
    ctx.set_theme(egui::Theme::Dark);
    ctx.set_visuals_of(egui::Theme::Dark, visuals);
    // Text is read, not copied; selectable labels would swallow clicks on series cards.
    ctx.all_styles_mut(|style| style.interaction.selectable_labels = false);
}
