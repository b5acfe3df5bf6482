"""python -m forecaster train | forecast | demo. Rejected input exits with code 2 and one line on stderr."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import DEFAULT_CONFIG, DEFAULT_INGEST, ForecastConfig, IngestOptions, parse_lags
from .errors import ForecasterError


def _ingest_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading the CSV")
    g.add_argument("--format", choices=["auto", "long", "wide", "transactions"], default=DEFAULT_INGEST.format)
    g.add_argument("--date-col")
    g.add_argument("--product-col", action="append", default=[], help="repeat to join several columns")
    g.add_argument("--quantity-col")
    g.add_argument("--dayfirst", action="store_true", default=None, help="dates are day/month/year")
    g.add_argument("--keep-returns", action="store_true", help="keep negative quantities (dropped by default)")
    g.add_argument("--max-products", type=int, default=DEFAULT_INGEST.max_products)


def _ingest_options(a: argparse.Namespace) -> IngestOptions:
    return IngestOptions(format=a.format, date_col=a.date_col, product_cols=tuple(a.product_col),
                         quantity_col=a.quantity_col, dayfirst=a.dayfirst, keep_returns=a.keep_returns,
                         max_products=a.max_products)


def _model_args(p: argparse.ArgumentParser) -> None:
    d = DEFAULT_CONFIG
    g = p.add_argument_group("features, model and training")
    g.add_argument("--model", default=d.model,
                   help="auto (recommended by validation), global_cnn_lstm or cnn_lstm (one output per product)")
    g.add_argument("--lags", default=str(max(d.lags)), help="7 means lags 1..7; or a list like 1,7,14")
    g.add_argument("--rolling", default=",".join(map(str, d.rolling_windows)),
                   help="rolling-mean windows in days, e.g. 7,28 (empty for none)")
    g.add_argument("--seq-len", type=int, default=d.seq_len)
    g.add_argument("--extended-calendar", action=argparse.BooleanOptionalAction, default=d.extended_calendar)
    g.add_argument("--log1p", action=argparse.BooleanOptionalAction, default=d.log1p)
    g.add_argument("--test-days", type=int, default=d.test_days)
    g.add_argument("--val-days", type=int, default=d.val_days)
    g.add_argument("--epochs", type=int, default=d.epochs)
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--learning-rate", "--lr", type=float, default=d.learning_rate)
    g.add_argument("--weight-decay", type=float, default=d.weight_decay)
    g.add_argument("--loss", choices=["mse", "l1", "huber"], default=d.loss)
    g.add_argument("--patience", type=int, default=d.patience)
    g.add_argument("--min-improvement", type=float, default=d.min_improvement,
                   help="early stopping: relative improvement of the validation loss that counts as progress")
    g.add_argument("--weighted-loss", action=argparse.BooleanOptionalAction, default=d.weighted_loss,
                   help="weight each product's errors by its scale in units")
    g.add_argument("--refit", action=argparse.BooleanOptionalAction, default=d.refit,
                   help="model auto: train the chosen network again with the validation days")
    g.add_argument("--epoch-samples", type=int, default=d.epoch_samples,
                   help="at most this many training samples per epoch, drawn afresh each epoch (0 = all)")
    g.add_argument("--conv-channels", type=int, default=d.conv_channels)
    g.add_argument("--kernel-size", type=int, default=d.kernel_size)
    g.add_argument("--hidden-size", type=int, default=d.hidden_size)
    g.add_argument("--lstm-layers", type=int, default=d.lstm_layers)
    g.add_argument("--dropout", type=float, default=d.dropout)
    g.add_argument("--embedding-dim", type=int, default=d.embedding_dim)
    g.add_argument("--window-scaling", action=argparse.BooleanOptionalAction, default=d.window_scaling,
                   help="global network: scale each window by its own mean demand (follows level shifts)")
    g.add_argument("--ensemble", type=int, default=d.ensemble)
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default=d.device)


def _config(a: argparse.Namespace) -> ForecastConfig:
    try:
        rolling = tuple(int(x) for x in a.rolling.split(",") if x.strip()) if a.rolling else ()
    except ValueError:
        raise ForecasterError(f"--rolling takes whole numbers of days like 7,28, not {a.rolling!r}.") from None
    return ForecastConfig(
        model=a.model, lags=parse_lags(a.lags), rolling_windows=rolling, seq_len=a.seq_len,
        extended_calendar=a.extended_calendar, log1p=a.log1p, test_days=a.test_days, val_days=a.val_days,
        epochs=a.epochs, batch_size=a.batch_size, learning_rate=a.learning_rate, weight_decay=a.weight_decay,
        loss=a.loss, patience=a.patience, min_improvement=a.min_improvement, weighted_loss=a.weighted_loss,
        refit=a.refit, epoch_samples=a.epoch_samples, conv_channels=a.conv_channels, kernel_size=a.kernel_size,
        hidden_size=a.hidden_size, lstm_layers=a.lstm_layers, dropout=a.dropout,
        embedding_dim=a.embedding_dim, window_scaling=a.window_scaling, ensemble=a.ensemble, seed=a.seed,
        device=a.device)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m forecaster", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on a purchase CSV, evaluate on the last test days, forecast")
    t.add_argument("data", help="purchase CSV (.csv or .csv.gz)")
    _ingest_args(t)
    _model_args(t)
    t.add_argument("--horizon", type=int, default=1, help="days to forecast after the last date")
    t.add_argument("--forecast-out", help="CSV: date,product,forecast")
    t.add_argument("--metrics-out", help="CSV: one row per product, network MAE and baseline MAEs")
    t.add_argument("--predictions-out", help="CSV: date,product,actual,predicted over the test span")
    t.add_argument("--save", help="directory under which a timestamped run directory is written")
    t.add_argument("--quiet", action="store_true")
    f = sub.add_parser("forecast", help="forecast with a saved model")
    f.add_argument("--model", required=True, help="a run directory written by train --save")
    f.add_argument("--data", required=True)
    _ingest_args(f)
    f.add_argument("--horizon", type=int, default=1)
    f.add_argument("--forecast-out", required=True)
    f.add_argument("--device", choices=["cpu", "cuda", "mps"], default="cpu")
    d = sub.add_parser("demo", help="write the embedded demo dataset (generated, not real sales)")
    d.add_argument("--out", required=True)
    d.add_argument("--products", type=int, default=20)
    d.add_argument("--days", type=int, default=1095)
    d.add_argument("--seed", type=int, default=7)
    return p


def _train(a: argparse.Namespace) -> None:
    from .evaluate import evaluate
    from .export import forecast_table, metrics_table, write_csv
    from .forecast import forecast
    from .ingest import load_panel
    from .persistence import save
    from .training import device_label, fit, resolve_device

    start = time.perf_counter()
    config = _config(a)
    _check_horizon(a.horizon)
    resolve_device(config.device)  # a forced device that is absent: say so before reading and training
    ingested = load_panel(a.data, _ingest_options(a))
    r = ingested.report
    say = (lambda *x: None) if a.quiet else (lambda *x: print(*x, file=sys.stderr))
    say(f"read {r.rows_read:,} rows: {r.mapping.describe()}; {r.products} products x {r.days} days "
        f"({r.start.date()} to {r.end.date()}), {r.returns_dropped} returns dropped")
    for note in r.notes:
        say("note:", note)
    say(f"training {config.model} on {device_label(resolve_device(config.device))}")

    def progress(rec):
        val = f" val {rec.val_loss:.4f}" if rec.val_loss is not None else ""
        say(f"epoch {rec.done_epochs}/{rec.total_epochs} train {rec.train_loss:.4f}{val} test {rec.test_loss:.4f}")

    trained = fit(ingested.panel, config, callback=progress)
    if trained.selection_reason:
        say(trained.selection_reason)
    ev = evaluate(trained, ingested.panel)
    print(ev.overall.round(4).to_string())
    if a.metrics_out:
        write_csv(metrics_table(ev), a.metrics_out)
    if a.predictions_out:
        write_csv(ev.predictions_table(), a.predictions_out)
    fc = forecast(trained, ingested.panel, a.horizon)
    if a.forecast_out:
        write_csv(forecast_table(fc), a.forecast_out)
    if a.save:
        say(f"saved to {save(trained, a.save)}")
    say(f"done in {time.perf_counter() - start:.1f}s")


def _forecast(a: argparse.Namespace) -> None:
    from .export import forecast_table, write_csv
    from .forecast import forecast
    from .ingest import load_panel
    from .persistence import load

    from .training import resolve_device

    _check_horizon(a.horizon)
    trained = load(a.model, device=str(resolve_device(a.device)))
    panel = load_panel(a.data, _ingest_options(a)).panel
    write_csv(forecast_table(forecast(trained, panel, a.horizon)), a.forecast_out)


def _check_horizon(horizon: int) -> None:
    from .forecast import MAX_HORIZON

    if not 1 <= horizon <= MAX_HORIZON:
        raise ForecasterError(f"--horizon must be between 1 and {MAX_HORIZON} days, not {horizon}.")


def _demo(a: argparse.Namespace) -> None:
    from .demo import demo_csv_bytes

    Path(a.out).write_bytes(demo_csv_bytes(a.products, a.days, a.seed))


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    try:
        {"train": _train, "forecast": _forecast, "demo": _demo}[a.command](a)
    except ForecasterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    return 0
