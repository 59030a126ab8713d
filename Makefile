# The two commands of the README. Each one sets up what it needs itself.
.PHONY: demo test

demo:
	@bash scripts/bootstrap demo
	.venv/bin/crossline-bed demo

test:
	@bash scripts/bootstrap test
	.venv/bin/python -m pytest
