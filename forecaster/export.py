"""CSV writers for what users download. Text cells a spreadsheet would run as a formula are neutralised."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .errors import ForecasterError

if TYPE_CHECKING:
    from .evaluation import Evaluation

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Prefix a text cell that starts like a formula with a quote, so a spreadsheet shows it as text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text columns (and text column names) are formula-safe; numbers are left alone."""
    out = df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_datetime64_any_dtype(out[col])
                or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    return safe_frame(df).to_csv(index=False, date_format="%Y-%m-%d", float_format="%.4f").encode("utf-8")


def forecast_table(forecast: pd.DataFrame) -> pd.DataFrame:
    """date, product, forecast."""
    return forecast[["date", "product", "forecast"]]


def metrics_table(evaluation: Evaluation) -> pd.DataFrame:
    """One row per product: the network's MAE, each baseline's, and whether the network beat them."""
    return evaluation.per_product.copy()


def write_csv(df: pd.DataFrame, path: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Write ``df`` as formula-safe CSV, atomically (a temporary file in the same folder, then a rename: a
    failed run leaves no half file), and never over one of ``inputs`` (the data a run read)."""
    path = Path(path)
    refuse_overwriting(path, inputs)
    return write_bytes(to_csv_bytes(df), path)


def write_bytes(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it there: never a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the permissions a plain open() would give, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def refuse_overwriting(path: Path, inputs: tuple[str | Path, ...]) -> None:
    """An output that resolves to an input (the same file, by any path or link) is an error naming both."""
    for source in inputs:
        source = Path(source)
        same = path.resolve() == source.resolve() or (path.exists() and source.exists() and path.samefile(source))
        if same:
            raise ForecasterError(f"The output {str(path)!r} is the input file {str(source)!r}: writing it would "
                                  "overwrite your data. Choose another output file.")
