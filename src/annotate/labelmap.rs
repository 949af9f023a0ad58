//! 3D label maps: one byte per voxel (segment index, 0 = background), aligned voxel for
//! voxel with the source volume, stored as lazily allocated bricks.
//!
//! Owns [`LabelMap`] (the bricks: 32×32×32 voxels, clipped at the volume's edges so a fully
//! painted map holds exactly one byte per voxel; an absent brick is all zero), [`ChangeSet`]
//! (new contents of the bricks an operation changes: what every tool returns), and
//! [`Stroke`] (applies change sets while remembering each brick as it was before the
//! stroke first touched it, then packs the whole stroke as one compressed edit).
//! Undo never copies a whole volume: a stroke's cost is the bricks it touched.
//! Voxel coordinates are `[i, j, k]` = (column, row, slice), as in `imaging::mpr`.

use std::collections::BTreeMap;

use super::packed::{ChunkDelta, Packed, PackedError, StrokeEdit, Tool};

/// Edge length of a brick, voxels.
pub const BRICK: usize = 32;

/// Why a label map cannot be made or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelMapError {
    #[error("label map dimensions {0:?} are empty or too large")]
    BadDims([usize; 3]),
    #[error("brick {index} is outside the label map ({count} bricks)")]
    BrickOutOfRange { index: u32, count: usize },
    #[error("brick {index}: {source}")]
    Brick { index: u32, source: PackedError },
}

/// A label map: `dims` voxels, bricked.
#[derive(Clone, PartialEq, Eq)]
pub struct LabelMap {
    dims: [usize; 3],
    bricks_per_axis: [usize; 3],
    bricks: Vec<Option<Box<[u8]>>>,
}

impl std::fmt::Debug for LabelMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabelMap")
            .field("dims", &self.dims)
            .field("allocated_bricks", &self.allocated_bricks())
            .finish()
    }
}

/// Where a brick sits: first voxel and size (clipped at the volume's edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrickBox {
    pub origin: [usize; 3],
    pub size: [usize; 3],
}

impl BrickBox {
    pub fn len(&self) -> usize {
        self.size.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Offset of a voxel (inside the brick) in the brick's bytes: x fastest, then y, z.
    #[inline]
    pub fn offset(&self, v: [usize; 3]) -> usize {
        let [x, y, z] = [0, 1, 2].map(|a| v[a] - self.origin[a]);
        (z * self.size[1] + y) * self.size[0] + x
    }
}

impl LabelMap {
    /// An empty (all background) map. Dimensions must be at least 1 and hold at most 2^36
    /// voxels; nothing is allocated but the brick table.
    pub fn new(dims: [usize; 3]) -> Result<LabelMap, LabelMapError> {
        let voxels = dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n > 0 && n as u64 <= 1 << 36);
        if voxels.is_none() {
            return Err(LabelMapError::BadDims(dims));
        }
        let bricks_per_axis = dims.map(|d| d.div_ceil(BRICK));
        let count: usize = bricks_per_axis.iter().product();
        if count > u32::MAX as usize {
            return Err(LabelMapError::BadDims(dims));
        }
        Ok(LabelMap {
            dims,
            bricks_per_axis,
            bricks: vec![None; count],
        })
    }

    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    pub fn voxel_count(&self) -> usize {
        self.dims.iter().product()
    }

    pub fn brick_count(&self) -> usize {
        self.bricks.len()
    }

    pub fn bricks_per_axis(&self) -> [usize; 3] {
        self.bricks_per_axis
    }

    /// Bricks that hold memory (non-zero content).
    pub fn allocated_bricks(&self) -> usize {
        self.bricks.iter().filter(|b| b.is_some()).count()
    }

    /// Heap memory held: the brick table plus every allocated brick.
    pub fn heap_bytes(&self) -> usize {
        self.bricks.capacity() * std::mem::size_of::<Option<Box<[u8]>>>()
            + self.bricks.iter().flatten().map(|b| b.len()).sum::<usize>()
    }

    /// True when `v` is inside the map.
    #[inline]
    pub fn contains(&self, v: [usize; 3]) -> bool {
        v[0] < self.dims[0] && v[1] < self.dims[1] && v[2] < self.dims[2]
    }

    /// The brick holding voxel `v` (inside the map).
    #[inline]
    pub fn brick_index(&self, v: [usize; 3]) -> u32 {
        let [bx, by, bz] = v.map(|c| c / BRICK);
        ((bz * self.bricks_per_axis[1] + by) * self.bricks_per_axis[0] + bx) as u32
    }

    /// Origin and size of brick `index` (which must be below [`Self::brick_count`]).
    pub fn brick_box(&self, index: u32) -> BrickBox {
        let i = index as usize;
        let [nx, ny, _] = self.bricks_per_axis;
        let b = [i % nx, (i / nx) % ny, i / (nx * ny)];
        let origin = b.map(|c| c * BRICK);
        let size = [0, 1, 2].map(|a| BRICK.min(self.dims[a].saturating_sub(origin[a])));
        BrickBox { origin, size }
    }

    /// The label at `v`; 0 outside the map.
    #[inline]
    pub fn get(&self, v: [usize; 3]) -> u8 {
        if !self.contains(v) {
            return 0;
        }
        let index = self.brick_index(v);
        match &self.bricks[index as usize] {
            Some(b) => b[self.brick_box(index).offset(v)],
            None => 0,
        }
    }

    /// The bytes of brick `index` (x fastest), `None` when all zero.
    pub fn brick(&self, index: u32) -> Option<&[u8]> {
        self.bricks.get(index as usize)?.as_deref()
    }

    /// Indices of the allocated bricks, ascending.
    pub fn allocated(&self) -> impl Iterator<Item = u32> + '_ {
        self.bricks
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_some())
            .map(|(i, _)| i as u32)
    }

    /// Replaces brick `index`; returns what it held. All-zero contents free the brick.
    fn replace(&mut self, index: u32, content: Option<Box<[u8]>>) -> Option<Box<[u8]>> {
        let content = content.filter(|b| b.iter().any(|&v| v != 0));
        std::mem::replace(&mut self.bricks[index as usize], content)
    }

    /// Applies a change set (its bricks move in); returns the changed brick indices.
    pub fn apply(&mut self, changes: ChangeSet) -> Vec<u32> {
        let mut changed = Vec::with_capacity(changes.bricks.len());
        for (index, content) in changes.bricks {
            self.replace(index, content);
            changed.push(index);
        }
        changed
    }

    /// Sets each brick named by a stored stroke to its `after` content (an undo or redo
    /// arrives as a stroke whose before/after are swapped). Checks every brick before
    /// changing any; returns the changed brick indices.
    pub fn apply_stroke(&mut self, stroke: &StrokeEdit) -> Result<Vec<u32>, LabelMapError> {
        let mut decoded = Vec::with_capacity(stroke.chunks.len());
        for c in &stroke.chunks {
            decoded.push((c.index, self.decode(c.index, &c.after)?));
        }
        Ok(decoded
            .into_iter()
            .map(|(index, content)| {
                self.replace(index, content);
                index
            })
            .collect())
    }

    /// Decodes packed content for brick `index`, checking its size.
    pub fn decode(&self, index: u32, packed: &Packed) -> Result<Option<Box<[u8]>>, LabelMapError> {
        if index as usize >= self.bricks.len() {
            return Err(LabelMapError::BrickOutOfRange {
                index,
                count: self.bricks.len(),
            });
        }
        packed
            .decode(self.brick_box(index).len())
            .map_err(|source| LabelMapError::Brick { index, source })
    }

    /// Packs brick `index` as it is now.
    pub fn pack(&self, index: u32) -> Packed {
        Packed::encode(self.brick(index))
    }

    /// Fills brick contents from packed chunks (loading a stored segmentation).
    pub fn load_chunks<'a>(
        &mut self,
        chunks: impl IntoIterator<Item = (u32, &'a Packed)>,
    ) -> Result<(), LabelMapError> {
        for (index, packed) in chunks {
            let content = self.decode(index, packed)?;
            self.replace(index, content);
        }
        Ok(())
    }

    /// The labels of one slice across voxel axis `axis` (0 = i, 1 = j, 2 = k) at `index`,
    /// row-major over the two other axes in ascending order (the lower one fastest): for
    /// `axis` = 2 that is `[j][i]`, the stored order of an axial slice. Flip for display
    /// with the plane's `PlaneAxes`. Empty when out of range.
    pub fn slice(&self, axis: usize, index: usize) -> Vec<u8> {
        if axis > 2 || index >= self.dims[axis] {
            return Vec::new();
        }
        let (u, w) = match axis {
            0 => (1, 2),
            1 => (0, 2),
            _ => (0, 1),
        };
        let (nu, nw) = (self.dims[u], self.dims[w]);
        let mut out = vec![0u8; nu * nw];
        let b = index / BRICK;
        for (i, brick) in self.bricks.iter().enumerate() {
            let Some(brick) = brick else { continue };
            let bb = self.brick_box(i as u32);
            if bb.origin[axis] / BRICK != b {
                continue;
            }
            let mut v = [0usize; 3];
            v[axis] = index;
            for dw in 0..bb.size[w] {
                for du in 0..bb.size[u] {
                    v[u] = bb.origin[u] + du;
                    v[w] = bb.origin[w] + dw;
                    out[v[w] * nu + v[u]] = brick[bb.offset(v)];
                }
            }
        }
        out
    }

    /// Voxels per label over the whole map (index = label).
    pub fn histogram(&self) -> [u64; 256] {
        let mut h = [0u64; 256];
        for b in self.bricks.iter().flatten() {
            for &v in b.iter() {
                h[usize::from(v)] += 1;
            }
        }
        h[0] = 0;
        let labelled: u64 = h.iter().sum();
        h[0] = self.voxel_count() as u64 - labelled;
        h
    }
}

/// New contents for the bricks an operation changes (`None` = all zero). Tools return
/// one; [`LabelMap::apply`] or [`Stroke::apply`] moves it into the map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    bricks: BTreeMap<u32, Option<Box<[u8]>>>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.bricks.is_empty()
    }

    /// The bricks this set changes, ascending (for texture uploads).
    pub fn bricks(&self) -> impl Iterator<Item = u32> + '_ {
        self.bricks.keys().copied()
    }

    /// The new label of voxel `v` if this set changes its brick.
    pub fn get(&self, map: &LabelMap, v: [usize; 3]) -> Option<u8> {
        let index = map.brick_index(v);
        let content = self.bricks.get(&index)?;
        Some(match content {
            Some(b) => b[map.brick_box(index).offset(v)],
            None => 0,
        })
    }
}

/// A copy-on-write view used by tools to build a [`ChangeSet`]: reads fall through to the
/// map, the first write to a brick copies it.
pub struct Draft<'a> {
    map: &'a LabelMap,
    touched: Vec<Option<Box<[u8]>>>,
    order: Vec<u32>,
}

impl<'a> Draft<'a> {
    pub fn new(map: &'a LabelMap) -> Draft<'a> {
        Draft {
            map,
            touched: Vec::new(),
            order: Vec::new(),
        }
    }

    pub fn map(&self) -> &'a LabelMap {
        self.map
    }

    /// The label at `v` as drafted so far (`v` inside the map).
    #[inline]
    pub fn get(&self, v: [usize; 3]) -> u8 {
        let index = self.map.brick_index(v);
        match self.touched.get(index as usize) {
            Some(Some(b)) => b[self.map.brick_box(index).offset(v)],
            _ => self.map.get(v),
        }
    }

    /// Sets the label at `v` (inside the map).
    #[inline]
    pub fn set(&mut self, v: [usize; 3], label: u8) {
        let index = self.map.brick_index(v);
        let offset = self.map.brick_box(index).offset(v);
        self.brick_mut(index)[offset] = label;
    }

    /// The drafted bytes of brick `index`, copied from the map on first use.
    pub fn brick_mut(&mut self, index: u32) -> &mut [u8] {
        let i = index as usize;
        if self.touched.len() <= i {
            self.touched.resize(self.map.brick_count(), None);
        }
        let map = self.map;
        let slot = &mut self.touched[i];
        if slot.is_none() {
            self.order.push(index);
        }
        slot.get_or_insert_with(|| match map.brick(index) {
            Some(b) => b.into(),
            None => vec![0u8; map.brick_box(index).len()].into_boxed_slice(),
        })
    }

    /// The change set: drafted bricks that differ from the map.
    pub fn finish(mut self) -> ChangeSet {
        let mut bricks = BTreeMap::new();
        for index in self.order {
            let Some(content) = self.touched[index as usize].take() else {
                continue;
            };
            let changed = match self.map.brick(index) {
                Some(old) => *old != *content,
                None => content.iter().any(|&v| v != 0),
            };
            if changed {
                let content = Some(content).filter(|b| b.iter().any(|&v| v != 0));
                bricks.insert(index, content);
            }
        }
        ChangeSet { bricks }
    }
}

/// One user gesture (many brush dabs, one fill): applies change sets to the map as they
/// come, keeping each touched brick's content from before the gesture, and packs the
/// whole gesture as one edit at the end.
#[derive(Debug, Default)]
pub struct Stroke {
    before: BTreeMap<u32, Option<Box<[u8]>>>,
}

impl Stroke {
    pub fn new() -> Stroke {
        Stroke::default()
    }

    /// Applies `changes` to `map`; returns the changed brick indices (for the display).
    pub fn apply(&mut self, map: &mut LabelMap, changes: ChangeSet) -> Vec<u32> {
        let mut changed = Vec::with_capacity(changes.bricks.len());
        for (index, content) in changes.bricks {
            let old = map.replace(index, content);
            self.before.entry(index).or_insert(old);
            changed.push(index);
        }
        changed
    }

    /// Bricks touched so far.
    pub fn touched(&self) -> usize {
        self.before.len()
    }

    /// Puts every touched brick back as it was (a cancelled gesture).
    pub fn cancel(self, map: &mut LabelMap) -> Vec<u32> {
        self.before
            .into_iter()
            .map(|(index, old)| {
                map.replace(index, old);
                index
            })
            .collect()
    }

    /// The gesture as one stored edit: per touched brick that differs at the end, its
    /// packed content before and after, and the net voxel change per label. `None` when
    /// nothing changed.
    pub fn finish(self, map: &LabelMap, tool: Tool) -> Option<StrokeEdit> {
        let mut chunks = Vec::new();
        let mut net: BTreeMap<u8, i64> = BTreeMap::new();
        for (index, old) in self.before {
            let now = map.brick(index);
            let old = old.as_deref();
            let same = match (old, now) {
                (None, None) => true,
                (Some(a), Some(b)) => a == b,
                _ => false,
            };
            if same {
                continue;
            }
            let len = map.brick_box(index).len();
            count_into(&mut net, now, len, 1);
            count_into(&mut net, old, len, -1);
            chunks.push(ChunkDelta {
                index,
                before: Packed::encode(old),
                after: Packed::encode(now),
            });
        }
        (!chunks.is_empty()).then_some(StrokeEdit {
            tool,
            net_voxels: net.into_iter().filter(|(_, n)| *n != 0).collect(),
            chunks,
        })
    }
}

fn count_into(net: &mut BTreeMap<u8, i64>, brick: Option<&[u8]>, len: usize, sign: i64) {
    let mut h = [0i64; 256];
    match brick {
        Some(b) => b.iter().for_each(|&v| h[usize::from(v)] += 1),
        None => h[0] = len as i64,
    }
    for (label, n) in h.iter().enumerate().filter(|(_, n)| **n != 0) {
        *net.entry(label as u8).or_default() += sign * n;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn bricks_clip_at_the_edges_and_memory_is_one_byte_per_voxel() {
        let mut map = LabelMap::new([70, 40, 33]).unwrap();
        assert_eq!(map.bricks_per_axis(), [3, 2, 2]);
        assert_eq!(map.brick_box(2).size, [6, 32, 32]);
        assert_eq!(map.brick_box(11).size, [6, 8, 1]);
        let mut draft = Draft::new(&map);
        for k in 0..33 {
            for j in 0..40 {
                for i in 0..70 {
                    draft.set([i, j, k], 1);
                }
            }
        }
        let cs = draft.finish();
        map.apply(cs);
        let table = map.brick_count() * std::mem::size_of::<Option<Box<[u8]>>>();
        assert_eq!(map.heap_bytes(), map.voxel_count() + table);
        assert_eq!(map.histogram()[1], map.voxel_count() as u64);
        assert!(LabelMap::new([0, 1, 1]).is_err());
        assert!(LabelMap::new([1 << 20, 1 << 20, 1 << 20]).is_err());
    }

    #[test]
    fn a_stroke_packs_once_and_its_inverse_restores_the_map() {
        let mut map = LabelMap::new([64, 64, 8]).unwrap();
        let mut stroke = Stroke::new();
        for x in [3, 40, 41] {
            let mut d = Draft::new(&map);
            d.set([x, 5, 2], 7);
            let cs = d.finish();
            stroke.apply(&mut map, cs);
        }
        let before_erase = map.clone();
        // Touch a brick and put it back: not part of the edit.
        let mut d = Draft::new(&map);
        d.set([3, 5, 2], 0);
        let cs = d.finish();
        stroke.apply(&mut map, cs);
        let mut d = Draft::new(&map);
        d.set([3, 5, 2], 7);
        let cs = d.finish();
        stroke.apply(&mut map, cs);
        assert_eq!(map, before_erase);
        let edit = stroke.finish(&map, Tool::Brush).unwrap();
        assert_eq!(edit.chunks.len(), 2);
        assert_eq!(edit.net_voxels, vec![(0, -3), (7, 3)]);
        let painted = map.clone();
        map.apply_stroke(&edit.inverse()).unwrap();
        assert_eq!(map, LabelMap::new([64, 64, 8]).unwrap());
        map.apply_stroke(&edit).unwrap();
        assert_eq!(map, painted);
        assert_eq!(map.get([40, 5, 2]), 7);
        let axial = map.slice(2, 2);
        assert_eq!((axial.len(), axial[5 * 64 + 40]), (64 * 64, 7));
        let sagittal = map.slice(0, 40);
        assert_eq!((sagittal.len(), sagittal[2 * 64 + 5]), (64 * 8, 7));
        assert!(map.slice(2, 8).is_empty());
        assert_eq!(map.get([64, 5, 2]), 0, "outside reads as background");
    }

    #[test]
    fn a_cancelled_stroke_leaves_nothing_and_bad_chunks_are_refused() {
        let mut map = LabelMap::new([40, 40, 40]).unwrap();
        let mut stroke = Stroke::new();
        let mut d = Draft::new(&map);
        d.set([39, 39, 39], 3);
        let cs = d.finish();
        stroke.apply(&mut map, cs);
        assert_eq!(map.allocated_bricks(), 1);
        stroke.cancel(&mut map);
        assert_eq!(map.allocated_bricks(), 0);
        let bad = StrokeEdit {
            tool: Tool::Brush,
            net_voxels: Vec::new(),
            chunks: vec![ChunkDelta {
                index: 99,
                before: Packed::encode(None),
                after: Packed::encode(None),
            }],
        };
        assert!(matches!(
            map.apply_stroke(&bad),
            Err(LabelMapError::BrickOutOfRange { index: 99, .. })
        ));
        let wrong_size = Packed::encode(Some(&[1u8, 2, 3, 4][..]));
        assert!(map.decode(0, &wrong_size).is_err());
    }
}
