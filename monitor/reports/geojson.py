"""Facilities as a GeoJSON FeatureCollection (RFC 7946) that QGIS and web maps open.

Coordinates are [longitude, latitude] in WGS 84. A facility whose location is unknown keeps its
feature with `"geometry": null` (valid GeoJSON; GIS tools list it without a point) instead of being
dropped or placed somewhere made up. Properties are flat (text and numbers) so every GIS reads them.
"""

from __future__ import annotations

import json

from monitor.reports.model import ReportBundle, label_names

PROPERTIES = (
    "slug", "name", "aliases", "kind", "country", "country_name", "admin_area", "city", "location_precision",
    "operator", "status", "capacity", "population", "population_date", "nationalities", "conditions",
    "condition_tags", "risk_score", "risk_day", "risk_factors", "alerts_in_period", "highest_severity",
    "last_alert_utc", "last_alert_labels", "period", "generated_utc", "model_version", "profile_sources",
)


def feature_collection(bundle: ReportBundle) -> dict:
    features = []
    for report in bundle.reports:
        f = report.facility
        geometry = None
        if f.latitude is not None and f.longitude is not None:
            geometry = {"type": "Point", "coordinates": [round(f.longitude, 6), round(f.latitude, 6)]}
        last = max(report.alerts, key=lambda a: a.last_seen_at, default=None)
        nationalities = "; ".join(
            n["country"] + (f":{n['count']}" if n.get("count") is not None else "") for n in f.nationalities)
        properties = {
            "slug": f.slug, "name": f.name, "aliases": "; ".join(f.aliases), "kind": f.kind, "country": f.country,
            "country_name": f.country_name, "admin_area": f.admin_area, "city": f.city,
            "location_precision": f.location_precision if geometry else None, "operator": f.operator,
            "status": f.status, "capacity": f.capacity, "population": f.population,
            "population_date": f.population_date, "nationalities": nationalities or None,
            "conditions": f.conditions, "condition_tags": ", ".join(f.condition_tags) or None,
            "risk_score": report.risk.score, "risk_day": report.risk.day,
            "risk_factors": "; ".join(f"{x.factor} {x.points:+g}: {x.detail}" for x in report.risk.factors) or None,
            "alerts_in_period": len(report.alerts), "highest_severity": report.highest_severity,
            "last_alert_utc": last.last_seen_at.strftime("%Y-%m-%dT%H:%M:%SZ") if last else None,
            "last_alert_labels": label_names(last.labels) if last else None,
            "period": bundle.period.describe(), "generated_utc": bundle.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model_version": bundle.model_version,
            "profile_sources": " ".join(s.url for s in report.sources if not s.outlet) or None,
        }
        features.append({"type": "Feature", "id": f.slug, "geometry": geometry,
                         "properties": {name: properties[name] for name in PROPERTIES}})
    return {"type": "FeatureCollection", "features": features}


def render_geojson(bundle: ReportBundle) -> bytes:
    return json.dumps(feature_collection(bundle), ensure_ascii=False, indent=1).encode("utf-8")
