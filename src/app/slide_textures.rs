//! Slide tile textures: which decoded tiles are on the GPU, their upload, and a bound.
//!
//! Owns [`TileTextures`]: one texture (or blank reason) per tile key, the spares that
//! evicted tiles leave behind (rewritten in place for new tiles of their size, so a long
//! session does not allocate GPU memory tile by tile), and eviction of the least
//! recently drawn beyond [`MAX_TEXTURES`].
//!
//! With a wgpu render state (the application, the benchmarks), a tile is written straight
//! from the tile cache's bytes into a native texture registered with egui's renderer:
//! one copy, into the upload's staging memory. Without one (headless tests on a CPU
//! painter), tiles go through egui's texture manager as images. Either way the viewer
//! draws them by [`egui::TextureId`].

use std::collections::HashMap;
use std::sync::Arc;

use eframe::egui_wgpu::{self, wgpu};
use egui::{Color32, ColorImage, TextureHandle, TextureId, TextureOptions};

use crate::imaging::slide::cache::TileCache;
use crate::imaging::slide::{TileContent, TileKey, widen_rgb};

/// Tile textures kept on the GPU at most, drawn or spare (256 MiB of 256x256 RGBA tiles).
pub const MAX_TEXTURES: usize = 1024;

/// One tile's texture (or its blank reason) and when it was last drawn.
struct TileTexture {
    handle: Option<Handle>,
    blank_reason: Option<String>,
    last_used: u64,
}

/// A tile texture: egui-managed, or native (written by us, drawn by egui).
enum Handle {
    Egui(TextureHandle),
    Native(NativeTexture),
}

impl Handle {
    fn id(&self) -> TextureId {
        match self {
            Handle::Egui(h) => h.id(),
            Handle::Native(n) => n.id,
        }
    }

    fn size(&self) -> [usize; 2] {
        match self {
            Handle::Egui(h) => h.size(),
            Handle::Native(n) => [n.size[0] as usize, n.size[1] as usize],
        }
    }
}

struct NativeTexture {
    id: TextureId,
    texture: wgpu::Texture,
    size: [u32; 2],
}

/// What native uploads need from the render state.
struct NativeGpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    renderer: Arc<egui::mutex::RwLock<egui_wgpu::Renderer>>,
}

/// Tile textures of one open slide (see the module documentation).
pub struct TileTextures {
    map: HashMap<TileKey, TileTexture>,
    spare: Vec<Handle>,
    gpu: Option<NativeGpu>,
    /// RGB tiles are widened to RGBA here before a native upload (reused, never freed).
    scratch: Vec<u8>,
}

/// What [`TileTextures::get`] says of a tile.
pub enum Drawn<'a> {
    Texture(TextureId),
    Blank(&'a str),
}

impl TileTextures {
    /// Native uploads when `render_state` is given, egui images otherwise.
    pub fn new(render_state: Option<&egui_wgpu::RenderState>) -> TileTextures {
        TileTextures {
            map: HashMap::new(),
            spare: Vec::new(),
            gpu: render_state.map(|rs| NativeGpu {
                device: rs.device.clone(),
                queue: rs.queue.clone(),
                renderer: Arc::clone(&rs.renderer),
            }),
            scratch: Vec::new(),
        }
    }

    /// Whether the tile can be drawn (textured, or known blank).
    pub fn contains(&self, key: &TileKey) -> bool {
        self.map.contains_key(key)
    }

    /// The tile's texture id, when uploaded.
    pub fn id(&self, key: TileKey) -> Option<TextureId> {
        self.map.get(&key)?.handle.as_ref().map(Handle::id)
    }

    /// The tile as drawn in frame `frame` (marks it used then), when ready.
    pub fn get(&mut self, key: &TileKey, frame: u64) -> Option<Drawn<'_>> {
        let t = self.map.get_mut(key)?;
        t.last_used = frame;
        Some(match (&t.handle, &t.blank_reason) {
            (Some(h), _) => Drawn::Texture(h.id()),
            (None, reason) => Drawn::Blank(reason.as_deref().unwrap_or_default()),
        })
    }

    /// Whether the tile can be drawn now (textured, or known blank), uploading it from
    /// `cache` when there is upload budget left this frame.
    pub fn ensure(
        &mut self,
        ctx: &egui::Context,
        cache: &TileCache,
        key: TileKey,
        frame: u64,
        budget: &mut usize,
    ) -> bool {
        if let Some(t) = self.map.get_mut(&key) {
            t.last_used = frame;
            return true;
        }
        if *budget == 0 {
            return false;
        }
        let Some(tile) = cache.get(key) else {
            return false;
        };
        *budget -= 1;
        let size = [tile.width as usize, tile.height as usize];
        let (handle, blank_reason) = match &tile.content {
            TileContent::Blank { reason } => (None, Some(reason.clone())),
            TileContent::Rgb(px) | TileContent::Rgba(px) => {
                let rgb = matches!(tile.content, TileContent::Rgb(_));
                match self.upload(ctx, size, px, rgb) {
                    Some(h) => (Some(h), None),
                    // A tile whose pixel count disagrees with its size: not drawable.
                    None => (None, Some("tile size does not match its pixels".into())),
                }
            }
        };
        self.map.insert(
            key,
            TileTexture {
                handle,
                blank_reason,
                last_used: frame,
            },
        );
        true
    }

    /// Uploads one tile's pixels (RGB when `rgb`, else premultiplied RGBA) into a spare
    /// texture of its size or a new one; `None` when `px` does not hold `size` pixels.
    fn upload(
        &mut self,
        ctx: &egui::Context,
        size: [usize; 2],
        px: &[u8],
        rgb: bool,
    ) -> Option<Handle> {
        let n = size[0] * size[1];
        if px.len() != n * if rgb { 3 } else { 4 } {
            return None;
        }
        let spare = self
            .spare
            .iter()
            .position(|h| h.size() == size)
            .map(|i| self.spare.swap_remove(i));
        let rgba: &[u8] = if rgb {
            self.scratch.clear();
            widen_rgb(px, &mut self.scratch);
            &self.scratch
        } else {
            px
        };
        let Some(gpu) = &self.gpu else {
            let image = color_image_from_rgba(size, rgba)?;
            return Some(match spare {
                // Rewriting the whole texture in place keeps its GPU allocation.
                Some(Handle::Egui(mut h)) => {
                    h.set_partial([0, 0], image, TextureOptions::LINEAR);
                    Handle::Egui(h)
                }
                _ => Handle::Egui(ctx.load_texture("slide-tile", image, TextureOptions::LINEAR)),
            });
        };
        let (w, h) = (u32::try_from(size[0]).ok()?, u32::try_from(size[1]).ok()?);
        let native = match spare {
            Some(Handle::Native(t)) => t,
            _ => {
                let texture = gpu.device.create_texture(&wgpu::TextureDescriptor {
                    label: Some("slide-tile"),
                    size: wgpu::Extent3d {
                        width: w,
                        height: h,
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: 1,
                    dimension: wgpu::TextureDimension::D2,
                    // As egui's own textures: premultiplied, gamma-encoded bytes.
                    format: wgpu::TextureFormat::Rgba8Unorm,
                    usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                    view_formats: &[wgpu::TextureFormat::Rgba8Unorm],
                });
                let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
                let id = gpu.renderer.write().register_native_texture(
                    &gpu.device,
                    &view,
                    wgpu::FilterMode::Linear,
                );
                NativeTexture {
                    id,
                    texture,
                    size: [w, h],
                }
            }
        };
        gpu.queue.write_texture(
            wgpu::TexelCopyTextureInfo {
                texture: &native.texture,
                mip_level: 0,
                origin: wgpu::Origin3d::ZERO,
                aspect: wgpu::TextureAspect::All,
            },
            rgba,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(4 * w),
                rows_per_image: Some(h),
            },
            wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
        );
        Some(Handle::Native(native))
    }

    /// Every uploaded tile becomes a spare (the next tiles are uploaded again).
    pub fn clear(&mut self) {
        let handles: Vec<Handle> = self.map.drain().filter_map(|(_, t)| t.handle).collect();
        self.spare.extend(handles);
        self.trim_spares();
    }

    /// Keeps drawn plus spare textures within [`MAX_TEXTURES`]: spares go first, then
    /// the tiles least recently drawn before `frame` become spares (at most a quarter of
    /// the bound).
    pub fn evict(&mut self, frame: u64) {
        self.trim_spares();
        if self.map.len() <= MAX_TEXTURES {
            return;
        }
        let mut by_age: Vec<(u64, TileKey)> = self
            .map
            .iter()
            .filter(|(_, t)| t.last_used < frame)
            .map(|(k, t)| (t.last_used, *k))
            .collect();
        by_age.sort_unstable();
        let excess = self.map.len() - MAX_TEXTURES;
        for (_, key) in by_age.into_iter().take(excess) {
            if let Some(TileTexture {
                handle: Some(h), ..
            }) = self.map.remove(&key)
            {
                if self.spare.len() < MAX_TEXTURES / 4 {
                    self.spare.push(h);
                } else {
                    self.release(h);
                }
            }
        }
    }

    /// Drops spares while drawn plus spare textures exceed the bound.
    fn trim_spares(&mut self) {
        let over = (self.map.len() + self.spare.len()).saturating_sub(MAX_TEXTURES);
        let keep = self.spare.len() - over.min(self.spare.len());
        let dropped: Vec<Handle> = self.spare.drain(keep..).collect();
        for h in dropped {
            self.release(h);
        }
    }

    /// Frees a texture: egui's go when their handle drops; native ones are
    /// unregistered from the renderer and destroyed.
    fn release(&self, handle: Handle) {
        if let (Handle::Native(n), Some(gpu)) = (handle, &self.gpu) {
            gpu.renderer.write().free_texture(&n.id);
            n.texture.destroy();
        }
    }
}

impl Drop for TileTextures {
    fn drop(&mut self) {
        let handles: Vec<Handle> = self
            .map
            .drain()
            .filter_map(|(_, t)| t.handle)
            .chain(self.spare.drain(..))
            .collect();
        for h in handles {
            self.release(h);
        }
    }
}

/// A premultiplied RGBA tile as egui pixels (a copy); `None` when `rgba` does not hold
/// `size` pixels.
fn color_image_from_rgba(size: [usize; 2], rgba: &[u8]) -> Option<ColorImage> {
    if rgba.len() != size[0] * size[1] * 4 {
        return None;
    }
    let pixels: &[Color32] = bytemuck::try_cast_slice(rgba).ok()?;
    Some(ColorImage::new(size, pixels.to_vec()))
}
