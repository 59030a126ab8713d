"""Collectors: read Marquez and SageMaker lineage and reconcile them into one graph."""
