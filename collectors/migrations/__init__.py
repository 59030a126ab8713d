"""Alembic migrations of the graph store's schema; ``GraphStore.open`` runs them to head."""
