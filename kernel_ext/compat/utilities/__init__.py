"""``prefect.utilities``: only ``prefect.utilities.annotations`` has a counterpart."""
