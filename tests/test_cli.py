"""The command line end to end on the demo data: demo -> train (every --*-out flag and --save) -> forecast
with the saved run. The CSV columns are a contract; rejected input exits 2 with one line, no traceback."""
from __future__ import annotations

import os
import subprocess
import time
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from forecaster.cli import _config, _ingest_options, main, parser

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # generous: other CPU-heavy jobs may share this machine
TEST_DAYS = 28
SMALL = ["--lags", "7", "--seq-len", "3", "--epochs", "2", "--ensemble", "1", "--conv-channels", "8",
         "--hidden-size", "8", "--test-days", str(TEST_DAYS), "--seed", "0", "--device", "cpu"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}  # tiny model on a shared machine: one thread (see conftest.one_torch_thread)
    return subprocess.run([sys.executable, "-m", "forecaster", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def demo_csv(workdir) -> Path:
    out = workdir / "demo.csv"
    done = cli("demo", "--out", out, cwd=workdir)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def trained_run(workdir, demo_csv) -> dict:
    paths = {k: workdir / f"{k}.csv" for k in ("forecast", "metrics", "predictions")}
    done = cli("train", demo_csv, *SMALL, "--forecast-out", paths["forecast"], "--metrics-out", paths["metrics"],
               "--predictions-out", paths["predictions"], "--save", workdir / "runs", cwd=workdir)
    assert done.returncode == 0, done.stderr
    return {"proc": done, **paths, "runs": workdir / "runs"}


def test_demo_writes_a_long_csv_of_daily_demand(demo_csv):
    demo = pd.read_csv(demo_csv)
    assert list(demo.columns) == ["date", "product", "quantity"]
    assert demo["product"].nunique() == 20
    assert pd.to_datetime(demo["date"]).nunique() == 1095
    assert (demo["quantity"] >= 0).all()


def test_train_exits_zero_and_prints_the_metrics_table(trained_run):
    proc = trained_run["proc"]
    assert "Traceback" not in proc.stderr
    for method in ("network", "naive", "seasonal_naive"):
        assert method in proc.stdout


def test_forecast_csv_is_date_product_forecast_for_the_day_after_the_last(trained_run, demo_csv):
    fc = pd.read_csv(trained_run["forecast"])
    demo = pd.read_csv(demo_csv)
    assert list(fc.columns) == ["date", "product", "forecast", "lower", "median", "upper", "order_quantity",
                                "closed", "stopped", "level", "service_level"]
    assert sorted(fc["product"]) == sorted(demo["product"].unique())
    last = pd.to_datetime(demo["date"]).max()
    assert (pd.to_datetime(fc["date"]) == last + pd.Timedelta(days=1)).all()
    assert (fc["forecast"] >= 0).all()
    assert (fc["lower"] >= 0).all() and (fc["lower"] <= fc["median"]).all() and (fc["median"] <= fc["upper"]).all()
    assert (fc["order_quantity"] >= fc["median"]).all() and (fc["order_quantity"] % 1 == 0).all()  # whole units
    assert (fc["level"] == 0.8).all() and (fc["service_level"] == 0.9).all()


def test_level_and_service_level_flags_change_the_band_and_the_order(trained_run, demo_csv, workdir):
    run = next(trained_run["runs"].iterdir())
    out = workdir / "wide.csv"
    assert main(["forecast", "--model", str(run), "--data", str(demo_csv), "--forecast-out", str(out),
                 "--level", "0.95", "--service-level", "0.99"]) == 0
    wide, narrow = pd.read_csv(out), pd.read_csv(trained_run["forecast"])
    assert ((wide["upper"] - wide["lower"]) >= (narrow["upper"] - narrow["lower"]) - 1e-6).all()
    assert (wide["upper"] - wide["lower"]).sum() > (narrow["upper"] - narrow["lower"]).sum()
    assert (wide["order_quantity"] >= narrow["order_quantity"]).all() and (wide["level"] == 0.95).all()


@pytest.mark.parametrize("flag,value", [("--level", "80"), ("--level", "0.3"), ("--service-level", "1")])
def test_a_level_out_of_range_is_refused_naming_it(demo_csv, workdir, capsys, flag, value):
    out = workdir / "never.csv"
    assert main(["train", str(demo_csv), *SMALL, "--forecast-out", str(out), flag, value]) == 2
    err = capsys.readouterr().err
    assert flag.lstrip("-").replace("-", " ") in err and value in err and not out.exists()


def test_predictions_csv_covers_every_test_day_and_product(trained_run, demo_csv):
    pred = pd.read_csv(trained_run["predictions"])
    demo = pd.read_csv(demo_csv)
    assert list(pred.columns) == ["date", "product", "actual", "predicted", "lower", "upper"]
    assert ((pred["lower"] <= pred["upper"]) & (pred["lower"] >= 0)).all()
    assert len(pred) == TEST_DAYS * demo["product"].nunique()
    dates = sorted(pd.to_datetime(pred["date"]).unique())
    assert dates == list(pd.date_range(end=pd.to_datetime(demo["date"]).max(), periods=TEST_DAYS, freq="D"))
    actual = demo.assign(date=pd.to_datetime(demo["date"])).set_index(["date", "product"])["quantity"]
    merged = pred.assign(date=pd.to_datetime(pred["date"])).join(actual, on=["date", "product"])
    assert (merged["actual"] == merged["quantity"]).all()


def test_metrics_csv_has_one_row_per_product_with_network_and_baseline_maes(trained_run, demo_csv):
    metrics = pd.read_csv(trained_run["metrics"])
    demo = pd.read_csv(demo_csv)
    assert sorted(metrics["product"]) == sorted(demo["product"].unique())
    assert len(metrics) == demo["product"].nunique()
    for col in ("mae_network", "mae_naive", "mae_seasonal_naive", "interval_score_network",
                "interval_score_seasonal_naive"):
        assert col in metrics.columns and (metrics[col] >= 0).all()
    assert metrics["coverage_network"].between(0, 1).all() and (metrics["interval_level"] == 0.8).all()


def test_forecast_with_the_saved_run_reproduces_the_train_forecast(trained_run, demo_csv, workdir):
    runs = list(trained_run["runs"].iterdir())
    assert len(runs) == 1 and (runs[0] / "config.json").exists()
    out = workdir / "again.csv"
    done = cli("forecast", "--model", runs[0], "--data", demo_csv, "--forecast-out", out, cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == trained_run["forecast"].read_bytes()


def test_forecast_horizon_flag_gives_that_many_days(trained_run, demo_csv, workdir):
    run = next(trained_run["runs"].iterdir())
    out = workdir / "horizon.csv"
    assert main(["forecast", "--model", str(run), "--data", str(demo_csv), "--forecast-out", str(out),
                 "--horizon", "3"]) == 0
    fc = pd.read_csv(out)
    assert fc["date"].nunique() == 3 and len(fc) == 3 * 20


def check_one_line_error(code: int, stderr: str) -> str:
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_rejected_input_exits_2_with_one_line_and_no_traceback(workdir):
    """In a real process: nothing but the one error line reaches stderr."""
    single = workdir / "single_day.csv"
    single.write_text("date,product,quantity\n2024-01-01,A,1\n2024-01-01,B,2\n")
    done = cli("train", single, *SMALL, cwd=workdir)
    assert "Traceback" not in done.stdout
    assert "single day" in check_one_line_error(done.returncode, done.stderr)


def run_main(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def test_unparseable_dates_exit_2_naming_the_column(workdir, capsys):
    bad_dates = workdir / "bad_dates.csv"
    bad_dates.write_text("date,product,quantity\n2024-01-01,A,1\nyesterday,A,2\n")
    assert "'date'" in check_one_line_error(*run_main(capsys, "train", bad_dates, *SMALL))


def test_missing_file_and_bad_model_directory_exit_2(workdir, demo_csv, capsys):
    assert "missing.csv" in check_one_line_error(*run_main(capsys, "train", workdir / "missing.csv", *SMALL))
    not_a_run = workdir / "not_a_run"
    not_a_run.mkdir(exist_ok=True)
    line = check_one_line_error(*run_main(capsys, "forecast", "--model", not_a_run, "--data", demo_csv,
                                          "--forecast-out", workdir / "x.csv"))
    assert "saved model" in line


def test_training_that_diverges_exits_2_without_a_traceback(demo_csv, capsys):
    line = check_one_line_error(*run_main(capsys, "train", demo_csv, *SMALL, "--model", "cnn_lstm", "--lr", "1e38",
                                          "--quiet"))
    assert "learning rate" in line


def test_bad_flags_exit_2_before_any_training(demo_csv, capsys, trained_run, workdir):
    run = next(trained_run["runs"].iterdir())
    assert "--rolling" in check_one_line_error(*run_main(capsys, "train", demo_csv, *SMALL, "--rolling", "7,x"))
    assert "--horizon" in check_one_line_error(*run_main(capsys, "train", demo_csv, *SMALL, "--horizon", "0"))
    line = check_one_line_error(*run_main(capsys, "forecast", "--model", run, "--data", demo_csv,
                                          "--forecast-out", workdir / "x.csv", "--horizon", "1000"))
    assert "--horizon" in line
    if not torch.cuda.is_available():  # a forced GPU that is absent is named as such, not as damaged weights
        line = check_one_line_error(*run_main(capsys, "forecast", "--model", run, "--data", demo_csv,
                                              "--forecast-out", workdir / "x.csv", "--device", "cuda"))
        assert "CUDA" in line


def test_contract_flags_reach_the_ingest_options_and_the_config():
    a = parser().parse_args(["train", "x.csv", "--format", "long", "--date-col", "day", "--product-col", "store",
                             "--product-col", "item", "--quantity-col", "units", "--dayfirst", "--keep-returns",
                             "--lags", "1,7,14", "--seq-len", "5", "--epochs", "3", "--test-days", "21", "--seed", "4",
                             "--device", "cpu", "--model", "cnn_lstm", "--hidden-size", "12", "--forecast-out", "f.csv",
                             "--metrics-out", "m.csv", "--predictions-out", "p.csv", "--save", "runs"])
    opts = _ingest_options(a)
    assert (opts.format, opts.date_col, opts.product_cols, opts.quantity_col) == ("long", "day", ("store", "item"), "units")
    assert opts.dayfirst is True and opts.keep_returns is True
    config = _config(a)
    assert (config.lags, config.seq_len, config.epochs, config.test_days, config.seed) == ((1, 7, 14), 5, 3, 21, 4)
    assert (config.device, config.model, config.hidden_size) == ("cpu", "cnn_lstm", 12)
    defaults = _ingest_options(parser().parse_args(["train", "x.csv"]))
    assert defaults.dayfirst is None and defaults.keep_returns is False  # detected / dropped unless asked
    assert _config(parser().parse_args(["train", "x.csv", "--lags", "7"])).lags == tuple(range(1, 8))


def test_an_output_that_is_the_input_is_refused_and_the_input_is_untouched(demo_csv, capsys, tmp_path):
    data = tmp_path / "history.csv"
    data.write_bytes(demo_csv.read_bytes())
    link = tmp_path / "link.csv"
    link.symlink_to(data)
    for out in (str(data), str(tmp_path / "." / "history.csv"), str(link)):
        code, err = run_main(capsys, "train", str(data), *SMALL, "--forecast-out", out)
        assert code == 2 and "overwrite your data" in err
    assert data.read_bytes() == demo_csv.read_bytes()


def test_csv_outputs_are_written_atomically(tmp_path, monkeypatch):
    """A failure while writing leaves the old file (or none) and no temporary file behind."""
    from forecaster.io import export

    target = tmp_path / "forecast.csv"
    target.write_text("old")
    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(export.os, "replace", fail)  # the temporary file is written, the rename fails
    with pytest.raises(OSError):
        export.write_csv(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["forecast.csv"]


def test_outputs_that_are_folders_or_inside_the_run_are_refused_before_any_work(trained_run, demo_csv, capsys, tmp_path):
    code, err = run_main(capsys, "train", demo_csv, *SMALL, "--forecast-out", tmp_path)
    assert code == 2 and "is a folder" in err
    run = next(trained_run["runs"].iterdir())
    before = (run / "config.json").read_bytes()
    for target in ("config.json", "network_0.pt"):
        code, err = run_main(capsys, "forecast", "--model", run, "--data", demo_csv, "--forecast-out", run / target)
        assert code == 2 and "inside the saved run" in err
    assert (run / "config.json").read_bytes() == before


def test_outputs_that_are_special_files_or_in_unwritable_folders_are_refused_before_any_work(demo_csv, capsys,
                                                                                              tmp_path, monkeypatch):
    """Write-to-temp-then-rename used to swap out whatever stood at the output path (a device, a FIFO, a
    link) and an unwritable folder failed only after the whole training."""
    import os

    import forecaster.cli as cli_module

    monkeypatch.setattr(cli_module, "_train_with", lambda *a, **k: pytest.fail("trained before refusing"))
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to("/proc/self/fd/no-such-fd")  # as /dev/stdout is when standard output is a pipe
    for out, says in ((fifo, "not a regular file"), ("/dev/null", "not a regular file"),
                      (dangling, "link to nothing"), ("/proc/forecast.csv", "cannot be written")):
        code, err = run_main(capsys, "train", demo_csv, *SMALL, "--forecast-out", out)
        assert code == 2 and says in err, (out, err)
    assert fifo.exists() and not fifo.is_file() and dangling.is_symlink()  # nothing replaced


def test_an_output_that_links_to_a_file_writes_that_file_and_keeps_the_link(tmp_path):
    from forecaster.io.export import write_bytes

    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_bytes(b"new", link)
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_backtest_origins_flag_prints_one_row_per_cut_off_and_method(demo_csv, workdir):
    done = cli("train", demo_csv, *SMALL, "--backtest-origins", "2", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "rolling backtest" in done.stderr
    rows = [line for line in done.stdout.splitlines() if line.split()[:1] in (["0"], ["1"])]
    assert len(rows) == 2 * 6  # two cut-offs, the network, three baselines and two reference rows each


def test_candidate_flags_are_kept_and_a_conflict_with_a_named_model_is_refused():
    from forecaster.cli import _config, parser
    from forecaster.errors import ForecasterError

    args = parser().parse_args(["train", "x.csv", "--candidate", "global_gru_attention", "--candidate", "cnn_lstm"])
    assert _config(args).candidates == ("global_gru_attention", "cnn_lstm")
    args = parser().parse_args(["train", "x.csv", "--candidate", "cnn_lstm", "--model", "global_cnn_lstm"])
    with pytest.raises(ForecasterError, match="--candidate"):
        _config(args)


def test_only_multi_output_candidates_over_their_product_limit_are_refused_before_training(demo_csv, workdir,
                                                                                           capsys):
    out = workdir / "never.csv"
    assert main(["train", str(demo_csv), *SMALL, "--forecast-out", str(out), "--candidate", "cnn_lstm",
                 "--multi-output-max-products", "5"]) == 2
    err = capsys.readouterr().err
    assert "multi_output_max_products" in err and "5 products" in err and not out.exists()


def test_workers_flag_with_a_ray_cluster_named_is_refused_naming_both(demo_csv, workdir, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    done = cli("train", demo_csv, "--workers", "2", "--forecast-out", workdir / "never.csv", cwd=workdir)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "--workers" in done.stderr and "RAY_ADDRESS" in done.stderr
    assert not (workdir / "never.csv").exists()


def test_ctrl_c_exits_130_with_one_line_and_no_traceback(demo_csv, workdir, capsys, monkeypatch):
    import forecaster.data.ingest

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(forecaster.data.ingest, "load_panel", interrupted)  # Ctrl-C while the CSV is read
    assert main(["train", str(demo_csv), "--workers", "2", "--forecast-out", str(workdir / "f.csv")]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"
    assert not (workdir / "f.csv").exists()


@pytest.mark.parametrize("extra, says", [((), "settings need at least"), (("--val-days", "0"), "validation days")])
def test_settings_the_data_cannot_train_are_refused_before_any_worker_starts(workdir, capsys, monkeypatch,
                                                                             extra, says):
    from forecaster.run.executor import ProcessExecutor

    started = []
    monkeypatch.setattr(ProcessExecutor, "start", lambda self: started.append(self))
    short = workdir / "short.csv"
    short.write_text("date,product,quantity\n" + "".join(f"2024-01-{d:02d},A,{d % 5}\n" for d in range(1, 31)))
    data = short if not extra else workdir / "demo_120_days.csv"  # not the module's shared demo.csv
    if extra:
        main(["demo", "--out", str(data), "--products", "2", "--days", "120"])
    assert main(["train", str(data), "--workers", "2", *extra, "--forecast-out", str(workdir / "f.csv")]) == 2
    assert says in capsys.readouterr().err
    assert started == []


def test_demo_refuses_a_negative_seed_readably(capsys, tmp_path):
    code, err = run_main(capsys, "demo", "--out", tmp_path / "d.csv", "--seed", "-1")
    assert code == 2 and "--seed goes from 0" in err and "Traceback" not in err


def test_settings_that_would_need_far_more_memory_than_the_server_has_are_refused_before_training(workdir, tmp_path):
    """Each within its own range, together they asked for gigabytes at once (issue 24): refused in seconds, the
    process staying small, naming the budget and what to lower."""
    data = tmp_path / "demo.csv"
    assert cli("demo", "--out", data, cwd=workdir).returncode == 0  # the demo's three years
    # peak memory of this process since exec (VmHWM; ru_maxrss would keep the forking test process's size)
    code = ("import re, sys\nfrom forecaster.cli import main\n"
            f"rc = main(['train', {str(data)!r}, '--seq-len', '366', '--batch-size', '65536', "
            "'--conv-channels', '1024', '--hidden-size', '1024'])\n"
            "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
            "print('maxrss_kib', peak)\nsys.exit(rc)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FORECASTER_MEMORY_GIB": "4"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 2, done.stderr
    assert time.perf_counter() - start < 15  # the process start and imports included; the check itself is instant
    assert "over this server's budget of 4 GiB" in done.stderr and "Lower the batch size" in done.stderr
    assert int(done.stdout.split("maxrss_kib")[1]) < 1024 * 1024  # under 1 GiB


def test_forecast_data_with_a_product_the_model_never_saw_says_it_is_not_forecast(trained_run, demo_csv, capsys,
                                                                                    tmp_path):
    data = pd.read_csv(demo_csv)
    extra = data[data["product"] == data["product"].iloc[0]].assign(product="New product")
    with_new = tmp_path / "with_new.csv"
    pd.concat([data, extra]).to_csv(with_new, index=False)
    run = next(trained_run["runs"].iterdir())
    code, err = run_main(capsys, "forecast", "--model", run, "--data", with_new, "--forecast-out", tmp_path / "f.csv")
    assert code == 0 and "1 product(s) in the data were not in the trained model" in err and "'New product'" in err
    assert "New product" not in set(pd.read_csv(tmp_path / "f.csv")["product"])


def test_an_output_named_dash_goes_to_standard_output_alone(trained_run, demo_csv, workdir):
    """Outputs are regular files or - (issue 24): with -, the CSV is all that standard output carries (the
    tables go to stderr), so it can be piped."""
    import io

    run = next(trained_run["runs"].iterdir())
    done = cli("forecast", "--model", run, "--data", demo_csv, "--forecast-out", "-", cwd=workdir)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(io.StringIO(done.stdout))
    assert {"date", "product", "forecast"} <= set(table.columns) and len(table) == 20
    done = cli("train", demo_csv, *SMALL, "--metrics-out", "-", cwd=workdir)
    assert done.returncode == 0, done.stderr
    metrics = pd.read_csv(io.StringIO(done.stdout))
    assert "product" in metrics.columns and len(metrics) == 20
    assert "seasonal_naive" in done.stderr  # the printed comparison table went to stderr


def test_a_command_that_runs_out_of_memory_says_what_to_lower(monkeypatch, capsys):
    """torch's CPU allocator raises RuntimeError, not MemoryError: it was a traceback (issue 24)."""
    import torch

    from forecaster import cli

    monkeypatch.setattr(cli, "_demo", lambda a: torch.empty(10**14))
    assert cli.main(["demo", "--out", "-"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Training ran out of memory") and "Traceback" not in err
    monkeypatch.setattr(cli, "_demo", lambda a: (_ for _ in ()).throw(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):  # any other RuntimeError is still a bug
        cli.main(["demo", "--out", "-"])


def test_holidays_flag_marks_a_country_and_the_files_country_is_named(capsys, tmp_path):
    """Issue 26: --holidays GB trains with the calendar and saves it; without the flag the log's Country
    column is named as the calendar it could use; an unknown code exits 2 naming it."""
    from conftest import invoice_log
    from forecaster.io.persistence import load

    log = tmp_path / "invoices.csv"
    log.write_bytes(invoice_log(days=120))
    code, err = run_main(capsys, "train", log, *SMALL, "--holidays", "gb", "--save", tmp_path / "runs",
                         "--forecast-out", tmp_path / "g.csv")
    assert code == 0 and "public holidays of GB are features" in err
    assert load(next((tmp_path / "runs").iterdir())).config.holidays == "GB"
    code, err = run_main(capsys, "train", log, *SMALL, "--forecast-out", tmp_path / "f.csv")
    assert code == 0 and "no public holidays: the file's country column names GB, and --holidays GB" in err
    assert "Unknown holiday calendar 'XX'" in check_one_line_error(
        *run_main(capsys, "train", log, *SMALL, "--holidays", "XX"))


def test_drivers_train_forecast_from_a_future_file_and_a_saved_run_reads_them_again(workdir, capsys):
    """--driver reads a promotion column, --future gives its values on the days forecast, and the saved
    run forecasts with the same drivers from the same file; what cannot work is refused naming it."""
    from forecaster.data.demo import promotion_demo_long

    history = promotion_demo_long(n_products=2, days=200, seed=4)
    data = workdir / "promo.csv"
    history.to_csv(data, index=False)
    days = pd.date_range(history["date"].max() + pd.Timedelta(days=1), periods=3)
    future = workdir / "future.csv"
    pd.DataFrame({"date": days.repeat(2), "product": ["P0", "P1"] * 3, "promo": [0, 0, 0, 1, 0, 0]}).to_csv(future,
                                                                                                     index=False)
    out, runs = workdir / "promo_forecast.csv", workdir / "promo_runs"
    assert main(["train", str(data), *SMALL, "--driver", "promo", "--future", str(future), "--horizon", "3",
                 "--forecast-out", str(out), "--save", str(runs)]) == 0
    assert "drivers: promo (known ahead)" in capsys.readouterr().err
    trained = pd.read_csv(out)
    assert len(trained) == 6
    again = workdir / "promo_again.csv"
    run = next(runs.iterdir())
    assert main(["forecast", "--model", str(run), "--data", str(data), "--future", str(future), "--horizon", "3",
                 "--forecast-out", str(again)]) == 0  # the run's drivers, without naming them again
    pd.testing.assert_frame_equal(pd.read_csv(again), trained)
    capsys.readouterr()
    assert main(["forecast", "--model", str(run), "--data", str(data), "--future", str(future),
                 "--forecast-out", str(workdir / "one.csv")]) == 0  # a trial: 3 days given, 1 forecast, no word
    assert "the future values run to" in capsys.readouterr().err and len(pd.read_csv(workdir / "one.csv")) == 2
    assert main(["forecast", "--model", str(run), "--data", str(data), "--horizon", "3", "--forecast-out",
                 str(workdir / "x.csv")]) == 2
    assert "No future value of the driver 'promo' for product 'P0'" in capsys.readouterr().err
    assert main(["forecast", "--model", str(run), "--data", str(data), "--driver", "price", "--forecast-out",
                 str(workdir / "x.csv")]) == 2
    assert "trained with the drivers promo" in capsys.readouterr().err
    assert main(["train", str(data), *SMALL, "--driver", "promo", "--forecast-out", str(workdir / "x.csv")]) == 2
    assert "--future FILE" in capsys.readouterr().err  # before any training
    assert main(["train", str(data), *SMALL, "--future", str(future), "--forecast-out", str(workdir / "x.csv")]) == 2
    assert "no known-ahead driver is read" in capsys.readouterr().err
    # a trial: train --save without --future trained, then refused to forecast and threw the run away
    kept = workdir / "promo_kept"
    assert main(["train", str(data), *SMALL, "--driver", "promo", "--save", str(kept)]) == 0
    assert "no forecast: it needs the future values of the known-ahead driver 'promo'" in capsys.readouterr().err
    assert len(list(kept.iterdir())) == 1


def test_a_future_file_that_cannot_serve_the_forecast_is_refused_before_training(workdir, capsys, monkeypatch):
    """A future file with a text price, or without a day the forecast covers, is refused naming the row or
    the product and day, before anything trains."""
    import forecaster.run.fit

    from forecaster.data.demo import promotion_demo_long

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the future file was checked")

    monkeypatch.setattr(forecaster.run.fit, "fit", no_training)
    history = promotion_demo_long(n_products=2, days=120, seed=4)
    data = workdir / "promo_check.csv"
    history.to_csv(data, index=False)
    days = pd.date_range(history["date"].max() + pd.Timedelta(days=1), periods=2)
    future = pd.DataFrame({"date": days.repeat(2), "product": ["P0", "P1"] * 2, "promo": ["0", "1", "0", "x"]})
    bad = workdir / "future_bad.csv"
    future.to_csv(bad, index=False)
    assert main(["train", str(data), *SMALL, "--driver", "promo", "--future", str(bad), "--forecast-out",
                 str(workdir / "x.csv")]) == 2
    assert "spreadsheet row 5 holds 'x'" in capsys.readouterr().err
    short = workdir / "future_short.csv"
    future.iloc[:2].to_csv(short, index=False)
    assert main(["train", str(data), *SMALL, "--driver", "promo", "--future", str(short), "--horizon", "2",
                 "--forecast-out", str(workdir / "x.csv")]) == 2
    assert f"No future value of the driver 'promo' for product 'P0' on {days[1]:%a %d %b %Y}" in capsys.readouterr().err


def test_a_run_kept_in_the_store_is_listed_forecasts_tracks_and_exports(workdir, tmp_path, monkeypatch, capsys):
    """train --save alone keeps the run in the store under FORECASTER_HOME; runs list/show name it; forecast
    --run forecasts as the run did; track scores its kept forecast on a later file; export gives a folder
    forecast --model reads; delete forgets it."""
    monkeypatch.setenv("FORECASTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FORECASTER_DB_URL", raising=False)
    full = workdir / "small_demo.csv"
    assert main(["demo", "--out", str(full), "--products", "3", "--days", "200"]) == 0
    sales = pd.read_csv(full)
    last_week = sorted(sales["date"].unique())[-7:]
    history = tmp_path / "history.csv"
    sales[~sales["date"].isin(last_week)].to_csv(history, index=False)
    trained_fc = tmp_path / "fc.csv"
    # `--save` alone before the data: argparse hands the file to --save, the command reads it as the data
    assert main(["train", "--save", str(history), *SMALL, "--forecast-out", str(trained_fc), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["runs", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 1 and "'history.csv'" in listed[0]
    run_id = listed[0].split()[0]
    assert main(["runs", "show", run_id[:6]]) == 0 and run_id in capsys.readouterr().out
    from forecaster.config import IngestOptions
    from forecaster.io.store import RunStore

    kept = RunStore().files(run_id)  # the file and how it was read: the dashboard opens the run with its data
    assert kept.upload == history.read_bytes() and kept.ingest == IngestOptions()
    again = tmp_path / "again.csv"
    assert main(["forecast", "--run", run_id, "--data", str(history), "--forecast-out", str(again)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(again), pd.read_csv(trained_fc))
    tracked = tmp_path / "tracked.csv"
    assert main(["track", "--run", run_id, "--data", str(full), "--out", str(tracked)]) == 0
    out = capsys.readouterr()
    assert "7 day(s)" in out.err
    days = pd.read_csv(tracked)
    assert sorted(days["date"].unique()) == last_week and days["product"].nunique() == 3
    assert main(["runs", "export", run_id, str(tmp_path / "exported")]) == 0
    via_model = tmp_path / "via_model.csv"
    assert main(["forecast", "--model", str(tmp_path / "exported"), "--data", str(history),
                 "--forecast-out", str(via_model)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(via_model), pd.read_csv(trained_fc))
    assert main(["runs", "delete", run_id]) == 0
    code, err = run_main(capsys, "track", "--run", run_id, "--data", full)
    assert code == 2 and "No run" in err
