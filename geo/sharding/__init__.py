"""Per-office shards reached through PostgreSQL's own ``postgres_fdw``.

The layout (docs/scaling.md explains the why):

- Every office shard is a complete Timpora database (same migrations, same reference
  geography) that holds its own office's workplaces, foreigners, incidents and sightings, and
  evaluates its alerts on write, where the write lands.
- The coordinator (a Timpora database too, possibly holding one office's data of its own) reaches
  each shard through a foreign server ``timpora_shard_<name>`` (``extensions 'postgis'`` so that
  PostGIS operators and functions are shippable: ``ST_DWithin`` runs on the shard against its GiST
  index) and one schema ``shard_<name>`` of foreign tables imported from the shard's ``public``.
- Schema ``national`` federates them: one view per registry table, ``SELECT <columns>, office``
  over the coordinator's own rows ``UNION ALL`` each shard's foreign table. With
  ``search_path = national, public`` (:func:`national_scope`) the unchanged SQL of the hotspots
  and of the alert rules reads the whole country.
- ``national.alert`` (a table, not a view) receives the cross-office alerts of the rules whose
  subjects can lie in two offices (an incident near another office's workplace, an incident
  cluster across an office boundary): :func:`run_national_pass`. ``national.all_alerts`` is the
  national alert panel: every office's alerts plus those.

Why views and not a partitioned ``sighting_national`` with foreign partitions: ``sighting`` has
unique keys (PK ``(id, observed_at)``) and PostgreSQL refuses a foreign table as a partition of a
table with unique indexes; a key-less partitioned twin would need an ``office`` partition column
that no Timpora table has, and gives nothing a ``UNION ALL`` view does not: the planner pushes the
``WHERE`` of a query on the view into every branch, so each shard receives its own remote SQL.

Identifiers come from validated names and the catalogue, quoted by :func:`quote_ident`; every
value (host, password, ...) is a bound parameter. The password goes into the user mapping and
nowhere else: not into logs, errors or :func:`list_shards`.

The parts:

- :mod:`geo.sharding.names` — shard names, their servers and schemas, the federated tables;
- :mod:`geo.sharding.servers` — attach, detach and list shards (foreign servers, user mappings);
- :mod:`geo.sharding.views` — the ``national`` views and :func:`national_scope`;
- :mod:`geo.sharding.national` — the national alert pass and national proximity queries;
- :mod:`geo.sharding.id_blocks` — each office's identities in a block of its own.
"""

from geo.sharding.id_blocks import assign_id_block
from geo.sharding.names import (
    CROSS_OFFICE_RULES,
    FEDERATED_TABLES,
    IMPORTED_TABLES,
    LOCAL_OFFICE,
    NATIONAL_OFFICE,
    NATIONAL_SCHEMA,
    SCHEMA_PREFIX,
    SERVER_PREFIX,
    ShardError,
    quote_ident,
    schema_name,
    server_name,
)
from geo.sharding.national import (
    NearbySighting,
    remote_sql,
    run_national_pass,
    sightings_near,
    sightings_near_remote_sql,
)
from geo.sharding.servers import Shard, attach_shard, detach_shard, list_shards
from geo.sharding.views import national_scope, rebuild_views

__all__ = [
    "CROSS_OFFICE_RULES",
    "FEDERATED_TABLES",
    "IMPORTED_TABLES",
    "LOCAL_OFFICE",
    "NATIONAL_OFFICE",
    "NATIONAL_SCHEMA",
    "SCHEMA_PREFIX",
    "SERVER_PREFIX",
    "NearbySighting",
    "Shard",
    "ShardError",
    "assign_id_block",
    "attach_shard",
    "detach_shard",
    "list_shards",
    "national_scope",
    "quote_ident",
    "rebuild_views",
    "remote_sql",
    "run_national_pass",
    "schema_name",
    "server_name",
    "sightings_near",
    "sightings_near_remote_sql",
]
