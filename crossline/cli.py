"""The ``crossline`` command line: one entry point, one way to fail.

Contract: ``main`` assembles the subcommands (``crossline.commands``) and owns how the
command ends. Whatever happens, no traceback reaches the user: an error is one line on
stderr, ``crossline: <what failed>; <what to do>``, and the exit code says what kind of
failure it was (``crossline.errors``; listed in ``--help`` and the README):

0 ok; 1 findings (a gap or finding in an answer, no path, --strict warnings); 2 usage
(bad command line or configuration, or it names nothing in the graph); 3 bad input data;
4 a backend or the store cannot be reached; 5 an unexpected error in crossline (a bug:
run again with ``--log-level debug`` to see the traceback, and report it); 130
interrupted.

``--log-level`` (or ``-v``/``-vv``, or ``CROSSLINE_LOG_LEVEL``) sets how much crossline's
libraries log to stderr; the default is ``warning``.
"""

from __future__ import annotations

import logging
import sys

import click
from rich.console import Console

from crossline.errors import EXIT_INTERNAL, EXIT_USAGE, CrosslineError

EXIT_INTERRUPTED = 130
EXIT_CODES = """\b
Exit codes:
  0  ok
  1  findings: a gap or finding in an answer, no path, or --strict warnings
  2  usage: the command line or configuration is wrong, or names nothing in the graph
  3  bad input data
  4  unavailable: a backend (Marquez, AWS) or the graph store cannot be reached
  5  an unexpected error in crossline (a bug; --log-level debug shows the traceback)
  130  interrupted"""
LEVELS = ("error", "warning", "info", "debug")
log = logging.getLogger("crossline")
_HANDLER_NAME = "crossline-cli"
console = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> None:
    from rich.markup import escape

    from crossline.redact import redact_text  # an error may quote a URL with its credentials

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]crossline:[/] {escape(redact_text(message))}")
    sys.exit(code)


class _Group(click.Group):
    """Turns every way a command can fail into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except CrosslineError as err:
            log.debug("crossline error", exc_info=True)
            _fail(str(err), err.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (e.g. | head): nothing left to say
            sys.exit(0)
        except Exception as err:  # the boundary: anything else is a bug, said in one line
            log.debug("unexpected error", exc_info=True)
            _fail(f"unexpected error: {type(err).__name__}: {err}. This is a bug in crossline; run again with "
                  "--log-level debug to see where, and report it", EXIT_INTERNAL)
        return None


def _configure_logging(level: str) -> None:
    """crossline's handler on the root logger, replacing only a handler it put there before.

    Handlers others installed (a host application's, pytest's) stay: ``main`` may run
    inside another program.
    """
    from rich.logging import RichHandler

    from crossline.redact import RedactingFilter

    handler = RichHandler(console=Console(stderr=True, soft_wrap=True), show_time=False, show_path=False,
                          rich_tracebacks=level == "debug", markup=False)
    handler.addFilter(RedactingFilter())  # debug logs quote URLs and API bodies (botocore's too)
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != _HANDLER_NAME] + [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("crossline").setLevel(level.upper())
    # Libraries' own retry chatter (urllib3, botocore) is crossline's to summarise, not
    # to repeat, unless debugging. Even then their DEBUG level stays off: it is their wire
    # log (request and response bodies: hyperparameters, tags), which other handlers in
    # the process would see before crossline's filter redacts it.
    for noisy in ("urllib3", "botocore", "boto3", "s3transfer", "alembic"):
        logging.getLogger(noisy).setLevel(logging.INFO if level == "debug" else logging.ERROR)
    if level == "debug":
        root.setLevel(logging.INFO)


@click.group(cls=_Group, epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"],
                                                              "max_content_width": 100})
@click.version_option(package_name="crossline", prog_name="crossline", message="%(prog)s %(version)s")
@click.option("--log-level", type=click.Choice(LEVELS), default=None, envvar="CROSSLINE_LOG_LEVEL",
              help="How much crossline logs to stderr (default: warning).")
@click.option("-v", "--verbose", count=True, help="-v for info, -vv for debug (same as --log-level).")
def main(log_level: str | None, verbose: int) -> None:
    """crossline: OpenLineage-based cross-system lineage for ML pipelines.

    Collect OpenLineage events, SageMaker's lineage and registry, and endpoint data capture
    into one graph; then ask it which model served an inference, trained on what,
    approved by whom, as of the inference's time.
    """
    chosen = log_level or (LEVELS[min(1 + verbose, 3)] if verbose else "warning")
    _configure_logging(chosen)


def _register() -> None:
    from crossline.commands.collect import collect
    from crossline.commands.explain import explain, unmatched
    from crossline.commands.lineage import lineage
    from crossline.commands.log import log as collection_log
    from crossline.commands.query import query
    from crossline.commands.sample import sample
    from crossline.commands.settings import show_config
    from crossline.commands.trace import trace
    from crossline.commands.writeback import writeback

    for command in (collect, collection_log, trace, query, explain, unmatched, writeback, lineage, show_config,
                    sample):
        main.add_command(command)


_register()
