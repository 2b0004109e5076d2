"""Dagster wiring: partitions, resources, the order and stock assets, their checks, jobs, schedules, sensors."""
