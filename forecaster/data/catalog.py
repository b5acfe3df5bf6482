"""What a planner calls a product: its name beside its code, and a key of several columns as those columns.

The daily panel is keyed by product code (a key of several columns joined by " / "); ingest's catalog
(:attr:`forecaster.data.ingest.IngestResult.catalog`) holds each product's name and key columns. Tables,
charts and CSVs show products through these two functions, so a name is shown (and exported) the same way
everywhere. Escaping for Markdown, Plotly and spreadsheets stays where it is done for all user text.
"""
from __future__ import annotations

from typing import Iterable

import pandas as pd

NAME = "name"


def names(catalog: pd.DataFrame | None) -> pd.Series:
    """product -> name (empty when the file had no name column)."""
    if catalog is None or NAME not in catalog.columns:
        return pd.Series(dtype=object)
    return catalog[NAME].dropna()


def display_names(products: Iterable[str], catalog: pd.DataFrame | None) -> dict[str, str]:
    """Each product as a planner reads it: "NAME (code)" where the file names it, else the code."""
    named = names(catalog)
    return {p: (f"{named[p]} ({p})" if p in named.index and str(named[p]) not in ("", p) else p) for p in products}


def with_catalog(table: pd.DataFrame, catalog: pd.DataFrame | None, column: str = "product") -> pd.DataFrame:
    """``table`` with the catalog's columns (a key's own columns, then the name) right after ``column``
    (the product code), one value per row; unchanged when the catalog has none."""
    if catalog is None or catalog.shape[1] == 0 or column not in table.columns:
        return table
    extra = catalog.reindex(table[column].astype(str).to_numpy())
    out = table.copy()
    at = list(out.columns).index(column) + 1
    for i, c in enumerate(c for c in extra.columns if c not in out.columns):
        out.insert(at + i, c, extra[c].to_numpy())
    return out
