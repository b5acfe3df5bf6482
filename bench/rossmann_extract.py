#!/usr/bin/env python3
"""Build the Rossmann extract bench/drivers.py reads (sales_long.csv) from the Rossmann (Kaggle 2015) rows
committed in github.com/digital-munich/lumen-data-analytics-module1-fundamentals, outside the project tree.

usage: python bench/rossmann_extract.py [GIT_DIR] [OUT]   (defaults below: the fetched mirror, /work/ext/rossmann)

Source blob: rossmann-store-sales.zip as first committed (commit 483c1b49...,
blob 7fb9d6f4...), read straight from the local bare mirror with `git cat-file`.
The zip holds sales.xlsx = Kaggle train.csv rows for stores 1..100, with the
curator's change that every Date was moved forward by exactly 9 calendar years
(2013-01-01..2015-07-31 -> 2022-01-01..2024-07-31, stored as Excel serials).
All other columns (incl. the original DayOfWeek) are unchanged. We undo the
shift (date - 9 years) and check that every row's DayOfWeek equals the ISO
weekday of the restored date, which proves the inversion.

Only stdlib + pandas (xlsx parsed with zipfile/ElementTree; no openpyxl).
"""
import io, re, subprocess, zipfile, xml.etree.ElementTree as ET
from pathlib import Path
import pandas as pd

import sys

GIT_DIR = sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror/digital-munich+lumen-data-analytics-module1-fundamentals/repo"
COMMIT = "483c1b490d32d298bc824ba9bb2cd74061831a4f"
PATH_IN_REPO = "rossmann-store-sales.zip"
EXPECT_BLOB = "7fb9d6f4fc3116993569ec8e417cba7820658c5a"
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "/work/ext/rossmann")
N_STORES = 50
NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def git(*args):
    return subprocess.run(["git", f"--git-dir={GIT_DIR}", *args],
                          check=True, capture_output=True).stdout


def read_xlsx_sheet1(data: bytes) -> pd.DataFrame:
    z = zipfile.ZipFile(io.BytesIO(data))
    sst = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")):
            sst.append("".join(t.text or "" for t in si.iter(NS + "t")))
    rows = []
    with z.open("xl/worksheets/sheet1.xml") as f:
        for _, el in ET.iterparse(f):
            if el.tag == NS + "row":
                r = {}
                for c in el:
                    col = re.match(r"[A-Z]+", c.get("r")).group()
                    v = c.find(NS + "v")
                    v = None if v is None else v.text
                    if c.get("t") == "s":
                        v = sst[int(v)]
                    r[col] = v
                rows.append(r)
                el.clear()
    df = pd.DataFrame(rows)
    df.columns = df.iloc[0]
    return df.iloc[1:].reset_index(drop=True)


def main():
    blob = git("rev-parse", f"{COMMIT}:{PATH_IN_REPO}").decode().strip()
    assert blob == EXPECT_BLOB, blob
    zdata = git("cat-file", "blob", blob)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "raw_rossmann-store-sales_483c1b49.zip").write_bytes(zdata)
    outer = zipfile.ZipFile(io.BytesIO(zdata))
    df = read_xlsx_sheet1(outer.read("sales.xlsx"))
    assert list(df.columns) == ["Store", "DayOfWeek", "Date", "Sales", "Customers",
                                "Open", "Promo", "StateHoliday", "SchoolHoliday"], list(df.columns)

    for c in ["Store", "DayOfWeek", "Date", "Sales", "Customers", "Open", "Promo", "SchoolHoliday"]:
        df[c] = pd.to_numeric(df[c]).astype(int)
    df["StateHoliday"] = df["StateHoliday"].astype(str)
    shifted = pd.to_datetime("1899-12-30") + pd.to_timedelta(df["Date"], unit="D")
    df["Date"] = shifted - pd.DateOffset(years=9)          # undo curator's +9y shift
    assert (df["Date"].dt.isocalendar().day.astype(int) == df["DayOfWeek"]).all(), "DayOfWeek mismatch"
    assert not df.duplicated(["Store", "Date"]).any()
    assert df["Date"].min() == pd.Timestamp("2013-01-01") and df["Date"].max() == pd.Timestamp("2015-07-31")

    # restored 100-store file in the original Kaggle train.csv layout
    full = df.sort_values(["Date", "Store"], ascending=[False, True]).copy()
    full["Date"] = full["Date"].dt.strftime("%Y-%m-%d")
    full.to_csv(OUT / "raw_train_100stores_restored.csv", index=False)

    n_days = df["Date"].nunique()
    per_store = df.groupby("Store")["Date"].nunique()
    full_range = sorted(per_store[per_store == n_days].index)
    stores = full_range[:N_STORES]

    out = df[df["Store"].isin(stores)].rename(columns={
        "Date": "date", "Store": "store", "Sales": "sales", "Promo": "promo", "Open": "open",
        "StateHoliday": "state_holiday", "SchoolHoliday": "school_holiday"})
    out = out[["date", "store", "sales", "promo", "open", "state_holiday", "school_holiday"]]
    out = out.sort_values(["date", "store"]).reset_index(drop=True)
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    out.to_csv(OUT / "sales_long.csv", index=False)
    print("rows", len(out), "dates", out.date.min(), out.date.max(), "n_dates", out.date.nunique())
    print("stores", stores)
    print("stores with gap (excluded):", sorted(per_store[per_store < n_days].index))


if __name__ == "__main__":
    main()
