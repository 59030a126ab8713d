"""crossline: OpenLineage-based cross-system lineage for ML pipelines."""
