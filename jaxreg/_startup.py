"""``python -m jaxreg``: a Ctrl-C while the package (and JAX) import is one line and exit status 130.

``python -m jaxreg`` imports the package before ``jaxreg/__main__.py`` can catch anything, and that import takes
seconds (JAX). While it runs, CPython sets ``sys.argv[0]`` to ``"-m"`` (documented for the ``-m`` option), which
is how :func:`quiet_interrupts_while_importing` knows the command is starting. The console script gets the same
behaviour from its entry module, ``jaxreg_entry.py``, outside the package.
"""

import os
import signal
import sys
import threading

STARTING_MESSAGE = b"jaxreg: interrupted (while starting; nothing was run)\n"


def _exit_interrupted(signum, frame) -> None:
    os.write(2, STARTING_MESSAGE)  # no Python-level I/O: the interpreter may be mid-import
    os._exit(130)  # nothing was computed or written yet, so there is nothing to clean up


def quiet_interrupts_while_importing() -> None:
    """Under ``python -m jaxreg``, make SIGINT exit at once with one line until :func:`restore_interrupts`.

    Leaves a SIGINT disposition that is not Python's default alone (ignored in a background job, or the
    caller's own handler).
    """
    starting = sys.argv[:1] == ["-m"]
    if not starting or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _exit_interrupted)


def restore_interrupts() -> None:
    """Give SIGINT back to Python (a ``KeyboardInterrupt``) once the command runs and handles it itself."""
    if signal.getsignal(signal.SIGINT) is _exit_interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


quiet_interrupts_while_importing()  # on import: jaxreg/__init__.py imports this module before anything heavy
