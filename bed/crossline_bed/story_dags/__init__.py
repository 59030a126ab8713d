"""DAGs of the bed's stories that are not crossline's own pipeline (a team's DAGs, as they write them)."""
