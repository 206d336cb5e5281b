"""The ``comptoir`` console script.

Every Django management command passes through (``comptoir migrate``), and Comptoir's own verbs
(``demo``, ``serve``, ``worker``, ``createtoken``…) are management commands too, so there is
one way to add a verb and ``comptoir help`` lists them all.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comptoir.config.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "comptoir"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
