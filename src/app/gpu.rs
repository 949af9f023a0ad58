//! GPU slice display through an egui_wgpu paint callback.
//!
//! Owns the render pipeline (`slice.wgsl`), the one resident volume texture (the
//! selected series, uploaded once in its stored form: 16-bit grey or RGBA8 colour)
//! and one uniform buffer per viewport. A viewport adds a [`SliceCallback`] with the
//! plane mapping and window; window/level, zoom, pan and scrolling then only rewrite
//! the viewport's uniforms, never re-decode or re-upload pixels.

use std::collections::HashMap;
use std::sync::Arc;

use eframe::egui_wgpu::{self, wgpu};

use super::loader::{SeriesInfo, SliceImage};
use crate::imaging::display::{GrayscalePipeline, Polarity, Voi, VoiWindow, render_frame_rgba};
use crate::imaging::pixels::{Photometric, Samples};

/// What the device allows; read once at start-up.
#[derive(Clone, Copy, Debug)]
pub struct GpuLimits {
    pub max_texture_3d: u32,
}

/// Creates the pipeline and stores it in the renderer's callback resources.
pub fn install(render_state: &egui_wgpu::RenderState) -> GpuLimits {
    let device = &render_state.device;
    let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("tessera-slice"),
        source: wgpu::ShaderSource::Wgsl(include_str!("slice.wgsl").into()),
    });
    let texture_entry = |binding| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            sample_type: wgpu::TextureSampleType::Uint,
            view_dimension: wgpu::TextureViewDimension::D3,
            multisampled: false,
        },
        count: None,
    };
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("tessera-slice"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
            texture_entry(1),
            texture_entry(2),
            texture_entry(3),
            wgpu::BindGroupLayoutEntry {
                binding: 4,
                visibility: wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            },
        ],
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("tessera-slice"),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("tessera-slice"),
        layout: Some(&pipeline_layout),
        vertex: wgpu::VertexState {
            module: &shader,
            entry_point: Some("vs_main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module: &shader,
            entry_point: Some("fs_main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format: render_state.target_format,
                blend: None,
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    });
    render_state
        .renderer
        .write()
        .callback_resources
        .insert(SliceResources {
            empty_labels: label_texture(device, [1, 1, 1]),
            palette: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tessera-label-palette"),
                size: (PALETTE_ENTRIES * 16) as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            pipeline,
            layout,
            volume: None,
            labels: None,
            views: HashMap::new(),
        });
    GpuLimits {
        max_texture_3d: device.limits().max_texture_dimension_3d,
    }
}

/// How stored grey values fit into the 16-bit texture: `stored = raw * step + offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GreyEncoding {
    pub offset: f64,
    pub step: f64,
}

impl GreyEncoding {
    /// Exact for 8- and 16-bit samples (signed ones are offset by half the range);
    /// 32-bit samples are shifted to their minimum and, when their range exceeds 16
    /// bits, quantised (display only; readouts use the CPU copy).
    pub fn for_slices(slices: &[SliceImage]) -> GreyEncoding {
        let exact = |offset| GreyEncoding { offset, step: 1.0 };
        match slices.first().map(|s| &s.frame.samples) {
            Some(Samples::I8(_)) => exact(-128.0),
            Some(Samples::I16(_)) => exact(-32768.0),
            Some(Samples::U32(_) | Samples::I32(_)) => {
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for slice in slices {
                    let (a, b) = wide_range(&slice.frame.samples);
                    lo = lo.min(a);
                    hi = hi.max(b);
                }
                if !lo.is_finite() {
                    return exact(0.0);
                }
                let span = hi - lo;
                let step = if span > 65535.0 { span / 65535.0 } else { 1.0 };
                GreyEncoding { offset: lo, step }
            }
            _ => exact(0.0),
        }
    }

    fn encode(&self, samples: &Samples) -> Vec<u16> {
        let fit = |v: f64| ((v - self.offset) / self.step).round().clamp(0.0, 65535.0) as u16;
        match samples {
            Samples::U8(v) => v.iter().map(|s| u16::from(*s)).collect(),
            Samples::U16(v) => v.clone(),
            Samples::I8(v) => v.iter().map(|s| (i16::from(*s) + 128) as u16).collect(),
            Samples::I16(v) => v.iter().map(|s| (i32::from(*s) + 32768) as u16).collect(),
            Samples::U32(v) => v.iter().map(|s| fit(f64::from(*s))).collect(),
            Samples::I32(v) => v.iter().map(|s| fit(f64::from(*s))).collect(),
        }
    }
}

fn wide_range(samples: &Samples) -> (f64, f64) {
    let fold = |it: &mut dyn Iterator<Item = f64>| {
        it.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
    };
    match samples {
        Samples::U32(v) => fold(&mut v.iter().map(|s| f64::from(*s))),
        Samples::I32(v) => fold(&mut v.iter().map(|s| f64::from(*s))),
        _ => (0.0, 0.0),
    }
}

/// A series ready to go to the GPU: its slices (shared with the viewer, not copied)
/// and how they are encoded there.
pub struct GpuVolume {
    /// Unique per loaded series; a new key makes the renderer upload again.
    pub key: u64,
    pub slices: Arc<Vec<SliceImage>>,
    pub columns: u32,
    pub rows: u32,
    pub colour: bool,
    pub grey: GreyEncoding,
    pub bits_stored: u8,
    pub monochrome1: bool,
}

impl GpuVolume {
    pub fn new(key: u64, info: &SeriesInfo, slices: Arc<Vec<SliceImage>>) -> GpuVolume {
        let colour = slices.first().is_some_and(|s| {
            s.frame.samples_per_pixel != 1 || s.frame.photometric == Photometric::PaletteColor
        });
        let monochrome1 = slices
            .first()
            .is_some_and(|s| s.frame.photometric == Photometric::Monochrome1);
        GpuVolume {
            key,
            grey: GreyEncoding::for_slices(&slices),
            slices,
            columns: info.columns,
            rows: info.rows,
            colour,
            bits_stored: info.bits_stored,
            monochrome1,
        }
    }

    /// Whether the device can hold it as one 3D texture.
    pub fn fits(&self, limits: &GpuLimits) -> bool {
        let max = limits.max_texture_3d as usize;
        self.columns as usize <= max && self.rows as usize <= max && self.slices.len() <= max
    }

    fn extent(&self) -> wgpu::Extent3d {
        wgpu::Extent3d {
            width: self.columns.max(1),
            height: self.rows.max(1),
            depth_or_array_layers: (self.slices.len() as u32).max(1),
        }
    }
}

/// What one viewport draws this frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SliceParams {
    /// Voxel coordinate at the viewport's top-left corner, and its change across the
    /// viewport's width and height.
    pub origin: [f32; 3],
    pub axis_x: [f32; 3],
    pub axis_y: [f32; 3],
    pub window: VoiWindow,
    /// Modality LUT.
    pub slope: f64,
    pub intercept: f64,
    pub invert: bool,
    pub hot_iron: bool,
    /// Show stored pixels unblended (1:1 display).
    pub nearest: bool,
}

/// The paint callback of one viewport.
pub struct SliceCallback {
    pub viewport: usize,
    pub volume: Arc<GpuVolume>,
    pub params: SliceParams,
    /// The segmentation shown over the slice, with fill opacity and outline.
    pub labels: Option<(Arc<GpuLabels>, LabelStyle)>,
}

/// How a label map is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelStyle {
    /// 0..1.
    pub fill_opacity: f32,
    pub outline: bool,
}

/// Palette entries: one per label value.
pub const PALETTE_ENTRIES: usize = 256;

/// A box of label voxels waiting to be written to the GPU (x fastest, then y, z).
struct LabelRegion {
    origin: [u32; 3],
    size: [u32; 3],
    bytes: Vec<u8>,
}

/// A label map as the GPU holds it: an `R8Uint` 3D texture the size of the volume, fed
/// by regions the app queues (whole map on load, changed bricks after a stroke), and a
/// palette. Shared between the app (writer) and paint callbacks (reader).
pub struct GpuLabels {
    pub key: u64,
    pub dims: [u32; 3],
    pending: std::sync::Mutex<Vec<LabelRegion>>,
    palette: std::sync::Mutex<Option<Box<[[f32; 4]; PALETTE_ENTRIES]>>>,
}

impl GpuLabels {
    /// An all-background map of `dims` (key: unique per shown segmentation).
    pub fn new(key: u64, dims: [u32; 3]) -> GpuLabels {
        GpuLabels {
            key,
            dims,
            pending: std::sync::Mutex::new(Vec::new()),
            palette: std::sync::Mutex::new(None),
        }
    }

    /// Queues a box of labels for upload (x fastest); ignored when it does not fit.
    pub fn queue(&self, origin: [u32; 3], size: [u32; 3], bytes: Vec<u8>) {
        let fits = (0..3).all(|a| origin[a].saturating_add(size[a]) <= self.dims[a]);
        let len = size.iter().map(|s| *s as usize).product::<usize>();
        if !fits || bytes.len() != len || len == 0 {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.push(LabelRegion {
            origin,
            size,
            bytes,
        });
    }

    /// Sets the colours (rgb 0..1, alpha 0 hides the label); entry 0 is background.
    pub fn set_palette(&self, palette: [[f32; 4]; PALETTE_ENTRIES]) {
        let mut slot = self.palette.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(Box::new(palette));
    }

    fn take_pending(&self) -> Vec<LabelRegion> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn take_palette(&self) -> Option<Box<[[f32; 4]; PALETTE_ENTRIES]>> {
        self.palette
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

fn label_texture(device: &wgpu::Device, dims: [u32; 3]) -> (wgpu::Texture, wgpu::TextureView) {
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("tessera-labels"),
        size: wgpu::Extent3d {
            width: dims[0].max(1),
            height: dims[1].max(1),
            depth_or_array_layers: dims[2].max(1),
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D3,
        format: wgpu::TextureFormat::R8Uint,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    (texture, view)
}

struct ResidentLabels {
    key: u64,
    _texture: wgpu::Texture,
    view: wgpu::TextureView,
}

struct ResidentVolume {
    key: u64,
    dims: [u32; 3],
    _grey: wgpu::Texture,
    _colour: wgpu::Texture,
    grey_view: wgpu::TextureView,
    colour_view: wgpu::TextureView,
}

struct ViewSlot {
    volume_key: u64,
    /// The label texture bound (0: the empty one).
    labels_key: u64,
    buffer: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

struct SliceResources {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    volume: Option<ResidentVolume>,
    labels: Option<ResidentLabels>,
    /// Bound when no segmentation is shown.
    empty_labels: (wgpu::Texture, wgpu::TextureView),
    palette: wgpu::Buffer,
    views: HashMap<usize, ViewSlot>,
}

const UNIFORM_FLOATS: usize = 28;

impl SliceCallback {
    fn uniforms(&self, dims: [u32; 3]) -> [f32; UNIFORM_FLOATS] {
        let p = &self.params;
        let v = &self.volume;
        // Modality value = stored * slope + intercept, stored = raw * step + offset.
        let slope = v.grey.step * p.slope;
        let intercept = v.grey.offset * p.slope + p.intercept;
        let invert = p.invert != v.monochrome1;
        let f = |b: bool| if b { 1.0 } else { 0.0 };
        [
            p.axis_x[0],
            p.axis_x[1],
            p.axis_x[2],
            0.0,
            p.axis_y[0],
            p.axis_y[1],
            p.axis_y[2],
            0.0,
            p.origin[0],
            p.origin[1],
            p.origin[2],
            0.0,
            dims[0] as f32,
            dims[1] as f32,
            dims[2] as f32,
            f(v.colour),
            slope as f32,
            intercept as f32,
            p.window.center as f32,
            p.window.width as f32,
            f(if v.colour { p.invert } else { invert }),
            f(p.hot_iron),
            f(p.nearest),
            0.0,
            self.labels
                .as_ref()
                .map_or(0.0, |(_, s)| s.fill_opacity.clamp(0.0, 1.0)),
            f(self.labels.as_ref().is_some_and(|(_, s)| s.outline)),
            f(self.labels.as_ref().is_some_and(|(l, _)| l.dims == dims)),
            0.0,
        ]
    }
}

fn upload(device: &wgpu::Device, queue: &wgpu::Queue, volume: &GpuVolume) -> ResidentVolume {
    let tiny = wgpu::Extent3d {
        width: 1,
        height: 1,
        depth_or_array_layers: 1,
    };
    let make = |label, size, format| {
        device.create_texture(&wgpu::TextureDescriptor {
            label: Some(label),
            size,
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D3,
            format,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        })
    };
    let extent = volume.extent();
    let (grey_size, colour_size) = if volume.colour {
        (tiny, extent)
    } else {
        (extent, tiny)
    };
    let grey = make(
        "tessera-volume-grey",
        grey_size,
        wgpu::TextureFormat::R16Uint,
    );
    let colour = make(
        "tessera-volume-colour",
        colour_size,
        wgpu::TextureFormat::Rgba8Uint,
    );
    let (target, bytes_per_pixel) = if volume.colour {
        (&colour, 4)
    } else {
        (&grey, 2)
    };
    let plain = GrayscalePipeline {
        modality: crate::imaging::display::ModalityLut::IDENTITY,
        voi: Voi::Linear(VoiWindow::new(127.5, 256.0)),
        polarity: Polarity::Normal,
    };
    for (k, slice) in volume.slices.iter().enumerate() {
        let bytes: Vec<u8> = if volume.colour {
            // Colour (RGB, YBR already converted): 8-bit RGBA as displayed. PALETTE COLOR
            // needs the file's LUT, which the volume does not carry yet: it renders black.
            render_frame_rgba(&slice.frame, &plain, None, volume.bits_stored)
                .unwrap_or_else(|_| vec![0; volume.columns as usize * volume.rows as usize * 4])
        } else {
            bytemuck::cast_slice(&volume.grey.encode(&slice.frame.samples)).to_vec()
        };
        let expected = volume.columns as usize * volume.rows as usize * bytes_per_pixel;
        if bytes.len() != expected {
            continue;
        }
        queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: target,
                mip_level: 0,
                origin: wgpu::Origin3d {
                    x: 0,
                    y: 0,
                    z: k as u32,
                },
                aspect: wgpu::TextureAspect::All,
            },
            &bytes,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(volume.columns * bytes_per_pixel as u32),
                rows_per_image: Some(volume.rows),
            },
            wgpu::Extent3d {
                width: volume.columns,
                height: volume.rows,
                depth_or_array_layers: 1,
            },
        );
    }
    let grey_view = grey.create_view(&wgpu::TextureViewDescriptor::default());
    let colour_view = colour.create_view(&wgpu::TextureViewDescriptor::default());
    ResidentVolume {
        key: volume.key,
        dims: [extent.width, extent.height, extent.depth_or_array_layers],
        _grey: grey,
        _colour: colour,
        grey_view,
        colour_view,
    }
}

impl egui_wgpu::CallbackTrait for SliceCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(res) = resources.get_mut::<SliceResources>() else {
            return Vec::new();
        };
        if res.volume.as_ref().map(|v| v.key) != Some(self.volume.key) {
            // One resident volume: the old one is released before the new upload.
            res.volume = None;
            res.volume = Some(upload(device, queue, &self.volume));
        }
        // The shown label map: (re)created when another segmentation is shown, then fed
        // the regions the app queued since the last frame.
        let labels = self
            .labels
            .as_ref()
            .filter(|(l, _)| res.volume.as_ref().is_some_and(|v| v.dims == l.dims));
        if let Some((l, _)) = labels {
            if res.labels.as_ref().map(|r| r.key) != Some(l.key) {
                let (texture, view) = label_texture(device, l.dims);
                res.labels = Some(ResidentLabels {
                    key: l.key,
                    _texture: texture,
                    view,
                });
            }
            if let Some(resident) = &res.labels {
                for region in l.take_pending() {
                    queue.write_texture(
                        wgpu::TexelCopyTextureInfo {
                            texture: &resident._texture,
                            mip_level: 0,
                            origin: wgpu::Origin3d {
                                x: region.origin[0],
                                y: region.origin[1],
                                z: region.origin[2],
                            },
                            aspect: wgpu::TextureAspect::All,
                        },
                        &region.bytes,
                        wgpu::TexelCopyBufferLayout {
                            offset: 0,
                            bytes_per_row: Some(region.size[0]),
                            rows_per_image: Some(region.size[1]),
                        },
                        wgpu::Extent3d {
                            width: region.size[0],
                            height: region.size[1],
                            depth_or_array_layers: region.size[2],
                        },
                    );
                }
            }
            if let Some(palette) = l.take_palette() {
                queue.write_buffer(&res.palette, 0, bytemuck::cast_slice(&palette[..]));
            }
        }
        let labels_key = labels.map_or(0, |(l, _)| l.key);
        let Some(volume) = &res.volume else {
            return Vec::new();
        };
        let uniforms = self.uniforms(volume.dims);
        let stale = res
            .views
            .get(&self.viewport)
            .is_none_or(|slot| slot.volume_key != volume.key || slot.labels_key != labels_key);
        if stale {
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("tessera-slice-params"),
                size: (UNIFORM_FLOATS * 4) as u64,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("tessera-slice"),
                layout: &res.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: buffer.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::TextureView(&volume.grey_view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: wgpu::BindingResource::TextureView(&volume.colour_view),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: wgpu::BindingResource::TextureView(
                            match (&res.labels, labels_key) {
                                (Some(l), key) if key != 0 && l.key == key => &l.view,
                                _ => &res.empty_labels.1,
                            },
                        ),
                    },
                    wgpu::BindGroupEntry {
                        binding: 4,
                        resource: res.palette.as_entire_binding(),
                    },
                ],
            });
            res.views.insert(
                self.viewport,
                ViewSlot {
                    volume_key: volume.key,
                    labels_key,
                    buffer,
                    bind_group,
                },
            );
        }
        if let Some(slot) = res.views.get(&self.viewport) {
            queue.write_buffer(&slot.buffer, 0, bytemuck::cast_slice(&uniforms));
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(res) = resources.get::<SliceResources>() else {
            return;
        };
        let Some(slot) = res.views.get(&self.viewport) else {
            return;
        };
        if res.volume.as_ref().map(|v| v.key) != Some(slot.volume_key) {
            return;
        }
        render_pass.set_pipeline(&res.pipeline);
        render_pass.set_bind_group(0, &slot.bind_group, &[]);
        render_pass.draw(0..3, 0..1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::pixels::Frame;

    fn slice(samples: Samples) -> SliceImage {
        SliceImage {
            position_mm: [0.0; 3],
            frame: Frame {
                rows: 1,
                columns: 2,
                samples_per_pixel: 1,
                photometric: Photometric::Monochrome2,
                samples,
            },
            source: None,
        }
    }

    #[test]
    fn grey_encodings_are_exact_for_16_bits_and_invertible_for_32() {
        let s = [slice(Samples::I16(vec![-1024, 3071]))];
        let e = GreyEncoding::for_slices(&s);
        let raw = e.encode(&s[0].frame.samples);
        assert_eq!(raw, vec![31744, 35839]);
        assert_eq!(f64::from(raw[0]) * e.step + e.offset, -1024.0);

        let s = [slice(Samples::I32(vec![-100_000, 100_000]))];
        let e = GreyEncoding::for_slices(&s);
        let raw = e.encode(&s[0].frame.samples);
        assert_eq!(raw, vec![0, 65535]);
        assert!((f64::from(raw[1]) * e.step + e.offset - 100_000.0).abs() < 1e-6);
    }
}
