"""python -m forecaster train | forecast | demo. Rejected input exits with code 2 and one line on stderr."""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .config import (DEFAULT_SERVER, DEVICES, TOTAL_DAYS, ForecastConfig, IngestOptions, IntervalOptions,
                     ServerSettings, cli_flag, help_text, shown_default, parse_days, parse_lags)
from .errors import OUT_OF_MEMORY, ForecasterError, out_of_memory
from .labels import AUTO

STORE = "\0store"  # --save given alone: keep the run in the run store

if TYPE_CHECKING:
    from .model.tasks import Executor

PARSERS = {"lags": parse_lags, "days": parse_days}


def _add_settings(group: argparse._ArgumentGroup, options: type) -> None:
    """One flag per field of a settings dataclass, its help, default and choices read from the field."""
    for f in dataclasses.fields(options):
        meta = f.metadata
        shown = shown_default(f)
        kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": f"{meta['help']} (default: {shown})"}
        if f.type.startswith("bool"):  # on/off, or detected when neither flag is given
            kwargs["action"] = argparse.BooleanOptionalAction
        elif meta.get("repeat"):
            kwargs.update(action="append", metavar="NAME")
            if "choices" in meta:
                kwargs.update(choices=meta["choices"], metavar=None)
        elif "parse" in meta:
            kwargs["metavar"] = "DAYS"
        elif "choices" in meta:
            kwargs["choices"] = meta["choices"]
        else:
            kwargs["type"] = {"int": int, "float": float}.get(f.type, str)
            kwargs["metavar"] = "N" if f.type in ("int", "float") else "NAME"
        group.add_argument(cli_flag(f), *meta.get("aliases", ()), **kwargs)


def _settings(options: type, a: argparse.Namespace, base: Any) -> Any:
    """The dataclass ``base`` with every flag the user gave; flags left out keep the default."""
    changes = {}
    for f in dataclasses.fields(options):
        value = getattr(a, f.name, None)
        if value is None:
            continue
        parse = PARSERS.get(f.metadata.get("parse", ""))
        try:
            changes[f.name] = parse(value) if parse else tuple(value) if isinstance(f.default, tuple) else value
        except ForecasterError as exc:
            raise ForecasterError(f"{cli_flag(f)}: {exc}") from None
    return dataclasses.replace(base, **changes)


def _ingest_options(a: argparse.Namespace) -> IngestOptions:
    return _settings(IngestOptions, a, IngestOptions())


def _config(a: argparse.Namespace) -> ForecastConfig:
    config = _settings(ForecastConfig, a, ForecastConfig())
    if a.candidates is not None and config.model != AUTO:  # a flag given must not be ignored silently
        raise ForecasterError(f"--candidate names what --model auto chooses among; with --model {config.model} "
                              "leave it out, or use --model auto.")
    return config


def _add_forecast_outputs(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--future", metavar="FILE",
                   help="CSV of the known-ahead drivers' values (price, promotion, event) for the days to forecast: "
                        "the history's date and product columns and the driver columns, one row per product and day")
    p.add_argument("--horizon", type=int, default=1,
                   help="days to forecast from the next trading day (closed days in between are forecast 0)")
    p.add_argument("--forecast-out", required=required,
                   help="CSV: date,product,forecast,lower,median,upper,order_quantity,closed,level,service_level")
    p.add_argument("--total-days", type=int, default=TOTAL_DAYS, metavar="K",
                   help="days the --total-out total covers, from the next trading day: a lead time plus review "
                        f"period (default: {TOTAL_DAYS})")
    p.add_argument("--total-out", help="CSV: product,first_day,last_day,days,forecast,lower,median,upper,"
                                       "order_quantity,level,service_level: each product's total over the next "
                                       "--total-days days, its range and the order-up-to quantity")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m forecaster", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on a purchase CSV, evaluate on the last test days, forecast")
    t.add_argument("data", nargs="?", help="purchase CSV (.csv or .csv.gz)")
    _add_settings(t.add_argument_group("reading the CSV"), IngestOptions)
    _add_settings(t.add_argument_group("features, model and training"), ForecastConfig)
    _add_settings(t.add_argument_group("prediction intervals and order quantities"), IntervalOptions)
    _add_forecast_outputs(t, required=False)
    t.add_argument("--metrics-out", help="CSV: one row per product, MAE, interval coverage and interval score of "
                                         "the model and each baseline")
    t.add_argument("--predictions-out", help="CSV: date,product,actual,predicted,lower,upper over the test span")
    t.add_argument("--save", nargs="?", const=STORE, metavar="DIR",
                   help="keep the run: alone, in the run store (FORECASTER_HOME, FORECASTER_DB_URL; `runs list` "
                        "shows it, and so does the dashboard's Runs page); with a folder, a timestamped run "
                        "directory under it instead")
    t.add_argument("--workers", type=int, metavar="N",
                   help=f"{help_text(ServerSettings, 'workers')} (default here: {DEFAULT_SERVER.workers})")
    t.add_argument("--quiet", action="store_true", help="print only the metrics table")
    f = sub.add_parser("forecast", help="forecast with a saved model")
    which = f.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="a run directory written by train --save DIR (or runs export)")
    which.add_argument("--run", metavar="ID", help="a run in the run store (see runs list)")
    f.add_argument("--data", required=True, help="purchase CSV with the products the model was trained on")
    _add_settings(f.add_argument_group("reading the CSV"), IngestOptions)
    _add_settings(f.add_argument_group("prediction intervals and order quantities"), IntervalOptions)
    _add_forecast_outputs(f, required=True)
    f.add_argument("--device", choices=DEVICES, default="cpu", help="where to run the network (default: cpu)")
    _add_store_commands(sub)
    d = sub.add_parser("demo", help="write the embedded demo dataset (generated, not real sales)")
    d.add_argument("--out", required=True, help="CSV file to write")
    d.add_argument("--products", type=int, default=20, help="number of made-up products (default: 20)")
    d.add_argument("--days", type=int, default=1095, help="days of history (default: 1095)")
    d.add_argument("--seed", type=int, default=7, help="random seed of the generator (default: 7)")
    return p


def _add_store_commands(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("runs", help="the run store: list, show, export or delete kept runs")
    rs = r.add_subparsers(dest="action", required=True)
    rs.add_parser("list", help="every kept run, newest first")
    for action, text in (("show", "one run's data, settings, errors and per-product scores"),
                         ("delete", "forget a run: its rows, share links and files")):
        rs.add_parser(action, help=text).add_argument("id", help="run id (or its first characters)")
    e = rs.add_parser("export", help="copy a run's model to a folder that forecast --model reads")
    e.add_argument("id", help="run id (or its first characters)")
    e.add_argument("folder", help="a new folder")
    k = sub.add_parser("track", help="a kept run's forecast against what sold on the days it forecast")
    k.add_argument("--run", required=True, metavar="ID", help="run id (see runs list)")
    k.add_argument("--data", required=True, help="purchase CSV that covers days after the run's history")
    _add_settings(k.add_argument_group("reading the CSV"), IngestOptions)
    k.add_argument("--out", help="CSV: one row per product and day forecast that has happened, actual beside it")


def _train(a: argparse.Namespace) -> None:
    """Read, train, evaluate, forecast and write. The workers' fork server starts first, importing torch and
    the training code while this process imports pandas and reads the CSV (both cores busy, neither
    waiting for the other); the workers start once the CSV is read and end with the command."""
    from .run.backends import make_executor

    start = time.perf_counter()
    if a.data is None:  # `train --save sales.csv`: --save alone, then the data (argparse gave the file to --save)
        if a.save not in (None, STORE) and Path(a.save).is_file():
            a.data, a.save = a.save, STORE
        else:
            raise ForecasterError("Name the purchase CSV to train on: python -m forecaster train sales.csv ...")
    config = _config(a)
    intervals = _settings(IntervalOptions, a, IntervalOptions())
    _check_horizon(a.horizon, a.total_days)
    _check_outputs(a.data, a.forecast_out, a.metrics_out, a.predictions_out, a.total_out)
    if a.save and a.save != STORE and Path(a.save).exists() and not Path(a.save).is_dir():
        raise ForecasterError(f"--save {a.save!r} is a file; give a folder for the run directories.")
    if a.save == STORE:  # a store that cannot be opened is said before the training, not after it
        from .io.store import RunStore

        RunStore().close()
    server = ServerSettings.from_env()
    if a.workers is not None and server.ray_address:  # both name where to train: neither is ignored
        raise ForecasterError(f"--workers trains on this machine, but RAY_ADDRESS names a Ray cluster "
                              f"({server.ray_address!r}); unset RAY_ADDRESS or leave out --workers.")
    if a.workers is not None:
        server = dataclasses.replace(server, workers=a.workers)
    if config.model != AUTO and config.ensemble == 1:  # one network: nothing to train side by side
        server = dataclasses.replace(server, workers=0)
    executor = make_executor(server)
    try:
        with _stdout_for_outputs(a.forecast_out, a.metrics_out, a.predictions_out, a.total_out):
            _train_with(a, config, intervals, executor, start, server)
    finally:
        executor.shutdown(wait=False)  # done or failed: workers still starting need not finish importing


def _train_with(a: argparse.Namespace, config: ForecastConfig, intervals: IntervalOptions, executor: Executor,
                start: float, server: ServerSettings = DEFAULT_SERVER) -> None:
    if config.device != "auto":  # a forced device that is absent: say so before reading and training
        from .device import resolve_device

        resolve_device(config.device)
    from .run.executor import ProcessExecutor  # torch-free

    if isinstance(executor, ProcessExecutor):
        executor.start_fork_server()  # returns at once: it imports torch while this process reads the CSV
    from .data.ingest import load_panel  # pandas only

    ingested = load_panel(a.data, _ingest_options(a))
    _check_before_training(ingested, config, a, server)
    future = _future_values(ingested.drivers, ingested, a)  # read and checked before the training, not after
    _check_future_covers(ingested, future, a, config.closed_days, config.holidays)
    executor.start()  # in the background (forked from the fork server, the workers start in a blink)

    from .io.export import metrics_table, write_csv
    from .results.evaluation import evaluate
    from .run.fit import fit

    say = (lambda *x: None) if a.quiet else (lambda *x: print(*x, file=sys.stderr))
    _announce(ingested, config, say)

    clock = _StageClock(start)
    clock.mark("read")

    def progress(rec):
        clock.last_epoch = time.perf_counter()
        val = f" val {rec.val_loss:.4f}" if rec.val_loss is not None else ""
        test = "test" + (f" (sample of {rec.test_sample:,})" if rec.test_sample else "")
        # networks that trained side by side report one after another, so the run's count moves in jumps
        say(f"member {rec.member + 1} epoch {rec.epoch}/{rec.epochs} train {rec.train_loss:.4f}{val} "
            f"{test} {rec.test_loss:.4f} [run: {rec.done_epochs}/{rec.total_epochs} epochs]")

    trained = fit(ingested.panel, config, callback=progress, executor=executor, drivers=ingested.drivers)
    clock.mark("training", clock.last_epoch)
    clock.mark("choice and intervals")
    if config.yearly == "auto" and trained.config.yearly == "on":
        say(f"the history holds {len(ingested.panel):,} days: the same weekday a year earlier (lag 364) was added "
            "to the lags (--yearly off leaves it out)")
    if trained.selection_reason:
        say(trained.selection_reason)
    ev = evaluate(trained, ingested.panel)
    clock.mark("evaluation")
    _print_evaluation(ev, trained, config, intervals, say)
    if a.metrics_out:
        write_csv(metrics_table(ev, intervals.level, ingested.catalog), a.metrics_out, inputs=(a.data,))
    if a.predictions_out:
        write_csv(ev.predictions_table(level=intervals.level), a.predictions_out, inputs=(a.data,))
    if a.save:  # before the forecast: a run trained is kept whatever the forecast then asks for
        say(_keep(trained, ingested, ev, a))
        clock.mark("kept")
    _forecast_or_say(trained, ingested, a, intervals, future, say)
    clock.mark("forecast and files")
    say(f"done in {time.perf_counter() - start:.1f}s ({clock})")


class _StageClock:
    """Seconds each stage of the train command took, for its last line (a run's time where it went)."""

    def __init__(self, start: float) -> None:
        self.at, self.stages, self.last_epoch = start, [], start

    def mark(self, stage: str, at: float | None = None) -> None:
        """``stage`` ended at ``at`` (now by default) and began where the previous one ended."""
        at = time.perf_counter() if at is None else max(at, self.at)
        self.stages.append((stage, at - self.at))
        self.at = at

    def __str__(self) -> str:
        return ", ".join(f"{stage} {seconds:.1f}s" for stage, seconds in self.stages)


def _announce(ingested: Any, config: ForecastConfig, say: Callable[..., None]) -> None:
    """What was read (notes even with --quiet: a reading the user should check) and what trains where."""
    from .device import device_label, resolve_device

    r = ingested.report
    say(f"read {r.rows_read:,} rows: {r.mapping.describe()}; {r.products} products x {r.days} days "
        f"({r.start.date()} to {r.end.date()}), {r.returns_dropped} returns dropped")
    for note in ((r.mapping.doubt,) if r.mapping.doubt else ()) + r.notes + _non_sales_note(r):
        print("note:", note, file=sys.stderr)
    say(_holiday_note(r.country, config.holidays))
    say(_driver_note(r, ingested.drivers))
    say(f"training {config.model} on {device_label(resolve_device(config.device))}")


def _keep(trained: Any, ingested: Any, ev: Any, a: argparse.Namespace) -> str:
    """--save: the run into the store (no folder given), with the file and how it was read, so that the
    dashboard opens it with its data; or into a timestamped folder under the one given."""
    if a.save != STORE:
        from .io.persistence import save

        return f"saved to {save(trained, a.save)}"
    from .io.store import RunStore, forecast_to_keep

    store = RunStore()
    upload = Path(a.data).read_bytes() if a.data != "-" else None  # standard input was read once: not kept
    run = store.add(trained, ingested.panel, ev, dataset=Path(a.data).name, catalog=ingested.catalog,
                    forecast=forecast_to_keep(trained, ingested.panel), source="cli", upload=upload,
                    ingest=_ingest_options(a))
    return f"kept as run {run.id} in {store.where}"


def _holiday_note(suggested: str, holidays: str) -> str:
    """What the run does with public holidays, and the calendar the file's country column suggests."""
    if holidays:
        return f"public holidays of {holidays} are features (the day itself and the days around it)"
    if suggested:
        return (f"no public holidays: the file's country column names {suggested}, and --holidays {suggested} "
                "would make its public holidays features (the dashboard preselects it)")
    return "no public holidays (--holidays CC marks a country's)"


def _check_before_training(ingested: Any, config: ForecastConfig, a: argparse.Namespace, server: ServerSettings) -> None:
    """What the run would refuse, before the workers start: too few days, a forecast without its drivers'
    future values, more memory than the server's budget."""
    config.check_trainable(*ingested.panel.shape)
    _check_future_given(ingested.drivers, a)
    from .model.memory import check_training_memory

    # a Ray cluster trains each network on a node of its own: one at a time counts against a node's memory
    check_training_memory(*ingested.panel.shape, config, 1 if server.ray_address else server.workers, server.memory_gib,
                          len(ingested.drivers.spec.channels) if ingested.drivers is not None else 0)


def _check_future_covers(ingested: Any, future: Any, a: argparse.Namespace, closed_days: str,
                         holidays: str) -> None:
    """Before training: every trading day the forecast and totals asked for will cover has its known-ahead
    drivers' values (the future file's, or a default); else refused naming the product and day."""
    if ingested.drivers is None or future is None or not (a.forecast_out or a.total_out):
        return
    from .data.calendar import trading_calendar

    days = max(a.horizon, a.total_days if a.total_out else 1)
    calendar = trading_calendar(ingested.panel, closed_days, holidays=holidays)
    dates, closed, _ = calendar.ahead(ingested.panel.index[-1], days)  # the days the forecast will cover
    from .results.forecasting import refuse_opening_closed_days

    refuse_opening_closed_days(ingested.drivers.combined(future), calendar, dates, closed)
    message = ingested.drivers.combined(future).with_defaults(dates).missing(dates, ~closed)
    if message:
        raise ForecasterError(f"--future {a.future}: {message}")


def _forecast_or_say(trained: Any, ingested: Any, a: argparse.Namespace, intervals: IntervalOptions, future: Any,
                     say: Callable[..., None]) -> None:
    """The forecast and its files, or, where a known-ahead driver has no future values and no file asked for
    one, a line saying how to get it later (a run kept is not thrown away by a forecast nobody asked for)."""
    bare = _needs_future(ingested.drivers, future)
    if bare and not (a.forecast_out or a.total_out):
        say(f"no forecast: it needs the future values of the known-ahead driver {bare!r} (forecast "
            + ("--run ID" if a.save == STORE else "--model DIR") + " --future FILE)")
    else:
        _write_forecasts(trained, ingested, a, intervals, future)


def _needs_future(drivers: Any, future: Any) -> str:
    """The first known-ahead driver whose future values are neither given (``future``) nor defaulted ('')."""
    if drivers is None or future is not None:
        return ""
    return next((c.name for c in drivers.spec.choices if c.role == "known" and c.default is None), "")


def _check_future_given(drivers: Any, a: argparse.Namespace) -> None:
    """Before training: a forecast asked for with known-ahead drivers needs their future values (a file or a
    default for each), else it would fail only after the training."""
    bare = _needs_future(drivers, a.future or None)
    if bare and (a.forecast_out or a.total_out):
        raise ForecasterError(f"The forecast needs the future values of the known-ahead driver {bare!r}: give "
                              f"them with --future FILE, or a default for every forecast day ({bare}:known=VALUE).")


def _driver_note(report: Any, drivers: Any) -> str:
    """Which drivers the run reads, or the columns the file offers as drivers."""
    if drivers is not None:
        return f"drivers: {drivers.spec.describe()}"
    offered = report.driver_candidates
    if offered:
        return ("columns that could be drivers (--driver NAME): " + "; ".join(c.describe() for c in offered[:6])
                + (" ..." if len(offered) > 6 else ""))
    return ""


def _non_sales_note(report: Any) -> tuple[str, ...]:
    """A line naming the codes whose lines were not sales (postage, fees, price 0), left out or kept."""
    ex = report.excluded
    if ex is None:
        return ()
    codes = ", ".join(map(repr, ex["product"].head(5))) + (" ..." if len(ex) > 5 else "")
    what = "kept (--keep-non-sales)" if report.non_sales_kept else "left out (--keep-non-sales keeps them)"
    return (f"{int(ex['rows'].sum()):,} line(s) that are not sales of a product were {what}: {codes} "
            f"({ex['reason'].iloc[0]}, ...).",)


def _print_evaluation(ev: Any, trained: Any, config: ForecastConfig, intervals: IntervalOptions,
                      say: Callable[..., None]) -> None:
    """The test-span tables on stdout: the methods' errors, the intervals' scores and any backtest."""
    print((ev.overall.round(4) + 0.0).to_string())  # + 0.0: a bias of -0.00001 prints 0.0000, not -0.0000
    if trained.calibration is None:
        print("note: no prediction intervals: the model had no validation days to calibrate them on "
              "(--val-days 0)", file=sys.stderr)
    else:
        say(f"{intervals.level:.0%} intervals on the test days (coverage; interval score and pinball loss as a "
            "ratio to seasonal naive's own interval):")
        print((ev.interval_overall(intervals.level).round(4) + 0.0).to_string())
    if trained.backtest is not None:
        done = trained.backtest["origin"].nunique()
        say(f"rolling backtest, one row per cut-off and method (coverage of the {trained.backtest['level'].iloc[0]:.0%} "
            "interval):")
        print(trained.backtest.to_string(index=False, float_format=lambda x: f"{round(x, 4) + 0.0:.4f}"))
        if done < config.backtest_origins:
            print(f"note: only {done} of the {config.backtest_origins} backtest cut-offs fit the history "
                  "(each needs its own training, validation and test days)", file=sys.stderr)


def _forecast(a: argparse.Namespace) -> None:
    from .data.ingest import load_panel
    from .device import resolve_device
    from .io.persistence import load

    _check_horizon(a.horizon, a.total_days)
    _check_outputs(a.data, a.forecast_out, a.total_out)
    if a.model and Path(a.forecast_out).resolve().parent == Path(a.model).resolve():
        raise ForecasterError(f"The output {a.forecast_out!r} is inside the saved run {a.model!r}: writing there "
                              "would damage the run. Choose a file outside it.")
    intervals = _settings(IntervalOptions, a, IntervalOptions())
    run_options = None
    if a.run:
        from .io.store import RunStore

        files = RunStore().files(a.run, device=str(resolve_device(a.device)))
        trained, run_options = files.trained, files.ingest
    else:
        trained = load(a.model, device=str(resolve_device(a.device)))
    if trained.calibration is None:
        print(f"note: {a.model or a.run} was saved without prediction intervals (before they existed, or without validation "
              "days): the forecast has no lower, upper or order_quantity columns. Train and save again for them.",
              file=sys.stderr)
    options = _ingest_options(a)
    if run_options is not None and options == IngestOptions():  # read as the run read its file, unless told
        options = run_options
    if trained.driver_spec is not None and not options.drivers:  # the run's own drivers, read from this file
        options = dataclasses.replace(options, drivers=tuple(c.text for c in trained.driver_spec.choices))
    ingested = load_panel(a.data, options)
    panel = ingested.panel
    trained = trained.with_drivers(ingested.drivers)  # refuses other drivers than the run's, naming both
    future = _future_values(trained.drivers, ingested, a)
    unseen = [p for p in panel.columns if p not in set(trained.products)]
    if unseen:
        print(f"note: {len(unseen):,} product(s) in the data were not in the trained model and are not forecast "
              f"(first: {unseen[0]!r}); train again on this data to forecast them", file=sys.stderr)
    with _stdout_for_outputs(a.forecast_out, a.total_out):
        _write_forecasts(trained, ingested, a, intervals, future)


def _runs(a: argparse.Namespace) -> None:
    """runs list | show ID | export ID FOLDER | delete ID."""
    from .io.store import RunStore

    store = RunStore()
    if a.action == "list":
        listed = store.list()
        if not listed:
            print(f"no runs kept in {store.where} yet: train with --save", file=sys.stderr)
        for r in listed:
            h = r.headline
            print(f"{r.id}  {r.created_at:%Y-%m-%d %H:%M}  {r.dataset!r}  {r.first_date} to {r.last_date}  "
                  f"{r.n_products:,} products  {r.model}  RMSE vs seasonal naive {h.get('RMSE vs seasonal naive', float('nan')):.3f}  "
                  f"bias {h.get('Bias', float('nan')):+.1%}")
    elif a.action == "show":
        r = store.get(a.id)
        print(f"run {r.id}, kept {r.created_at:%Y-%m-%d %H:%M} UTC from the {r.source}: {r.dataset!r}, {r.first_date} "
              f"to {r.last_date}, {r.n_products:,} products; model: {r.model}")
        print(_series(r.headline, "test span").to_string())
        from .io.store import drivers_of

        print(_series({"drivers": drivers_of(r), **r.settings}, "settings").to_string())
        print(store.product_scores(r.id).round(4).to_string(index=False))
    elif a.action == "export":
        print(f"exported run {store.get(a.id).id} to {store.export(a.id, a.folder)}", file=sys.stderr)
    else:
        r = store.get(a.id)
        store.delete(r.id)
        print(f"deleted run {r.id}", file=sys.stderr)


def _series(values: dict, name: str) -> Any:
    """A name -> value table for printing (pandas is imported by the commands that print one)."""
    import pandas as pd

    return pd.Series(values, name=name, dtype=object)


def _track(a: argparse.Namespace) -> None:
    """A kept run's forecast against the days of --data it covers: overall, then per product, worst first."""
    from .data.ingest import load_panel
    from .io.export import write_csv
    from .io.store import RunStore
    from .results.tracking import track

    store = RunStore()
    run = store.get(a.run)
    if a.out:
        _check_outputs(a.data, a.out)
    kept = store.forecast(run.id)
    if kept.empty:
        raise ForecasterError(f"Run {run.id} kept no forecast (its drivers needed future values it was not given): "
                              "there is nothing to track.")
    result = track(kept, load_panel(a.data, _ingest_options(a)).panel)
    print(f"run {run.id} ({run.dataset!r}, history to {run.last_date}): its forecast against what sold on "
          f"{int(result.overall['days'])} day(s)", file=sys.stderr)
    if result.left_out:
        print(f"note: {result.left_out:,} forecast product(s) are not in {a.data}", file=sys.stderr)
    print(_series(result.overall, "overall").to_string())
    print(result.per_product.round(4).to_string(index=False))
    if a.out:
        write_csv(result.days, a.out, inputs=(a.data,))


def _future_values(drivers: Any, ingested: Any, a: argparse.Namespace) -> Any:
    """The --future file's driver values after the history (None without the flag), its notes on stderr;
    refused where no known-ahead driver is read (an option given is never ignored) or the file cannot be
    read, naming the row: before any training."""
    if not a.future:
        return None
    if drivers is None or not drivers.spec.known.any():
        raise ForecasterError(f"--future {a.future!r} gives future driver values, but no known-ahead driver is "
                              "read: name one (--driver NAME), or leave out --future.")
    from .data.ingest import load_future_drivers

    try:
        future, notes = load_future_drivers(a.future, drivers, ingested.report.mapping, ingested.panel.index[-1],
                                            _ingest_options(a), ingested.report.dayfirst)
    except ForecasterError as exc:
        raise ForecasterError(f"--future {a.future}: {exc}") from None
    for note in notes:
        print("note: future file:", note, file=sys.stderr)
    return future


def _write_forecasts(trained: Any, ingested: Any, a: argparse.Namespace, intervals: IntervalOptions,
                     future: Any = None) -> None:
    """The daily forecast and the k-day totals the flags ask for (with the products' names and key columns
    from the file's catalog, and the ``future`` driver values), and a note on closed days passed over."""
    from .io.export import forecast_table, totals_table, write_csv
    from .results.forecasting import closed_doubts, closed_reasons, forecast, lead_time_total

    if future is not None:
        trained = trained.with_drivers(trained.drivers.combined(future))
    panel, catalog = ingested.panel, ingested.catalog

    fc = forecast(trained, panel, a.horizon, intervals.level, intervals.service_level, intervals.order_stopped)
    if future is not None and fc["date"].max() < future.dates.max():  # a trial: 14 days given, 1 forecast, no word
        print(f"note: the future values run to {future.dates.max():%d %b %Y}; --horizon {a.horizon} forecasts to "
              f"{fc['date'].max():%d %b %Y} (a longer --horizon uses them all)", file=sys.stderr)
    stopped = fc.loc[fc["stopped"], "product"].unique() if "stopped" in fc else []
    if len(stopped):
        print(f"note: {len(stopped):,} product(s) sold nothing in the last {fc.attrs['stopped_days']} days (first: "
              f"{stopped[0]!r}): " + ("ordered for as asked (--order-stopped)" if intervals.order_stopped else
                                      "order quantity 0 (--order-stopped orders for them)"), file=sys.stderr)
    for day, why in closed_reasons(fc).items():
        print(f"note: {day:%A %d %B %Y} is a closed day ({why}): forecast 0, nothing to order", file=sys.stderr)
    for product, days in fc.attrs.get("unsold_weekdays", {}).items():
        print(f"note: {product!r} sold nothing on {', '.join(d + 's' for d in days)} in the last year while the "
              "business traded: forecast 0 those days, nothing to order", file=sys.stderr)
    for day, why in closed_doubts(fc).items():
        print(f"note: {day:%A %d %B %Y} is forecast as a trading day, but {why}: one year is no rule (with "
              "--holidays, a public holiday closed last year is closed ahead)", file=sys.stderr)
    if a.forecast_out:
        write_csv(forecast_table(fc, catalog), a.forecast_out, inputs=(a.data,))
    if a.total_out:
        total = lead_time_total(trained, panel, a.total_days, intervals.level, intervals.service_level,
                                intervals.order_stopped)
        write_csv(totals_table(total, catalog), a.total_out, inputs=(a.data,))


def _stdout_for_outputs(*outputs: str | None) -> contextlib.AbstractContextManager:
    """With an output named "-": the command's printed tables go to stderr, the CSV alone to stdout."""
    from .io.export import STDOUT, to_stdout

    return to_stdout() if STDOUT in [str(o) for o in outputs if o] else contextlib.nullcontext()


def _check_outputs(data: str, *outputs: str | None) -> None:
    """Before reading or training: no output may overwrite the input, and no two outputs may be one file."""
    from .io.export import check_output, refuse_overwriting

    given = [Path(o) for o in outputs if o]
    for out in given:
        refuse_overwriting(out, (data,))
        if out.is_dir():
            raise ForecasterError(f"The output {str(out)!r} is a folder; give a file name, such as "
                                  f"{str(out / 'forecast.csv')!r}.")
        check_output(out)
    if len({o.resolve() for o in given}) < len(given):
        raise ForecasterError("Two outputs name the same file; give each output its own file.")


def _check_horizon(horizon: int, total_days: int) -> None:
    from .model.intervals import MAX_HORIZON  # numpy only: torch is imported while the workers start

    for flag, days in (("--horizon", horizon), ("--total-days", total_days)):
        if not 1 <= days <= MAX_HORIZON:
            raise ForecasterError(f"{flag} must be between 1 and {MAX_HORIZON} days, not {days}.")


def _demo(a: argparse.Namespace) -> None:
    from .data.demo import demo_csv_bytes
    from .io.export import write_bytes

    if not (1 <= a.products <= 10_000 and 60 <= a.days <= 3660):
        raise ForecasterError(f"--products goes from 1 to 10,000 and --days from 60 to 3,660, not {a.products:,} "
                              f"and {a.days:,}.")
    if not 0 <= a.seed < 2**32:
        raise ForecasterError(f"--seed goes from 0 to {2**32 - 1:,}, not {a.seed:,}.")
    write_bytes(demo_csv_bytes(a.products, a.days, a.seed), a.out)


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    try:
        {"train": _train, "forecast": _forecast, "demo": _demo, "runs": _runs, "track": _track}[a.command](a)
    except ForecasterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:
        if not out_of_memory(exc):
            raise
        print(f"error: {OUT_OF_MEMORY}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: the workers are ended on the way out; no traceback to read
        print("interrupted", file=sys.stderr)
        return 130
    return 0
