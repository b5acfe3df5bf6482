"""forecaster.config: every setting is explained once there, and the CLI, the dashboard and the README read it."""
from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from forecaster.cli import _config, _ingest_options, parser
from forecaster.config import (ForecastConfig, IngestOptions, cli_flag, format_lags, help_text, parse_lags,
                               settings_table)

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("lags", [(1, 2, 3, 4, 5, 6, 7), (1, 7, 14), (7,), (1,), (1, 2, 3, 28)])
def test_lags_text_reads_back_to_the_same_lags(lags):
    assert parse_lags(format_lags(lags)) == lags


def test_a_default_like_1_7_14_is_not_turned_into_1_to_14():
    assert format_lags((1, 7, 14)) == "1,7,14"
    assert format_lags((1, 2, 3, 4, 5, 6, 7)) == "7"


def test_cli_defaults_are_the_config_defaults():
    args = parser().parse_args(["train", "data.csv"])
    assert _config(args) == ForecastConfig()
    assert _ingest_options(args) == IngestOptions()


def test_every_setting_has_help_text_and_a_cli_flag():
    train = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    flags = {opt: action for action in train._actions for opt in action.option_strings}
    for options in (ForecastConfig, IngestOptions):
        for f in dataclasses.fields(options):
            assert len(f.metadata["help"]) > 20, f.name
            action = flags[cli_flag(f)]
            assert action.dest == f.name
            assert f.metadata["help"] in action.help
    undocumented = [a.option_strings for a in train._actions if not a.help]
    assert undocumented == []


def test_cli_flags_reach_the_config_with_their_values():
    args = parser().parse_args(["train", "d.csv", "--lags", "1,7,14", "--rolling", "7,28", "--no-window-scaling",
                                "--lr", "0.01", "--model", "cnn_lstm", "--product-col", "store",
                                "--product-col", "item", "--dayfirst"])
    config, options = _config(args), _ingest_options(args)
    assert config.lags == (1, 7, 14) and config.rolling_windows == (7, 28)
    assert config.window_scaling is False and config.learning_rate == 0.01 and config.model == "cnn_lstm"
    assert options.product_cols == ("store", "item") and options.dayfirst is True


def test_the_dashboard_tooltips_come_from_the_config():
    from ui.widgets import setting_help

    assert setting_help("lags").startswith(help_text(ForecastConfig, "lags"))
    assert setting_help("lags").endswith("Default: 7.")


def test_the_readme_settings_table_is_the_configs():
    """Regenerate with: python -c "from forecaster.config import settings_table; print(settings_table())"."""
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- settings table: start -->\n(.*?)\n<!-- settings table: end -->", text, re.S)
    assert found, "README.md lacks the settings table markers"
    assert found.group(1) == settings_table()


def test_yearly_auto_adds_the_same_weekday_a_year_earlier_only_on_long_histories():
    from forecaster.config import YEAR_LAG

    config = ForecastConfig()
    need = 2 * 365 + config.val_days + config.test_days
    assert YEAR_LAG in config.resolved(need).lags and config.resolved(need).yearly == "on"
    assert config.resolved(need - 1).lags == config.lags and config.resolved(need - 1).yearly == "off"
    assert YEAR_LAG in config.replace(yearly="on").resolved(100).lags  # explicit: the user's choice wins
    assert YEAR_LAG not in config.replace(yearly="off").resolved(5000).lags
    assert config.resolved(need).resolved(need) == config.resolved(need)  # resolving twice changes nothing


def test_yearly_on_with_too_short_a_history_is_refused_naming_the_days():
    from conftest import TINY, make_panel
    from forecaster import fit
    from forecaster.errors import DataError

    with pytest.raises(DataError, match="364"):
        fit(make_panel(days=200), TINY.replace(yearly="on"))


def test_a_long_history_trains_with_the_yearly_lag_and_saves_it():
    from conftest import TINY, make_panel
    from forecaster import fit

    trained = fit(make_panel(days=800), TINY)
    assert trained.config.yearly == "on" and 364 in trained.config.lags
