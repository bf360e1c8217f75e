"""``prefect.events.schemas``: the models of events and automations."""
