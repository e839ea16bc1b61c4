"""The offline base map: country borders and coastlines from Natural Earth, shipped with the package.

See README.md beside this file for where the data comes from and how world_110m.geojson was made.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

BASEMAP_PATH = Path(__file__).parent / "world_110m.geojson"


@lru_cache(maxsize=1)
def basemap() -> dict[str, Any]:
    """The countries as a GeoJSON FeatureCollection (read once per process)."""
    return json.loads(BASEMAP_PATH.read_text(encoding="utf-8"))
