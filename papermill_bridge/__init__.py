"""Deployments: promote notebooks, schedules, workers, and the `taskbook` CLI."""
