"""Rebuild world_110m.geojson, the offline base map, from Natural Earth's 1:110m countries.

The source is the copy of Natural Earth's `ne_110m_admin_0_countries` that geopandas 0.14.4 shipped as
`geopandas/datasets/naturalearth_lowres` (geopandas dropped its bundled data in 1.0). Only the build
needs pyshp; the dashboard reads the GeoJSON with the standard library.

    pip download --no-deps geopandas==0.14.4
    unzip geopandas-0.14.4-py3-none-any.whl 'geopandas/datasets/naturalearth_lowres/*'
    pip install pyshp
    python -m monitor.geo.build_basemap geopandas/datasets/naturalearth_lowres/naturalearth_lowres.shp

Coordinates are rounded to 0.01 degree (about 1 km), well inside the 1:110m source's own accuracy, so
the file stays small enough to send to every browser that opens the map.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from monitor.geo import BASEMAP_PATH

DECIMALS = 2


def _ring(points: list[tuple[float, float]]) -> list[list[float]] | None:
    """A ring with rounded coordinates and consecutive repeats dropped; None when it collapses."""
    ring: list[list[float]] = []
    for x, y in points:
        point = [round(x, DECIMALS), round(y, DECIMALS)]
        if not ring or ring[-1] != point:
            ring.append(point)
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring if len(ring) >= 4 else None


def _polygons(shape) -> list[list[list[list[float]]]]:
    """Shapefile parts grouped into GeoJSON polygons: an outer ring followed by its holes.

    pyshp's __geo_interface__ does this grouping (by ring orientation); the rings are then rounded.
    """
    geometry = shape.__geo_interface__
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    result = []
    for polygon in polygons:
        rings = [_ring(list(ring)) for ring in polygon]
        if rings[0] is None:
            continue
        result.append([ring for ring in rings if ring is not None])
    return result


def build(shapefile_path: Path, output: Path = BASEMAP_PATH) -> int:
    import shapefile  # pyshp, needed only to rebuild the file

    reader = shapefile.Reader(str(shapefile_path))
    features = []
    for record, shape in zip(reader.records(), reader.shapes()):
        polygons = _polygons(shape)
        if not polygons:
            continue
        features.append({
            "type": "Feature",
            "properties": {"name": record["name"], "iso_a3": record["iso_a3"]},
            "geometry": {"type": "MultiPolygon", "coordinates": polygons},
        })
    collection = {"type": "FeatureCollection", "features": features}
    output.write_text(json.dumps(collection, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    return len(features)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    count = build(Path(sys.argv[1]))
    print(f"wrote {count} countries to {BASEMAP_PATH} ({BASEMAP_PATH.stat().st_size:,} bytes)")
