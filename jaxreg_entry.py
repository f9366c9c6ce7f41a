"""The ``jaxreg`` console script: outside the package so that a Ctrl-C while ``jaxreg`` (and JAX) import is one
line and exit status 130, like a Ctrl-C during a run, instead of a traceback."""

import sys


def main() -> int:
    try:
        from jaxreg.app import main as run
    except KeyboardInterrupt:
        print("jaxreg: interrupted (while starting; nothing was run)", file=sys.stderr)
        return 130
    return run()
