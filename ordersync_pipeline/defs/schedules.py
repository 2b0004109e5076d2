"""The schedules of checks and housekeeping jobs: UTC crons, running as soon as the code loads."""

from dagster import AssetChecksDefinition, AssetSelection, DefaultScheduleStatus, ScheduleDefinition, define_asset_job


def running_schedule(name: str, job, cron: str) -> ScheduleDefinition:
    """A schedule of ``job`` on ``cron`` (UTC), on by default: a check nobody turned on watches nothing."""
    return ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
    )


def checks_on_schedule(
    job_name: str, checks: list[AssetChecksDefinition], cron: str, description: str, schedule_name: str | None = None
):
    """A job that runs ``checks`` alone, and its schedule: a failed sync cannot keep them from running."""
    job = define_asset_job(job_name, selection=AssetSelection.checks(*checks), description=description)
    return job, running_schedule(schedule_name or f"{job_name}_schedule", job, cron)
