"""CSV writers for what users download. Text cells a spreadsheet would run as a formula are neutralised."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pandas as pd

from ..data.catalog import with_catalog
from ..errors import ForecasterError

if TYPE_CHECKING:
    from ..results.evaluation import Evaluation

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


def forecast_table(forecast: pd.DataFrame, catalog: pd.DataFrame | None = None) -> pd.DataFrame:
    """date, product (with the catalog's key columns and name, :func:`~forecaster.data.catalog.with_catalog`),
    forecast and, with intervals, lower, median, upper, order_quantity and the level and service level they
    were drawn at (as columns, so every row says what its range means)."""
    columns = ["date", "product", "forecast"] + [c for c in ("lower", "median", "upper", "order_quantity", "closed",
                                                                 "stopped")
                                                 if c in forecast.columns]
    return with_catalog(_with_levels(forecast[columns].copy(), forecast), catalog)


def totals_table(totals: pd.DataFrame, catalog: pd.DataFrame | None = None) -> pd.DataFrame:
    """product (with the catalog's columns), first_day, last_day, days, forecast and, with a range, lower,
    median, upper, order_quantity (the order-up-to level) and the level and service level they were drawn at."""
    return with_catalog(_with_levels(totals.copy(), totals), catalog)


def _with_levels(table: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    if "lower" in table.columns:  # with_intervals and totals note what their bounds were drawn at
        table["level"] = source.attrs.get("level", float("nan"))
        table["service_level"] = source.attrs.get("service_level", float("nan"))
    return table


def metrics_table(evaluation: Evaluation, level: float | None = None, catalog: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """One row per product (with the catalog's columns): the network's MAE, each baseline's, whether the
    network beat them, and each method's interval coverage and interval score at ``level`` (default 0.8) on
    the test days."""
    from ..model.intervals import DEFAULT_LEVEL
    from ..results.metrics import coverage, interval_score

    level = DEFAULT_LEVEL if level is None else level
    table = evaluation.per_product.copy()
    for method in evaluation.predictions:
        bounds = evaluation.bounds(method, level)
        if bounds is not None:
            where = evaluation.scored
            table[f"coverage_{method}"] = coverage(evaluation.actual, *bounds, axis=0, where=where)
            table[f"interval_score_{method}"] = interval_score(evaluation.actual, *bounds, alpha=1 - level, axis=0,
                                                               where=where)
    if any(c.startswith("coverage_") for c in table.columns):
        table["interval_level"] = level
    return with_catalog(table, catalog)


def write_csv(df: pd.DataFrame, path: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Write ``df`` as formula-safe CSV, atomically (a temporary file in the same folder, then a rename: a
    failed run leaves no half file), and never over one of ``inputs`` (the data a run read)."""
    path = Path(path)
    refuse_overwriting(path, inputs)
    return write_bytes(to_csv_bytes(df), path)


STDOUT = "-"  # the output name that means standard output
_standard_output: list = []  # where "-" writes while the CLI sends its own prints to stderr (see to_stdout)


@contextlib.contextmanager
def to_stdout() -> Iterator[None]:
    """While a command writes an output to "-": its printed tables go to stderr, and "-" to the real
    standard output, so that a pipe gets the CSV alone."""
    _standard_output.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _standard_output.pop()


def check_output(path: str | Path) -> Path:
    """The file an output will be written to, or an error before any work is done: an output is a regular
    file (new, or one that exists; a link to one writes the file it points to and keeps the link), never a
    device, a FIFO, a socket or a folder (the write's rename would replace it), in a folder this process can
    create a file in (tried now, not after a whole training)."""
    if str(path) == STDOUT:
        return Path(STDOUT)
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    if path.is_symlink() and not target.exists() or target.exists() and not target.is_file():
        what = ("a folder" if target.is_dir() else "a link to nothing that exists" if not target.exists()
                else "not a regular file (a device, a pipe or a socket)")
        raise ForecasterError(f"The output {str(path)!r} is {what}: writing it would replace it. Give the name of "
                              "a file, such as forecast.csv.")
    folder = next((p for p in [target.parent, *target.parent.parents] if p.exists()), Path("."))
    try:
        if not folder.is_dir():
            raise NotADirectoryError(f"{str(folder)!r} is not a folder")
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-check-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise ForecasterError(f"The output {str(path)!r} cannot be written: the folder {str(folder)!r} does not "
                              f"take new files ({exc.strerror or exc}). Choose another folder.") from None
    return target


def write_bytes(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it there: never a half file (see
    :func:`check_output` for what ``path`` may be)."""
    path = check_output(path)
    if str(path) == STDOUT:
        out = _standard_output[-1] if _standard_output else sys.stdout
        out.buffer.write(data) if hasattr(out, "buffer") else out.write(data.decode("utf-8"))
        out.flush()
        return path
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
    if str(path) == STDOUT:
        return
    for source in inputs:
        source = Path(source)
        same = path.resolve() == source.resolve() or (path.exists() and source.exists() and path.samefile(source))
        if same:
            raise ForecasterError(f"The output {str(path)!r} is the input file {str(source)!r}: writing it would "
                                  "overwrite your data. Choose another output file.")
