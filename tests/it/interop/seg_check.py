"""highdicom's reading of a DICOM SEG: per segment its description and the patient
(LPS) position of every voxel centre (through highdicom's own volume geometry), and
the source instances it references (JSON)."""
import json
import sys

import highdicom as hd
import numpy as np

seg = hd.seg.segread(sys.argv[1])
volume = seg.get_volume(combine_segments=True, relabel=False)
array, affine = volume.array, volume.affine
out = {"type": seg.segmentation_type.value, "segments": {}}
for number in seg.segment_numbers:
    d = seg.get_segment_description(number)
    index = np.argwhere(array == number)
    points = (affine[:3, :3] @ index.T + affine[:3, 3:4]).T if len(index) else np.zeros((0, 3))
    code = lambda c: [c.scheme_designator, c.value, c.meaning]
    out["segments"][str(number)] = {
        "label": d.segment_label,
        "category": code(d.segmented_property_category),
        "type": code(d.segmented_property_type),
        "algorithm": d.algorithm_type.value,
        "points": points.tolist(),
    }
out["sources"] = sorted({uids[2] for uids in seg.get_source_image_uids()})
print(json.dumps(out))
