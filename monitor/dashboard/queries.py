"""Read-only queries behind the dashboard. They return plain rows so Streamlit can cache them by value."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, func, select

from monitor.countries import country_name
from monitor.store.schema import Facility, FacilityAlias


def facility_rows(session: Session, country: str | None = None) -> list[dict[str, Any]]:
    query = select(Facility).order_by(Facility.country, Facility.name)
    if country:
        query = query.where(Facility.country == country)
    rows = []
    for f in session.exec(query):
        rows.append({
            "slug": f.slug,
            "name": f.name,
            "kind": f.kind,
            "country": country_name(f.country),
            "country_code": f.country,
            "city": f.city or "",
            "operator": f.operator or "",
            "population": f.population,
            "population_date": f.population_date or "",
            "capacity": f.capacity,
            "status": f.status or "",
            "latitude": f.latitude,
            "longitude": f.longitude,
        })
    return rows


def facility_countries(session: Session) -> list[str]:
    return list(session.exec(select(Facility.country).distinct().order_by(Facility.country)))


def facility_profile(session: Session, slug: str) -> dict[str, Any] | None:
    facility = session.exec(select(Facility).where(Facility.slug == slug)).first()
    if facility is None:
        return None
    aliases = list(session.exec(select(FacilityAlias.alias).where(FacilityAlias.facility_id == facility.id)
                                .order_by(FacilityAlias.id)))
    profile = facility.model_dump()
    profile["aliases"] = aliases
    profile["country_name"] = country_name(facility.country)
    return profile


def store_counts(session: Session) -> dict[str, int]:
    return {
        "facilities": session.exec(select(func.count()).select_from(Facility)).one(),
        "countries": session.exec(select(func.count(func.distinct(Facility.country)))).one(),
    }
