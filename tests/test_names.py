"""Name normalisation and the CSV cell formats, checked on generated inputs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.facilities.csv_io import _format_nationality, _nationalities, _split_outside_parentheses
from monitor.facilities.names import normalize_name, slugify
from monitor.spreadsheet import guard_cell, unguard_cell

names = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "M", "N", "P", "Zs")), max_size=40)


@given(names)
def test_normalising_twice_changes_nothing(text):
    once = normalize_name(text)
    assert normalize_name(once) == once


@given(names)
def test_slugs_are_url_safe(text):
    slug = slugify(text or "x")
    assert slug and all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in slug)


def test_press_spellings_normalise_alike():
    assert normalize_name("al-Sina'a prison") == normalize_name("Al Sinaa Prison") == "sinaa prison"
    assert normalize_name("Al-Ḥasakah") == normalize_name("hasakah")
    assert normalize_name("مخيّم الهول") == normalize_name("مخيم الهول")
    assert normalize_name("سجن أبو غريب") == normalize_name("سجن ابو غريب")
    assert normalize_name("Koutoukalé") == "koutoukale"


notes = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), min_size=1, max_size=30) \
    .filter(lambda n: n.strip() == n and n.count("(") == n.count(")") and not n.startswith(")"))
nationality = st.fixed_dictionaries(
    {"country": st.sampled_from(["IQ", "SY", "FR", "XX"])},
    optional={"count": st.integers(0, 100_000), "note": notes},
)


@settings(max_examples=200)
@given(st.lists(nationality, max_size=5))
def test_nationality_cells_round_trip(items):
    cell = ";".join(_format_nationality(item) for item in items)
    assert _nationalities(cell) == items


def test_semicolons_inside_a_note_do_not_split_it():
    assert _split_outside_parentheses("IQ:3;XX (a; b (c));SY") == ["IQ:3", "XX (a; b (c))", "SY"]


@given(st.text(max_size=30))
def test_guarded_cells_never_start_a_formula_and_unguard_back(text):
    guarded = guard_cell(text)
    assert not guarded.startswith(("=", "+", "@", "\t", "\r")) or guarded == text
    if guarded.startswith("-"):
        float(guarded)  # only plain numbers may start with a minus sign
    assert unguard_cell(guarded) == text or text.startswith("'")
