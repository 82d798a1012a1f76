"""jupyterhub-singleuser with Python's cyclic garbage collector paused while the server starts.

jhlti-start runs user servers and graders through `jhlti-singleuser` (a script calling main()).
A starting server imports ~1,900 modules, which make ~180,000 objects that live as long as it;
meanwhile the collector ran ~430 times, found almost nothing to free (~3,000 objects) and took
0.24 CPU-s. So main() pauses it before importing the server, and once the server runs (this
module is also a server extension, enabled in both config directories of the image) what the
start made is frozen (left out of every later collection) and the collector resumes. A timer
resumes it after RESUME_AFTER seconds should the extension not run. A user server's start
costs 11-21% less CPU (test/bench/start_cpu.py, BENCHMARKS.md); kernels are other processes.
"""

from __future__ import annotations

import gc
import sys
import threading

RESUME_AFTER = 120.0  # seconds; a start of 30 servers at once on 2 cores takes ~70 s


def resume_gc() -> bool:
    """Freeze what exists and resume the collector, once; True if it was paused."""
    if gc.isenabled():
        return False
    gc.freeze()
    gc.enable()
    return True


def _jupyter_server_extension_points():
    return [{"module": "jhlti_singleuser"}]


def _load_jupyter_server_extension(serverapp) -> None:
    pass


async def _start_jupyter_server_extension(serverapp) -> None:
    """Called once the server listens (jupyter_server's start hook)."""
    if resume_gc():
        serverapp.log.info("jhlti_singleuser: garbage collector resumed, %d objects of the start frozen",
                           gc.get_freeze_count())


def main() -> int:
    gc.disable()
    timer = threading.Timer(RESUME_AFTER, resume_gc)
    timer.daemon = True
    timer.start()
    from jupyterhub.singleuser import main as singleuser

    sys.argv[0] = "jupyterhub-singleuser"
    return singleuser()
