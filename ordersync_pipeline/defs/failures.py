"""Why a run failed, in one line: the step's own description, else its error's last line."""

from collections.abc import Iterable

from dagster import DagsterEvent


def failure_reason(events: Iterable[DagsterEvent]) -> str | None:
    """The reason of the first step failure among ``events``; None if there is none."""
    for event in events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            return data.user_failure_data.description
        error = data.error
        if error is None:
            return f"step {event.step_key} failed"
        while error.cause is not None and error.cls_name != "Failure":
            error = error.cause
        lines = error.message.strip().splitlines()
        return lines[-1] if lines else error.cls_name or f"step {event.step_key} failed"
    return None
