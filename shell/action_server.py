"""The action server's entry (``python -m shell.action_server``): rasa-sdk's own, plus ``/metrics``.

The Rasa actions (``actions/``) write DNC entries, consents and evidence, so the process must be
watched like the others. rasa-sdk serves through Sanic's worker manager: the actions run in
worker processes, not in the process that parsed the command line. With
``IVR_ACTIONS_METRICS_PORT`` set, this entry therefore uses prometheus-client's multiprocess
mode: ``PROMETHEUS_MULTIPROC_DIR`` (a fresh ``<data_dir>/run/actions-metrics``) is set before any
worker starts, the workers' counters (:mod:`ivr.metrics`: evidence appends by kind, gate
decisions, errors logged per component...) go to files there, and ``/metrics`` on that port of
127.0.0.1 serves their sum. Then rasa-sdk runs with the command line it was given
(``--actions actions -p 5055``), exactly as ``python -m rasa_sdk`` would.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from ivr.settings import get_settings


def serve_worker_metrics(port: int, directory: Path) -> None:
    """``/metrics`` on ``port`` summing what the worker processes write under ``directory``."""
    shutil.rmtree(directory, ignore_errors=True)  # counters of an earlier run are not ours
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    start_http_server(port, addr="127.0.0.1", registry=registry)


def main(argv: Sequence[str] | None = None) -> None:
    from rasa_sdk.__main__ import main_from_args
    from rasa_sdk.endpoint import create_argument_parser

    args = create_argument_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    settings = get_settings()
    if settings.actions_metrics_port is not None:
        directory = settings.data_dir / "run" / "actions-metrics"
        serve_worker_metrics(settings.actions_metrics_port, directory)
    main_from_args(args)


if __name__ == "__main__":
    main()
