"""forecaster.run.ray_executor on a local Ray instance (ray.init with 2 CPUs): the same forecast as training in
this process for the same seed, progress and cancel through Ray, and one full job through the registry.

Ray is optional for users; CI installs requirements-ray.txt, and there a missing Ray fails these tests
instead of skipping them."""
from __future__ import annotations

import os
import threading

import numpy as np
import pandas as pd
import pytest

if os.environ.get("CI"):
    import ray  # noqa: F401  (CI must run these tests, not skip them)
else:
    pytest.importorskip("ray")

from conftest import TINY, make_panel  # noqa: E402
from forecaster import fit, forecast  # noqa: E402
from forecaster.config import ServerSettings  # noqa: E402
from forecaster.run.backends import make_executor  # noqa: E402
from forecaster.run.jobs import CANCELLED, DONE, JobRegistry  # noqa: E402
from forecaster.run.ray_executor import LOCAL, RayExecutor  # noqa: E402

AUTO = TINY.replace(model="auto", ensemble=2, epochs=2, patience=0, seed=11)
WAIT = 300


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel(days=110, products=4)


@pytest.fixture(scope="module")
def cluster():
    executor = RayExecutor(LOCAL, local_cpus=2).start()
    yield executor
    executor.shutdown()


def test_a_named_cluster_makes_a_ray_executor():
    assert isinstance(make_executor(ServerSettings(ray_address="local")), RayExecutor)
    assert ServerSettings.from_env({"RAY_ADDRESS": "ray://head:10001"}).ray_address == "ray://head:10001"
    assert not isinstance(make_executor(ServerSettings(workers=0)), RayExecutor)


def test_ray_tasks_give_the_same_forecast_as_training_here(panel, cluster):
    here = fit(panel, AUTO)  # in this process (one thread here, one CPU per Ray task: MKL's strict mode either way)
    on_ray = fit(panel, AUTO, executor=cluster)
    assert cluster.slots == 2 and cluster.gpus == 0.0  # sized from the local instance, no GPU asked for
    a = forecast(here, panel, horizon=3)["forecast"].to_numpy()
    b = forecast(on_ray, panel, horizon=3)["forecast"].to_numpy()
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    pd.testing.assert_frame_equal(on_ray.selection, here.selection, rtol=1e-4)
    assert [(h.member, h.epoch, h.done_epochs) for h in on_ray.history] == \
           [(h.member, h.epoch, h.done_epochs) for h in here.history]


def test_drivers_reach_ray_tasks_and_give_the_same_forecast_as_here(cluster):
    """A fit's drivers travel with every task to Ray (DriverTasks) and come back with the forecaster."""
    from forecaster.config import IngestOptions
    from forecaster.data.demo import promotion_demo_long
    from forecaster.data.ingest import load_panel

    data = promotion_demo_long(n_products=3, days=150, seed=2).to_csv(index=False).encode("utf-8")
    ingested = load_panel(data, IngestOptions(drivers=("promo:known=0", "price:known=10")))
    here = fit(ingested.panel, AUTO, drivers=ingested.drivers)
    on_ray = fit(ingested.panel, AUTO, executor=cluster, drivers=ingested.drivers)
    assert on_ray.driver_spec == here.driver_spec and on_ray.drivers is not None
    a = forecast(here, ingested.panel, horizon=3)["forecast"].to_numpy()
    b = forecast(on_ray, ingested.panel, horizon=3)["forecast"].to_numpy()
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_progress_comes_back_through_ray_and_cancel_keeps_a_model(panel, cluster):
    seen = []
    stop = threading.Event()

    def on_epoch(record):
        seen.append(record)
        stop.set()  # cancel as soon as the first epoch is reported

    trained = fit(panel, AUTO.replace(epochs=200, patience=0), callback=on_epoch, cancel=stop, executor=cluster)
    assert seen and all(r.total_epochs == seen[0].total_epochs for r in seen)
    assert trained.cancelled and trained.networks  # stopped early, the best weights so far kept
    assert len(trained.history) < 200


def test_a_dashboard_job_trains_through_ray(panel, cluster):
    registry = JobRegistry(executor=cluster, max_running=1)
    job = registry.submit("owner", panel, AUTO)
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == DONE, snap.error
    assert job.result.networks and job.result.calibration is not None
    assert snap.status != CANCELLED


def test_the_ray_requirements_connect_to_a_ray_address_as_the_readme_shows():
    """RAY_ADDRESS=ray://head:10001 goes through Ray Client, which needs grpcio: requirements-ray.txt asks for
    ray[client], without which that set-up failed to import."""
    import importlib.util

    assert importlib.util.find_spec("grpc") is not None
    from ray.util.client import ray as client  # noqa: F401  (imports grpc)
