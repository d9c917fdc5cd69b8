"""A command line whose reader stops early (`tokens list | head -1`) ends quietly, as a shell tool would."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec

P = ParamSpec("P")
STOPPED_BY_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a command its pipe stopped


def quiet_when_reader_leaves(main: Callable[P, int]) -> Callable[P, int]:
    """Wrap a command line's `main` (returning an exit status): output flushed before it returns, and a reader that
    went away (BrokenPipeError) gives status 141 and no traceback. (argparse's --help swallows the error: status 0.)

    Technique: Python's `signal` documentation, "Note on SIGPIPE" (stdout pointed at /dev/null so the
    interpreter's own flush at exit cannot fail again).
    """

    @functools.wraps(main)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            try:
                return main(*args, **kwargs)
            finally:
                sys.stdout.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return STOPPED_BY_PIPE

    return run
