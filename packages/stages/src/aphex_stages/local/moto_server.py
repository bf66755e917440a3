"""``python -m aphex_stages.local.moto_server [moto.server arguments]``.

Runs moto's own server entry point (``moto.server.main``) after installing
:mod:`aphex_stages.local.moto_iam`, so that with IAM authorization switched on
(:func:`aphex_stages.local.moto.set_moto_auth`) trust and permission policies evaluate as
on AWS. Authorization stays off until it is switched on.
"""

from __future__ import annotations

import sys

from aphex_stages.local import moto_iam


def main(argv: list[str] | None = None) -> None:
    """Install the IAM shim, then run moto's server with ``argv`` (default: sys.argv[1:])."""
    moto_iam.install()
    from moto.server import main as moto_main  # pants: no-infer-dep

    moto_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
