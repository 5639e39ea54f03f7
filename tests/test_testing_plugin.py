"""The pytest plugin ``zmqstreams.testing``, run on small test files through ``pytester``.

Most runs are in-process (fast); the ones that depend on process-wide state (a missing uvloop,
SIGALRM while a test hangs, which plugins are installed) run in a subprocess.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import pkgutil
import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
HAS_PYTEST_ASYNCIO = importlib.util.find_spec("pytest_asyncio") is not None

#: The loops every async test runs on, as pytest ids.
LOOPS = ["asyncio", "uvloop"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A test project that opts in to the plugin, strict like ours, with a short leak settle."""
    pytester.makeconftest('pytest_plugins = ["zmqstreams.testing"]\n')
    ini = """
        [pytest]
        addopts = --strict-markers --strict-config -p no:cacheprovider
        filterwarnings = error
        zmqstreams_leak_settle = 2
        """
    if HAS_PYTEST_ASYNCIO:  # else it warns about its unset default, an error here
        ini += "asyncio_default_fixture_loop_scope = function\n"
    pytester.makeini(textwrap.dedent(ini))
    return pytester


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    return {k: v for k, v in result.parseoutcomes().items() if k not in ("seconds", "warnings")}


def test_pair_over_each_transport_and_loop(project: pytest.Pytester) -> None:
    """zmq_pair connects two PAIR streams over inproc, ipc and tcp, on asyncio and uvloop."""
    project.makepyfile(
        test_echo="""
        async def test_echo(zmq_pair, zmq_transport):
            server, client = zmq_pair
            assert next(iter(server.transport.bindings())).startswith(zmq_transport + "://")
            client.write([b"ping"])
            assert await server.read() == [b"ping"]
            server.write([b"pong"])
            assert await client.read() == [b"pong"]
        """
    )
    result = project.runpytest("-v")
    result.assert_outcomes(passed=6 if HAS_UVLOOP else 3, skipped=0 if HAS_UVLOOP else 3)
    for transport in ("inproc", "ipc", "tcp"):
        for loop in LOOPS:
            result.stdout.fnmatch_lines([f"*test_echo[[]{transport}-{loop}[]]*"])


def test_runs_on_the_loop_it_names(project: pytest.Pytester) -> None:
    """zmq_backend names the loop the test runs on; async fixtures run on that same loop."""
    project.makepyfile(
        test_loops="""
        import asyncio
        import pytest

        @pytest.fixture
        async def loop_of_fixture(zmq_backend):
            yield asyncio.get_running_loop()

        async def test_loop(zmq_backend, loop_of_fixture):
            loop = asyncio.get_running_loop()
            assert loop is loop_of_fixture
            assert type(loop).__module__.startswith(zmq_backend)

        @pytest.mark.zmqstreams
        async def test_marked_without_fixtures():
            await asyncio.sleep(0)
        """
    )
    result = project.runpytest("-v")
    result.assert_outcomes(passed=4 if HAS_UVLOOP else 2, skipped=0 if HAS_UVLOOP else 2)
    result.stdout.fnmatch_lines(["*test_marked_without_fixtures[[]uvloop[]]*"])


def test_uvloop_is_skipped_cleanly_when_missing(project: pytest.Pytester) -> None:
    """Without uvloop the uvloop half of the matrix is skipped with a reason, not failed."""
    project.makeconftest(
        """
        import sys
        sys.modules["uvloop"] = None  # as if it were not installed
        pytest_plugins = ["zmqstreams.testing"]
        """
    )
    project.makepyfile(
        test_it="""
        async def test_echo(zmq_pair):
            server, client = zmq_pair
            client.write([b"x"])
            assert await server.read() == [b"x"]
        """
    )
    result = project.runpytest_subprocess("-rs", "-p", "no:anyio")
    result.assert_outcomes(passed=3, skipped=3)
    result.stdout.fnmatch_lines(["*uvloop is not installed*"])


def test_backends_ini_option(project: pytest.Pytester) -> None:
    """zmqstreams_backends narrows the matrix; a parametrize of zmq_backend overrides it."""
    project.makeini(
        """
        [pytest]
        addopts = -p no:cacheprovider
        zmqstreams_backends = asyncio
        """
    )
    project.makepyfile(
        test_it="""
        import pytest

        async def test_default(zmq_backend):
            assert zmq_backend == "asyncio"

        @pytest.mark.parametrize("zmq_backend", ["uvloop"], indirect=True)
        async def test_chosen(zmq_backend):
            assert zmq_backend == "uvloop"
        """
    )
    result = project.runpytest("-v")
    result.assert_outcomes(passed=2 if HAS_UVLOOP else 1, skipped=0 if HAS_UVLOOP else 1)
    result.stdout.fnmatch_lines(["*test_default[[]asyncio[]] PASSED*"])


def test_pair_factory_socket_types(project: pytest.Pytester) -> None:
    """DEALER/ROUTER, PUSH/PULL and PUB/SUB pairs; PUB/SUB leaves no probe for the test."""
    project.makepyfile(
        test_types="""
        import pytest
        import zmq

        async def test_router_dealer(zmq_pair_factory):
            router, dealer = await zmq_pair_factory(zmq.ROUTER, zmq.DEALER)
            dealer.write([b"hi"])
            ident, body = await router.read()
            router.write([ident, body + b"!"])
            assert await dealer.read() == [b"hi!"]

        async def test_push_pull(zmq_pair_factory):
            pull, push = await zmq_pair_factory(zmq.PULL, zmq.PUSH)
            push.write([b"job"])
            assert await pull.read() == [b"job"]

        @pytest.mark.parametrize("zmq_transport", ["tcp", "inproc"])
        async def test_pub_sub(zmq_pair_factory):
            pub, sub = await zmq_pair_factory(zmq.PUB, zmq.SUB, subscribe=[b"a"])
            pub.write([b"b", b"dropped"])
            pub.write([b"a", b"kept"])
            assert await sub.read() == [b"a", b"kept"]
            assert sub.statistics().read_buffer_messages == 0

        async def test_sub_binds(zmq_pair_factory):
            sub, pub = await zmq_pair_factory(zmq.SUB, zmq.PUB)
            pub.write([b"x"])
            assert await sub.read() == [b"x"]
        """
    )
    result = project.runpytest()
    per_loop = 3 + 3 + 2 + 3
    result.assert_outcomes(
        passed=2 * per_loop if HAS_UVLOOP else per_loop, skipped=0 if HAS_UVLOOP else per_loop
    )


def test_streams_are_closed_after_a_failing_test(project: pytest.Pytester) -> None:
    """A failing test's streams are closed and waited for at teardown, without a leak report."""
    project.makepyfile(
        test_fail="""
        import zmq
        import pytest

        opened = []

        @pytest.mark.parametrize("zmq_backend", ["asyncio"], indirect=True)
        async def test_fails(zmq_pair, zmq_stream_factory):
            extra = await zmq_stream_factory(zmq.PUSH, connect="tcp://127.0.0.1:9")
            opened.extend([*zmq_pair, extra])
            raise AssertionError("boom")

        def test_then_all_closed():
            assert len(opened) == 9
            assert all(stream.transport is None for stream in opened)
        """
    )
    result = project.runpytest()
    result.assert_outcomes(failed=3, passed=1)
    result.stdout.no_fnmatch_line("*left*behind*")
    result.stdout.no_fnmatch_line("*ERROR*")


def test_leaked_task_is_reported(project: pytest.Pytester) -> None:
    """A test that leaves a task running fails at teardown, naming the task and where it waits."""
    project.makepyfile(
        test_leak="""
        import asyncio
        import pytest

        keep = []  # a task nobody refers to is collected, and reported as a loop error

        async def forever():
            await asyncio.Event().wait()

        @pytest.mark.zmqstreams
        async def test_leaks_a_task():
            keep.append(asyncio.create_task(forever(), name="the-leaked-one"))

        @pytest.mark.zmqstreams
        @pytest.mark.zmqstreams_leak_check(tasks=False)
        async def test_allowed_to_leak():
            keep.append(asyncio.create_task(forever()))
        """
    )
    result = project.runpytest("-o", "zmqstreams_leak_settle=0.3")  # the leak stays: wait less
    result.assert_outcomes(
        passed=4 if HAS_UVLOOP else 2, errors=2 if HAS_UVLOOP else 1, skipped=0 if HAS_UVLOOP else 2
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_a_task[[]asyncio[]]*",
            "the test left 1 task(s) running:",
            "  the-leaked-one, started at test_leak.py:11 (test_leaks_a_task):",
            '*test_leak.py", line 7, in forever',
            "*await asyncio.Event().wait()",
        ]
    )


UNCLOSED_STREAMS = """
import zmq

import zmqstreams

opened = []


async def open_pull():
    return await zmqstreams.create_zmq_stream(zmq.PULL, bind="tcp://127.0.0.1:*")


async def test_forgets_to_close(zmq_backend):
    stream = await zmqstreams.create_zmq_stream(zmq.PAIR, bind="tcp://127.0.0.1:*")
    opened.append(stream)
    assert stream.transport is not None


async def test_helper_forgets_to_close(zmq_backend):
    opened.append(await open_pull())


async def test_closes_its_stream(zmq_backend):
    stream = await zmqstreams.create_zmq_stream(zmq.PAIR, bind="tcp://127.0.0.1:*")
    opened.append(stream)
    stream.close()


def test_zz_the_check_closed_them():
    assert len(opened) == 3
    assert all(stream.transport is None for stream in opened)
"""


def line_of(source: str, text: str) -> int:
    """The number of the line of ``source`` (as makepyfile writes it) that contains ``text``."""
    lines = source.strip("\n").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_unclosed_stream_fails_naming_the_line_that_created_it(project: pytest.Pytester) -> None:
    """A stream the test never closes fails it at teardown, with the test's line that created
    it (through a helper: both lines), and the check closes it; a closed one passes.  Its
    reader task, its ZeroMQ socket's eventfd and its listening tcp socket are listed under it,
    not as library internals (in a fresh process: fd numbers matter)."""
    project.makepyfile(test_streams=UNCLOSED_STREAMS)
    created = line_of(UNCLOSED_STREAMS, "stream = await zmqstreams.create_zmq_stream(zmq.PAIR")
    helper_called = line_of(UNCLOSED_STREAMS, "opened.append(await open_pull())")
    helper_created = line_of(UNCLOSED_STREAMS, "return await zmqstreams.create_zmq_stream")
    result = project.runpytest_subprocess("-p", "no:anyio", "-o", "zmqstreams_backends=asyncio")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_forgets_to_close[[]asyncio[]]*",
            "the test left 1 stream(s) open (the check closed them):",
            "  a PAIR stream bound to tcp://127.0.0.1:*, created at:",
            f'    File "test_streams.py", line {created}, in test_forgets_to_close',
            '      stream = await zmqstreams.create_zmq_stream(zmq.PAIR, bind="tcp://127.0.0.1:*")',
            "    its task zmqstreams-reader",
            "    its fd * -> anon_inode:[[]eventfd[]] (its ZeroMQ socket)",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_forgets_to_close[[]asyncio[]]*", "    its fd * -> socket:*"]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_helper_forgets_to_close[[]asyncio[]]*",
            "the test left 1 stream(s) open (the check closed them):",
            "  a PULL stream bound to tcp://127.0.0.1:*, created at:",
            f'    File "test_streams.py", line {helper_called}, in test_helper_forgets_to_close',
            "      opened.append(await open_pull())",
            f'    File "test_streams.py", line {helper_created}, in open_pull',
            '      return await zmqstreams.create_zmq_stream(zmq.PULL, bind="tcp://127.0.0.1:*")',
        ]
    )
    # Not reported as library internals, as loose fds, nor as a ResourceWarning at collection.
    result.stdout.no_fnmatch_line("*_reader.py*")
    result.stdout.no_fnmatch_line("the test left file descriptors open:")
    result.stdout.no_fnmatch_line("*ResourceWarning*")


def test_after_a_failed_test_left_open_streams_are_closed_quietly(
    project: pytest.Pytester,
) -> None:
    """A failing test's open streams are closed without a leak report of their own."""
    project.makepyfile(
        test_fail="""
        import zmq
        import zmqstreams

        opened = []

        async def test_fails(zmq_backend):
            opened.append(await zmqstreams.create_zmq_stream(zmq.PAIR, bind="inproc://x"))
            raise AssertionError("boom")

        def test_then_closed():
            assert opened and all(stream.transport is None for stream in opened)
        """
    )
    result = project.runpytest("-p", "no:anyio", "-o", "zmqstreams_backends=asyncio")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.no_fnmatch_line("*stream(s) open*")


def test_sites_are_recorded_only_while_a_test_is_checked(project: pytest.Pytester) -> None:
    """zmqstreams' switch is on only inside a leak-checked test that tracks streams; off
    otherwise (in this synchronous test too, though our own suite loads the plugin)."""
    import zmqstreams._sites

    assert zmqstreams._sites.on_stream_created is None
    project.makepyfile(
        test_switch="""
        import pytest
        import zmqstreams._sites

        def test_sync_test():
            assert zmqstreams._sites.on_stream_created is None

        async def test_checked(zmq_backend):
            assert zmqstreams._sites.on_stream_created is not None

        @pytest.mark.zmqstreams_leak_check(False)
        async def test_unchecked(zmq_backend):
            assert zmqstreams._sites.on_stream_created is None

        @pytest.mark.zmqstreams_leak_check(streams=False)
        async def test_streams_not_tracked(zmq_backend):
            assert zmqstreams._sites.on_stream_created is None

        def test_zz_after():
            assert zmqstreams._sites.on_stream_created is None
        """
    )
    result = project.runpytest("-p", "no:anyio", "-o", "zmqstreams_backends=asyncio")
    result.assert_outcomes(passed=5)


def test_closed_streams_are_not_held(project: pytest.Pytester) -> None:
    """The leak check holds the streams a test creates only while they are open: a test that
    opens and closes streams in a loop sees each closed one collected (held, they pinned
    memory such a test measures)."""
    project.makepyfile(
        test_churn="""
        import gc
        import weakref
        import zmq
        import zmqstreams

        async def test_churn(zmq_backend):
            refs = []
            for n in range(20):
                stream = await zmqstreams.create_zmq_stream(zmq.PAIR, bind=f"inproc://churn-{n}")
                refs.append(weakref.ref(stream))
                stream.close()
                await stream.wait_closed()
            kept = await zmqstreams.create_zmq_stream(zmq.PAIR, bind="inproc://churn-kept")
            del stream
            gc.collect()
            assert [ref() for ref in refs] == [None] * 20
            kept.close()
        """
    )
    result = project.runpytest("-p", "no:anyio", "-o", "zmqstreams_backends=asyncio")
    result.assert_outcomes(passed=1)


def test_leaked_fd_and_loop_error_are_reported(project: pytest.Pytester) -> None:
    """An fd left open and an exception in a loop callback are reported; marker and ini turn
    the check off."""
    project.makepyfile(
        test_leak="""
        import asyncio
        import os
        import pytest

        pipes = []

        @pytest.mark.parametrize("zmq_backend", ["asyncio"], indirect=True)
        async def test_leaks_fds(zmq_backend):
            pipes.extend(os.pipe())

        @pytest.mark.parametrize("zmq_backend", ["asyncio"], indirect=True)
        async def test_loop_error(zmq_backend):
            asyncio.get_running_loop().call_soon(lambda: 1 / 0)
            await asyncio.sleep(0)

        @pytest.mark.parametrize("zmq_backend", ["asyncio"], indirect=True)
        @pytest.mark.zmqstreams_leak_check(False)
        async def test_check_off(zmq_backend):
            pipes.extend(os.pipe())

        def test_zz_cleanup():
            for fd in pipes:
                os.close(fd)
        """
    )
    # In a fresh process: in this one, garbage of earlier tests may close an fd mid-test, and a
    # leaked pipe reusing that number would pass for one open before (the check compares numbers).
    result = project.runpytest_subprocess("-o", "zmqstreams_leak_settle=0.3")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        ["the test left file descriptors open:", "  fd * -> pipe:*", "  fd * -> pipe:*"]
    )
    result.stdout.fnmatch_lines(
        ["the event loop reported errors:", "  Exception in callback*ZeroDivisionError*"]
    )
    result = project.runpytest("-o", "zmqstreams_leak_check=false")
    result.assert_outcomes(passed=4)


def test_hang_is_reported_with_where_it_waits(project: pytest.Pytester) -> None:
    """A test past its time limit fails within about the limit, showing the await it hangs in,
    on both loops; its streams are still closed."""
    project.makepyfile(
        test_hang="""
        import pytest

        @pytest.mark.zmqstreams_timeout(1)
        async def test_hangs(zmq_pair):
            server, client = zmq_pair
            await server.read()  # nobody writes
        """
    )
    result = project.runpytest_subprocess("-p", "no:anyio", "-k", "inproc")
    result.assert_outcomes(failed=2 if HAS_UVLOOP else 1, skipped=0 if HAS_UVLOOP else 1)
    result.stdout.fnmatch_lines(
        [
            "*test_hang.py::test_hangs[[]inproc-asyncio[]]: call exceeded the time limit of 1 s.",
            "Pending tasks (*), each where it waits:",
            '*test_hang.py", line 6, in test_hangs',
            "    await server.read()  # nobody writes",
            '*zmqstreams/_stream.py", line *, in read',
        ]
    )
    if HAS_UVLOOP:
        result.stdout.fnmatch_lines(["*test_hangs[[]inproc-uvloop[]]: call exceeded*"])
    result.stdout.no_fnmatch_line("*left*behind*")
    # Every failure is the limit's doing (a hang the limit missed would end the run otherwise).
    # Counted from each failure's own report, which starts with the test id; the short summary
    # repeats the message or cuts it, depending on the terminal's width.
    interrupted = [
        line
        for line in result.outlines
        if line.startswith("test_hang.py::test_hangs[") and "call exceeded the time limit" in line
    ]
    assert len(interrupted) == (2 if HAS_UVLOOP else 1), interrupted


def test_sync_hang_is_interrupted_by_the_ini_limit(project: pytest.Pytester) -> None:
    """The ini limit covers plain tests too: a blocking call is interrupted and located."""
    project.makeini(
        """
        [pytest]
        addopts = -p no:cacheprovider
        zmqstreams_timeout = 0.5
        """
    )
    project.makepyfile(
        test_sleep="""
        import time

        def test_sleeps():
            time.sleep(60)
        """
    )
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_sleeps: call exceeded the time limit of 0.5 s.",
            "Threads (faulthandler*",
            '*test_sleep.py", line 4 in test_sleeps',
        ]
    )


ANYIO_FILE = """
import asyncio
import pytest
from zmqstreams.testing import ANYIO_BACKENDS

@pytest.fixture(params=ANYIO_BACKENDS)
def anyio_backend(request):
    return request.param

@pytest.mark.anyio
async def test_by_anyio(zmq_pair, anyio_backend):
    server, client = zmq_pair
    client.write([b"x"])
    assert await server.read() == [b"x"]

keep = []

@pytest.mark.anyio
async def test_anyio_leak_is_reported(anyio_backend):
    keep.append(asyncio.get_running_loop().create_task(asyncio.Event().wait()))

async def test_by_zmqstreams(zmq_pair, request):
    server, client = zmq_pair
    client.write([b"x"])
    assert await server.read() == [b"x"]
"""


def test_anyio_plugin_runs_its_own_tests(project: pytest.Pytester) -> None:
    """With anyio's plugin active, anyio-marked tests are run by anyio (its backend ids, our
    fixtures and leak check inside); unmarked ones by us."""
    pytest.importorskip("anyio")
    project.makepyfile(test_both=ANYIO_FILE)
    result = project.runpytest("-v")
    n = 2 if HAS_UVLOOP else 1
    result.assert_outcomes(passed=4 * n + 3 * n, errors=n, skipped=0 if HAS_UVLOOP else 4)
    # anyio's ids: the backend first, as anyio's parametrization orders it
    result.stdout.fnmatch_lines(["*test_by_anyio[[]asyncio-inproc[]] PASSED*"])
    result.stdout.fnmatch_lines(["*test_by_zmqstreams[[]inproc-asyncio[]] PASSED*"])
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_anyio_leak_is_reported[[]asyncio[]]*"])


def test_conftest_may_import_the_plugin_before_loading_it(project: pytest.Pytester) -> None:
    """The docs' recipe: a conftest imports ``ANYIO_BACKENDS`` and then names the plugin in
    ``pytest_plugins``; with warnings as errors, pytest must not refuse the already imported
    module (a fresh process, so that nothing was imported before)."""
    pytest.importorskip("anyio")
    project.makeconftest(
        """
        import pytest
        from zmqstreams.testing import ANYIO_BACKENDS

        pytest_plugins = ["zmqstreams.testing"]

        @pytest.fixture(params=ANYIO_BACKENDS)
        def anyio_backend(request):
            return request.param
        """
    )
    project.makepyfile(
        test_matrix="""
        import pytest

        @pytest.mark.anyio
        async def test_echo(zmq_pair):
            server, client = zmq_pair
            client.write([b"x"])
            assert await server.read() == [b"x"]
        """
    )
    result = project.runpytest_subprocess("-W", "error")
    result.assert_outcomes(passed=6 if HAS_UVLOOP else 3, skipped=0 if HAS_UVLOOP else 3)


def test_works_without_the_anyio_plugin(project: pytest.Pytester) -> None:
    """With ``-p no:anyio`` the plugin runs every async test that uses its fixtures."""
    project.makepyfile(
        test_plain="""
        async def test_by_zmqstreams(zmq_pair, request):
            assert not request.config.pluginmanager.has_plugin("anyio")
            server, client = zmq_pair
            client.write([b"x"])
            assert await server.read() == [b"x"]
        """
    )
    result = project.runpytest("-p", "no:anyio")
    result.assert_outcomes(passed=6 if HAS_UVLOOP else 3, skipped=0 if HAS_UVLOOP else 3)


@pytest.mark.skipif(not HAS_PYTEST_ASYNCIO, reason="pytest-asyncio is not installed")
@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_pytest_asyncio_runs_its_own_tests(project: pytest.Pytester, mode: str) -> None:
    """pytest-asyncio runs the tests it owns (marked, or all in auto mode); in strict mode the
    unmarked ones using our fixtures are still ours."""
    project.makepyfile(
        test_pa="""
        import asyncio
        import pytest

        @pytest.mark.asyncio
        async def test_by_pytest_asyncio():
            await asyncio.sleep(0)

        async def test_unmarked(zmq_pair):
            server, client = zmq_pair
            client.write([b"x"])
            assert await server.read() == [b"x"]
        """
    )
    result = project.runpytest("-v", "-p", "no:anyio", f"--asyncio-mode={mode}")
    if mode == "strict":
        result.stdout.fnmatch_lines(["*test_unmarked[[]inproc-asyncio[]] PASSED*"])
        n = 6 if HAS_UVLOOP else 3
        result.assert_outcomes(passed=1 + n, skipped=6 - n)
    else:  # pytest-asyncio's loop, no matrix of ours
        result.stdout.fnmatch_lines(["*test_unmarked[[]inproc[]] PASSED*"])
        result.assert_outcomes(passed=4)


def test_inactive_unless_opted_in(pytester: pytest.Pytester) -> None:
    """No entry point: without ``pytest_plugins`` the fixtures do not exist."""
    entry_points = importlib.metadata.entry_points(group="pytest11")
    assert not [ep for ep in entry_points if ep.value.startswith("zmqstreams")]
    pytester.makepyfile(
        test_x="""
        async def test_x(zmq_pair):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*fixture 'zmq_pair' not found*"])


def test_importing_zmqstreams_does_not_import_pytest() -> None:
    """pytest is imported by zmqstreams.testing only."""
    code = "import sys, zmqstreams, zmqstreams.anyio_compat; assert 'pytest' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_module_docstring_example_is_current() -> None:
    """The plugin's module docstring names the fixtures it defines."""
    import zmqstreams.testing as plugin

    doc = textwrap.dedent(plugin.__doc__ or "")
    for name in plugin.__all__:
        if name.startswith("zmq_"):
            assert f"``{name}``" in doc, name


def test_package_exposes_every_hook_and_fixture() -> None:
    """pytest finds the plugin's hooks and fixtures on ``zmqstreams.testing`` only: each one that
    a part of the package defines is imported there, or it would silently not run."""
    import zmqstreams.testing as plugin

    for info in pkgutil.iter_modules(plugin.__path__):
        module = importlib.import_module(f"{plugin.__name__}.{info.name}")
        for name, obj in vars(module).items():
            defined_here = getattr(obj, "__module__", None) == module.__name__
            if defined_here and name.startswith(("pytest_", "zmq_", "_zmq_")):
                assert getattr(plugin, name, None) is obj, f"{module.__name__}.{name}"
