"""The run store, with the same tests against SQLite and a real PostgreSQL server: create, list, open, compare,
share, revoke, delete, a migration from an older schema, and two runs landing at the same moment."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from forecaster.errors import ForecasterError
from forecaster.io.store import RunStore, compare_runs, forecast_to_keep, migrate
from forecaster.results.evaluation import evaluate
from pg_server import PostgresServer


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the whole test session, stopped at its end."""
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """An empty database's URL: an SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def store(database, tmp_path):
    s = RunStore(tmp_path / "home", url=database)
    yield s
    s.close()


@pytest.fixture(scope="module")
def finished(trained_small, small_panel):
    """What a finished training hands the store: the model, its panel, scores and kept forecast."""
    return trained_small, small_panel, evaluate(trained_small, small_panel), forecast_to_keep(trained_small, small_panel)


def add(store, finished, dataset="sales.csv", **kw):
    trained, panel, ev, fc = finished
    return store.add(trained, panel, ev, dataset=dataset, forecast=fc, **kw)


def test_a_kept_run_is_listed_newest_first_with_its_data_and_errors(store, finished):
    first = add(store, finished, "a.csv")
    second = add(store, finished, "b <b>*bold*</b>.csv")
    listed = store.list()
    assert [r.id for r in listed] == [second.id, first.id]
    trained, panel, ev, _ = finished
    assert second.dataset == "b <b>*bold*</b>.csv"  # user text kept as text
    assert (second.first_date, second.last_date) == (panel.index[0].date(), panel.index[-1].date())
    assert second.n_products == panel.shape[1] and second.products == list(map(str, panel.columns))
    assert second.headline["RMSE"] == pytest.approx(ev.overall.loc["network", "RMSE"])
    assert second.config == trained.config


def test_an_opened_run_forecasts_exactly_as_the_model_it_kept(store, finished):
    trained, panel, _, fc = finished
    run = add(store, finished)
    files = store.files(run.id)
    pd.testing.assert_frame_equal(files.panel, panel, check_freq=False)
    days = np.arange(len(panel) - 5, len(panel))
    np.testing.assert_array_equal(files.trained.predict(panel, days), trained.predict(panel, days))
    kept = store.forecast(run.id)
    assert len(kept) == len(fc) and kept["date"].min() == panel.index[-1] + pd.Timedelta(days=1)
    np.testing.assert_allclose(kept["forecast"].to_numpy(), fc["forecast"].to_numpy())


def test_per_product_scores_add_up_to_the_test_span(store, finished):
    _, panel, ev, _ = finished
    scores = store.product_scores(add(store, finished).id)
    assert list(scores["product"]) == list(map(str, panel.columns))
    assert scores["sold"].sum() == pytest.approx(ev.actual.sum())


def test_two_runs_compare_side_by_side_on_the_settings_that_differ(store, finished):
    trained, panel, ev, fc = finished
    a = add(store, finished)
    other = trained.__class__(**{**trained.__dict__, "config": trained.config.replace(epochs=trained.config.epochs + 1)})
    b = store.add(other, panel, ev, dataset="sales.csv", forecast=fc)
    settings, metrics, products = compare_runs(store, [a.id, b.id])
    assert list(settings.index) == ["epochs"]
    assert metrics.shape[1] == 2 and "RMSE" in metrics.index
    assert (products.filter(like="change").to_numpy() == 0).all()


def test_a_share_link_opens_one_run_until_it_is_revoked(store, finished):
    run, other = add(store, finished), add(store, finished)
    token = store.share(run.id)
    assert len(token) >= 32 and store.by_token(token).id == run.id
    assert store.by_token(token + "x") is None and store.by_token("") is None
    with store.engine.connect() as conn:  # the database holds no usable token
        assert token not in str(conn.execute(sa.text("select * from shares")).all())
    assert store.live_links(run.id) == 1 and store.live_links(other.id) == 0
    assert store.revoke(token) and not store.revoke(token)
    assert store.by_token(token) is None


def test_a_deleted_run_leaves_no_row_file_or_link(store, finished):
    run, kept = add(store, finished), add(store, finished)
    token = store.share(run.id)
    folder = store.home / "runs" / run.id
    assert folder.is_dir()
    store.delete(run.id)
    assert [r.id for r in store.list()] == [kept.id]
    assert not folder.exists() and store.by_token(token) is None
    assert store.forecast(run.id).empty and store.product_scores(run.id).empty
    with pytest.raises(ForecasterError, match="No run"):
        store.get(run.id)


def test_run_ids_are_checked_and_never_become_paths(store, finished):
    run = add(store, finished)
    assert store.get(run.id[:6]).id == run.id
    for bad in ("../etc", "", "zz", run.id + "/x"):
        with pytest.raises(ForecasterError):
            store.get(bad)


def test_an_exported_run_is_a_folder_the_saved_model_loader_reads(store, finished, tmp_path):
    from forecaster.io.persistence import load

    trained, panel, _, _ = finished
    out = store.export(add(store, finished).id, tmp_path / "exported")
    days = np.arange(len(panel) - 3, len(panel))
    np.testing.assert_array_equal(load(out).predict(panel, days), trained.predict(panel, days))
    with pytest.raises(ForecasterError, match="exists"):
        store.export(store.list()[0].id, out)


def test_a_store_made_by_an_older_version_opens_and_keeps_its_runs(database, tmp_path, finished):
    """An empty database brought to the first schema (0001) with a run written in its shape, then opened by
    this version: migrated to the newest schema, the old run listed and new ones kept beside it."""
    engine = sa.create_engine(database)
    migrate(engine, "0001")
    with engine.begin() as conn:
        assert "shares" not in sa.inspect(conn).get_table_names()
        conn.execute(sa.text(
            "insert into runs (id, created_at, dataset, fingerprint, first_date, last_date, n_products, products, "
            "settings, model, headline, folder, library_version) values ('00d0', :t, 'old.csv', 'f', :d, :d, 1, "
            "'[\"A\"]', :s, 'old model', '{}', '00d0', '0.1')"),
            {"t": pd.Timestamp("2025-01-01", tz="UTC").to_pydatetime(), "d": pd.Timestamp("2025-01-01").date(),
             "s": '{"epochs": 3}'})
    engine.dispose()
    store = RunStore(tmp_path / "home", url=database)
    old = store.get("00d0")
    assert old.dataset == "old.csv" and old.source == "cli" and old.extra == {}
    new = add(store, finished)
    assert [r.id for r in store.list()] == [new.id, "00d0"]
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar() == "0003"
    store.close()


def test_two_runs_finishing_at_the_same_moment_both_land(store, finished):
    barrier, kept, errors = threading.Barrier(4), [], []

    def finish(i):
        try:
            barrier.wait(timeout=30)
            kept.append(add(store, finished, f"session {i}").id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sorted(r.id for r in store.list()) == sorted(kept) and len(kept) == 4
    assert all(len(store.product_scores(r)) == finished[1].shape[1] for r in kept)


def test_a_second_process_opening_the_same_store_sees_its_runs(database, tmp_path, finished):
    one = RunStore(tmp_path / "home", url=database)
    run = add(one, finished)
    two = RunStore(tmp_path / "home", url=database)  # as a restarted server or the command line would
    assert two.get(run.id).headline == one.get(run.id).headline
    one.close(), two.close()


def test_a_store_that_cannot_write_says_why_and_leaves_nothing_half_kept(tmp_path, finished):
    """A read-only database (SQLite's read-only mode: refused even to root) and a full disk: a readable error
    naming the store, no run folder left behind."""
    import errno

    from forecaster.io import store as store_module

    path = tmp_path / "runs.db"
    RunStore(tmp_path / "home", url=f"sqlite:///{path}").close()  # made and migrated, then opened read-only
    read_only = RunStore(tmp_path / "home", url=f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(ForecasterError, match="could not be kept.*readonly database"):
        add(read_only, finished)
    assert not list((tmp_path / "home" / "runs").iterdir())
    writable = RunStore(tmp_path / "home2")

    def full_disk(folder, *args):
        folder.mkdir(parents=True)
        raise OSError(errno.ENOSPC, "No space left on device")

    original = store_module._write_files
    store_module._write_files = full_disk
    try:
        with pytest.raises(ForecasterError, match="No space left on device"):
            add(writable, finished)
    finally:
        store_module._write_files = original
    assert writable.list() == [] and not list((tmp_path / "home2" / "runs").iterdir())


@pytest.mark.parametrize("damage", ["weights", "config", "panel", "folder"])
def test_a_tampered_or_missing_run_folder_is_refused_never_loaded(tmp_path, finished, damage):
    import shutil

    store = RunStore(tmp_path / "home")
    run = add(store, finished)
    folder = store.home / "runs" / run.id
    if damage == "weights":
        weights = next((folder / "model").glob("network_*.pt"))
        weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    elif damage == "config":
        config = folder / "model" / "config.json"
        config.write_text(config.read_text().replace('"epochs": 3', '"epochs": 4'))
    elif damage == "panel":
        (folder / "panel.npz").write_bytes(b"not a panel")
    else:
        shutil.rmtree(folder)
    with pytest.raises(ForecasterError, match=f"The files of run {run.id[:8]}.*(changed|missing)"):
        store.files(run.id)


def test_a_browser_lists_its_own_runs_and_the_command_lines_never_anothers(store, finished):
    mine = add(store, finished, "mine.csv", source="dashboard", owner="browser A")
    theirs = add(store, finished, "theirs.csv", source="dashboard", owner="browser B")
    cli = add(store, finished, "cli.csv")
    assert [r.id for r in store.list(owner="browser A")] == [cli.id, mine.id]
    assert [r.id for r in store.list(owner="")] == [cli.id]  # a browser without a key: the command line's only
    assert {r.id for r in store.list()} == {mine.id, theirs.id, cli.id}  # the command line lists every run


def test_processes_opening_a_new_store_at_once_all_open_it(database, tmp_path):
    """A server and command lines starting together on an empty database: the migrations run once, in turn."""
    import os
    import subprocess
    import sys

    code = ("import sys; from forecaster.io.store import RunStore; "
            "s = RunStore(sys.argv[1], url=sys.argv[2]); print(len(s.list()))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "home"), database], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert [r[2] for r in results] == [0, 0, 0], [r[1][-500:] for r in results]
    assert [r[0].strip() for r in results] == ["0", "0", "0"]


def test_a_database_that_cannot_be_reached_is_a_readable_error(tmp_path):
    with pytest.raises(ForecasterError, match=r"run store \(postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/none.*cannot be opened"):
        RunStore(tmp_path / "home", url="postgresql+psycopg://u:secret@127.0.0.1:1/none")


def test_a_runs_drivers_are_kept_and_shown_with_its_settings(store, finished):
    """A trial: comparing a run without drivers and one with four listed only epochs and the like as different."""
    import dataclasses

    from forecaster.io.store import drivers_of

    run = add(store, finished)
    assert store.get(run.id).extra["drivers"] == [] and drivers_of(store.get(run.id)) == "none"
    assert drivers_of(dataclasses.replace(run, extra={"drivers": ["promo:known=0", "price:known"]})) == \
        "promo:known=0, price:known"
    assert drivers_of(dataclasses.replace(run, extra={})) == "not recorded"  # kept before drivers were
    settings, _, _ = compare_runs(store, [run.id, add(store, finished).id])
    assert "drivers" not in settings.index  # the same: not a difference
