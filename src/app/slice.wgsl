// Slice display: samples the volume (stored values, uploaded once) on the plane a
// viewport shows, then applies the modality LUT (rescale), the linear VOI window,
// inversion (MONOCHROME1 or the user's) and a colour map. Window/level changes only
// touch the uniform buffer.

struct Params {
    // Continuous voxel coordinate = origin + fx * axis_x + fy * axis_y, where (fx, fy)
    // runs 0..1 across the viewport rectangle.
    axis_x: vec4<f32>,
    axis_y: vec4<f32>,
    origin: vec4<f32>,
    // Voxels along i, j, k; w = 1 for colour volumes.
    dims: vec4<f32>,
    // Stored value -> modality value: raw * x + y. Window centre z, width w.
    lut: vec4<f32>,
    // x: invert (0/1), y: colour map (0 grey, 1 hot iron), z: nearest sampling (0/1).
    flags: vec4<f32>,
    // Label map overlay: x fill opacity (0..1), y outline (0/1), z shown (0/1).
    overlay: vec4<f32>,
};

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var grey: texture_3d<u32>;
@group(0) @binding(2) var colour: texture_3d<u32>;
// The shown segmentation's label map (same voxels as the volume) and its colours
// (rgb, a = 0 hides a segment).
@group(0) @binding(3) var labels: texture_3d<u32>;
@group(0) @binding(4) var<uniform> palette: array<vec4<f32>, 256>;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) f: vec2<f32>,
};

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOut {
    // One triangle covering the viewport; f is (0, 0) top-left, (1, 1) bottom-right.
    var corners = array<vec2<f32>, 3>(vec2(-1.0, 1.0), vec2(3.0, 1.0), vec2(-1.0, -3.0));
    let xy = corners[index];
    var out: VertexOut;
    out.position = vec4(xy, 0.0, 1.0);
    out.f = vec2((xy.x + 1.0) * 0.5, (1.0 - xy.y) * 0.5);
    return out;
}

fn load_grey(p: vec3<i32>) -> f32 {
    return f32(textureLoad(grey, p, 0).r);
}

fn load_colour(p: vec3<i32>) -> vec3<f32> {
    return vec3<f32>(textureLoad(colour, p, 0).rgb) / 255.0;
}

fn hot_iron(t: f32) -> vec3<f32> {
    return vec3(clamp(t * 3.0, 0.0, 1.0), clamp(t * 3.0 - 1.0, 0.0, 1.0), clamp(t * 3.0 - 2.0, 0.0, 1.0));
}

fn label_at(v: vec3<f32>, hi: vec3<i32>) -> u32 {
    return textureLoad(labels, clamp(vec3<i32>(round(v)), vec3(0), hi), 0).r;
}

// Segment fill (nearest voxel, so edges stay on voxel boundaries) and a one-pixel outline
// where a neighbouring screen pixel shows another label.
fn with_labels(rgb: vec3<f32>, v: vec3<f32>, dvx: vec3<f32>, dvy: vec3<f32>) -> vec3<f32> {
    if (params.overlay.z < 0.5) {
        return rgb;
    }
    let hi = vec3<i32>(params.dims.xyz) - vec3(1);
    let l = label_at(v, hi);
    if (l == 0u) {
        return rgb;
    }
    let c = palette[l];
    var out = mix(rgb, c.rgb, params.overlay.x * c.a);
    if (params.overlay.y > 0.5 && c.a > 0.0) {
        let edge = label_at(v + dvx, hi) != l || label_at(v - dvx, hi) != l
            || label_at(v + dvy, hi) != l || label_at(v - dvy, hi) != l;
        if (edge) {
            out = c.rgb;
        }
    }
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let v = params.origin.xyz + in.f.x * params.axis_x.xyz + in.f.y * params.axis_y.xyz;
    // Screen-pixel steps in voxels (taken before any branch: derivatives need uniform flow).
    let dvx = dpdx(v);
    let dvy = dpdy(v);
    let n = params.dims.xyz;
    if (any(v < vec3(-0.5)) || any(v > n - vec3(0.5))) {
        return vec4(0.0, 0.0, 0.0, 1.0);
    }
    let hi = vec3<i32>(n) - vec3(1);
    var rgb: vec3<f32>;
    if (params.flags.z > 0.5) {
        // 1:1 display: the stored pixel, unblended.
        let p = clamp(vec3<i32>(round(v)), vec3(0), hi);
        if (params.dims.w > 0.5) {
            rgb = load_colour(p);
        } else {
            rgb = vec3(load_grey(p));
        }
    } else {
        // Trilinear between the 8 surrounding voxel centres (integer textures cannot be
        // filtered by the sampler).
        let c = clamp(v, vec3(0.0), vec3<f32>(hi));
        let p0 = vec3<i32>(floor(c));
        let p1 = min(p0 + vec3(1), hi);
        let t = c - floor(c);
        if (params.dims.w > 0.5) {
            let c00 = mix(load_colour(vec3(p0.x, p0.y, p0.z)), load_colour(vec3(p1.x, p0.y, p0.z)), t.x);
            let c10 = mix(load_colour(vec3(p0.x, p1.y, p0.z)), load_colour(vec3(p1.x, p1.y, p0.z)), t.x);
            let c01 = mix(load_colour(vec3(p0.x, p0.y, p1.z)), load_colour(vec3(p1.x, p0.y, p1.z)), t.x);
            let c11 = mix(load_colour(vec3(p0.x, p1.y, p1.z)), load_colour(vec3(p1.x, p1.y, p1.z)), t.x);
            rgb = mix(mix(c00, c10, t.y), mix(c01, c11, t.y), t.z);
        } else {
            let g00 = mix(load_grey(vec3(p0.x, p0.y, p0.z)), load_grey(vec3(p1.x, p0.y, p0.z)), t.x);
            let g10 = mix(load_grey(vec3(p0.x, p1.y, p0.z)), load_grey(vec3(p1.x, p1.y, p0.z)), t.x);
            var g = mix(g00, g10, t.y);
            if (t.z > 0.0) {
                let g01 = mix(load_grey(vec3(p0.x, p0.y, p1.z)), load_grey(vec3(p1.x, p0.y, p1.z)), t.x);
                let g11 = mix(load_grey(vec3(p0.x, p1.y, p1.z)), load_grey(vec3(p1.x, p1.y, p1.z)), t.x);
                g = mix(g, mix(g01, g11, t.y), t.z);
            }
            rgb = vec3(g);
        }
    }
    if (params.dims.w > 0.5) {
        if (params.flags.x > 0.5) {
            rgb = vec3(1.0) - rgb;
        }
        return vec4(with_labels(rgb, v, dvx, dvy), 1.0);
    }
    // DICOM PS3.3 C.11.2.1.2.1 linear VOI function.
    let value = rgb.x * params.lut.x + params.lut.y;
    let centre = params.lut.z;
    let width = max(params.lut.w, 1.0);
    var y = clamp((value - (centre - 0.5)) / max(width - 1.0, 1e-6) + 0.5, 0.0, 1.0);
    if (params.flags.x > 0.5) {
        y = 1.0 - y;
    }
    if (params.flags.y > 0.5) {
        return vec4(with_labels(hot_iron(y), v, dvx, dvy), 1.0);
    }
    return vec4(with_labels(vec3(y), v, dvx, dvy), 1.0);
}
