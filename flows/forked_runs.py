"""``assay serve``'s flow runs forked from a process that imported assay once.

Prefect's runner starts each flow run of a served deployment in a new interpreter
(``run_flow_in_subprocess``, a ``spawn`` child). That child imports Prefect, Dask, pandas and
assay before the run begins: about 6 s on the 2-core development machine, against 0.2 s for
the flow of a 10-row upload. Here the standard library's forkserver imports them once, when
serving starts (the run daemon's ``PRELOAD`` list), and forks a child per flow run. Each run
still has a process of its own, which the runner watches, cancels and kills as before.

:func:`forked_flow_runs` puts :func:`run_flow_forked` where Prefect's
``DirectSubprocessStarter`` looks the function up on each start: its module, the override
point its docstring names. The child rebuilds what a spawned one would have: the runner's
environment as it is now (not as it was when the forkserver started), Prefect's settings
from it, the runner's control channel, and the runner's serialised context.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from multiprocessing.process import BaseProcess
from typing import Any

import cloudpickle
from prefect._internal.control_listener import configure_from_env
from prefect.context import SettingsContext, get_settings_context, serialize_context
from prefect.engine import handle_engine_signals
from prefect.flow_engine import run_flow
from prefect.runner import _starter_direct
from prefect.settings import Settings, get_current_settings
from prefect.utilities.processutils import sanitize_subprocess_env

from assay.flows.daemon_server import PRELOAD

# The runner runs a flow run's on_cancellation and on_crashed hooks itself; a spawned child
# gets the same variable from Prefect.
_RUNNER_RUNS_HOOKS = {"PREFECT__ENABLE_CANCELLATION_AND_CRASHED_HOOKS": "false"}
_OVERRIDE = "run_flow_in_subprocess"

logger = logging.getLogger(__name__)


def run_flow_forked(flow: Any, flow_run: Any = None, parameters: dict[str, Any] | None = None,
                    wait_for: Iterable[Any] | None = None,
                    context: dict[str, Any] | None = None,
                    env: dict[str, str | None] | None = None) -> BaseProcess:
    """Start ``flow`` in a child forked from the preloaded forkserver and return the started
    process: ``run_flow_in_subprocess``'s arguments and result. ``env`` adds variables to the
    runner's (``None`` removes one)."""
    environment = sanitize_subprocess_env(
        get_current_settings().to_environment_variables(exclude_unset=True)
        | os.environ | _RUNNER_RUNS_HOOKS | (env or {}))
    call = cloudpickle.dumps((_import_path(flow), flow_run, parameters, wait_for,
                              context or serialize_context(), environment))
    process = multiprocessing.get_context("forkserver").Process(
        target=_run_in_child, args=(call,), name=f"flow run {getattr(flow_run, 'id', '')}")
    process.start()
    return process


def _import_path(flow: Any) -> tuple[str, str]:
    """Where the child finds ``flow``: pickled by value, a flow's function loses the names
    its annotations use (``from __future__ import annotations``), so Prefect's parameter
    check fails; the forkserver has the module imported anyway."""
    module, name = flow.fn.__module__, flow.fn.__name__
    if getattr(importlib.import_module(module), name, None) is not flow:
        raise TypeError(f"a forked flow run needs a module-level flow; {module}.{name} is not")
    return module, name


def _run_in_child(call: bytes) -> None:
    (module, name), flow_run, parameters, wait_for, context, environment = \
        cloudpickle.loads(call)
    os.environ.clear()  # the forkserver's copy dates from when serving started
    os.environ.update(environment)
    configure_from_env()  # takes (and removes) the runner's one-shot control-channel keys
    flow = getattr(importlib.import_module(module), name)  # imported with the run's variables
    with SettingsContext(profile=get_settings_context().profile, settings=Settings()), \
            handle_engine_signals(getattr(flow_run, "id", None)):
        result = run_flow(flow, flow_run=flow_run, parameters=parameters, wait_for=wait_for,
                          context=context)
        if asyncio.iscoroutine(result):
            asyncio.run(result)


def start_forkserver() -> None:
    """Start the forkserver now, importing ``PRELOAD`` in the background (at once it is
    running: its imports are fixed when it starts)."""
    multiprocessing.forkserver.set_forkserver_preload(list(PRELOAD))
    multiprocessing.forkserver.ensure_running()


@contextmanager
def forked_flow_runs() -> Iterator[bool]:
    """While the block runs, the runner's flow runs fork from a forkserver that imports
    assay now (in the background); yields whether they do. A Prefect that no longer has the
    override point keeps its fresh processes, with a warning."""
    if not hasattr(_starter_direct, _OVERRIDE):
        logger.warning("Prefect's runner has no %s to override: each flow run imports "
                       "assay in a fresh process (a few seconds more per run)", _OVERRIDE)
        yield False
        return
    start_forkserver()
    prefects = getattr(_starter_direct, _OVERRIDE)
    setattr(_starter_direct, _OVERRIDE, run_flow_forked)
    try:
        yield True
    finally:
        setattr(_starter_direct, _OVERRIDE, prefects)
