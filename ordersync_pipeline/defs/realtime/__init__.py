"""The real-time path in Dagster: its work as observations of the assets, a check that it runs."""
