#!/usr/bin/python3
"""The WCS oracle of phs's tests: world coordinates computed by astropy (WCSLIB underneath).

Reads a JSON list of cases on stdin; each has `pixels` (FITS pixel coordinates from 1, one
list per point) and either `header` (keyword -> value) or `file` (a FITS file whose primary
header is used), and optionally `sptr` (a spectral CTYPE to translate the spectral axis to,
e.g. "VRAD" for a FREQ axis). Prints a JSON list, one entry per case: `world` (one list per
point, in WCSLIB's units: degrees, m/s, Hz; null where a point is outside the
projection), `ctype`, `cunit`, `radesys` and `equinox` after WCSLIB's fixes
(and defaults), or
`error` (WCSLIB's message) when astropy refuses the header.
"""
import json
import math
import sys
import warnings

from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning


def world(case):
    if "file" in case:
        header = fits.getheader(case["file"])
    else:
        header = fits.Header()
        for key, value in case["header"].items():
            header[key] = value
    try:
        w = WCS(header)
        if "sptr" in case:
            w.wcs.sptr(case["sptr"])
        w.wcs.set()
        values = w.all_pix2world(case["pixels"], 1)
    except Exception as e:  # WCSLIB's refusal is the answer for this case
        return {"error": " ".join(str(e).split())}
    return {
        "world": [[float(v) if math.isfinite(v) else None for v in row] for row in values],
        "ctype": list(w.wcs.ctype),
        "cunit": [str(u) for u in w.wcs.cunit],
        "radesys": w.wcs.radesys or None,
        "equinox": w.wcs.equinox if math.isfinite(w.wcs.equinox) else None,
    }


def main():
    warnings.simplefilter("ignore", FITSFixedWarning)
    cases = json.load(sys.stdin)
    json.dump([world(c) for c in cases], sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
