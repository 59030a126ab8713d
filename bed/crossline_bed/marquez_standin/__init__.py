"""A stand-in for the Marquez 0.50 REST API, for the local bed: a mock, not Marquez.

Why it exists: real Marquez 0.50.0 cannot run on this machine (its jar is not reachable
and there is no container engine), and the project allows a mock only where no real
part can run, named as such. This is that mock. It implements the part of Marquez's API
crossline and its tests use, with Marquez's paths, status codes and JSON shapes, so
openlineage-python's HTTP transport, marquez-python 0.50.0 and plain HTTP work against it
unchanged. It stores on real PostgreSQL: every event raw, plus the entities Marquez
derives from events (see ``store``).

Endpoints (all under ``/api/v1``): POST ``/lineage``; GET ``/lineage?nodeId=&depth=``,
``/events/lineage``, ``/namespaces``, ``/namespaces/{ns}``, ``/namespaces/{ns}/datasets``,
``.../datasets/{name}``, ``.../datasets/{name}/versions``, ``.../versions/{version}``,
``/jobs``, ``/namespaces/{ns}/jobs``, ``.../jobs/{name}``, ``.../jobs/{name}/runs``,
``/jobs/runs/{id}``, ``/jobs/runs/{id}/facets?type=run|job``. Admin: ``/healthcheck``,
``/ping``.

What it does not do (Marquez does):
- no search, column lineage, tags, sources, stats, job versions endpoints, run lineage,
  deletes, PUT/POST of the legacy (pre-OpenLineage) API, OpenSearch indexing;
- no namespace exclusion config, no ``isHidden`` (always false), no data retention;
- version UUIDs of datasets and jobs are deterministic over the same inputs Marquez
  hashes, but not bit-identical to Marquez's;
- parent run facet: the parent job is linked (and created if unknown) but no row for
  the parent run is created; job symlinks (``jobs.symlink_target_uuid``) are not kept;
- streaming jobs get a job version on each event whose I/O changes, without Marquez's
  special case for terminal streaming events with no datasets;
- column lineage facets and the ``spark_unknown`` skip are ignored; facets are stored
  as given;
- a name registered as a ``symlinks`` alias of a dataset resolves to that dataset on
  reads and later writes; Marquez's exact alias conflict rules are not reproduced;
- ``createdAt`` timestamps have PostgreSQL's microsecond precision (Marquez's too);
- a time outside years 1-9999 once in UTC (an ``eventTime`` like
  ``9999-12-31T23:59:59-01:00``, a nominal time, a ``before``/``after`` query) is a 400
  ``{"code": 400, "message": ...}``: Python's ``datetime`` ends there, while Marquez
  (Java time, PostgreSQL ``timestamptz``) would store year 10000;
- Marquez writes the raw event and derives its model in two transactions, so an event
  it refuses while deriving (a namespace ``NamespaceName`` refuses) still has its raw
  row; the stand-in does both in one and keeps nothing of a refused event;
- Jackson's string length limit, ``java.net.URI`` syntax of ``_producer``/``schemaURL``
  and epoch numbers as times (Jackson reads them; the stand-in refuses them) are not
  mirrored.

Answers to hostile input, decided from Marquez 0.50.0's source (``OpenLineageResource``,
``JsonProcessingExceptionMapper``, the event model) and Jackson's defaults; none is the
stand-in's internal error (see ``model.parse_event`` and ``jackson``):
- what Jackson will not read into the event model: unreadable JSON, ``NaN``/
  ``Infinity`` (not JSON; ``ALLOW_NON_NUMERIC_NUMBERS`` is off), nesting deeper than
  1000 (``StreamReadConstraints``, Jackson 2.15+; a 10,000-deep body is refused before
  it is parsed), a number of more than 1000 characters, an object where the model has
  a string or a string where it has an object: HTTP 500 with ``{"code": 400, ...}``, as
  Marquez's own mapper answers (Marquez's choice, and why clients must not retry every
  5xx forever);
- a NUL (``\u0000``): in a namespace, 400 (``NamespaceName``); anywhere else 500 with no
  body, Marquez's answer when PostgreSQL refuses it (neither ``text`` nor ``jsonb`` can
  hold a NUL), given here before anything is stored;
- what Jackson takes, stored as Marquez stores it: a float beyond double range as the
  string ``"Infinity"``, a lone surrogate as ``?``, a number or boolean where the model
  has a string as its text.

Concurrency: no lock spans the server or a whole event; an event locks its own job,
run and datasets (``ingest``), so a 100,000-input event holds up only events that share
them.

Start it with ``StandinServer`` (``launcher``) or ``python -m crossline_bed.marquez_standin``.
"""

from crossline_bed.marquez_standin.launcher import StandinServer

__all__ = ["StandinServer"]
