#!/usr/bin/env bash
# One Celery worker host: runs ordersync's Dagster runs taken from RabbitMQ.
#   deployment/celery/worker.sh NAME [QUEUE...]     (default queue: ordersync)
# Needs, as every host: the package installed with its celery extra (pip install '.[celery]'), and
# DAGSTER_HOME (a folder holding deployment/celery/dagster.yaml as dagster.yaml), DAGSTER_PG_URL,
# ORDERSYNC_CELERY_BROKER, ORDERSYNC_DATABASE_URL, ORDERSYNC_CONFIG and the tokens in the environment.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="${1:?usage: worker.sh NAME [QUEUE...]}"
shift
# One comma-separated list: Celery takes the last of several -Q options only.
queues="$(IFS=,; echo "${*:-ordersync}")"
# A thread pool, not Celery's default of forked children: a run starts its step in a process of
# its own, which a forked (daemonic) pool child may not do. Each thread runs one run at a time.
exec dagster-celery worker start -A dagster_celery.app -y "$here/worker.yaml" -n "$name" -q "$queues" \
  -- --pool threads --concurrency "${ORDERSYNC_WORKER_CONCURRENCY:-2}"
