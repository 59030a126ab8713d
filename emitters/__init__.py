"""Emitters: OpenLineage events rich with ML facts, sent as a side effect of runs."""
