"""Save/load (weights as state dicts plus JSON, loaded with weights_only=True, identical forecasts) and the
CSV export (formula neutralisation of text cells; numbers untouched)."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY
from forecaster import ForecasterError, __version__, evaluate, fit, forecast, load, save
from forecaster.io.export import forecast_table, metrics_table, neutralise, safe_frame, to_csv_bytes, write_csv

# --- persistence ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["cnn_lstm", "global_cnn_lstm"])
def test_save_then_load_gives_identical_forecasts(tmp_path, small_panel, model):
    trained = fit(small_panel, TINY.replace(model=model, ensemble=2, epochs=2))
    run = save(trained, tmp_path / "runs")
    assert run.parent == tmp_path / "runs" and run.name.startswith("run-")
    loaded = load(run)
    assert loaded.products == trained.products and loaded.config == trained.config
    assert loaded.last_date == trained.last_date
    pd.testing.assert_frame_equal(forecast(loaded, small_panel, horizon=3), forecast(trained, small_panel, horizon=3))
    np.testing.assert_array_equal(evaluate(loaded, small_panel).predictions["network"],
                                  evaluate(trained, small_panel).predictions["network"])


def test_run_directory_holds_state_dicts_and_json_never_a_pickled_object(tmp_path, trained_small):
    run = save(trained_small, tmp_path)
    files = sorted(p.name for p in run.iterdir())
    assert files == ["calibration.npz", "config.json", "network_0.pt"]
    meta = json.loads((run / "config.json").read_text())
    with np.load(run / "calibration.npz", allow_pickle=False) as arrays:  # plain arrays, no object in them
        assert arrays["offsets"].shape[1] == len(trained_small.products) and arrays["offsets"].dtype == np.float64
    assert meta["library_version"] == __version__
    assert meta["products"] == trained_small.products
    assert meta["config"]["model"] == "cnn_lstm"
    assert set(meta["scaler"]) >= {"data_min", "data_max"}
    state = torch.load(run / "network_0.pt", weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())


def test_load_passes_weights_only_true_to_torch_load(tmp_path, trained_small, monkeypatch):
    run = save(trained_small, tmp_path)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load(run)
    assert calls == [True]


def test_two_saves_in_the_same_second_get_different_directories(tmp_path, trained_small):
    assert save(trained_small, tmp_path) != save(trained_small, tmp_path)


def test_loading_a_directory_that_is_not_a_saved_model_is_a_user_error(tmp_path):
    with pytest.raises(ForecasterError, match="not a saved model"):
        load(tmp_path)


def test_loading_tampered_weights_is_refused_with_a_user_error(tmp_path, trained_small):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    run = save(trained_small, tmp_path)
    torch.save({"x": Evil()}, run / "network_0.pt")
    with pytest.raises(ForecasterError, match="network_0.pt"):
        load(run)
    (run / "network_0.pt").write_bytes(b"not a weights file")
    with pytest.raises(ForecasterError, match="network_0.pt"):
        load(run)


def test_loading_weights_of_another_shape_is_refused_with_a_user_error(tmp_path, trained_small):
    run = save(trained_small, tmp_path)
    meta = json.loads((run / "config.json").read_text())
    meta["config"]["hidden_size"] = 99
    (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ForecasterError, match="does not match"):
        load(run)


# --- export --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=SUM(A1:A9)", "+31 555", "-cmd|' /C calc'!A0", "@SUM(1)", "\t=1", "\r=1"])
def test_text_cells_that_start_like_a_formula_are_neutralised(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["Espresso", "a=b", "", "Oat milk 1L", 3, -2.5, None])
def test_other_cells_are_left_alone(value):
    assert neutralise(value) == value


def test_csv_neutralises_text_but_keeps_numbers_and_negative_numbers_as_numbers():
    df = pd.DataFrame({
        "date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
        "product": ["=HYPERLINK(\"http://x\")", "-5 pack", "@home", "Plain"],
        "forecast": [-1.5, 2.0, 0.0, 3.25],
        "=evil": [1, -2, 3, 4],
    })
    out = pd.read_csv(io.BytesIO(to_csv_bytes(df)), keep_default_na=False)
    assert list(out.columns) == ["date", "product", "forecast", "'=evil"]
    assert out["product"].tolist() == ["'=HYPERLINK(\"http://x\")", "'-5 pack", "'@home", "Plain"]
    assert out["forecast"].tolist() == [-1.5, 2.0, 0.0, 3.25]
    assert out["'=evil"].tolist() == [1, -2, 3, 4]
    assert out["date"].tolist() == ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    text = to_csv_bytes(df).decode()
    assert "\n2024-01-01,'=HYPERLINK" in text.replace('"', "") and ",-1.5000," in text
    assert df["product"].iloc[0].startswith("=")  # the caller's frame is not modified


def test_safe_frame_handles_pandas_string_dtype_columns():
    df = pd.DataFrame({"product": pd.array(["+1", "ok"], dtype="string"), "n": [-1, 1]})
    out = safe_frame(df)
    assert out["product"].tolist() == ["'+1", "ok"]
    assert out["n"].tolist() == [-1, 1]


def test_forecast_and_metrics_csv_have_the_contract_columns(tmp_path, trained_small, small_panel):
    fc = write_csv(forecast_table(forecast(trained_small, small_panel)), tmp_path / "sub" / "forecast.csv")
    read = pd.read_csv(fc)
    assert list(read.columns) == ["date", "product", "forecast", "lower", "median", "upper", "order_quantity",
                                  "closed", "stopped", "level", "service_level"]
    assert len(read) == small_panel.shape[1]
    metrics = pd.read_csv(write_csv(metrics_table(evaluate(trained_small, small_panel)), tmp_path / "metrics.csv"))
    assert list(metrics["product"]) == list(small_panel.columns)
    assert {"mae_network", "mae_naive", "mae_seasonal_naive"} <= set(metrics.columns)


def test_a_run_saved_before_window_scaling_loads_without_it(small_panel, tmp_path):
    import json

    trained = fit(small_panel, TINY.replace(model="global_cnn_lstm", window_scaling=False))
    run = save(trained, tmp_path)
    meta = json.loads((run / "config.json").read_text())
    del meta["config"]["window_scaling"]  # as written by the versions before it
    (run / "config.json").write_text(json.dumps(meta))
    loaded = load(run)
    assert loaded.config.window_scaling is False
    pd.testing.assert_frame_equal(forecast(loaded, small_panel, horizon=2), forecast(trained, small_panel, horizon=2))


# --- tampered runs: every kind is refused with a user error before anything is built -------------------
def _tamper(run, kind):
    meta_path = run / "config.json"
    meta = json.loads(meta_path.read_text())
    weights = run / meta["networks"][0]
    if kind == "deep_json":
        meta_path.write_text("[" * 100_000 + "]" * 100_000)
        return
    if kind == "wrong_types":
        meta["products"] = {"a": 1}
    elif kind == "scaler_shorter_than_products":
        meta["scaler"]["data_min"] = meta["scaler"]["data_min"][:1]
        meta["scaler"]["data_max"] = meta["scaler"]["data_max"][:1]
    elif kind == "no_networks":
        meta["networks"] = []
    elif kind == "network_outside_the_run":
        meta["networks"] = ["../network_0.pt"]
    elif kind == "huge_hidden_size":
        meta["config"]["hidden_size"] = 100_000
    elif kind == "symlinked_weights":
        text = run / "notes.txt"
        text.write_text("not weights")
        weights.unlink()
        weights.symlink_to(text)
    elif kind == "bit_flipped_weights":
        data = bytearray(weights.read_bytes())
        data[-200] ^= 0x01
        weights.write_bytes(bytes(data))
    elif kind == "nan_weights":
        state = torch.load(weights, weights_only=True)
        first = next(k for k, v in state.items() if v.is_floating_point())
        state[first].fill_(float("nan"))
        torch.save(state, weights)
        meta["sha256"][weights.name] = __import__("hashlib").sha256(weights.read_bytes()).hexdigest()
    elif kind == "no_checksums":
        del meta["sha256"]
    elif kind == "infinite_best_epochs":  # json.dumps writes Infinity, which json.loads reads back
        meta["best_epochs"] = [float("inf")]
    elif kind == "infinite_lags":
        meta["config"]["lags"] = [1, float("inf")]
    elif kind == "infinite_rolling_windows":
        meta["config"]["rolling_windows"] = [float("inf")]
    meta_path.write_text(json.dumps(meta))


@pytest.mark.parametrize("kind", ["deep_json", "wrong_types", "scaler_shorter_than_products", "no_networks",
                                  "network_outside_the_run", "huge_hidden_size", "symlinked_weights",
                                  "bit_flipped_weights", "nan_weights", "no_checksums", "infinite_best_epochs",
                                  "infinite_lags", "infinite_rolling_windows"])
def test_a_tampered_run_is_refused_with_a_user_error(tmp_path, trained_small, kind):
    run = save(trained_small, tmp_path)
    _tamper(run, kind)
    with pytest.raises(ForecasterError):
        load(run)


def test_a_symlinked_run_config_is_refused(tmp_path, trained_small):
    run = save(trained_small, tmp_path)
    real = tmp_path / "elsewhere.json"
    (run / "config.json").rename(real)
    (run / "config.json").symlink_to(real)
    with pytest.raises(ForecasterError, match="link"):
        load(run)


def test_weights_scaled_to_absurd_forecasts_are_refused_even_with_a_matching_checksum(tmp_path, trained_small,
                                                                                     small_panel):
    import hashlib

    run = save(trained_small, tmp_path)
    meta = json.loads((run / "config.json").read_text())
    for name in meta["networks"]:
        state = torch.load(run / name, weights_only=True)
        torch.save({k: v * 1e6 if v.is_floating_point() else v for k, v in state.items()}, run / name)
        meta["sha256"][name] = hashlib.sha256((run / name).read_bytes()).hexdigest()
    (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ForecasterError, match="busiest day"):
        forecast(load(run), small_panel)


def test_a_float_where_a_count_belongs_is_refused_not_a_traceback(tmp_path, trained_small):
    run = save(trained_small, tmp_path)
    meta = json.loads((run / "config.json").read_text())
    meta["config"]["hidden_size"] = 8.0
    (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ForecasterError, match="hidden size"):
        load(run)


def test_the_calibration_arrays_are_checked_and_a_run_saved_with_them_in_json_still_loads(tmp_path, trained_small,
                                                                                         small_panel):
    """The per-product calibration lives in calibration.npz (a 10,000-product run's config.json was 30 MB of
    it): a changed file is refused by its checksum; a run saved before the file, arrays in config.json, loads
    and forecasts the same."""
    run = save(trained_small, tmp_path)
    expected = forecast(trained_small, small_panel, horizon=3)
    pd.testing.assert_frame_equal(forecast(load(run), small_panel, horizon=3), expected)
    meta = json.loads((run / "config.json").read_text())
    (run / "calibration.npz").unlink()
    meta["calibration"] = trained_small.calibration.to_dict()  # the shape saved before
    (run / "config.json").write_text(json.dumps(meta))
    pd.testing.assert_frame_equal(forecast(load(run), small_panel, horizon=3), expected)
    changed = save(trained_small, tmp_path / "changed")
    with np.load(changed / "calibration.npz") as arrays:
        data = {k: arrays[k] for k in arrays.files}
    data["offsets"] = data["offsets"] * 2
    np.savez(changed / "calibration.npz", **data)
    with pytest.raises(ForecasterError, match="checksum"):
        load(changed)
