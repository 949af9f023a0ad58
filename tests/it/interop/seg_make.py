"""Writes a binary SEG with highdicom from the source images given (another tool's
SEG, for import tests): segment 1 on the second image, segment 2 on the last two.
Prints, per segment, the (SOP instance UID, row, column) of every labelled pixel."""
import json
import sys

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

out_path, paths = sys.argv[1], sys.argv[2:]
images = sorted((pydicom.dcmread(p) for p in paths), key=lambda d: int(d.InstanceNumber))
rows, columns = images[0].Rows, images[0].Columns
mask = np.zeros((len(images), rows, columns, 2), dtype=bool)
mask[1, 2:5, 3:9, 0] = True
mask[1, rows - 1, 0, 0] = True
mask[-2:, 4:7, columns - 5:columns - 1, 1] = True
algorithm = hd.AlgorithmIdentificationSequence(
    name="test", version="1", family=codes.cid7162.ArtificialIntelligence
)
descriptions = [
    hd.seg.SegmentDescription(
        segment_number=n + 1,
        segment_label=label,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=type_,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    for n, (label, type_) in enumerate([("nodule", codes.SCT.Nodule), ("mass", codes.SCT.Mass)])
]
seg = hd.seg.Segmentation(
    source_images=images,
    pixel_array=mask,
    segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
    segment_descriptions=descriptions,
    series_instance_uid=hd.UID(),
    series_number=50,
    sop_instance_uid=hd.UID(),
    instance_number=1,
    manufacturer="highdicom",
    manufacturer_model_name="test",
    software_versions=hd.__version__,
    device_serial_number="1",
)
seg.save_as(out_path)
pixels = {
    str(s + 1): [
        [images[k].SOPInstanceUID, int(r), int(c)]
        for k, r, c in np.argwhere(mask[..., s])
    ]
    for s in range(2)
}
print(json.dumps({"pixels": pixels, "codes": [[c.scheme_designator, c.value, c.meaning] for c in (codes.SCT.Nodule, codes.SCT.Mass)]}))
