"""The daily panel (dates x products) as a value: its content hash and a file form that reads back exactly."""
from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pandas as pd


def panel_fingerprint(panel: pd.DataFrame) -> str:
    """A content hash of a daily panel: dates, product names and every value."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(panel, index=True).to_numpy().tobytes())
    digest.update("\x1f".join(map(str, panel.columns)).encode("utf-8"))
    return digest.hexdigest()


def panel_bytes(panel: pd.DataFrame) -> bytes:
    """The panel as a compressed .npz (values, days, product names): no pickle, so reading it runs no code,
    and every value and name reads back as it was (a CSV would turn a product named "007" into 7)."""
    out = io.BytesIO()
    np.savez_compressed(out, values=panel.to_numpy(dtype=np.float64),
                        days=panel.index.to_numpy(dtype="datetime64[D]").astype(np.int64),
                        products=np.asarray([str(c) for c in panel.columns], dtype=np.str_),
                        unit=np.asarray(str(panel.index.dtype)),
                        names=np.asarray(json.dumps([panel.index.name, panel.columns.name], default=str)))
    return out.getvalue()


def panel_from_bytes(data: bytes) -> pd.DataFrame:
    """The panel :func:`panel_bytes` wrote, with its daily frequency."""
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        index = pd.DatetimeIndex(f["days"].astype("datetime64[D]").astype(str(f["unit"])), freq="D")
        dates, products = json.loads(str(f["names"]))
        return pd.DataFrame(f["values"], index=index.rename(dates),
                            columns=pd.Index([str(p) for p in f["products"]], name=products))
