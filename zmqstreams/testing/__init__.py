"""A pytest plugin for code that uses zmqstreams: stream fixtures, a leak check, a time limit.

It is opt-in and never activates by itself (there is no entry point).  Enable it in the
``conftest.py`` at the root of your tests::

    pytest_plugins = ["zmqstreams.testing"]

or for one run with ``pytest -p zmqstreams.testing``.  It needs nothing beyond pytest and works
with or without anyio's pytest plugin and pytest-asyncio installed:

* An ``async def`` test marked ``@pytest.mark.anyio`` (or in anyio's auto mode) is run by anyio;
  one marked ``@pytest.mark.asyncio`` (or in pytest-asyncio's auto mode) by pytest-asyncio.
* Any other ``async def`` test that uses a fixture of this plugin, or is marked
  ``@pytest.mark.zmqstreams``, is run by this plugin, once on each loop of the
  ``zmqstreams_backends`` ini option (asyncio and uvloop; uvloop is skipped if not installed).

Fixtures: ``zmq_backend``, ``zmq_transport``, ``zmq_endpoint``, ``zmq_stream_factory``,
``zmq_pair``, ``zmq_pair_factory`` and ``zmq_leak_check`` (it fails a test that leaves streams
open, naming the line that created each, or tasks, fds or loop errors behind).  Markers:
``zmqstreams``, ``zmqstreams_timeout(seconds)`` and ``zmqstreams_leak_check(enabled=True, *,
streams=True, tasks=True, fds=True, loop_errors=True)``.  Ini options: ``zmqstreams_timeout``,
``zmqstreams_leak_check``, ``zmqstreams_leak_settle`` and ``zmqstreams_backends``.  Fault
injection: ``socket_faults(stream)``; races: ``pending_receive(stream)``.
``warm_zmq_context()`` for synchronous tests that count fds.  See "Testing your code" in the
docs.

pytest leaves this package's asserts as they are (``PYTEST_DONT_REWRITE``): a ``conftest.py``
may then import from it (``ANYIO_BACKENDS``) before naming it in ``pytest_plugins`` without
pytest warning that it cannot rewrite a module already imported.
"""

from __future__ import annotations

# pytest registers this module, the one named in ``pytest_plugins``, and finds the plugin's
# hooks and fixtures among its attributes: each part's are imported here, under their own
# names.  The parts are not plugins themselves (nothing lists them), so nothing is registered
# twice.
from ._backends import ANYIO_BACKENDS as ANYIO_BACKENDS
from ._backends import pytest_generate_tests as pytest_generate_tests
from ._backends import pytest_pycollect_makeitem as pytest_pycollect_makeitem
from ._backends import zmq_backend as zmq_backend
from ._endpoints import _zmq_endpoints as _zmq_endpoints
from ._endpoints import zmq_endpoint as zmq_endpoint
from ._endpoints import zmq_transport as zmq_transport
from ._faults import SocketFaults as SocketFaults
from ._faults import socket_faults as socket_faults
from ._leaks import pytest_collection_modifyitems as pytest_collection_modifyitems
from ._leaks import pytest_runtest_makereport as pytest_runtest_makereport
from ._leaks import warm_zmq_context as warm_zmq_context
from ._leaks import zmq_leak_check as zmq_leak_check
from ._options import pytest_addoption as pytest_addoption
from ._options import pytest_configure as pytest_configure
from ._races import pending_receive as pending_receive
from ._runner import pytest_fixture_setup as pytest_fixture_setup
from ._runner import pytest_pyfunc_call as pytest_pyfunc_call
from ._streams import CLOSE_TIMEOUT as CLOSE_TIMEOUT
from ._streams import PairFactory as PairFactory
from ._streams import StreamFactory as StreamFactory
from ._streams import zmq_pair as zmq_pair
from ._streams import zmq_pair_factory as zmq_pair_factory
from ._streams import zmq_stream_factory as zmq_stream_factory
from ._time_limit import TimeLimitExceeded as TimeLimitExceeded
from ._time_limit import pytest_runtest_call as pytest_runtest_call
from ._time_limit import pytest_runtest_setup as pytest_runtest_setup
from ._time_limit import pytest_runtest_teardown as pytest_runtest_teardown

__all__ = (
    "ANYIO_BACKENDS",
    "PairFactory",
    "SocketFaults",
    "StreamFactory",
    "TimeLimitExceeded",
    "zmq_backend",
    "zmq_endpoint",
    "zmq_leak_check",
    "zmq_pair",
    "zmq_pair_factory",
    "pending_receive",
    "socket_faults",
    "warm_zmq_context",
    "zmq_stream_factory",
    "zmq_transport",
)
