"""The deployment folder's instance files load as Dagster instances, through Dagster's own config
validation and the run launchers' own schemas, so that they cannot rot unseen.

The Kubernetes one is not run here (no cluster): its run launcher is built against a kubeconfig
file that points nowhere instead of the cluster's own account, which is the only line changed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterInvalidConfigError
from dagster_celery.cli import get_validated_config
from dagster_celery.launcher import CeleryRunLauncher
from dagster_k8s import K8sRunLauncher

from ordersync_pipeline_tests.conftest import _create_postgres_database, _drop_postgres_database

DEPLOYMENT = Path(__file__).resolve().parent.parent / "deployment"

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: nowhere, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: nobody, user: {token: not-a-token}}]
contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]
current-context: nowhere
"""


@pytest.fixture
def dagster_pg_url(monkeypatch):
    url = _create_postgres_database()
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    monkeypatch.setenv("ORDERSYNC_CELERY_BROKER", "pyamqp://guest:guest@127.0.0.1:5672//")
    yield url
    _drop_postgres_database(url)


def _home(tmp_path: Path, instance_yaml: str) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(instance_yaml)
    return home


def _kubernetes_instance_yaml(tmp_path: Path) -> dict:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    config = yaml.safe_load((DEPLOYMENT / "kubernetes" / "dagster.yaml").read_text())
    launcher = config["run_launcher"]["config"]
    assert launcher.pop("load_incluster_config") is True  # in the cluster, its service account
    launcher |= {"load_incluster_config": False, "kubeconfig_file": str(kubeconfig)}
    return config


def test_the_kubernetes_instance_loads_with_dagster_k8s_run_launcher(dagster_pg_url, tmp_path):
    home = _home(tmp_path, yaml.safe_dump(_kubernetes_instance_yaml(tmp_path)))
    with DagsterInstance.from_config(str(home)) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, K8sRunLauncher)
        assert launcher.job_namespace == "ordersync" and launcher.fail_pod_on_run_failure
        assert instance.run_monitoring_enabled and instance.run_retries_enabled
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"


def test_a_misspelt_kubernetes_setting_is_refused(dagster_pg_url, tmp_path):
    config = _kubernetes_instance_yaml(tmp_path)
    config["run_launcher"]["config"]["job_namespce"] = config["run_launcher"]["config"].pop("job_namespace")
    home = _home(tmp_path, yaml.safe_dump(config))
    with pytest.raises(DagsterInvalidConfigError, match="job_namespce"), DagsterInstance.from_config(str(home)) as i:
        assert i.run_launcher is None


def test_the_celery_instance_and_worker_files_load(dagster_pg_url, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOYMENT / "celery" / "dagster.yaml", home / "dagster.yaml")
    with DagsterInstance.from_config(str(home)) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, CeleryRunLauncher)
        assert launcher.default_queue == "ordersync"
        assert launcher.celery.conf.task_acks_late and launcher.celery.conf.task_reject_on_worker_lost
        assert launcher.celery.conf.broker_url == "pyamqp://guest:guest@127.0.0.1:5672//"
    worker = get_validated_config(str(DEPLOYMENT / "celery" / "worker.yaml"))
    assert worker["broker"] == "pyamqp://guest:guest@127.0.0.1:5672//"
    assert {k: worker["config_source"][k] for k in ("task_acks_late", "task_reject_on_worker_lost")} == {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
    }
