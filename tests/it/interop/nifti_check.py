"""nibabel's reading of a label map and its image: affines, form codes, dtypes, and
the RAS position of every labelled voxel and of the image's marker values (JSON)."""
import json
import sys

import nibabel as nib
import numpy as np

labels, image = nib.load(sys.argv[1]), nib.load(sys.argv[2])
markers = [int(v) for v in sys.argv[3].split(",")]
out = {}
for name, im in (("labels", labels), ("image", image)):
    q, qcode = im.get_qform(coded=True)
    s, scode = im.get_sform(coded=True)
    out[name] = {
        "affine": im.affine.tolist(),
        "qform_code": int(qcode),
        "sform_code": int(scode),
        "qform_equals_sform": bool(np.allclose(q, s, atol=1e-4)),
        "dtype": str(im.get_data_dtype()),
        "shape": list(im.shape),
    }
data = np.asanyarray(labels.dataobj)
out["labels"]["points"] = {
    str(int(v)): [nib.affines.apply_affine(labels.affine, p).tolist() for p in np.argwhere(data == v)]
    for v in np.unique(data)
    if v != 0
}
values = np.asanyarray(image.dataobj)
out["image"]["points"] = {
    str(v): [nib.affines.apply_affine(image.affine, p).tolist() for p in np.argwhere(values == v)]
    for v in markers
}
print(json.dumps(out))
