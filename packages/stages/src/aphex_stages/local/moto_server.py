"""``python -m aphex_stages.local.moto_server [--state FILE] [moto.server arguments]``.

Runs moto's own server entry point (``moto.server.main``) after installing
:mod:`aphex_stages.local.moto_iam`, so that with IAM authorization switched on
(:func:`aphex_stages.local.moto.set_moto_auth`) trust and permission policies evaluate as
on AWS, and :mod:`aphex_stages.local.moto_cfn`, so that a stack update changes an IAM role
as on AWS. Authorization stays off until it is switched on.

With ``--state FILE`` (``aphex run --local``'s embedded AWS) the server keeps its resources
in FILE between runs (:mod:`aphex_stages.local.aws_state`): it restores them before it
serves, saves them on ``POST /aphex-state/save`` and, if anything was asked since, when it
is stopped (SIGTERM, SIGINT). It then serves moto's app as ``moto.server.main`` does, on
``-H`` HOST and ``-p`` PORT only.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aphex_stages.local import moto_cfn, moto_iam


def _serve_with_state(argv: list[str]) -> None:
    from moto.moto_server import werkzeug_app  # pants: no-infer-dep
    from werkzeug.serving import run_simple  # pants: no-infer-dep

    from aphex_stages.local.aws_state import StateKeeper

    parser = argparse.ArgumentParser(prog="aphex_stages.local.moto_server")
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto's main: its own URLs
    app = werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app)
    app.debug = True  # type: ignore[attr-defined, unused-ignore]
    keeper = StateKeeper(app, args.state)
    keeper.restore()

    def stop(signum: int, frame: Any) -> None:
        keeper.save_if_changed()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    run_simple(
        args.host, args.port, keeper, threaded=True, request_handler=werkzeug_app.MotoRequestHandler
    )


def main(argv: list[str] | None = None) -> None:
    """Install the IAM shims, then run moto's server with ``argv`` (default: sys.argv[1:])."""
    moto_iam.install()
    moto_cfn.install()
    arguments = sys.argv[1:] if argv is None else argv
    if "--state" in arguments:
        _serve_with_state(arguments)
        return
    from moto.server import main as moto_main  # pants: no-infer-dep

    moto_main(arguments)


if __name__ == "__main__":
    main()
