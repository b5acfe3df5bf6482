"""The run store: every finished training kept, so a planner can reopen, compare, share and check it later.

Metadata (settings, data fingerprint and dates, products, headline and per-product errors, the forecast it
made, share links) lives in a relational database through SQLAlchemy: an SQLite file under
``FORECASTER_HOME`` by default, any SQLAlchemy URL in ``FORECASTER_DB_URL`` (PostgreSQL for a team's server).
Its schema changes go through Alembic migrations (``forecaster/io/migrations``), applied when a store opens,
so a store made by an older version opens in a newer one. Files stay files: each run's folder under
``FORECASTER_HOME/runs/<id>`` holds the model (:mod:`forecaster.io.persistence`'s format, checksums
included), the daily panel it trained on and, for the dashboard, the uploaded file. A run's id and folder are
made here, never from user text.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import hashlib
import json
import os
import secrets
import shutil
import threading
import uuid
import zipfile
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import pandas as pd
import sqlalchemy as sa

from .. import __version__
from ..config import ForecastConfig, IngestOptions
from ..data.drivers import DriverPanel, DriverSpec
from ..data.panel import panel_bytes, panel_fingerprint, panel_from_bytes
from ..errors import ForecasterError
from ..labels import NETWORK, SEASONAL_NAIVE
from ..model.intervals import DEFAULT_LEVEL, DEFAULT_SERVICE_LEVEL

if TYPE_CHECKING:  # torch-free at import: the dashboard lists runs before anything trains
    from ..model.trained import TrainedForecaster
    from ..results.evaluation import Evaluation

HOME_ENV, DB_URL_ENV = "FORECASTER_HOME", "FORECASTER_DB_URL"
CLI = "cli"
FORECAST_DAYS = 28  # the forecast a run keeps (its next four weeks), what tracking scores later
MIGRATIONS = Path(__file__).with_name("migrations")

metadata = sa.MetaData()
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("first_date", sa.Date, nullable=False),
    sa.Column("last_date", sa.Date, nullable=False),
    sa.Column("n_products", sa.Integer, nullable=False),
    sa.Column("products", sa.JSON, nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("headline", sa.JSON, nullable=False),
    sa.Column("folder", sa.Text, nullable=False),
    sa.Column("library_version", sa.String(32), nullable=False),
    sa.Column("source", sa.String(16), nullable=False, server_default="cli"),
    sa.Column("extra", sa.JSON, nullable=True),
    sa.Column("owner", sa.String(64), nullable=True),
)
run_products = sa.Table(
    "run_products", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("product", sa.Text, nullable=False),
    sa.Column("sold", sa.Float), sa.Column("forecast", sa.Float), sa.Column("mae", sa.Float),
    sa.Column("rmse", sa.Float), sa.Column("bias", sa.Float), sa.Column("mae_seasonal_naive", sa.Float),
)
forecasts = sa.Table(
    "forecasts", metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("product", sa.Text, nullable=False),
    sa.Column("forecast", sa.Float, nullable=False),
    sa.Column("lower", sa.Float), sa.Column("median", sa.Float), sa.Column("upper", sa.Float),
    sa.Column("order_quantity", sa.Float), sa.Column("closed", sa.Boolean, nullable=False),
)
shares = sa.Table(
    "shares", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)
FORECAST_COLUMNS = ("forecast", "lower", "median", "upper", "order_quantity")


def default_home() -> Path:
    """``FORECASTER_HOME``, else a folder in the user's home."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".purchase-forecaster").expanduser()


@dataclasses.dataclass(frozen=True)
class StoredRun:
    """One run's row: what the Runs page lists and ``runs show`` prints."""

    id: str
    created_at: datetime
    dataset: str
    fingerprint: str
    first_date: date
    last_date: date
    n_products: int
    products: list[str]
    settings: dict[str, Any]
    model: str
    headline: dict[str, float]
    folder: str
    library_version: str
    source: str
    extra: dict[str, Any]
    owner: str | None = None  # the browser that trained it (a hash of its key); None: the command line

    @property
    def config(self) -> ForecastConfig:
        return ForecastConfig.from_dict(self.settings)


@dataclasses.dataclass(frozen=True)
class RunFiles:
    """What reopening a run needs beside its row: the model, the panel, and what the file was read with."""

    trained: TrainedForecaster
    panel: pd.DataFrame
    catalog: pd.DataFrame | None
    drivers: DriverPanel | None
    upload: bytes | None  # the uploaded file, for the dashboard's Data page and a future file's columns
    ingest: IngestOptions | None


def _readable(method: Callable) -> Callable:
    """A database that cannot be reached, is locked or read-only: a ForecasterError naming the store and the
    reason, never a traceback."""
    @functools.wraps(method)
    def wrapped(self: "RunStore", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sa.exc.SQLAlchemyError as exc:
            raise ForecasterError(f"The run store ({self.where}) cannot be used: {_why(exc)}.") from exc
    return wrapped


class RunStore:
    """Runs in a database (rows) and a folder (files). Safe to share between threads; every write is one
    transaction, so two trainings finishing at the same moment both land."""

    def __init__(self, home: str | Path | None = None, url: str | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.url = url or os.environ.get(DB_URL_ENV) or f"sqlite:///{self.home / 'runs.db'}"
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self.engine = _engine(self.url)
            migrate(self.engine)
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            raise ForecasterError(f"The run store ({_hide_password(self.url)}, files in {self.home}) cannot be "
                                  f"opened: {_why(exc)}.") from exc

    def close(self) -> None:
        self.engine.dispose()

    # --- writing ---------------------------------------------------------------------------------
    def add(self, trained: TrainedForecaster, panel: pd.DataFrame, evaluation: Evaluation | None, *,
            dataset: str, forecast: pd.DataFrame | None = None, catalog: pd.DataFrame | None = None,
            upload: bytes | None = None, ingest: IngestOptions | None = None, source: str = CLI,
            extra: dict[str, Any] | None = None, owner: str | None = None) -> StoredRun:
        """Keep a finished run: its files first (in a folder no other run has), then its rows in one
        transaction; a failure leaves neither."""
        run_id = uuid.uuid4().hex[:16]
        folder = self.home / "runs" / run_id
        try:
            _write_files(folder, trained, panel, catalog, upload, ingest)
            extra = {**(extra or {}), "files": {p.relative_to(folder).as_posix(): _sha256(p)
                                                for p in sorted(folder.rglob("*")) if p.is_file()},
                     # what the run reads beside its history (name:role=default), for runs show and a comparison
                     "drivers": [c.text for c in trained.driver_spec.choices] if trained.driver_spec else []}
            row = {**_run_row(run_id, trained, panel, evaluation, dataset, folder, source, extra), "owner": owner}
            with self.engine.begin() as conn:
                conn.execute(runs.insert().values(**row))
                if evaluation is not None:
                    _insert(conn, run_products, _product_rows(run_id, evaluation))
                if forecast is not None:
                    _insert(conn, forecasts, _forecast_rows(run_id, forecast, trained.products))
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise ForecasterError(f"The run could not be kept in the run store ({self.where}): {_why(exc)}.") from exc
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return self.get(run_id)

    @_readable
    def delete(self, run_id: str) -> None:
        """Forget a run: its rows (forecast, scores, share links) and its folder."""
        run = self.get(run_id)
        with self.engine.begin() as conn:
            for table in (shares, forecasts, run_products):  # not every database cascades (SQLite's default)
                conn.execute(table.delete().where(table.c.run_id == run.id))
            conn.execute(runs.delete().where(runs.c.id == run.id))
        shutil.rmtree(self._folder(run), ignore_errors=True)

    @_readable
    def share(self, run_id: str) -> str:
        """A new read-only link token for the run (only its hash is stored: the database alone opens nothing)."""
        run = self.get(run_id)
        token = secrets.token_urlsafe(24)
        with self.engine.begin() as conn:
            conn.execute(shares.insert().values(token_hash=_hash(token), run_id=run.id,
                                                created_at=datetime.now(timezone.utc)))
        return token

    @_readable
    def revoke(self, token: str) -> bool:
        """End a share link; False when it was not a live link."""
        with self.engine.begin() as conn:
            done = conn.execute(shares.update().where(shares.c.token_hash == _hash(token),
                                                      shares.c.revoked_at.is_(None))
                                .values(revoked_at=datetime.now(timezone.utc)))
        return done.rowcount > 0

    @_readable
    def revoke_all(self, run_id: str) -> int:
        """End every live link of a run; how many there were."""
        with self.engine.begin() as conn:
            done = conn.execute(shares.update().where(shares.c.run_id == run_id, shares.c.revoked_at.is_(None))
                                .values(revoked_at=datetime.now(timezone.utc)))
        return done.rowcount

    # --- reading ---------------------------------------------------------------------------------
    @_readable
    def list(self, owner: str | None = None) -> list[StoredRun]:
        """Runs newest first: every run, or with ``owner`` (a browser's key) the runs that browser trained and
        those trained on the command line (a browser never lists another browser's runs)."""
        query = runs.select().order_by(runs.c.created_at.desc(), runs.c.id)
        if owner is not None:
            query = query.where(sa.or_(runs.c.owner == owner, runs.c.source == CLI))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_stored(r) for r in rows]

    @_readable
    def get(self, run_id: str) -> StoredRun:
        """The run with this id (a unique prefix of it will do on the command line)."""
        text = str(run_id).strip().lower()
        if not text or not all(c in "0123456789abcdef" for c in text):
            raise ForecasterError(f"{run_id!r} is not a run id: run ids are hexadecimal (see `runs list`).")
        with self.engine.connect() as conn:
            rows = conn.execute(runs.select().where(runs.c.id.like(text + "%")).limit(2)).mappings().all()
        if len(rows) != 1:
            raise ForecasterError(f"No run {run_id!r} in the store at {self.where}." if not rows else
                                  f"Several runs start with {run_id!r}: give more of the id.")
        return _stored(rows[0])

    @_readable
    def by_token(self, token: str) -> StoredRun | None:
        """The run a live share link opens, or None (unknown or revoked)."""
        if not token:
            return None
        with self.engine.connect() as conn:
            run_id = conn.execute(sa.select(shares.c.run_id).where(shares.c.token_hash == _hash(token),
                                                                   shares.c.revoked_at.is_(None))).scalar()
        return self.get(run_id) if run_id else None

    @_readable
    def live_links(self, run_id: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(shares).where(
                shares.c.run_id == run_id, shares.c.revoked_at.is_(None))).scalar())

    @_readable
    def product_scores(self, run_id: str) -> pd.DataFrame:
        """Per product on the run's test span: sold, forecast total, MAE, RMSE, bias, seasonal naive's MAE."""
        with self.engine.connect() as conn:
            rows = conn.execute(run_products.select().where(run_products.c.run_id == run_id)
                                .order_by(run_products.c.position)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in run_products.c]).drop(
            columns=["run_id", "position"])

    @_readable
    def forecast(self, run_id: str) -> pd.DataFrame:
        """The forecast the run made when it finished: date, product and its columns."""
        with self.engine.connect() as conn:
            rows = conn.execute(forecasts.select().where(forecasts.c.run_id == run_id)
                                .order_by(forecasts.c.date, forecasts.c.position)).mappings().all()
        table = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in forecasts.c])
        table["date"] = pd.to_datetime(table["date"])
        return table.drop(columns=["run_id", "position"]).dropna(axis=1, how="all")

    def files(self, run_id: str, device: str = "cpu") -> RunFiles:
        """The run's model, panel and upload, read back from its folder: each file's checksum (kept in the
        database when the run was kept) and the model's own are checked first; a missing, changed or
        unreadable file is refused, naming the run, and nothing of it is loaded."""
        from .persistence import load

        run = self.get(run_id)
        folder = self._folder(run)
        damaged = f"The files of run {run.id[:8]} in {folder} "
        if not (folder / "model").is_dir() or not (folder / "panel.npz").is_file():
            raise ForecasterError(damaged + "are missing: the run cannot be opened. Delete it, or train again.")
        for name, digest in run.extra.get("files", {}).items():  # names the store wrote, never user text
            if not (folder / name).is_file() or _sha256(folder / name) != digest:
                raise ForecasterError(damaged + f"were changed or removed since it was kept ({name}): it is not "
                                      "opened. Delete it, or train again.")
        try:
            trained = load(folder / "model", device=device)
            panel = panel_from_bytes((folder / "panel.npz").read_bytes())
            drivers = _read_drivers(folder)
            return RunFiles(trained.with_drivers(drivers) if drivers is not None else trained, panel,
                            _read_catalog(folder), drivers, _read_upload(folder), _read_ingest(folder))
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise ForecasterError(damaged + f"cannot be read ({type(exc).__name__}): it is not opened.") from None

    def export(self, run_id: str, target: str | Path) -> Path:
        """Copy the run's model to ``target`` (a new folder) that ``forecast --model`` reads."""
        run = self.get(run_id)
        target = Path(target)
        if target.exists():
            raise ForecasterError(f"{str(target)!r} exists: give a new folder to export the run to.")
        shutil.copytree(self._folder(run) / "model", target)
        return target

    @property
    def where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def _folder(self, run: StoredRun) -> Path:
        return self.home / "runs" / run.id


class StoreOpener:
    """The run store, opened on first use and tried again after a failure, so a database that was down when
    the server started does not stop runs from being kept for good. Shared between threads (the training
    threads keep runs through it)."""

    def __init__(self, home: str | Path | None = None, url: str | None = None) -> None:
        self.home, self.url = home, url
        self._lock = threading.Lock()
        self._store: RunStore | None = None

    def get(self) -> RunStore:
        """The open store, or a ForecasterError saying why it cannot be opened."""
        with self._lock:
            if self._store is None:
                self._store = RunStore(self.home, self.url)
            return self._store


def compare_runs(store: RunStore, run_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two or more runs side by side: the settings that differ (one column per run), the headline errors,
    and per product the model's MAE in each run and its change from the first run."""
    chosen = [store.get(r) for r in run_ids]
    names = [f"{r.id[:8]} ({r.created_at:%d %b %H:%M})" for r in chosen]
    settings = pd.DataFrame({n: {"data": r.dataset, "days": f"{r.first_date} to {r.last_date}",
                                 "products": r.n_products, "drivers": drivers_of(r), **r.settings}
                             for n, r in zip(names, chosen)})
    same = settings.astype(str).nunique(axis=1) == 1
    metrics = pd.DataFrame({n: {"model": r.model, **_readable_headline(r.headline)} for n, r in zip(names, chosen)})
    per = [store.product_scores(r.id).set_index("product")["mae"].rename(n) for n, r in zip(names, chosen)]
    products = pd.concat(per, axis=1)
    for n in names[1:]:
        products[f"change {n}"] = products[n] - products[names[0]]
    return settings[~same].rename_axis("setting"), metrics.rename_axis("measure"), products.rename_axis("product")


def drivers_of(run: StoredRun) -> str:
    """The drivers a kept run reads, as the CLI names them (name:role=default), or 'none'; 'not recorded'
    for runs kept before this was."""
    if "drivers" not in run.extra:
        return "not recorded"
    return ", ".join(run.extra["drivers"]) or "none"


def _readable_headline(values: dict[str, float]) -> dict[str, str]:
    """A run's headline errors as a planner reads them: shares in %, the rest to 3 decimals."""
    shares = {"Bias": "forecast vs sold (%)", "WAPE": "WAPE (%)", f"{DEFAULT_LEVEL:.0%} range coverage":
              f"{DEFAULT_LEVEL:.0%} range coverage (%)"}
    out = {}
    for key, value in values.items():
        if value is None or not np.isfinite(value):
            out[shares.get(key, key)] = "n/a"
        elif key in shares:
            out[shares[key]] = f"{100 * value:+.1f}" if key == "Bias" else f"{100 * value:.1f}"
        else:
            out[key] = f"{value:,.0f}" if key == "test days" else f"{value:,.3f}"
    return out


# --- helpers ---------------------------------------------------------------------------------------------
_MIGRATION_LOCK = threading.Lock()


def _engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_settings(conn: Any, _record: Any) -> None:  # waits for a writer; deletes cascade
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise ForecasterError(f"{DB_URL_ENV}={url!r} cannot be used: {exc}") from None


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the database's schema to ``revision`` with Alembic (an empty database gets every migration). One
    process at a time: two opening a new store together (a server and a command line) would both create its
    tables. PostgreSQL serialises them with an advisory lock taken in the migration's transaction, an SQLite
    file with a lock file beside it, and threads of one process with a lock."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _MIGRATION_LOCK, _file_lock(_sqlite_file(engine)), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


MIGRATION_LOCK_KEY = 0x466F7265  # any fixed number: the advisory lock every migration of this tool takes


def _sqlite_file(engine: sa.Engine) -> Path | None:
    """The database file of an SQLite store (None for another database or an in-memory one)."""
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or database in ("", ":memory:"):
        return None
    return Path(database.removeprefix("file:").split("?")[0])


@contextlib.contextmanager
def _file_lock(database: Path | None) -> Iterator[None]:
    """An exclusive lock on a file beside ``database`` while the block runs; none where there is no file or
    the folder cannot be written (a read-only store is never migrated: it is read as it is)."""
    try:
        handle = open(database.with_name(database.name + ".migrate-lock"), "a") if database else None
    except OSError:
        handle = None
    if handle is None:
        yield
        return
    import fcntl

    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _hide_password(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "an unreadable URL"


def _why(exc: BaseException) -> str:
    """An OS or database error in a line: 'No space left on device', 'attempt to write a readonly database'."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(getattr(exc, "orig", None) or exc).splitlines()[0]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), 5000):  # one statement per batch, not per row
        conn.execute(table.insert(), rows[start:start + 5000])


def _write_files(folder: Path, trained: TrainedForecaster, panel: pd.DataFrame, catalog: pd.DataFrame | None,
                 upload: bytes | None, ingest: IngestOptions | None) -> None:
    from .persistence import write_run

    (folder / "model").mkdir(parents=True)
    write_run(trained, folder / "model")
    (folder / "panel.npz").write_bytes(panel_bytes(panel))
    if catalog is not None:
        (folder / "catalog.json").write_text(catalog.to_json(orient="split", force_ascii=False))
    if upload is not None:
        (folder / "upload.gz").write_bytes(gzip.compress(upload, compresslevel=6))
    if ingest is not None:
        (folder / "ingest.json").write_text(json.dumps(dataclasses.asdict(ingest)))
    if trained.drivers is not None:
        d = trained.drivers
        np.savez_compressed(folder / "drivers.npz", values=d.values,
                            days=d.dates.to_numpy(dtype="datetime64[D]").astype(np.int64),
                            products=np.asarray(d.products, dtype=np.str_))
        (folder / "drivers.json").write_text(json.dumps(d.spec.to_dict()))


def _read_catalog(folder: Path) -> pd.DataFrame | None:
    path = folder / "catalog.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return pd.DataFrame(data["data"], index=data["index"], columns=data["columns"])


def _read_upload(folder: Path) -> bytes | None:
    path = folder / "upload.gz"
    return gzip.decompress(path.read_bytes()) if path.exists() else None


def _read_ingest(folder: Path) -> IngestOptions | None:
    path = folder / "ingest.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return IngestOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_drivers(folder: Path) -> DriverPanel | None:
    if not (folder / "drivers.npz").exists():
        return None
    spec = DriverSpec.from_dict(json.loads((folder / "drivers.json").read_text()))
    with np.load(folder / "drivers.npz", allow_pickle=False) as f:
        dates = pd.DatetimeIndex(f["days"].astype("datetime64[D]").astype("datetime64[ns]"))
        return DriverPanel(spec, dates, tuple(str(p) for p in f["products"]), f["values"])


def _run_row(run_id: str, trained: TrainedForecaster, panel: pd.DataFrame, evaluation: Evaluation | None,
             dataset: str, folder: Path, source: str, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": run_id, "created_at": datetime.now(timezone.utc), "dataset": str(dataset)[:500],
            "fingerprint": panel_fingerprint(panel), "first_date": panel.index[0].date(),
            "last_date": panel.index[-1].date(), "n_products": int(panel.shape[1]),
            "products": [str(p) for p in trained.products], "settings": trained.config.to_dict(),
            "model": _model_name(trained), "headline": headline(evaluation) if evaluation is not None else {},
            "folder": folder.name, "library_version": __version__, "source": source,
            "extra": _plain(extra or {})}


def _model_name(trained: TrainedForecaster) -> str:
    from ..labels import label

    if trained.blend:
        return "blend of " + " and ".join(f"{w:.0%} {label(n) if n != NETWORK else label(trained.config.model)}"
                                          for n, w in trained.blend.items() if w)
    return label(trained.config.model)


def headline(evaluation: Evaluation) -> dict[str, float]:
    """The model's errors on the test span that a run is listed by, with seasonal naive's beside them."""
    overall = evaluation.overall
    out = {k: _num(overall.loc[NETWORK, k]) for k in ("MAE", "RMSE", "RMSSE", "Bias", "WAPE")}
    out["MAE vs seasonal naive"] = _num(overall.loc[NETWORK, "ratio_to_seasonal_naive"])
    out["RMSE vs seasonal naive"] = _num(overall.loc[NETWORK, "rmse_ratio"])
    out["seasonal naive MAE"] = _num(overall.loc[SEASONAL_NAIVE, "MAE"])
    if evaluation.calibrations.get(NETWORK) is not None:
        out[f"{DEFAULT_LEVEL:.0%} range coverage"] = _num(
            evaluation.interval_overall(DEFAULT_LEVEL).loc[NETWORK, "coverage"])
    out["test days"] = float(len(evaluation.dates))
    return out


def _product_rows(run_id: str, evaluation: Evaluation) -> list[dict]:
    actual, mean = evaluation.actual, evaluation.predictions[NETWORK]
    median = evaluation.medians.get(NETWORK, mean)
    scored = np.broadcast_to(evaluation.scored, actual.shape)
    naive = evaluation.predictions.get(SEASONAL_NAIVE)
    rows = []
    for p, product in enumerate(evaluation.products):
        on = scored[:, p]
        sold, total = float(actual[on, p].sum()), float(mean[on, p].sum())
        rows.append({"run_id": run_id, "position": p, "product": str(product), "sold": sold, "forecast": total,
                     "mae": _num(np.abs(median[on, p] - actual[on, p]).mean()) if on.any() else None,
                     "rmse": _num(np.sqrt(((mean[on, p] - actual[on, p]) ** 2).mean())) if on.any() else None,
                     "bias": (total - sold) / sold if sold > 0 else None,
                     "mae_seasonal_naive": (_num(np.abs(naive[on, p] - actual[on, p]).mean())
                                            if naive is not None and on.any() else None)})
    return rows


def _forecast_rows(run_id: str, forecast: pd.DataFrame, products: list[str]) -> list[dict]:
    position = {str(p): i for i, p in enumerate(products)}
    table = forecast.assign(product=forecast["product"].astype(str))
    cols = [c for c in FORECAST_COLUMNS if c in table]
    records = table[["date", "product", *cols]].to_dict("records")
    closed = table["closed"].to_numpy(bool) if "closed" in table else np.zeros(len(table), bool)
    return [{"run_id": run_id, "date": pd.Timestamp(r["date"]).date(), "position": position[r["product"]],
             "product": r["product"], **{c: _num(r[c]) for c in cols}, "closed": bool(shut)}
            for r, shut in zip(records, closed)]


def _num(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _stored(row: Any) -> StoredRun:
    data = dict(row)
    created = data["created_at"]
    if created.tzinfo is None:  # SQLite keeps no zone: the store writes UTC
        data["created_at"] = created.replace(tzinfo=timezone.utc)
    data["extra"] = data.get("extra") or {}
    data["headline"] = {k: (np.nan if v is None else v) for k, v in (data["headline"] or {}).items()}
    return StoredRun(**data)


def forecast_to_keep(trained: TrainedForecaster, panel: pd.DataFrame, prepared: Any = None) -> pd.DataFrame | None:
    """The forecast a run keeps for tracking: the next FORECAST_DAYS days at the default levels (from
    ``prepared``, a :class:`~forecaster.results.forecasting.Prepared` holding them, where given); None where it
    cannot be made without the user (known-ahead drivers need their future values)."""
    from ..results.forecasting import forecast

    if prepared is not None and FORECAST_DAYS in prepared.points:
        return prepared.forecast(FORECAST_DAYS)
    try:
        return forecast(trained, panel, FORECAST_DAYS, DEFAULT_LEVEL, DEFAULT_SERVICE_LEVEL)
    except ForecasterError:
        return None
