"""jupyterhub-singleuser with Python's cyclic garbage collector paused while the server starts.

jhlti-start runs user servers and graders through `jhlti-singleuser` (a script calling main()).
A starting server imports ~1,900 modules, which make ~180,000 objects that live as long as it;
meanwhile the collector ran ~430 times, found almost nothing to free (~3,000 objects) and took
0.24 CPU-s. So main() pauses it before importing the server, and once the server runs (this
module is also a server extension, enabled in both config directories of the image) what the
start made is frozen (left out of every later collection) and the collector resumes. A timer
resumes it after RESUME_AFTER seconds should the extension not run. A user server's start
costs 11-21% less CPU (test/bench/start_cpu.py, BENCHMARKS.md); kernels are other processes.

It also imports jupyterhub.singleuser without the parts of the hub that come with it and that a
single-user server never runs (HUB_ONLY): the hub's request handlers (jupyterhub.log imports
them for one isinstance check against the hub's health check handler), its database models and
roles with SQLAlchemy (jupyterhub.scopes and jupyterhub.metrics use them only in functions given
a database session, which a single-user server has none of) and alembic (the hub's database
migrations). While jupyterhub.singleuser is imported, modules that stand in for them are in
sys.modules with the names imported from them and no other (a name not given raises
AttributeError, at import ImportError); afterwards they are removed, so a later import gets the
real package (nbgrader's gradebook, say). Should the import fail with them (a JupyterHub that
needs more of these modules), it is done again without them and a warning says so.
"""

from __future__ import annotations

import gc
import sys
import threading
import types
import warnings

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


class _HubOnly(types.ModuleType):
    """Stands in for a module of the hub a single-user server does not run: it has only the names
    given to it; any other raises AttributeError (at import: ImportError) saying so."""

    def __getattr__(self, name: str):
        raise AttributeError(f"{self.__name__}.{name} is not loaded in a single-user server (jhlti_singleuser.HUB_ONLY)")


def _stand_ins() -> dict[str, types.ModuleType]:
    pages = _HubOnly("jupyterhub.handlers.pages")
    pages.HealthCheckHandler = type("HealthCheckHandler", (), {"__doc__": "The hub's; never a handler of this server."})
    handlers = _HubOnly("jupyterhub.handlers")
    handlers.__path__, handlers.pages = [], pages
    alembic = _HubOnly("alembic")
    alembic.__path__ = []
    for sub in ("command", "config", "script"):
        setattr(alembic, sub, _HubOnly(f"alembic.{sub}"))
    alembic.script.ScriptDirectory = _HubOnly("alembic.script.ScriptDirectory")
    # The hub's database: its models, roles and SQLAlchemy. jupyterhub.scopes and jupyterhub.metrics
    # use them only in functions given a database session, which a single-user server has none of;
    # jupyterhub.utils names SQLAlchemy's base exception in except clauses (never raised here).
    orm, roles = _HubOnly("jupyterhub.orm"), _HubOnly("jupyterhub.roles")
    sqlalchemy = _HubOnly("sqlalchemy")
    sqlalchemy.__path__, sqlalchemy.exc = [], _HubOnly("sqlalchemy.exc")
    sqlalchemy.exc.SQLAlchemyError = type("SQLAlchemyError", (Exception,), {"__doc__": "SQLAlchemy's; never raised here."})
    return {m.__name__: m for m in (handlers, pages, alembic, alembic.command, alembic.config, alembic.script,
                                    orm, roles, sqlalchemy, sqlalchemy.exc)}


HUB_ONLY = tuple(_stand_ins())


def import_singleuser():
    """jupyterhub.singleuser.main, imported without the modules in HUB_ONLY (see above)."""
    stand_ins = {name: m for name, m in _stand_ins().items() if name not in sys.modules}
    before = set(sys.modules)
    sys.modules.update(stand_ins)
    try:
        from jupyterhub.singleuser import main as singleuser
    except Exception as error:  # noqa: BLE001 - any failure: import as JupyterHub does
        for name in set(sys.modules) - before:
            del sys.modules[name]
        warnings.warn(f"jhlti_singleuser: jupyterhub.singleuser needs the hub's modules ({error!r}); "
                      "importing it with them (a slower start)", RuntimeWarning, stacklevel=2)
        from jupyterhub.singleuser import main as singleuser
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    return singleuser


def main() -> int:
    gc.disable()
    timer = threading.Timer(RESUME_AFTER, resume_gc)
    timer.daemon = True
    timer.start()
    singleuser = import_singleuser()

    sys.argv[0] = "jupyterhub-singleuser"
    return singleuser()
