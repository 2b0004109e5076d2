"""The setup's health as an asset check on a schedule: a token revoked at night shows in the morning."""
