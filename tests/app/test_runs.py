"""The Runs page and share links through AppTest: a finished training is kept and listed, opens again in a new
session with the same numbers, compares with another, shares read-only until revoked, is deleted; a later
upload shows the kept forecast against what sold."""
from __future__ import annotations

import hashlib
import time

import pandas as pd

from forecaster.data.demo import demo_csv_bytes
from ui import runs
from ui.state import Dataset

from .conftest import TIMEOUT, all_text, job_of, new_app, sidebar_text, train, with_data

HOSTILE = "=HYPERLINK(\"x\") *bold* <b>tag</b>.csv"


def kept(at) -> str:
    """The run id the finished job of ``at`` was kept as (keeping happens just after the job ends)."""
    job = job_of(at)
    deadline = time.time() + TIMEOUT
    while "run_id" not in job.meta and time.time() < deadline:
        time.sleep(0.2)
    assert "run_id" in job.meta, "the finished training was not kept"
    return job.meta["run_id"]


def trained_app(data: bytes, name: str = HOSTILE, **form):
    at = train(with_data(data, name), **form)
    run_id = kept(at)
    return at.run(), run_id


def listed(at, run_id: str) -> bool:
    """Whether the Runs page lists ``run_id`` (with no run kept at all the page has no list to pick from)."""
    picker = [w for w in at.multiselect if w.key == "w_runs"]
    return bool(picker) and any(option.startswith(run_id[:8]) for option in picker[0].options)


def runs_page(at):
    return at.switch_page("pages/runs.py").run()


def test_a_finished_training_is_kept_listed_and_reopened_with_the_same_numbers(tiny_csv):
    at, run_id = trained_app(tiny_csv)
    assert f"Kept as run {run_id[:8]}" in sidebar_text(at)
    at = runs_page(at)
    assert not at.exception and listed(at, run_id)
    listing = at.dataframe[0].value
    assert listing.loc[listing["id"] == run_id, "data"].item() == HOSTILE  # user text kept as text
    at.switch_page("pages/evaluate.py").run()
    before = at.dataframe[0].value

    other = new_app()  # another session (a restart or another browser): opens the kept run
    other = runs_page(other)
    other.multiselect(key="w_runs").set_value([run_id]).run()
    other.button(key="open_run").click().run()
    assert not other.exception, other.exception
    other.switch_page("pages/evaluate.py").run()
    pd.testing.assert_frame_equal(other.dataframe[0].value, before)
    other.switch_page("pages/forecast.py").run()
    assert not other.exception and not other.error, [e.value for e in other.error]


def test_two_runs_compare_on_the_settings_that_differ(tiny_csv):
    at, first = trained_app(tiny_csv, "one.csv")
    at, second = trained_app(tiny_csv, "one.csv", w_epochs=4)
    at = runs_page(at)
    at.multiselect(key="w_runs").set_value([first, second]).run()
    assert not at.exception
    assert "epochs" in at.dataframe[1].value.index  # settings that differ
    assert "RMSE" in at.dataframe[2].value.index


def test_a_share_link_shows_the_run_read_only_until_revoked(tiny_csv):
    at, run_id = trained_app(tiny_csv)
    token = runs.store().share(run_id)
    viewer = new_app()
    viewer.query_params[runs.SHARE_PARAM] = token
    viewer = viewer.run()
    assert not viewer.exception and not viewer.error, [e.value for e in viewer.error]
    text = sidebar_text(viewer)
    assert "Shared run" in text and "Current dataset" not in text
    assert text.split("---")[0].split() == ["Evaluate", "Forecast"]  # the menu: no Home, Data, Train or Runs
    assert "Evaluate" in all_text(viewer) or viewer.title[0].value == "Evaluate"
    assert not [b for b in viewer.button if b.key == "run_backtest"]  # a viewer cannot start trainings
    assert "session" not in viewer.query_params  # nothing a viewer could resume without the link
    viewer.switch_page("pages/forecast.py").run()  # the token stays in the address: a reload keeps the view
    assert not viewer.exception and viewer.query_params[runs.SHARE_PARAM] in (token, [token])
    runs.store().revoke(token)
    viewer = viewer.run()
    assert "does not open a run" in " ".join(e.value for e in viewer.error)
    assert not viewer.dataframe  # nothing of the run shows any more
    viewer.query_params.pop(runs.SHARE_PARAM, None)
    assert not viewer.run().dataframe  # the link's session stays closed without its token too


def test_another_browser_never_lists_this_browsers_runs(tiny_csv, monkeypatch):
    from ui import state as ui_state

    _, run_id = trained_app(tiny_csv, "private.csv")
    monkeypatch.setattr(ui_state, "browser_key", lambda: "another browser")
    other = runs_page(new_app())
    assert not other.exception
    assert not [w for w in other.multiselect if w.key == "w_runs"] or not listed(other, run_id)


def test_a_wrong_share_link_shows_nothing_of_anyone(tiny_csv):
    trained_app(tiny_csv)
    viewer = new_app()
    viewer.query_params[runs.SHARE_PARAM] = "not-a-token"
    viewer = viewer.run()
    assert "does not open a run" in " ".join(e.value for e in viewer.error) and not viewer.dataframe


def test_deleting_a_run_removes_it_from_the_list(tiny_csv):
    at, run_id = trained_app(tiny_csv, "to-delete.csv")
    at = runs_page(at)
    at.multiselect(key="w_runs").set_value([run_id]).run()
    at.checkbox(key="delete_sure").check().run()
    at.button(key="delete_run").click().run()
    assert not listed(at, run_id)


def test_a_command_line_run_is_not_deleted_from_a_browser(tiny_csv):
    """A trial: every browser lists command-line runs, and any of them could delete one (even a shared one)."""
    at, _ = trained_app(tiny_csv, "mine.csv")
    job = job_of(at)
    cli_run = runs.store().add(job.result, job.panel, None, dataset="cli.csv", source="cli")
    at = runs_page(at)
    at.multiselect(key="w_runs").set_value([next(o for o in at.multiselect(key="w_runs").options
                                                 if o.startswith(cli_run.id[:8]))]).run()
    assert not at.exception and not [b for b in at.button if b.key == "delete_run"]
    assert f"runs delete {cli_run.id}" in all_text(at)


def test_a_later_upload_shows_last_weeks_forecast_against_what_sold():
    full = demo_csv_bytes(n_products=4, days=160, seed=5)
    sales = pd.read_csv(pd.io.common.BytesIO(full))
    last_week = sorted(sales["date"].unique())[-7:]
    history = sales[~sales["date"].isin(last_week)].to_csv(index=False).encode()
    at, run_id = trained_app(history, "week 1.csv")
    at.session_state["dataset"] = Dataset("week 2.csv", hashlib.sha256(full).hexdigest(), full)
    at = runs_page(at.run())
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "7 day(s) of its forecast have happened" in all_text(at)
    per_product = at.dataframe[-1].value
    assert len(per_product) == 4 and (per_product["days"] == 7).all()
    assert at.metric[0].label == "Forecast vs sold"
    assert len(at.get("plotly_chart")) == 1


def test_the_runs_page_renders_with_no_run_kept(monkeypatch, tmp_path):
    from forecaster.io.store import RunStore

    empty = RunStore(tmp_path / "empty")
    monkeypatch.setattr(runs, "store", lambda: empty)
    at = runs_page(new_app())
    assert not at.exception and "No runs kept yet" in all_text(at)


def test_a_tampered_kept_run_is_refused_on_the_runs_page(tiny_csv):
    at, run_id = trained_app(tiny_csv, "tampered.csv")
    weights = next((runs.store().home / "runs" / run_id / "model").glob("network_*.pt"))
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    other = runs_page(new_app())
    other.multiselect(key="w_runs").set_value([run_id]).run()
    other.button(key="open_run").click().run()
    assert not other.exception
    assert "were changed or removed since it was kept" in " ".join(e.value for e in other.error)
    assert other.title[0].value == "Runs"  # stayed: nothing was loaded


def test_a_run_the_store_cannot_keep_is_said_and_its_results_stay(tiny_csv, monkeypatch):
    import errno

    from forecaster.io import store as store_module

    def full_disk(folder, *args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "_write_files", full_disk)
    at = train(with_data(tiny_csv, "full disk.csv"), w_epochs=2)
    job = job_of(at)
    deadline = time.time() + TIMEOUT
    while "keep_error" not in job.meta and time.time() < deadline:
        time.sleep(0.2)
    at = at.run()
    assert "No space left on device" in " ".join(w.value for w in at.sidebar.warning if hasattr(w, "value")) or \
        "No space left on device" in sidebar_text(at)
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception and at.dataframe  # the session's results are still there


def test_a_refresh_brings_back_a_newer_upload_not_the_runs_data(tiny_csv):
    """Planner trial: trained on week 1, uploaded week 2, refreshed: the sidebar was back on week 1 and the next
    training used it without a word."""
    from streamlit.testing.v1 import AppTest

    from .conftest import APP

    at, _ = trained_app(tiny_csv, "week 1.csv")
    later = demo_csv_bytes(n_products=6, days=157, seed=3)
    at.session_state["dataset"] = Dataset("week 2.csv", hashlib.sha256(later).hexdigest(), later)
    at.run()
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)  # the same browser's refresh of the same address
    again.query_params["session"] = at.session_state["owner_id"]
    again.run()
    assert again.session_state["dataset"].name == "week 2.csv"
    assert "week 2.csv" in sidebar_text(again).split("Training job")[0]
    assert again.session_state["job_id"] == at.session_state["job_id"]  # and its results, said to be week 1's
