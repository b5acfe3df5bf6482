"""A kept forecast against what sold later: totals, bias, error, range coverage and order hits, per product and
overall, the largest miss first; closed days not scored; no overlap refused naming both spans."""
from __future__ import annotations

import pandas as pd
import pytest

from forecaster.errors import DataError
from forecaster.results.tracking import track


def kept_forecast() -> pd.DataFrame:
    days = pd.date_range("2025-03-01", periods=3, freq="D")
    rows = []
    for d in days:
        rows.append({"date": d, "product": "A", "forecast": 10.0, "lower": 5.0, "median": 9.0, "upper": 15.0,
                     "order_quantity": 14.0, "closed": False})
        rows.append({"date": d, "product": "B", "forecast": 2.0, "lower": 0.0, "median": 2.0, "upper": 4.0,
                     "order_quantity": 3.0, "closed": d == days[2]})
    rows.append({"date": pd.Timestamp("2025-03-04"), "product": "A", "forecast": 10.0, "lower": 5.0, "median": 9.0,
                 "upper": 15.0, "order_quantity": 14.0, "closed": False})  # a day the new file does not have yet
    return pd.DataFrame(rows)


def sold() -> pd.DataFrame:
    index = pd.date_range("2025-02-25", "2025-03-03", freq="D")
    return pd.DataFrame({"A": [9.0] * 4 + [20, 10, 4], "B": [1.0] * 4 + [2, 7, 50], "C": 1.0}, index=index)


def test_each_product_is_scored_on_the_days_that_happened_largest_miss_first():
    result = track(kept_forecast(), sold())
    a = result.per_product.set_index("product").loc["A"]
    assert a["days"] == 3 and a["sold"] == 34 and a["forecast"] == 30
    assert a["bias"] == pytest.approx(-4 / 34)
    assert a["MAE"] == pytest.approx((11 + 1 + 5) / 3)  # of the median
    assert a["coverage"] == pytest.approx(1 / 3)  # 20 above the upper 15, 4 below the lower 5
    assert a["order_hit_rate"] == pytest.approx(2 / 3)
    assert list(result.per_product["product"]) == ["B", "A"]  # B's total is 5 short, A's 4
    b = result.per_product.set_index("product").loc["B"]
    assert b["days"] == 2 and b["sold"] == 9  # its closed day (50 sold) is not scored
    assert result.overall["sold"] == 43 and result.overall["forecast"] == 34
    assert result.left_out == 0


def test_a_product_the_new_file_lacks_is_counted_not_scored():
    result = track(kept_forecast(), sold().drop(columns="B"))
    assert result.left_out == 1 and list(result.per_product["product"]) == ["A"]


def test_a_file_without_any_forecast_day_is_refused_naming_both_spans():
    early = sold().loc[:"2025-02-28"]
    with pytest.raises(DataError, match="25 Feb 2025 to 28 Feb 2025.*01 Mar 2025 to 04 Mar 2025"):
        track(kept_forecast(), early)
