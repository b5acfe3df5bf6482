"""Numbers written as text in a CSV, read one way per column (decimal comma or point, thousands groups),
shared by ingest (quantities, wide files) and the drivers (prices)."""
from __future__ import annotations

import re
import warnings

import pandas as pd

from ..errors import DataError

# number shapes that tell a column's decimal mark: "1.234,5" or "12,5" use a decimal comma, "1,234.5" or
# "12.5" a decimal point; "1.234" and "1,234" alone (groups of exactly three) could be either
_COMMA_DECIMAL = r"[+-]?(?:\d{1,3}(?:\.\d{3})+,\d+|\d+,(?:\d{1,2}|\d{4,}))"
_POINT_DECIMAL = r"[+-]?(?:\d{1,3}(?:,\d{3})+\.\d+|\d+\.(?:\d{1,2}|\d{4,}))"
_DOT_GROUPS = r"[+-]?\d{1,3}(?:\.\d{3})+"
_COMMA_GROUPS = r"[+-]?\d{1,3}(?:,\d{3})+"


class CommaNote(UserWarning):
    """A reading of a column's numbers the user should check (ingest turns it into a report note)."""


class AmbiguousNumbers(DataError):
    """A column whose numbers read two ways (1,582: one thousand five hundred, or one and a half)."""


def parse_numbers(text: pd.Series, sep: str = ",", name: str = "") -> pd.Series:
    """Numbers from a text column, its decimal mark decided for the whole column, never value by value:
    a value such as 1.234,5 or 12,5 anywhere in it means a decimal comma (1.234 is then 1234), 1,234.5 or
    12.5 a decimal point; without such a value, grouped ones like 1.234 follow the file's convention (a ';'
    file is European: 1.234 is 1234 and 1,5 one and a half; a ',' file writes 1,234 for 1234) and are
    refused in a tab file, where both conventions occur (AmbiguousNumbers). Spaces inside a number
    (1 582) are group marks. Text that is no number in the column's convention stays NaN."""
    text = text.str.replace(r"[\s\u00a0\u202f]", "", regex=True)
    full = lambda pattern: text.str.fullmatch(pattern).fillna(False).astype(bool)  # noqa: E731
    comma, point = full(_COMMA_DECIMAL), full(_POINT_DECIMAL)
    if comma.any() and point.any():
        raise AmbiguousNumbers(f"The column {name!r} writes numbers both ways: {text[comma].iloc[0]!r} (a decimal "
                               f"comma) and {text[point].iloc[0]!r} (a decimal point). Export it with one "
                               "convention.")
    dot_groups, comma_groups = full(_DOT_GROUPS), full(_COMMA_GROUPS)
    if comma.any() or (not point.any() and sep == ";"):
        decimal, group = ",", "."
    elif point.any() or sep != "\t" or not (dot_groups.any() or comma_groups.any()):
        decimal, group = ".", ","
    else:
        example = text[dot_groups | comma_groups].iloc[0]
        raise AmbiguousNumbers(f"The column {name!r} has numbers like {example!r}, which a tab-separated file "
                               "may mean either way (thousands, or a decimal mark) and no value tells which. "
                               "Export it without thousands separators.")
    if decimal == "," and sep != ";":  # a decimal comma decided by some values reads "1,234" as 1.234: say so
        thousands_like = full(_COMMA_GROUPS)
        if thousands_like.any():
            warnings.warn(CommaNote(f"In column {name!r}, {int(thousands_like.sum()):,} value(s) such as "
                                     f"{text[thousands_like].iloc[0]!r} were read with a decimal comma "
                                     f"({text[comma].iloc[0]!r} elsewhere in the column uses one), not as "
                                     "thousands."), stacklevel=2)
    g, d = re.escape(group), re.escape(decimal)
    grouped = full(rf"[+-]?\d{{1,3}}(?:{g}\d{{3}})+(?:{d}\d+)?")
    plain = text.mask(grouped, text.str.replace(group, "", regex=False))
    if decimal == ",":
        plain = plain.str.replace(",", ".", regex=False)
    return pd.to_numeric(plain, errors="coerce").astype(float)


