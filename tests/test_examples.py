"""Every example and every runnable code block of the docs runs and prints what it should.

Each one runs in a subprocess (``sys.executable -X dev -W error``) with a time limit, from the
repository root.  Examples without a specific check here (added later) must still exit 0.

A docs code block is runnable when it is marked:

- reStructuredText (``docs/**/*.rst``): ``.. code-block:: python`` with the option
  ``:class: runnable``;
- Markdown (``README.md``, ``docs/**/*.md``): a ``python`` fenced block right after a
  ``<!-- runnable -->`` line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DOCS = ROOT / "docs"

#: Seconds one example or snippet may take (they take about one; the machine may be busy).
TIME_LIMIT = 60


def run_python(args: list[str], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )


#: asyncio's debug mode (``-X dev``) reports every callback or task step slower than 100 ms:
#: a measure of how busy the machine was, not of the program.
_SLOW_STEP = re.compile(r"^Executing <.*> took \d+\.\d+ seconds$")


def unexpected_stderr(stderr: str) -> str:
    """``stderr`` without asyncio's slow-step reports: anything left is a warning or an error."""
    return "".join(
        line for line in stderr.splitlines(keepends=True) if not _SLOW_STEP.match(line.strip())
    )


# ------------------------------------------------------------------ examples/

ECHOED = [f"[b'data', b'ask', b'{i}']" for i in range(10)]


def check_dealer_router(out: str) -> None:
    assert out.splitlines() == ECHOED


def check_monitor(out: str) -> None:
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("[b'data'")] == ECHOED
    events = [line for line in lines if line.startswith("SocketEvent(")]
    assert any("Event.CONNECTED" in line for line in events), out
    assert lines[-1] == "DONE"


def check_pipeline(out: str) -> None:
    assert "sum of squares of 0..99: 328350" in out
    counts = [int(n) for n in re.findall(r"^worker-\d+ did (\d+) jobs$", out, re.MULTILINE)]
    assert sum(counts) == 100
    assert len(counts) >= 2, "the jobs should be spread over several workers"


def check_pubsub(out: str) -> None:
    assert "slow subscriber: StreamStatistics(" in out
    assert "reader paused: True" in out, out
    sent = int(re.search(r"published (\d+) messages", out)[1])  # type: ignore[index]
    slow = int(re.search(r"slow subscriber received (\d+)", out)[1])  # type: ignore[index]
    peak = int(re.search(r"read buffer peaked at (\d+) bytes", out)[1])  # type: ignore[index]
    assert 0 < slow < sent, "the slow subscriber should miss messages that PUB dropped"
    assert peak <= 4096 + 100, "the read buffer must stay near high_read"


def check_reliable_request_reply(out: str) -> None:
    assert "REQ: attempt 1 timed out" in out
    # The reply to the abandoned first request ("reply 1") is never returned in its place.
    assert re.search(r"^REQ: got \[b'reply [2-9] to ping'\]$", out, re.MULTILINE), out
    assert "DEALER: attempt 1 timed out" in out
    assert "DEALER: ignored a late reply to request 1" in out
    assert "DEALER: got b'answer to first'\nDEALER: ignored" in out
    assert "DEALER: got b'answer to second'" in out
    assert "ROUTER: alice has gone ([Errno 113] write: Host unreachable)" in out
    assert "ROUTER: still serving [b'bob'] - bob got [b'done']" in out
    assert "ROUTER: the stream is still open, with no error, after the refused writes" in out


def check_liveness(out: str) -> None:
    # Each line comes only after the monitor event it names (or the reply): the example waits
    # for them, bounded by its own timeout.  Durations are printed, not checked.
    assert "peer up: HANDSHAKE_SUCCEEDED\n" in out, out
    assert "peer slow: reply [b'sleep 1.0'] after" in out, out
    assert "peer frozen: DISCONNECTED after" in out, out
    assert "peer back: HANDSHAKE_SUCCEEDED, reply [b'are you back?']" in out, out
    assert "peer killed: DISCONNECTED" in out, out
    assert re.search(
        r"^no peer: CONNECT_RETRIED, next attempts in \[\d+(, \d+){3}\] ms$", out, re.M
    )
    assert "no peer: 1 message waits in the write buffer" in out, out
    assert "publisher: subscription [b'\\x01news'] arrived" in out, out
    assert out.endswith("subscriber got [b'news: on time']\n"), out


def check_large_arrays(out: str) -> None:
    assert out.splitlines() == [
        f"received (1024, 1024) float32, mean {mean}, in place" for mean in ("0.5", "1.5", "2.5")
    ]


def check_producer_thread(out: str) -> None:
    assert out.splitlines() == [
        "received 2000 readings from the producer thread",
        "the producer's backlog stayed within the high-water mark: True",
    ]


CHECKS: dict[str, Callable[[str], None]] = {
    "dealer_router.py": check_dealer_router,
    "large_arrays.py": check_large_arrays,
    "liveness.py": check_liveness,
    "monitor.py": check_monitor,
    "pipeline.py": check_pipeline,
    "producer_thread.py": check_producer_thread,
    "pubsub_slow_subscriber.py": check_pubsub,
    "reliable_request_reply.py": check_reliable_request_reply,
}


def example_scripts() -> list[Path]:
    return sorted(EXAMPLES.glob("*.py"))


def test_the_documented_examples_exist() -> None:
    names = {path.name for path in example_scripts()}
    assert set(CHECKS) <= names


@pytest.mark.parametrize("script", example_scripts(), ids=lambda path: path.name)
def test_example_runs(script: Path) -> None:
    result = run_python([str(script.relative_to(ROOT))])
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert unexpected_stderr(result.stderr) == "", result.stderr
    check = CHECKS.get(script.name)
    if check is not None:
        check(result.stdout)


# ------------------------------------------------------------------ runnable docs snippets

_RST_BLOCK = re.compile(r"^(?P<indent>[ \t]*)\.\. code-block:: python[ \t]*\n", re.MULTILINE)
_MD_BLOCK = re.compile(
    r"^<!--\s*runnable\s*-->[ \t]*\n```python[ \t]*\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL
)


def rst_runnable_blocks(text: str) -> list[tuple[int, str]]:
    """``(line, code)`` of each ``.. code-block:: python`` that has ``:class: runnable``."""
    blocks = []
    lines = text.splitlines()
    for match in _RST_BLOCK.finditer(text):
        start = text.count("\n", 0, match.end())  # index of the first line after the directive
        indent = len(match["indent"])
        options, body, i = [], [], start
        while i < len(lines) and lines[i].strip().startswith(":"):
            options.append(lines[i].strip())
            i += 1
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
        ):
            body.append(lines[i])
            i += 1
        if any(re.fullmatch(r":class:.*\brunnable\b.*", option) for option in options):
            blocks.append((start, textwrap.dedent("\n".join(body)).strip() + "\n"))
    return blocks


def md_runnable_blocks(text: str) -> list[tuple[int, str]]:
    return [(text.count("\n", 0, m.start()) + 1, m["code"]) for m in _MD_BLOCK.finditer(text)]


def runnable_snippets() -> list[tuple[str, str]]:
    snippets = []
    sources = [*sorted(DOCS.rglob("*.rst")), *sorted(DOCS.rglob("*.md")), ROOT / "README.md"]
    for path in sources:
        if not path.is_file() or "_build" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        finder = rst_runnable_blocks if path.suffix == ".rst" else md_runnable_blocks
        for line, code in finder(text):
            snippets.append((f"{path.relative_to(ROOT)}:{line}", code))
    return snippets


SNIPPETS = runnable_snippets()


def test_the_docs_have_runnable_snippets() -> None:
    where = {name.split(":")[0] for name, _ in SNIPPETS}
    assert "docs/index.rst" in where
    assert "docs/getting-started.rst" in where


@pytest.mark.parametrize(("name", "code"), SNIPPETS, ids=[name for name, _ in SNIPPETS])
def test_docs_snippet_runs(name: str, code: str) -> None:
    result = run_python(["-"], stdin=code)
    assert result.returncode == 0, f"{name}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert unexpected_stderr(result.stderr) == "", result.stderr


def test_snippet_extraction() -> None:
    rst = textwrap.dedent(
        """\
        Text.

        .. code-block:: python
           :class: runnable

           print("one")

           print("two")

        .. code-block:: python

           print("not runnable")

        After.
        """
    )
    assert rst_runnable_blocks(rst) == [(3, 'print("one")\n\nprint("two")\n')]
    md = '<!-- runnable -->\n```python\nprint("md")\n```\n\n```python\nprint("no")\n```\n'
    assert md_runnable_blocks(md) == [(1, 'print("md")\n')]


def test_unexpected_stderr_ignores_only_slow_step_reports() -> None:
    """A slow-step report is ignored; a warning next to it is not."""
    slow = (
        "Executing <Task pending name='Task-1' coro=<main() running at <stdin>:21>> took "
        "0.136 seconds\n"
    )
    warning = "ResourceWarning: unclosed stream\n"
    assert unexpected_stderr(slow) == ""
    assert unexpected_stderr(slow + warning) == warning
