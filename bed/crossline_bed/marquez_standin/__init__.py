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
- ``createdAt`` timestamps have PostgreSQL's microsecond precision (Marquez's too).

Start it with ``StandinServer`` (``launcher``) or ``python -m crossline_bed.marquez_standin``.
"""

from crossline_bed.marquez_standin.launcher import StandinServer

__all__ = ["StandinServer"]
