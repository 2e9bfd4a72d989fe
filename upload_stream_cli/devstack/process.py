"""Child-process plumbing shared by the launchers: die with the parent, stop with a deadline,
show the end of a log in error messages."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import gevent

_PR_SET_PDEATHSIG = 1


def _die_with_parent_preexec() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGKILL when this process dies (Linux only).

    A test run killed with SIGKILL cannot run its teardown; without this its broker would live
    on and hold ports and memory. The kernel sends the signal when the *thread* that forked
    exits, so launch from the main thread (all greenlets run there under gevent), not from a
    worker thread of a pool.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # resolved before fork: no dlopen in the child
    prctl = libc.prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # The parent may have died between fork and prctl: then nobody would signal us.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def launch(
    argv: Sequence[str],
    *,
    log: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` with stdout and stderr appended to `log`, tied to this process's life.

    The child gets its own session so a Ctrl-C in the terminal reaches only us; we then stop
    the children in order instead of having them race us.

    Under gevent, Popen yields to the hub after fork while it waits for exec. If the calling
    greenlet is killed there (`upload-stream dev` cancels its start-up that way), Popen raises
    and the child it already forked would have no owner. So Popen runs in a greenlet of its
    own, and a caller killed meanwhile stops the child before re-raising.
    """

    def spawn() -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=_die_with_parent_preexec(),  # noqa: PLW1509 - see its docstring
            )

    spawner = gevent.spawn(spawn)
    try:
        proc: subprocess.Popen[bytes] = spawner.get()
    except BaseException:
        spawner.join()  # let the fork finish, then undo it
        if spawner.successful():
            stop_process(spawner.value, timeout=10.0)
        raise
    return proc


def run(
    argv: Sequence[str],
    *,
    log: Path,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run `argv` to completion like `launch` (output appended to `log`, dies with us) and
    return its exit status. On a timeout, or when the caller is killed or interrupted, the
    child is stopped first; a timeout then raises subprocess.TimeoutExpired."""
    proc = launch(argv, log=log, cwd=cwd, env=env)
    try:
        return proc.wait(timeout)
    except BaseException:
        stop_process(proc, timeout=5.0)
        raise


def stop_process(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL. Returns the exit status."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            proc.terminate()
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a text file, or a note that it is missing."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def write_atomically(path: Path, text: str) -> None:
    """Write a file that readers never see half-written."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


_OWNER_FILE = "owner.pid"


def make_workdir(kind: str, tag: str = "") -> Path:
    """A fresh temp dir `upload-stream-<kind>-[<tag>-]XXXX` that records our pid.

    First deletes the dirs of that kind whose owner is dead: a run killed with SIGKILL takes
    its children with it (see `launch`) but cannot delete their work dirs.
    """
    base = f"upload-stream-{kind}-"
    for old in Path(tempfile.gettempdir()).glob(base + "*"):
        try:
            owner = int((old / _OWNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not ours, or being created right now
        if not _alive(owner):
            shutil.rmtree(old, ignore_errors=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"{base}{tag}-" if tag else base))
    (workdir / _OWNER_FILE).write_text(f"{os.getpid()}\n", encoding="utf-8")
    return workdir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True
