"""Every page under AppTest: no data, demo data, a tiny trained model; widgets change what is shown."""
from __future__ import annotations

import hashlib
import io
import re
import time

import numpy as np
import pandas as pd
import pytest

from forecaster.config import DEFAULT_CONFIG, MODEL_CHOICES, format_lags
from forecaster.labels import label
from forecaster.model.recommend import BIAS_LIMIT
from forecaster.data.demo import DEMO_NAME
from ui.jobs import registry

from .conftest import TIMEOUT, all_text, job_of, new_app, shown, sidebar_text, train, with_data

MEDIA: list = []  # the media storage of each AppTest run, newest last (see served_bytes)


@pytest.fixture(autouse=True)
def record_media_storage(monkeypatch):
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test

    class Recorded(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            MEDIA.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recorded)


PAGES = ["pages/home.py", "pages/data.py", "pages/train.py", "pages/evaluate.py", "pages/forecast.py"]


def charts(at):
    return at.get("plotly_chart")


def chart_titles(at) -> list[str]:
    import json
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in charts(at)]


def chart_figures(at) -> list[dict]:
    import json
    return [json.loads(c.proto.spec) for c in charts(at)]


def served_bytes(at, key: str) -> bytes:
    """What a download button serves: the file its URL names in this run's media storage."""
    button = next(b for b in at.get("download_button") if b.proto.id.endswith(key) or key in b.proto.id)
    name = button.proto.url.rsplit("/", 1)[-1]
    return MEDIA[-1].get_file(name).content


def page_links(at) -> list[str]:
    return [el.proto.page for el in at.get("page_link")]


# --- no data ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_data_and_points_to_the_fix(page):
    at = new_app().switch_page(page).run()
    assert not at.exception
    assert not at.error
    if page == "pages/data.py":
        assert at.file_uploader and at.button[0].label == "Use demo data"  # this page is the fix
    elif page != "pages/home.py":
        assert page_links(at), "a page missing its prerequisite links to the page that fixes it"
    assert "None yet" in sidebar_text(at)


def test_pages_without_a_model_link_to_the_train_page(tiny_csv):
    at = with_data(tiny_csv)
    for page in ("pages/evaluate.py", "pages/forecast.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert "No trained model yet." in [i.value for i in at.info]
        assert any("train" in link for link in page_links(at))


# --- demo data -------------------------------------------------------------------------------------
def test_home_demo_button_loads_labelled_demo_data():
    at = new_app()
    assert "Purchase Forecaster" in at.title[0].value
    assert not charts(at)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["dataset"].demo
    assert DEMO_NAME in sidebar_text(at) and "20 products × 1,095 days" in sidebar_text(at)
    assert "generated" in all_text(at).lower()
    # the loaded data at a glance (and the browser's charting library loaded before the first click away)
    assert chart_titles(at) == ["Total daily demand"]
    assert len(chart_figures(at)[0]["data"][0]["x"]) == 1095


def test_home_with_a_file_that_cannot_be_read_shows_no_chart_and_no_error():
    at = with_data(b"just one line of text\n", name="broken.csv")
    assert not at.exception and not at.error
    assert not charts(at)


def test_data_page_summarises_and_charts_the_demo_data():
    at = new_app()
    at.button[0].click().run()
    at.switch_page("pages/data.py").run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Products"] == "20" and metrics["Days"] == "1,095"
    assert "Days with no sale" in metrics and "Units returned" in metrics
    assert "From Monday 02 January 2023 to Wednesday 31 December 2025" in all_text(at)  # whole, not cut in a tile
    assert "200 MB" in all_text(at)  # the upload limit from .streamlit/config.toml is stated
    assert chart_titles(at)[0] == "Total daily demand"
    assert chart_titles(at)[1] == "Top 10 products by units sold"
    at.slider(key="w_data_top_n").set_value(5).run()
    assert chart_titles(at)[1] == "Top 5 products by units sold"
    assert len(at.dataframe) == 2


def test_train_page_shows_device_and_prefilled_form_for_demo_data():
    at = new_app()
    at.button[0].click().run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert any("Training runs on: **CPU**" in c.value or "GPU" in shown(c.value) for c in at.caption)
    assert at.number_input(key="w_epochs").value == DEFAULT_CONFIG.epochs  # defaults from forecaster.config
    assert at.number_input(key="w_test_days").value == DEFAULT_CONFIG.test_days
    assert at.text_input(key="w_lags").value == format_lags(DEFAULT_CONFIG.lags) == "7"
    assert at.selectbox(key="w_model").value == DEFAULT_CONFIG.model
    assert at.selectbox(key="w_model").options == [label(m) for m in MODEL_CHOICES]  # shown by label
    assert at.number_input(key="w_epochs").proto.help.endswith("Default: 40.")  # the default from forecaster.config
    assert at.multiselect(key="w_candidates").value == list(DEFAULT_CONFIG.candidates)


def test_the_train_form_leads_with_the_planners_choices_and_keeps_expert_settings_in_one_expander():
    """Issue 25: the form led with learning rate, batch size, channels, LSTM units and seed; its help said
    "Adam's step size" and "give the flag once per network"."""
    at = new_app()
    at.button[0].click().run()
    at.switch_page("pages/train.py").run()

    def labels_in_order(node) -> list[str]:  # depth first, as the page lays them out
        own = [node.label] if getattr(node, "type", "") in WIDGET_TYPES else []
        return own + [x for child in getattr(node, "children", {}).values() for x in labels_in_order(child)]

    WIDGET_TYPES = {"number_input", "text_input", "selectbox", "multiselect", "checkbox", "radio"}
    order = labels_in_order(at.get("form")[0])
    assert order[:3] == ["History to learn from", "Days to test on", "Quick or thorough"], order
    assert order.index("Learning rate") > 3 and order.index("Random seed") > 3
    expanders = [e for e in at.expander if e.label.startswith("Expert settings")]
    assert len(expanders) == 1
    assert at.number_input(key="w_lr") in list(expanders[0].number_input)  # expert fields live in it
    helps = " ".join(w.proto.help for w in [*at.number_input, *at.text_input, *at.selectbox, *at.multiselect,
                                            *at.checkbox, *at.radio] if w.proto.help)
    for word in ("Adam", "flag", "README", "--", "optimiser", "L2"):
        assert word not in helps, word
    at.radio(key="w_effort").set_value("Quick")
    at.selectbox(key="w_history").set_value(365)
    at.number_input(key="w_epochs").set_value(2)
    at.button(key="FormSubmitter:training_form-Train").click().run()
    assert not at.exception and not at.error
    config = job_of(at).config
    assert config.ensemble == 1 and config.history_days == 365 and config.epochs == 2
    job_of(at).cancel()
    assert job_of(at).wait(TIMEOUT)  # ended before the next test counts the server's running jobs


def test_candidates_with_a_named_model_are_refused_naming_the_conflict():
    at = new_app()
    at.button[0].click().run()
    at.switch_page("pages/train.py").run()
    at.selectbox(key="w_model").set_value("cnn_lstm")
    at.multiselect(key="w_candidates").set_value(["global_gru_attention"])
    at.button(key="FormSubmitter:training_form-Train").click().run()
    assert not at.exception
    assert any("recommended model only" in e.value for e in at.error)
    assert job_of(at) is None  # nothing trains with a setting it would ignore


# --- upload ----------------------------------------------------------------------------------------
def test_uploading_a_csv_makes_it_the_current_dataset(tiny_csv):
    at = new_app().switch_page("pages/data.py").run()
    at.file_uploader[0].set_value(("shop_sales.csv", tiny_csv, "text/csv")).run()
    assert not at.exception and not at.error
    assert at.session_state["dataset"].name == "shop_sales.csv"
    assert {m.label: m.value for m in at.metric}["Products"] == "6"
    assert any("Read as long" in shown(s.value) for s in at.success)


def test_rejected_upload_shows_what_to_fix():
    weekly = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=20, freq="7D").strftime("%Y-%m-%d"),
                           "product": "Tea", "quantity": 5}).to_csv(index=False).encode()
    at = new_app().switch_page("pages/data.py").run()
    at.file_uploader[0].set_value(("weekly.csv", weekly, "text/csv")).run()
    assert not at.exception
    assert any("daily" in shown(e.value) for e in at.error)


def test_column_override_changes_how_the_file_is_read(tiny_csv):
    at = with_data(tiny_csv).switch_page("pages/data.py").run()
    assert {m.label: m.value for m in at.metric}["Products"] == "6"
    at.selectbox(key="w_ingest_date").set_value("quantity").run()  # a wrong choice is an error, not a crash
    assert not at.exception
    assert at.error and "quantity" in at.error[0].value
    at.selectbox(key="w_ingest_date").set_value("date").run()
    assert not at.error
    assert {m.label: m.value for m in at.metric}["Products"] == "6"


# --- a trained tiny model --------------------------------------------------------------------------
def test_train_page_trains_in_the_background_and_shows_the_loss_curve(trained_app):
    at = trained_app
    assert not at.error
    assert any("Training finished" in shown(s.value) for s in at.success)
    assert chart_titles(at) == ["Learning curve: error per epoch"]
    assert at.get("progress")[0].value == 100  # AppTest reports percent
    assert f"Finished after {DEFAULT_CONFIG.ensemble} networks ({3 * DEFAULT_CONFIG.ensemble} epochs)" in sidebar_text(at)


def test_training_the_same_data_and_settings_again_reuses_the_result(trained_app):
    first = job_of(trained_app)
    at = train(trained_app)
    second = job_of(at)
    assert second.job_id != first.job_id and second.result is first.result
    assert any("nothing was retrained" in shown(i.value) for i in at.info)


def test_invalid_settings_are_an_error_on_the_page(tiny_csv):
    at = with_data(tiny_csv).switch_page("pages/train.py").run()
    at.text_input(key="w_lags").set_value("seven")
    at.button(key="FormSubmitter:training_form-Train").click().run()
    assert not at.exception and "Lags must be a number" in at.error[0].value
    at.text_input(key="w_lags").set_value("7")
    at.number_input(key="w_test_days").set_value(140)
    at.button(key="FormSubmitter:training_form-Train").click().run()
    assert not at.exception and "need at least" in at.error[0].value


def test_an_exception_in_the_training_thread_is_shown_as_an_error(tiny_csv, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("GPU fell off the bus")

    monkeypatch.setattr(registry(), "_fit", broken)
    at = train(with_data(tiny_csv), w_seed=12345)
    assert not at.exception
    errors = [shown(e.value) for e in at.error]
    assert any("RuntimeError" in e and "server's log" in e for e in errors)
    assert not any("GPU fell off the bus" in e or "Traceback" in e or "/work" in e for e in errors)  # no internals


def test_running_job_shows_progress_and_cancel_keeps_the_best_model(tiny_csv, monkeypatch):
    from forecaster import fit

    def slow(panel, config, callback=None, cancel=None):
        def on_epoch(record):
            callback(record)
            time.sleep(0.2)
        return fit(panel, config, callback=on_epoch, cancel=cancel)

    monkeypatch.setattr(registry(), "_fit", slow)
    at = with_data(tiny_csv).switch_page("pages/train.py").run()
    for key, value in {"w_epochs": 500, "w_conv": 8, "w_hidden": 8, "w_test_days": 14, "w_val_days": 14,
                       "w_seed": 777}.items():
        at.number_input(key=key).set_value(value)
    at.button(key="FormSubmitter:training_form-Train").click().run()
    job = job_of(at)
    deadline = time.time() + TIMEOUT
    while job.snapshot().done_epochs < 2 and time.time() < deadline:
        time.sleep(0.1)
    at.run()
    assert "networks done; the current one is at epoch" in at.get("progress")[0].proto.text
    assert re.search(r"about \d+ (s|min \d+ s) left$", at.get("progress")[0].proto.text)  # an estimate, not a maximum
    assert chart_titles(at) == ["Learning curve: error per epoch"]
    at.button(key="cancel_training").click().run()
    assert job.wait(TIMEOUT)
    at.run()
    assert any("best model so far is kept" in shown(w.value) for w in at.warning)
    assert job.result is not None and job.result.cancelled
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception and any("cancelled" in shown(w.value) for w in at.warning)


def test_a_queued_training_says_its_place_in_line_and_cancel_means_it_never_starts(tiny_csv, monkeypatch):
    import threading

    from forecaster import ForecastConfig, fit
    from forecaster.data.ingest import load_panel

    release = threading.Event()

    def held(panel, config, callback=None, cancel=None):
        release.wait(TIMEOUT)
        return fit(panel, config, callback=callback, cancel=cancel)

    reg = registry()
    monkeypatch.setattr(reg, "_fit", held)
    monkeypatch.setattr(reg, "max_running", 1)
    blocker = reg.submit("another-session", load_panel(tiny_csv).panel,
                         ForecastConfig(model="cnn_lstm", epochs=1, ensemble=1, conv_channels=8, hidden_size=8,
                                        test_days=14, val_days=14, seed=4242))
    try:
        at = with_data(tiny_csv).switch_page("pages/train.py").run()
        at.number_input(key="w_seed").set_value(4243)
        at.button(key="FormSubmitter:training_form-Train").click().run()
        job = job_of(at)
        assert job is not None and job.snapshot().queued
        assert at.get("progress")[0].proto.text.startswith("Queued, position 1 of 1")
        assert not at.get("plotly_chart")  # a waiting page draws no chart (it polls less often, too)
        at.button(key="cancel_training").click().run()
        assert job.wait(1)
        at.run()
        assert not job.started and job.result is None
        assert any("before it started" in shown(w.value) for w in at.warning)
    finally:
        release.set()
        assert blocker.wait(TIMEOUT)


def test_evaluate_page_shows_cards_bars_and_any_product(trained_app):
    at = trained_app.switch_page("pages/evaluate.py").run()
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    # the network, three baselines and the two reference rows (forecast zero, 28-day mean), each on the
    # median's MAE, the mean's RMSE and bias, and WAPE
    assert [labels.count(m) for m in ("MAE", "RMSE", "Bias", "WAPE")] == [6, 6, 6, 6]
    assert at.metric[0].proto.delta  # against seasonal naive, short enough for its card (issue 25)
    assert "difference from seasonal naive" in all_text(at)
    zero_bias = [m.value for m in at.metric if m.label == "Bias"]
    assert "-100%" in zero_bias  # forecast zero's bias whole in its card, not "-100.…"
    assert any("baseline" in m.value for m in [*at.success, *at.warning])
    every = next(d.value for d in at.dataframe if "RMSSE" in d.value.columns)
    assert {"Forecast zero (reference)", "Mean of the last 28 days"} <= set(every["method"])
    titles = chart_titles(at)
    assert titles[0] == "Error per product as a share of its sales (neural network), worst first"
    products = at.selectbox(key="w_eval_product").options
    assert len(products) == 6
    worst = next(d.value for d in at.dataframe if "Error, share of sales" in d.value.columns)
    assert worst["Error, share of sales"].is_monotonic_decreasing  # worst first, with readable headers
    assert at.selectbox(key="w_eval_product").value == worst["Product"].iloc[0]  # the chart opens on it
    at.slider(key="w_top_n").set_value(5).run()
    assert chart_titles(at)[0] == "Error per product as a share of its sales (neural network), worst first: the 5 worst"
    at.selectbox(key="w_eval_product").set_value(products[3]).run()
    assert chart_titles(at)[2].startswith(products[3])


def test_forecast_page_horizon_changes_table_and_download(trained_app):
    at = trained_app.switch_page("pages/forecast.py").run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value.columns) == ["product", "forecast", "lower", "median", "upper", "order_quantity"]
    assert at.dataframe[0].value.shape == (6, 6)
    first = at.get("download_button")[0]
    assert first.proto.label == "Download forecast CSV"
    at.number_input(key="w_horizon").set_value(3).run()
    assert at.dataframe[0].value.shape == (6, 6) and at.select_slider(key="w_fc_day") is not None
    assert any(t.startswith("Forecast for") for t in chart_titles(at))
    product = at.selectbox(key="w_fc_product").options[2]
    at.selectbox(key="w_fc_product").set_value(product).run()
    assert chart_titles(at)[-1].startswith(product)
    # the bytes the button serves: a CSV of every product for each of the 3 days
    table = pd.read_csv(io.BytesIO(served_bytes(at, "dl_forecast")))
    assert list(table.columns) == ["date", "product", "forecast", "lower", "median", "upper", "order_quantity",
                                   "closed", "stopped", "level", "service_level"] and len(table) == 18
    assert (table["lower"] <= table["median"]).all() and (table["median"] <= table["upper"]).all()
    assert (table["lower"] >= 0).all() and not table["closed"].any()
    assert sorted(table["product"].unique()) == sorted(at.selectbox(key="w_fc_product").options)
    assert table["forecast"].ge(0).all() and table["date"].nunique() == 3


def test_forecast_page_shows_lead_time_totals_with_their_range(trained_app):
    at = trained_app.switch_page("pages/forecast.py").run()
    at.number_input(key="w_total_days").set_value(5).run()
    assert not at.exception and not at.error
    shown = next(d.value for d in at.dataframe if "Order up to" in d.value.columns)
    assert list(shown.columns) == ["product", "Expected total", "Lower", "Median", "Upper", "Order up to"]
    assert (shown["Lower"] <= shown["Median"]).all() and (shown["Median"] <= shown["Upper"]).all()
    table = pd.read_csv(io.BytesIO(served_bytes(at, "dl_totals")))
    assert (table["days"] == 5).all() and len(table) == len(shown)
    assert any("not by adding up daily ranges" in c.value for c in at.caption)


def test_forecast_page_level_and_service_level_redraw_the_band_without_training(trained_app):
    at = trained_app.switch_page("pages/forecast.py").run()
    job_id = at.session_state["job_id"]
    narrow = at.dataframe[0].value.set_index("product")
    band = [t for t in chart_figures(at)[-1]["data"] if t.get("fill") == "tonexty"]
    assert band and band[0]["name"] == "80% interval"
    at.slider(key="w_level").set_value(95).run()
    at.number_input(key="w_service_level").set_value(99).run()
    wide = at.dataframe[0].value.set_index("product").loc[narrow.index]
    assert at.session_state["job_id"] == job_id and not at.exception  # no new training
    assert ((wide["upper"] - wide["lower"]) >= (narrow["upper"] - narrow["lower"]) - 1e-9).all()
    assert (wide["order_quantity"] >= narrow["order_quantity"]).all()
    assert [t for t in chart_figures(at)[-1]["data"] if t.get("fill") == "tonexty"][0]["name"] == "95% interval"
    table = pd.read_csv(io.BytesIO(served_bytes(at, "dl_forecast")))
    assert (table["level"] == 0.95).all() and (table["service_level"] == 0.99).all()
    # issue 25: no word on a 97 % (here 99 %) service level beyond what 14 calibration days can show
    assert any("99% service level asks for a day rarer" in shown(w.value) for w in at.warning)
    at.number_input(key="w_service_level").set_value(80).run()  # within what the days show
    assert not any("service level asks" in shown(w.value) for w in at.warning)
    # a trial: the page promised "80% of the time" where Evaluate measured 58%: it says what the test days showed
    held = next(shown(i.value) for i in at.info if "is the range a day's demand falls in" in shown(i.value))
    measured = re.search(r"On the test days such a range held (\d+)% of the product-days", held)
    assert measured, held
    off = abs(int(measured.group(1)) - 95) > 5
    assert off == any("range held" in shown(w.value) and "not 95%" in shown(w.value) for w in at.warning)


def test_evaluate_page_shows_interval_coverage_next_to_the_baselines(trained_app):
    at = trained_app.switch_page("pages/evaluate.py").run()
    assert not at.exception and not at.error
    intervals = next(d.value for d in at.dataframe if "Coverage" in d.value.columns)
    assert len(intervals) == 6 and intervals["Coverage"].between(0, 1).all()
    assert "Interval score vs seasonal naive" in intervals.columns
    assert any("interval held the actual demand" in shown(m.value) for m in [*at.success, *at.warning])
    assert "Interval coverage per product" in chart_titles(at)[1]
    avp = next(f for f in chart_figures(at) if "actual vs predicted" in f["layout"]["title"]["text"])
    assert any(t.get("fill") == "tonexty" for t in avp["data"])
    assert at.button(key="run_backtest") is not None


def test_the_recommended_model_shows_its_choice_and_reason(tiny_csv):
    at = train(with_data(tiny_csv), w_model="auto", w_epochs=2, w_seed=4242)
    assert not at.exception and not at.error
    assert "Recommended model" in [s.value for s in at.subheader]
    assert any("Recommended:" in shown(i.value) for i in at.info)
    shown_table = at.dataframe[0].value  # in readable words (issue 25), best first
    assert list(shown_table.columns) == ["Candidate", "Error on the validation days", "Forecast vs sold there", "Chosen"]
    assert not any("_" in c for c in shown_table["Candidate"])  # no internal names such as global_cnn_lstm
    assert shown_table["Error on the validation days"].is_monotonic_increasing
    recommended = next(i for i in at.info if "Recommended:" in shown(i.value))
    assert "RMSSE" not in shown(recommended.value)  # one plain sentence; the long reason is under "Why, in detail"
    assert shown(recommended.value).count(".") <= 4
    table = job_of(at).result.selection  # the choice itself
    assert table["chosen"].sum() == 1 and {"global_cnn_lstm", "cnn_lstm", "seasonal_naive"} <= set(table["candidate"])
    chosen = table.loc[table["chosen"]].iloc[0]
    assert shown_table.loc[shown_table["Chosen"] == "✓", "Candidate"].iloc[0] == chosen["description"]
    rules = table["candidate"].isin(["moving_average_7", "weekday_mean_4", "seasonal_naive"])
    fair = table["validation_bias"].abs() <= table.loc[rules, "validation_bias"].abs().min() + BIAS_LIMIT
    assert chosen["validation_rmsse"] == table.loc[fair, "validation_rmsse"].min()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception
    assert any(e.label.startswith("Recommended model") for e in at.expander)
    assert chart_titles(at)[0].startswith("Error per product as a share of its sales (recommended model)")


def test_a_browser_refresh_finds_the_sessions_job_again(trained_app):
    owner = trained_app.session_state["owner_id"]
    assert trained_app.query_params["session"] == owner  # kept in the URL ...
    from streamlit.testing.v1 import AppTest
    from .conftest import APP
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)  # ... so a new session opened with that URL
    at.query_params["session"] = owner
    at.run()
    assert at.session_state["owner_id"] == owner
    assert f"Finished after {DEFAULT_CONFIG.ensemble} networks ({3 * DEFAULT_CONFIG.ensemble} epochs)" in sidebar_text(at)
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception and len(at.metric) == 24
    other = new_app()  # another browser session: none of that
    assert other.session_state["owner_id"] != owner and "None yet: start one" in sidebar_text(other)


# --- catalog sizes and awkward products ---------------------------------------------------------------
def catalog_csv(n_products: int, days: int = 70) -> bytes:
    """A wide file: Poisson demand, plus (from 3 products on) one product that never sells and one that
    starts selling only inside the test span (the last 14 days)."""
    import numpy as np

    rng = np.random.default_rng(n_products)
    values = rng.poisson(rng.uniform(1, 20, n_products), size=(days, n_products)).astype(float)
    if n_products >= 3:
        values[:, 1] = 0.0  # never sells
        values[: days - 7, 2] = 0.0  # first sale in the test span
    frame = pd.DataFrame(values, columns=[f"item {i}" for i in range(n_products)])
    frame.insert(0, "date", pd.date_range("2024-01-01", periods=days, freq="D").strftime("%Y-%m-%d"))
    return frame.to_csv(index=False).encode()


@pytest.mark.parametrize("n_products", [1, 2, 3, 5, 10_000])
def test_every_page_renders_for_catalogs_of_any_size(n_products):
    at = train(with_data(catalog_csv(n_products), name=f"{n_products}_products.csv"),
               w_seed=5000 + n_products, w_epochs=1)
    assert not at.exception and not at.error, [e.value for e in at.error]
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])
    at.switch_page("pages/data.py").run()
    assert {m.label: m.value for m in at.metric}["Products"] == f"{n_products:,}"
    at.switch_page("pages/forecast.py").run()
    assert len(at.dataframe[0].value) == n_products
    if n_products >= 3:  # item 2 first sells in the last week, item 1 never: their forecasts are their own 7 days
        assert "New products, first sold as the training days ended or since (item 2)" in all_text(at)
        assert "Never sold in the history (item 1)" in all_text(at)


def test_a_chosen_or_shared_session_link_never_opens_someone_elses_session(trained_app, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from ui import state as ui_state
    from .conftest import APP

    owner = trained_app.session_state["owner_id"]
    chosen = AppTest.from_file(APP, default_timeout=TIMEOUT)
    chosen.query_params["session"] = "0123456789abcdef" * 2  # any 32-hex id: not issued, so not resumed
    chosen.run()
    assert chosen.session_state["owner_id"] not in (owner, "0123456789abcdef" * 2)
    assert "None yet: start one" in sidebar_text(chosen)
    monkeypatch.setattr(ui_state, "browser_key", lambda: "another browser's cookie")
    shared = AppTest.from_file(APP, default_timeout=TIMEOUT)
    shared.query_params["session"] = owner  # the real id, opened in another browser
    shared.run()
    assert shared.session_state["owner_id"] != owner and "None yet: start one" in sidebar_text(shared)
    shared.switch_page("pages/evaluate.py").run()
    assert "No data and no trained model yet." in [i.value for i in shared.info]


def test_parsed_uploads_are_bounded_in_bytes_across_sessions():
    from ui.cached import BytesBoundedCache

    cache = BytesBoundedCache(max_bytes=100)
    for i in range(5):
        assert cache.get_or_make(("table", i), lambda i=i: "x" * 40, len) == "x" * 40
    assert cache.nbytes == 80  # the two newest fit in 100 bytes; the oldest three are gone
    made = []
    cache.get_or_make(("table", 0), lambda: made.append(1) or "y", len)
    assert made == [1]  # evicted, so made again
    big = cache.get_or_make(("table", 9), lambda: "z" * 500, len)
    assert big == "z" * 500 and cache.nbytes <= 100  # larger than the bound alone: used, never kept (issue 24)


def test_the_backtest_runs_beside_the_model_and_evaluate_shows_mae_and_coverage_per_cut_off(trained_app):
    """Issue 25: the backtest button replaced the session's model with a 4-cut-off job, and for its whole run
    Forecast said only "Training is still running". Now it is a job of its own beside the model."""
    at = trained_app.switch_page("pages/evaluate.py").run()
    first = job_of(at)
    at.button(key="run_backtest").click().run()
    assert not at.exception and not at.error
    assert job_of(at).job_id == first.job_id  # the model the pages show stays
    backtest = registry().get(at.session_state["owner_id"], at.session_state["backtest_job_id"])
    assert backtest.config.backtest_origins == 4 and backtest.kind == "backtest"
    at.switch_page("pages/forecast.py").run()  # usable meanwhile (or after, on a fast machine)
    assert not at.exception and not at.error and at.dataframe[0].value.shape[0] == 6
    assert not any("still running" in str(i.value) for i in at.info)
    assert first.status == "done"  # not cancelled by the backtest
    assert backtest.wait(TIMEOUT) and backtest.result is not None
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception and not at.error
    titles = chart_titles(at)
    assert "Rolling backtest: mean absolute error (units per day) per cut-off" in titles
    assert "Rolling backtest: share of test days inside the interval per cut-off" in titles
    cut_offs = next(d.value for d in at.dataframe if "mean coverage" in d.value.columns)
    assert (cut_offs["cut-offs"] == 4).all() and len(cut_offs) == 6


def test_a_model_retrained_on_every_day_says_so_where_its_forecasts_are_shown(tiny_csv):
    at = train(with_data(tiny_csv), w_model="auto", w_epochs=2, w_seed=4343, w_retrain=True)
    assert not at.exception and not at.error
    assert job_of(at).result.latest_networks
    at.switch_page("pages/forecast.py").run()
    assert not at.exception and not at.error
    assert "trained again on every day but the last" in all_text(at)


def test_a_cookie_less_browser_is_told_and_its_link_opens_an_empty_session_in_another(tiny_csv, monkeypatch):
    """Without a cookie every browser's key was "", and so matched every other's: profile B opened profile A's
    URL and saw A's data and job (issue 24). Now nothing resumes without a key, and the page says so."""
    from streamlit.testing.v1 import AppTest
    from ui import state as ui_state
    from .conftest import APP

    monkeypatch.setattr(ui_state, "browser_key", lambda: "")
    first = train(with_data(tiny_csv), w_seed=9090)
    owner = first.session_state["owner_id"]
    assert "session" not in first.query_params  # an id that could bring nothing back is not put in the URL
    assert "keeps no cookie" in sidebar_text(first)
    second = AppTest.from_file(APP, default_timeout=TIMEOUT)
    second.query_params["session"] = owner  # the first one's id, as a link or a typed URL would carry it
    second.run()
    assert second.session_state["owner_id"] != owner and "None yet: start one" in sidebar_text(second)


def test_a_run_over_the_servers_memory_budget_is_refused_on_the_train_page_naming_what_to_lower(tiny_csv,
                                                                                              monkeypatch):
    from ui.jobs import registry

    monkeypatch.setattr(registry(), "memory_gib", 0.001)  # a budget no run fits
    at = with_data(tiny_csv)
    at.switch_page("pages/train.py").run()
    at.button(key="FormSubmitter:training_form-Train").click().run()
    assert not at.exception
    errors = " ".join(shown(e.value) for e in at.error)
    assert "over this server's budget of 0.001 GiB" in errors and "Lower" in errors
    assert at.session_state["job_id"] is None or job_of(at) is None  # nothing started


def test_a_shift_jis_file_shows_its_names_and_says_which_encoding_was_used():
    names = ("コーヒー豆", "牛乳パック", "緑茶", "食パン", "りんごジュース")
    text = "date,product,quantity\n" + "".join(f"2024-01-{d:02d},{n},{d}\n" for d in range(1, 29) for n in names)
    at = with_data(text.encode("shift_jis"), "japanese.csv")
    at.switch_page("pages/data.py").run()
    assert not at.exception and not at.error
    assert "read as cp932" in all_text(at)
    assert at.selectbox(key="w_ingest_encoding").value == "__detect__"
    assert "コーヒー豆" in " ".join(map(str, at.dataframe[0].value.columns))


def test_the_data_page_lists_an_extreme_day_and_keeping_it_is_a_choice():
    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=120)
    sold = rng.integers(0, 10, 120)
    sold[50] = 999_999_999
    text = "date,product,quantity\n" + "".join(f"{d:%Y-%m-%d},a,{v}\n" for d, v in zip(days, sold))
    at = with_data(text.encode(), "typo.csv")
    at.switch_page("pages/data.py").run()
    assert not at.exception and not at.error
    assert "999,999,999 units of 'a'" in all_text(at)
    assert any(e.label.startswith("Extreme days (1)") for e in at.expander)
    at.checkbox(key="w_ingest_extremes").check().run()
    assert not at.exception and "kept as they are" in all_text(at)


def test_a_cookie_less_browser_pastes_its_csv_instead_of_an_upload_streamlit_would_refuse(tiny_csv, monkeypatch):
    """Streamlit answers an upload without its XSRF cookie with a 403 ("AxiosError: Request failed with status
    code 403" in the browser, issue 24): such a browser gets a sentence saying why and a box to paste the text
    into (it travels over the page's own connection), not an uploader that fails."""
    from ui import state as ui_state

    monkeypatch.setattr(ui_state, "browser_key", lambda: "")
    at = new_app().switch_page("pages/data.py").run()
    assert not at.exception
    assert "Allow cookies for this site and reload" in all_text(at)
    assert not at.get("file_uploader")
    at.text_area(key="w_paste").set_value(tiny_csv.decode("utf-8"))
    at.button(key="FormSubmitter:paste_form-Read the pasted text").click().run()
    assert not at.exception and not at.error
    assert at.session_state["dataset"].name == "Pasted text" and at.session_state["dataset"].data == tiny_csv
    assert "6 products" in sidebar_text(at)


def test_a_browser_with_its_cookie_gets_the_uploader():
    at = new_app().switch_page("pages/data.py").run()
    assert at.get("file_uploader") and not at.get("text_area")


# --- product names (issue 25) -------------------------------------------------------------------------
def _named_app(data: bytes, name: str):
    """Data loaded the way the Data page loads it, then a tiny model trained through the Train form."""
    at = with_data(data, name)
    at.switch_page("pages/data.py").run()
    assert not at.exception and not at.error
    return at


def test_names_show_beside_codes_on_every_page_and_in_every_csv():
    from conftest import invoice_log

    at = _named_app(invoice_log(days=90), "invoices.csv")
    text = all_text(at)
    assert "names in 'Description'" in text
    assert any("JAM MAKING SET WITH JARS (22960)" in str(c) for c in at.dataframe[0].value.columns)
    at = train(at, w_seed=4242)
    for page in ("pages/evaluate.py", "pages/forecast.py"):
        at.switch_page(page).run()
        assert not at.exception and not at.error, page
        key = "w_eval_product" if page.endswith("evaluate.py") else "w_fc_product"
        assert "JAM MAKING SET WITH JARS (22960)" in at.selectbox(key=key).options
        at.selectbox(key=key).set_value("22960").run()
        assert any(t.startswith("JAM MAKING SET WITH JARS (22960)") for t in chart_titles(at)), page
    assert "JAM MAKING SET WITH JARS (22960)" in set(at.dataframe[0].value["product"])
    forecast_csv = pd.read_csv(io.BytesIO(served_bytes(at, "dl_forecast")), dtype={"product": str})
    assert list(forecast_csv.columns[:3]) == ["date", "product", "name"]
    assert forecast_csv.set_index("product").loc["22960", "name"] == "JAM MAKING SET WITH JARS"
    for key in ("dl_metrics", "dl_totals"):
        table = pd.read_csv(io.BytesIO(served_bytes(at, key)), dtype={"product": str})
        assert "name" in table.columns and "PARTY BUNTING" in set(table["name"]), key
    at.switch_page("pages/evaluate.py").run()
    per_product = next(d.value for d in at.dataframe if "Range held the demand" in d.value.columns)
    assert per_product["Range held the demand"].notna().all()  # looked up by code, shown by name
    assert results_download_name("accuracy", "invoices.csv") == "accuracy_invoices.csv"


def results_download_name(kind: str, dataset: str, suffix: str = "") -> str:
    from ui.results import download_name

    return download_name(kind, dataset, suffix)


def test_download_names_say_what_and_which_data_and_never_carry_a_path():
    assert results_download_name("forecast", "../../etc/passwd", "2024-01-01_7d") == "forecast_etc_passwd_2024-01-01_7d.csv"
    assert results_download_name("totals", "=cmd|' /C calc'!A0.csv") == "totals_cmd_C_calc_A0.csv"
    assert results_download_name("accuracy", "....") == "accuracy_data.csv"


def test_a_key_of_two_columns_shows_and_exports_both_columns():
    rows = [(f"{day:%Y-%m-%d}", store, item, (d * 7 + len(store + item)) % 9)
            for d, day in enumerate(pd.date_range("2024-01-01", periods=90)) for store in ("CA_1", "TX_2")
            for item in ("FOODS_1", "HOBBY_9")]
    data = pd.DataFrame(rows, columns=["date", "store_id", "item_id", "qty"]).to_csv(index=False).encode()
    at = _named_app(data, "stores.csv")
    at.session_state["ingest_options"] = at.session_state["ingest_options"].__class__(
        product_cols=("store_id", "item_id"))
    at.run()
    assert not at.exception and not at.error
    at = train(at, w_seed=4343)
    at.switch_page("pages/forecast.py").run()
    assert not at.exception and not at.error
    table = pd.read_csv(io.BytesIO(served_bytes(at, "dl_forecast")))
    assert list(table.columns[:4]) == ["date", "product", "store_id", "item_id"]
    assert set(table["store_id"]) == {"CA_1", "TX_2"} and set(table["item_id"]) == {"FOODS_1", "HOBBY_9"}


def test_the_data_page_lists_lines_that_are_not_sales_and_keeps_them_when_asked():
    from conftest import invoice_log

    log = pd.read_csv(io.BytesIO(invoice_log(days=60)), dtype=str)
    extra = pd.DataFrame([["600001", "POST", "POSTAGE", "1", "2011-01-05 10:00:00", "18.00", "1.0", "France"],
                          ["600002", "M", "Manual", "1", "2011-01-06 10:00:00", "500.00", "2.0", "UK"]],
                         columns=log.columns)
    at = _named_app(pd.concat([log, extra]).to_csv(index=False).encode(), "invoices.csv")
    assert "Lines that are not sales, left out: 2 code(s)" in " ".join(e.proto.label for e in at.get("expander"))
    listed = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert set(listed["product"]) == {"POST", "M"}
    assert not any("POST" in str(c) for c in at.dataframe[-2].value.columns)  # not in the daily table
    at.checkbox(key="w_ingest_non_sales").check().run()
    assert not at.exception and not at.error
    assert "kept as you asked" in " ".join(e.proto.label for e in at.get("expander"))


def test_a_catalog_where_every_line_is_excluded_says_so_on_every_page():
    rows = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice\n" + "".join(
        f"5{d:05d},{code},{name},1,2011-01-{d:02d} 10:00,{price}\n" for d in range(1, 29)
        for code, name, price in (("POST", "POSTAGE", "18"), ("DOT", "DOTCOM POSTAGE", "3")))
    at = with_data(rows.encode(), "fees.csv")
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
    at.switch_page("pages/data.py").run()
    assert any("is not a sale" in shown(e.value) and "keep-non-sales" in shown(e.value) for e in at.error)


def test_results_of_another_file_say_so_with_one_button_to_train_on_the_current_data(trained_app):
    """Issue 25: after another upload the sidebar showed the new data while Forecast showed the old file's
    forecast, and Home said 'Training job: Finished' for the other file."""
    from forecaster.data.demo import demo_csv_bytes
    from ui.state import Dataset

    at = trained_app
    other = demo_csv_bytes(n_products=4, days=150, seed=8)
    at.session_state["dataset"] = Dataset("second.csv", hashlib.sha256(other).hexdigest(), other)
    for page in ("pages/evaluate.py", "pages/forecast.py", "pages/home.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        warning = " ".join(shown(w.value) for w in at.warning)
        assert "These results are for **tiny.csv**" in warning and "not for the current data, **second.csv**" in warning, page
    old_job = job_of(at).job_id
    assert at.button(key="train_current").label == "Train on second\\.csv"  # the file's name escaped
    at.button(key="train_current").click().run()
    assert not at.exception
    new = job_of(at)
    assert new.job_id != old_job and new.label == "second.csv" and new.panel.shape[1] == 4
    assert new.wait(TIMEOUT)
    at.switch_page("pages/forecast.py").run()
    assert not any("These results are for" in shown(w.value) for w in at.warning)


def test_returns_are_counted_in_units_not_rows():
    """Issue 25: 'Returns dropped' counted rows; two returns of 5 and 7 units are 12 units."""
    rows = "date,product,quantity\n" + "".join(f"2024-01-{d:02d},A,3\n2024-01-{d:02d},B,2\n" for d in range(1, 29))
    rows += "2024-01-10,A,-5\n2024-01-11,B,-7\n"
    at = with_data(rows.encode(), "returns.csv")
    at.switch_page("pages/data.py").run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Units returned (left out)"] == "12"


def _two_column_key_csv() -> bytes:
    rows = [(f"{day:%Y-%m-%d}", store, item, f"{item} (tin)", (d * 7 + len(store + item)) % 9)
            for d, day in enumerate(pd.date_range("2024-01-01", periods=90)) for store in ("CA_1", "TX_2")
            for item in ("FOODS_1", "HOBBY_9")]
    return pd.DataFrame(rows, columns=["date", "store_id", "item_id", "item_name", "qty"]).to_csv(index=False).encode()


@pytest.mark.parametrize("kind", ["names", "codes only", "two-column key"])
def test_every_page_renders_with_names_without_and_with_a_two_column_key(kind):
    """Issue 25's must-show: every page, with a name column and without, and with a key of two columns."""
    from conftest import invoice_log

    data = {"names": invoice_log(days=90), "codes only": pd.read_csv(io.BytesIO(invoice_log(days=90)), dtype=str)
            .drop(columns="Description").to_csv(index=False).encode(), "two-column key": _two_column_key_csv()}[kind]
    at = with_data(data, f"{kind}.csv")
    if kind == "two-column key":
        at.session_state["ingest_options"] = at.session_state["ingest_options"].__class__(
            product_cols=("store_id", "item_id"))
    at = train(at, w_seed=5151 + len(kind))
    expected = {"names": "JAM MAKING SET WITH JARS (22960)", "codes only": "22960",
                "two-column key": "FOODS_1 (tin) (CA_1 / FOODS_1)"}[kind]
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception and not at.error, (kind, page)
    assert expected in at.selectbox(key="w_fc_product").options


def test_the_forecast_page_flags_products_that_stopped_selling_and_orders_them_only_when_asked(tiny_csv):
    table = pd.read_csv(io.BytesIO(tiny_csv))
    dates = sorted(table["date"].unique())
    gone = table["product"].iloc[0]
    table = table[~((table["product"] == gone) & table["date"].isin(dates[-56:]))]
    at = train(with_data(table.to_csv(index=False).encode(), "stopped.csv"), w_seed=6161)
    at.switch_page("pages/forecast.py").run()
    assert not at.exception and not at.error
    warning = " ".join(shown(w.value) for w in at.warning)
    assert "1 product(s) sold nothing in the last 56 days" in warning and "order quantity is 0" in warning
    row = at.dataframe[0].value.set_index("product").loc[gone]
    assert row["order_quantity"] == 0
    at.checkbox(key="w_order_stopped").check().run()
    assert not at.exception and "ordered for, as you asked" in " ".join(shown(w.value) for w in at.warning)
    assert at.session_state["interval_options"].order_stopped


def test_the_forecast_page_says_which_products_do_not_sell_on_a_weekday_and_orders_nothing_then(tiny_csv):
    """A planner's trial: a product with no Saturday sale all year, the shop open, was ordered for each Saturday."""
    table = pd.read_csv(io.BytesIO(tiny_csv))
    weekdays = pd.to_datetime(table["date"]).dt.day_of_week
    lunch = table["product"].iloc[0]
    table.loc[(table["product"] == lunch) & (weekdays == 5), "quantity"] = 0
    at = train(with_data(table.to_csv(index=False).encode(), "lunch.csv"), w_seed=6262)
    at.switch_page("pages/forecast.py").run()
    at.number_input(key="w_horizon").set_value(14).run()
    assert not at.exception and not at.error
    captions = " ".join(shown(c.value) for c in at.caption)
    assert f"Not sold on these weekdays in the last year, while the shop traded (forecast 0, nothing to order): {lunch} on Saturdays" in captions
    assert "Planned closures" not in captions  # not an open flag's closure
    daily = pd.read_csv(io.BytesIO(served_bytes(at, "dl_forecast")), parse_dates=["date"])
    saturdays = daily[(daily["product"] == lunch) & (daily["date"].dt.day_of_week == 5)]
    assert len(saturdays) == 2 and (saturdays["order_quantity"] == 0).all() and (saturdays["forecast"] == 0).all()


def test_the_data_page_offers_the_files_country_for_holidays_and_the_run_uses_it(tiny_csv):
    """Issue 26: an invoice log's Country column preselects its public holidays; the Train page says so, the
    run trains with them and Evaluate shows the test days around holidays apart. None stays none."""
    from conftest import invoice_log

    at = _named_app(invoice_log(days=90), "invoices.csv")
    assert at.selectbox(key="w_holidays").value == "GB"
    assert "United Kingdom (GB), as the file's country column says" in at.selectbox(key="w_holidays").options
    assert at.session_state["train_config"].holidays == "GB"
    at.selectbox(key="w_holidays").set_value("GB").run()
    at.selectbox(key="w_holiday_region").set_value("SCT").run()
    assert at.session_state["train_config"].holidays == "GB-SCT"
    at.switch_page("pages/train.py").run()
    assert "Public holidays of United Kingdom (Scotland)" in all_text(at)
    at = train(at, w_seed=4343)
    assert job_of(at).config.holidays == "GB-SCT"
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception and not at.error
    assert any(e.label.startswith("Around public holidays of United Kingdom (Scotland)") for e in at.expander)
    at.switch_page("pages/forecast.py").run()
    at.number_input(key="w_horizon").set_value(30).run()
    slider = at.select_slider(key="w_fc_day")
    assert "Fri 22 Apr (holiday)" in slider.options  # Good Friday 2011, a few weeks after the log's end
    slider.set_value(pd.Timestamp("2011-04-22")).run()
    assert not at.exception and "Public holiday**: Friday 22 April is Good Friday" in all_text(at)
    # the user's "None" is kept on the same file; a file without a country column suggests none
    at.switch_page("pages/data.py").run()
    at.selectbox(key="w_holidays").set_value("").run()
    assert at.session_state["train_config"].holidays == ""
    at.switch_page("pages/data.py").run()
    assert at.selectbox(key="w_holidays").value == "" and at.session_state["train_config"].holidays == ""
    plain = _named_app(tiny_csv, "tiny.csv")
    assert plain.selectbox(key="w_holidays").value == "" and plain.session_state["train_config"].holidays == ""


def test_a_region_spelt_as_a_word_is_taken_and_another_country_does_not_inherit_a_region():
    """Review of issue 26: the package spells some regions as words (Augsburg); a region of one country (DE's
    BE, Berlin) never becomes another's (CH's BE, Bern) when the country changes."""
    from conftest import invoice_log

    at = _named_app(invoice_log(days=60), "invoices.csv")
    at.selectbox(key="w_holidays").set_value("DE").run()
    at.selectbox(key="w_holiday_region").set_value("Augsburg").run()
    assert not at.exception and not at.error and at.session_state["train_config"].holidays == "DE-Augsburg"
    at.selectbox(key="w_holiday_region").set_value("BE").run()
    at.selectbox(key="w_holidays").set_value("CH").run()
    assert at.session_state["train_config"].holidays == "CH"
    assert at.selectbox(key="w_holiday_region").value == ""


def test_a_suggested_calendar_left_as_it_was_follows_the_next_file_but_a_chosen_one_stays(tiny_csv):
    """Planner trial: GB preselected from one file stayed for the next file, which named Ecuador (and for one
    naming no country), silently. A suggestion the user left alone follows the file; a choice stays."""
    from conftest import invoice_log
    from ui.state import Dataset

    log = invoice_log(days=60)
    ecuador = pd.read_csv(io.BytesIO(log), dtype=str).assign(Country="Ecuador").to_csv(index=False).encode()
    at = _named_app(log, "invoices.csv")
    assert at.selectbox(key="w_holidays").value == "GB"
    at.session_state["dataset"] = Dataset("ecuador.csv", hashlib.sha256(ecuador).hexdigest(), ecuador)
    at.run()
    assert at.selectbox(key="w_holidays").value == "EC" and at.session_state["train_config"].holidays == "EC"
    at.session_state["dataset"] = Dataset("tiny.csv", hashlib.sha256(tiny_csv).hexdigest(), tiny_csv)
    at.run()
    assert at.selectbox(key="w_holidays").value == "" and at.session_state["train_config"].holidays == ""
    at.selectbox(key="w_holidays").set_value("DE").run()  # the user's own choice
    at.session_state["dataset"] = Dataset("ecuador.csv", hashlib.sha256(ecuador).hexdigest(), ecuador)
    at.run()
    assert at.session_state["train_config"].holidays == "DE"
    at.selectbox(key="w_holidays").set_value("").run()  # "None" is a choice too: the next file keeps it
    at.session_state["dataset"] = Dataset("invoices.csv", hashlib.sha256(log).hexdigest(), log)
    at.run()
    assert at.selectbox(key="w_holidays").value == "" and at.session_state["train_config"].holidays == ""


def test_after_a_refresh_a_suggestion_left_alone_still_follows_the_next_file():
    """Review: the 'left as suggested' mark was not restored by a refresh, so the first file's suggestion stuck
    to the next file as if chosen."""
    from conftest import invoice_log
    from streamlit.testing.v1 import AppTest
    from ui.state import Dataset
    from .conftest import APP

    log = invoice_log(days=90)
    at = train(_named_app(log, "invoices.csv"), w_seed=4747)  # GB as suggested, untouched
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)
    again.query_params["session"] = at.session_state["owner_id"]
    again.run()
    assert again.session_state["train_config"].holidays == "GB"
    ecuador = pd.read_csv(io.BytesIO(log), dtype=str).assign(Country="Ecuador").to_csv(index=False).encode()
    again.session_state["dataset"] = Dataset("ecuador.csv", hashlib.sha256(ecuador).hexdigest(), ecuador)
    again.switch_page("pages/data.py").run()
    assert again.session_state["train_config"].holidays == "EC"


def test_evaluate_counts_trading_days_and_says_closed_days_are_not_scored():
    """Planner trial: 'the last 24 days (22 Mar – 18 Apr)' with 28 test days; the 4 closed Saturdays were not
    named."""
    import numpy as np

    rng = np.random.default_rng(7)
    dates = pd.date_range("2024-01-01", periods=120, freq="D")
    values = rng.poisson(8, size=(120, 3)).astype(float)
    values[dates.day_of_week == 5] = 0.0  # closed every Saturday
    frame = pd.DataFrame(values, columns=["a", "b", "c"])
    frame.insert(0, "date", dates.strftime("%Y-%m-%d"))
    at = train(with_data(frame.to_csv(index=False).encode(), "saturdays.csv"), w_seed=4545)
    at.switch_page("pages/evaluate.py").run()
    text = all_text(at)
    assert not at.exception and "the last 12 trading days" in text and "2 closed days in between not scored" in text


def test_a_browser_refresh_restores_the_runs_holiday_calendar_with_its_data():
    """Planner trial: after a refresh the data and job came back but the region did not (Train said 'No public
    holidays'; the Data page fell back to the file's suggestion, GB, dropping Scotland)."""
    from conftest import invoice_log
    from streamlit.testing.v1 import AppTest
    from .conftest import APP

    at = _named_app(invoice_log(days=90), "invoices.csv")
    at.selectbox(key="w_holiday_region").set_value("SCT").run()
    at = train(at, w_seed=4646)
    owner = at.session_state["owner_id"]
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)
    again.query_params["session"] = owner
    again.run()
    assert again.session_state["train_config"].holidays == "GB-SCT"
    again.switch_page("pages/data.py").run()
    assert again.selectbox(key="w_holidays").value == "GB" and again.selectbox(key="w_holiday_region").value == "SCT"
    again.switch_page("pages/train.py").run()
    assert "Public holidays of United Kingdom (Scotland)" in all_text(again)


def test_drivers_are_chosen_on_the_data_page_and_forecast_from_future_values_with_a_what_if():
    """Issue 26: a file with a promotion and a price column offers both; the run reads the chosen one; every
    page renders; the Forecast page names the product and day a future value is missing for, reads a future
    file, and shows a what-if next to the plan."""
    from forecaster.data.demo import promotion_demo_long
    from ui.state import Dataset

    history = promotion_demo_long(n_products=3, days=150, seed=5)
    at = _named_app(history.to_csv(index=False).encode("utf-8"), "promotions.csv")
    drivers = at.multiselect(key="w_drivers")
    assert set(drivers.options) == {"promo (a number; known ahead)", "price (a number; known ahead)"}
    assert drivers.value == []
    drivers.set_value(["promo"]).run()
    assert at.session_state["ingest_options"].drivers == ("promo:known",)
    assert "The model will read promo (known ahead)." in all_text(at)
    at = train(at, w_seed=4545, w_model="global_cnn_lstm")
    assert job_of(at).result.driver_spec.names == ("promo",)
    at.switch_page("pages/home.py").run()
    assert not at.exception and not at.error
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception and not at.error
    assert any(e.label.startswith("On days a driver was set") for e in at.expander)
    at.switch_page("pages/forecast.py").run()
    assert not at.exception
    assert not at.error  # nothing to forecast from yet: what to do, not an error
    assert "This run forecasts from the future values of 'promo': upload them above" in " ".join(
        shown(i.value) for i in at.info)
    last = history["date"].max()
    days = pd.date_range(last + pd.Timedelta(days=1), periods=7)
    future = pd.DataFrame({"date": days.repeat(3), "product": ["P0", "P1", "P2"] * 7, "promo": 0})
    future.loc[4, "promo"] = 1  # P1 on the second day
    data = future.to_csv(index=False).encode("utf-8")
    at.session_state["future_drivers"] = (job_of(at).job_id, Dataset("future.csv", hashlib.sha256(data).hexdigest(),
                                                                      data))
    at.run()
    assert not at.exception and not at.error
    assert "Read 7 day(s)" in all_text(at)
    at.number_input(key="w_horizon").set_value(5).run()
    assert not at.exception and not at.error
    at.selectbox(key="w_whatif_product").set_value("P0").run()
    at.multiselect(key="w_whatif_days").set_value([days[2]]).run()
    assert not at.exception and not at.error
    assert any("what_if_forecast" in df.value.columns for df in at.dataframe)
    whatif = next(df.value for df in at.dataframe if "what_if_forecast" in df.value.columns)
    changed = whatif[whatif["changed"]]
    assert len(changed) == 1 and (changed["what_if_forecast"] > changed["plan_forecast"]).all()
    lift = float((changed["what_if_forecast"] - changed["plan_forecast"]).sum())
    assert f"{lift:+,.1f} on the days set" in all_text(at)  # the change's own effect, apart from what it carries on
    assert not any("far from anything it had" in shown(w.value) for w in at.warning)  # promo 1: no false alarm
    at.switch_page("pages/data.py").run()  # a default for days without a value: another reading of the file
    at.text_input(key="w_driver_default_0_promo").set_value("0").run()
    assert at.session_state["ingest_options"].drivers == ("promo:known=0",)
    at.switch_page("pages/evaluate.py").run()
    assert "as it was read before you changed the drivers" in all_text(at)


def test_a_running_backtest_says_where_each_cut_off_stands():
    from forecaster.model.trained import EpochRecord
    from ui.jobs import origin_progress

    def rec(origin: int) -> EpochRecord:
        return EpochRecord(0, 1, 10, 0.1, 0.1, 0.1, 1.0, 40, 1, origin=origin)

    text = origin_progress([rec(0)] * 10 + [rec(1)] * 3 + [rec(2)], 4)
    assert text == ("cut-off 1 (this test span): 10 of at most 10 epochs · cut-off 2 (1 week earlier): 3 of at most "
                    "10 epochs · cut-off 3 (2 weeks earlier): 1 of at most 10 epochs · cut-off 4 (3 weeks earlier): "
                    "waiting")
