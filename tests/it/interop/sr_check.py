"""highdicom's parsing of a TID 1500 Measurement Report: per measurement group its
template, tracking identifiers, finding, region and measurements (JSON)."""
import json
import sys

import highdicom as hd
import numpy as np

sr = hd.sr.srread(sys.argv[1])
report = sr.content
if not isinstance(report, hd.sr.MeasurementReport):
    sys.exit("highdicom did not recognise a TID 1500 Measurement Report")


def code(c):
    return None if c is None else [c.scheme_designator, c.value, c.meaning]


def coords(item):
    return {"type": item.graphic_type.value, "data": np.asarray(item.value).tolist()}


out = {"sop_class": str(sr.SOPClassUID), "groups": []}
observers = report.get_observer_contexts()
out["observer"] = [
    str(o.observer_identifying_attributes.name) for o in observers if o.observer_identifying_attributes is not None
] if observers else []
for template, groups in (
    ("1410", report.get_planar_roi_measurement_groups()),
    ("1501", report.get_image_measurement_groups()),
):
    for g in groups:
        entry = {
            "template": template,
            "tracking_uid": str(g.tracking_uid),
            "tracking_id": g.tracking_identifier,
            "finding": code(g.finding_type),
            "measurements": [],
        }
        if template == "1410":
            entry["region"] = coords(g.roi)
        for m in g.get_measurements():
            entry["measurements"].append(
                {
                    "name": code(m.name),
                    "value": float(m.value),
                    "unit": code(m.unit),
                    "derivation": code(m.derivation),
                    "coords": [coords(c) for c in m.referenced_coordinates],
                }
            )
        out["groups"].append(entry)
print(json.dumps(out))
