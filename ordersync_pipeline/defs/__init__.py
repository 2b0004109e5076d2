import warnings

from dagster import BetaWarning

# Single-run backfills are a deliberate choice here (see defs/orders/assets.py).
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)
