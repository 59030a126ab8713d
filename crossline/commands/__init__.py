"""The ``crossline`` command's subcommands, one module per verb; ``crossline.cli`` assembles them.

Contract: a subcommand is a thin shell over a library call. It prints answers to stdout
(text for people, ``--json`` for machines) and nothing else there; progress, warnings and
errors go to stderr. It raises ``CrosslineError`` subclasses for failures, which
``crossline.cli`` turns into one line and the class's exit code (``crossline.errors``).
"""
