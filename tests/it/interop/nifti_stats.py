"""nibabel's reading of a label map and its image: whether their affines agree, and
per label the RAS centroid of its voxels and the mean image value inside (JSON)."""
import json
import sys

import nibabel as nib
import numpy as np

labels, image = nib.load(sys.argv[1]), nib.load(sys.argv[2])
data, values = np.asanyarray(labels.dataobj), np.asanyarray(image.dataobj)
out = {
    "affines_equal": bool(np.allclose(labels.affine, image.affine, atol=1e-5)),
    "qform_equals_sform": bool(np.allclose(labels.get_qform(), labels.get_sform(), atol=1e-4)),
    "labels": {},
}
for v in np.unique(data):
    if v == 0:
        continue
    ijk = np.argwhere(data == v)
    out["labels"][str(int(v))] = {
        "voxels": int(len(ijk)),
        "centroid_ras": nib.affines.apply_affine(labels.affine, ijk.mean(axis=0)).tolist(),
        "mean": float(values[data == v].mean()),
    }
print(json.dumps(out))
