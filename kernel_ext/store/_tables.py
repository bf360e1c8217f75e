"""The store's tables (SQLAlchemy Core), as migrated by the revisions up to 0010.

Core rather than ORM: the writer inserts thousands of rows per batch with
``executemany``, and the readers return plain dicts, so no unit of work is needed.

There are no foreign keys on purpose: a batch may carry a task run before its flow run,
a task called outside any flow has none, and history is append-only. Indexes cover the
lookups the readers make.

``run_inputs`` is the exception to the batched writes: input requests of paused runs are
written in synchronous transactions (see ``_input_requests``), since another process waits on them.
So are the deployment tables (``deployments``, ``deployment_versions``, ``schedules``) and
the columns of ``flow_runs`` that only deployments use (see ``_deployments``, ``_claims``):
the writer's upsert leaves those columns alone. And so are the concurrency limits
(``concurrency_limits``, ``concurrency_leases``, see ``_limit_leases``): a slot is taken or given
back in a transaction of its own, which every other process sees at once.

A change here needs a new revision in ``migrations/versions`` and a bump of
``SCHEMA_REVISION``; a test compares these tables with the migrated database.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)

from kernel_ext.store._types import AutoId, Json, UTCDateTime

__all__ = [
    "artifacts",
    "automation_buckets",
    "automation_evaluator",
    "automation_firings",
    "automations",
    "concurrency_leases",
    "concurrency_limits",
    "deployment_versions",
    "deployments",
    "events",
    "flow_runs",
    "logs",
    "metadata",
    "results",
    "run_inputs",
    "schedules",
    "secrets",
    "state_history",
    "store_settings",
    "task_runs",
    "variables",
]

# Named constraints, so later revisions can drop or alter them (SQLite's batch mode needs
# the names).
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(36)

flow_runs = Table(
    "flow_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String, nullable=False),
    Column("flow_name", String, nullable=False, index=True),
    Column("parameters", Json),
    Column("parent_task_run_id", ID, index=True),
    Column("tags", Json),
    Column("state_type", String(16)),
    Column("state_name", String),
    Column("state_message", Text),
    Column("start_time", UTCDateTime),
    Column("end_time", UTCDateTime),
    Column("run_count", Integer, nullable=False),
    Column("created", UTCDateTime, nullable=False, index=True),
    # Deployment runs only (None for a flow called in a notebook or a script). Written by
    # the scheduler and the workers, never by the batched writer.
    Column("deployment_id", ID, index=True),
    Column("deployment_version", Integer),
    Column("schedule_id", ID),
    Column("scheduled_time", UTCDateTime),
    Column("worker_id", String),
    Column("heartbeat_at", UTCDateTime),
    Column("output_notebook", Text),
    # "<schedule id>:<slot ISO time>": a scheduled slot has one run, however many
    # schedulers race to create it. None for runs started by hand (NULLs never collide).
    Column("slot_key", String, index=True, unique=True),
    # What workers claim: the due Scheduled runs, oldest first.
    Index("ix_flow_runs_state_type_scheduled_time", "state_type", "scheduled_time"),
    # What the console's notifier reads: the runs that ended lately Failed or Crashed.
    Index("ix_flow_runs_state_type_end_time", "state_type", "end_time"),
)

task_runs = Table(
    "task_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String, nullable=False),
    Column("task_key", String, nullable=False),
    Column("flow_run_id", ID, index=True),
    Column("upstream", Json),
    Column("tags", Json),
    Column("state_type", String(16)),
    Column("state_name", String),
    Column("state_message", Text),
    Column("start_time", UTCDateTime),
    Column("end_time", UTCDateTime),
    Column("run_count", Integer, nullable=False),
    Column("cache_key", String),  # a cache is looked up in results, never here
    Column("created", UTCDateTime, nullable=False, index=True),
)

state_history = Table(
    "state_history",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("run_id", ID, nullable=False, index=True),
    Column("run_kind", String(4), nullable=False),
    Column("type", String(16), nullable=False),
    Column("name", String, nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Column("message", Text),
    Column("details", Json),
    # Ids are never reused on SQLite either (a deleted newest row's id would be given
    # again, behind the cursors of the event readers and automations).
    sqlite_autoincrement=True,
)

logs = Table(
    "logs",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("flow_run_id", ID, index=True),
    Column("task_run_id", ID, index=True),
    Column("level", Integer, nullable=False),
    Column("logger", String, nullable=False),
    Column("message", Text, nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
)

results = Table(
    "results",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("task_run_id", ID, nullable=False, index=True),  # a deleted run's go with it
    Column("cache_key", String, index=True),
    # Pruning asks which entries still point at a file, and which kept entries expired.
    Column("location", Text, nullable=False, index=True),
    Column("created", UTCDateTime, nullable=False),
    Column("expiration", UTCDateTime, index=True),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("flow_run_id", ID, nullable=False),  # indexed by the unique constraint
    Column("key", String, nullable=False),
    Column("schema", Json, nullable=False),  # the form's JSON schema; {} to just resume
    Column("description", Text),  # markdown
    Column("status", String(16), nullable=False),  # pending, answered, rejected, expired
    Column("answer", Json),  # the form's values; {"reason": ...} when rejected
    Column("answered_by", String),
    # When it stopped pending: answered, rejected or expired.
    Column("answered_at", UTCDateTime),
    Column("error", Text),  # the last answer refused by validation, while pending
    Column("created", UTCDateTime, nullable=False),
    Column("timeout_at", UTCDateTime),
    # A run that pauses again at the same key (re-executed, resumed) finds its request.
    UniqueConstraint("flow_run_id", "key"),
    Index("ix_run_inputs_status_created", "status", "created"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("concurrency_limit", Integer),  # runs Pending or Running at once; None: no limit
    Column("retries", Integer, nullable=False, server_default=text("0")),
    Column("tags", Json),
    Column("description", Text),
    # Runs of this deployment execute with TASKBOOK_PROFILE set to it: secrets and
    # variables are looked up as "<profile>-<name>" first (see ``kernel_ext._profiles``).
    Column("profile", String(64)),
    # Its runs' retention policy ({"older_than": s, "keep": n, "keep_failed": s}, see
    # ``kernel_ext.store._retention``); None: the store-wide default applies.
    Column("retention", Json),
)

deployment_versions = Table(
    "deployment_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("deployment_id", ID, nullable=False),  # indexed by the unique constraint
    Column("version", Integer, nullable=False),
    Column("notebook_path", Text, nullable=False),  # where it was promoted from
    Column("notebook_sha256", String(64), nullable=False),
    # The .ipynb as promoted, verbatim: what runs, whatever happens to the file later.
    Column("notebook", Text, nullable=False),
    Column("parameters", Json),  # the schema: [{name, type, default, help}, ...]
    Column("created", UTCDateTime, nullable=False),
    UniqueConstraint("deployment_id", "version"),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("deployment_id", ID, nullable=False, index=True),
    # Opaque here: the schedules module's dict ({"kind": "cron", ...} or an interval).
    Column("spec", Json, nullable=False),
    Column("parameters", Json),  # overrides of the deployment's defaults
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("catchup", String(16), nullable=False, server_default="latest"),
    Column("last_slot", UTCDateTime),  # the latest slot given a run
    Column("created", UTCDateTime, nullable=False),
)

concurrency_limits = Table(
    "concurrency_limits",
    metadata,
    Column("name", String, primary_key=True),  # also a task tag it bounds
    Column("slots", Integer),  # how many at once; None: no concurrency limit (rate only)
    Column("per_second", Float),  # rate limit: how many may start per second; None: none
    Column("burst", Integer, nullable=False, server_default=text("1")),
    # The rate limit's state (GCRA): when the next start is due without any burst.
    Column("next_free_at", UTCDateTime),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

concurrency_leases = Table(
    "concurrency_leases",
    metadata,
    Column("id", ID, primary_key=True),
    Column("limit_name", String, nullable=False, index=True),
    Column("slots", Integer, nullable=False),
    Column("holder", String, nullable=False),  # "<host>:<pid> <run>", to show who holds it
    Column("acquired_at", UTCDateTime, nullable=False),
    # Renewed by the holder while it lives; an expired lease no longer holds its slots.
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# One row per batch the background writer committed, written in the batch's transaction:
# a batch retried after a lost COMMIT acknowledgement finds its row and is not written
# twice. Rows older than a day are deleted by the writers as they go.
writer_batches = Table(
    "writer_batches",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created", UTCDateTime, nullable=False, index=True),
)

# Secrets, variables and artifacts are written in transactions of their own, like the
# deployment tables: code that saves a secret or creates an artifact reads it back at once.

# A secret's value is a Fernet token (see ``kernel_ext._secret_box``): encrypted and
# authenticated with a key the store never holds.
secrets = Table(
    "secrets",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("ciphertext", Text, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

variables = Table(
    "variables",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("value", Json),  # any JSON value, as Prefect's variables
    Column("tags", Json),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

# Store-wide settings by key: "retention", the default retention policy.
store_settings = Table(
    "store_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Json),
    Column("updated", UTCDateTime, nullable=False),
)

# One row per artifact; a keyed artifact's history is its rows with that key, newest
# last. A progress artifact is updated in place.
artifacts = Table(
    "artifacts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("key", String(255)),
    Column("type", String(16), nullable=False),  # markdown, table, link, progress, image
    Column("data", Json),
    Column("description", Text),
    Column("flow_run_id", ID, index=True),
    Column("task_run_id", ID, index=True),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Index("ix_artifacts_key_created", "key", "created"),
)

# Events other than state changes: those user code emits (through the batched writer, like
# states) and the changes to deployments, schedules and paused runs (in the transactions
# that make them). A state change is its row in ``state_history``, read as an event (see
# ``_event_reads``): written once, not twice. ``seq`` orders the rows as committed for the
# readers' cursors; ``id`` is the event's own (a sender may give it).
events = Table(
    "events",
    metadata,
    Column("seq", AutoId, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("occurred", UTCDateTime, nullable=False, index=True),
    Column("event", String, nullable=False, index=True),
    Column("resource_id", String, nullable=False, index=True),
    Column("resource", Json, nullable=False),
    Column("related", Json),
    Column("payload", Json),
    Column("follows", ID),
    sqlite_autoincrement=True,
)

# Automations: a trigger and the actions it fires, as JSON in Prefect's shape (validated
# by ``kernel_ext.automations`` before they are stored).
automations = Table(
    "automations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", Text),
    Column("enabled", Boolean, nullable=False, server_default=true()),
    Column("trigger", Json, nullable=False),
    Column("actions", Json, nullable=False),
    Column("actions_on_trigger", Json),
    Column("actions_on_resolve", Json),
    # Where the event streams ended when it was made, resumed or given a new trigger:
    # it reacts to what came after (history id, event seq).
    Column("state_from", AutoId, nullable=False, server_default=text("0")),
    Column("event_from", AutoId, nullable=False, server_default=text("0")),
    Column("created", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
)

# The automations' evaluator: one row, held by one scheduler at a time (a lease renewed
# while it lives), with how far it has read the events. Evaluating under the lease, and
# moving the cursor in the transaction that records the firings, is what makes a
# firing happen once however many schedulers run.
automation_evaluator = Table(
    "automation_evaluator",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String),
    Column("lease_until", UTCDateTime),
    Column("state_cursor", AutoId, nullable=False, server_default=text("0")),
    Column("event_cursor", AutoId, nullable=False, server_default=text("0")),
    # Ids below the cursors not committed when they were read (PostgreSQL commits out of
    # order): looked for again until they appear or are too old to come.
    Column("pending", Json),
    Column("updated", UTCDateTime),
)

# A trigger's open windows ("buckets"), by the ``for_each`` labels of the events in them.
automation_buckets = Table(
    "automation_buckets",
    metadata,
    Column("automation_id", ID, primary_key=True),
    Column("trigger_id", ID, primary_key=True),
    Column("bucket_key", String, primary_key=True),
    Column("opened", UTCDateTime, nullable=False),
    Column("closes", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False),
    Column("last_event", Json),
    Column("state", Json),
)

# The firings: an outbox. A firing is recorded with the cursor it came from, once (its
# key is unique per automation); its actions run after, and it is marked done, or failed
# after its attempts. A scheduler that dies meanwhile leaves it pending for the next.
automation_firings = Table(
    "automation_firings",
    metadata,
    Column("id", ID, primary_key=True),
    Column("automation_id", ID, nullable=False, index=True),
    Column("firing_key", String, nullable=False),
    Column("fired", UTCDateTime, nullable=False, index=True),
    Column("triggering_event", Json),
    Column("firing", Json),
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("claimed_by", String),
    Column("claimed_until", UTCDateTime),
    Column("error", Text),
    Column("results", Json),
    Column("finished", UTCDateTime),
    UniqueConstraint("automation_id", "firing_key"),
)
