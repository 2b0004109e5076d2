"""The schedules of checks and housekeeping jobs: UTC crons, running as soon as the code loads."""

from dagster import DefaultScheduleStatus, ScheduleDefinition


def running_schedule(name: str, job, cron: str) -> ScheduleDefinition:
    """A schedule of ``job`` on ``cron`` (UTC), on by default: a check nobody turned on watches nothing."""
    return ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
    )
