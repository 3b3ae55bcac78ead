"""A kernel started early and warmed up, handed to papermill (its ``km`` argument).

Starting a kernel and importing pandas/matplotlib/analysis in it takes seconds. Started at the
beginning of a run, it warms up while the parent checks the data and imports the exporters; the
notebook then runs in a kernel that is already ready. This interpreter's own kernel starts as
``python -m analysis.kernellaunch`` (imports first, answers warm), or forked from a warm template in a
batch worker (:mod:`analysis.kernelfork`); another kernelspec's kernel is warmed by executing
:data:`WARM_CODE`. One kernel per report: nothing carries over between reports.

The kernel lives in its own session (jupyter_client starts it so), so nothing but this object
stops it: :meth:`WarmKernel.shutdown` must run on every way out of a run — a bad request found
while the kernel starts, an exception, a signal. It may be called at any moment, from any
thread of the run or a signal handler, any number of times: a launch under way is waited for
(the lock), a started kernel is killed and waited for, and only then its socket folder removed
(removing it under a live kernel is what printed ``ZMQError … ipc path`` tracebacks). The
kernel's own output goes to a log file in that folder, never to the terminal.

The kernel dies with the thread that started it (:func:`analysis.proc.preexec`): when the process
running the report is killed outright, no kernel is left behind. That thread therefore stays alive,
idle, until :meth:`WarmKernel.shutdown`.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import threading

#: what every report's kernel needs, imported while the parent prepares the frames (a no-op in our own
#: kernels, which imported it before they answered)
WARM_CODE = "import analysis.kernelboot  # warm-up: pandas, matplotlib, fonts, analysis"

#: start kernels by forking a warm template (:mod:`analysis.kernelfork`) instead of a new interpreter;
#: set by :func:`use_template` in processes that run many reports (batch workers)
_TEMPLATE = {"on": False}

#: the packages :mod:`analysis.kernelboot` imports into a report's kernel ahead (≈ 1.2 CPU s): a notebook
#: importing none of them gets a kernel with ipykernel alone (:func:`preloads`)
PRELOADED = frozenset({"analysis", "pandas", "numpy", "matplotlib", "pyarrow"})
#: the environment variable that tells :mod:`analysis.kernelboot` whether to import them (``1``/``0``)
PRELOAD_ENV = "ANALYSIS_KERNEL_PRELOAD"
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+([A-Za-z_][\w.]*)|import[ \t]+([^\n#;]+))", re.M)


def preloads(notebook: str | os.PathLike) -> bool:
    """Whether a report of ``notebook`` starts faster with the packages of :data:`PRELOADED` imported ahead:
    one of its code cells imports one of them (an ``import``/``from`` statement at any indentation). A
    notebook that cannot be read is given them (its error comes later, where it is read for running)."""
    try:
        st = os.stat(notebook)
        return _preloads(os.fspath(notebook), st.st_mtime_ns, st.st_size)
    except OSError:
        return True


@functools.lru_cache(maxsize=32)
def _preloads(path: str, mtime_ns: int, size: int) -> bool:
    import json
    try:
        with open(path, encoding="utf-8") as f:
            cells = json.load(f)["cells"]
        code = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else str(c["source"])
                         for c in cells if c.get("cell_type") == "code")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return True
    for m in _IMPORT.finditer(code):
        names = [m[1]] if m[1] else [n.split()[0] for n in m[2].replace("(", " ").split(",") if n.split()]
        if any(n.split(".")[0] in PRELOADED for n in names):
            return True
    return False


def use_template(preload: bool = True) -> None:
    """From now on this process's kernels fork from a warm template, which starts now (unless
    ``$ANALYSIS_KERNEL_TEMPLATE`` is ``0``: each kernel is then a new interpreter, as for one report).
    ``preload``: the template imports :data:`PRELOADED` (False: none of the jobs' notebooks uses them)."""
    if os.environ.get("ANALYSIS_KERNEL_TEMPLATE", "1").strip() == "0":
        return
    from . import kernelfork
    os.environ[PRELOAD_ENV] = "1" if preload else "0"    # read by the template's analysis.kernelboot
    kernelfork.prestart()
    _TEMPLATE["on"] = True


#: the kernel's folder (sockets, connection file, log) is ``$TMPDIR/analysis-kernel-*``; its ``owner``
#: file names the process that started it
PREFIX, OWNER = "analysis-kernel-", "owner"


def _sweep_orphans() -> None:
    """Remove the folders of kernels whose owner died without cleaning up (killed outright: the kernel
    died with it, its folder stayed)."""
    import glob
    import tempfile
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), PREFIX + "*")):
        try:
            with open(os.path.join(folder, OWNER)) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):   # not ours to judge: no owner file, another user's, being written
            continue


def usage(pid: int | None) -> dict[str, float]:
    """CPU seconds (user + system) and peak resident memory (MB) of a live process, from ``/proc``
    (empty where there is none): what a report's kernel cost, read just before it is stopped."""
    if not pid:
        return {}
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/status", "rb") as f:
            hwm = next((line.split()[1] for line in f if line.startswith(b"VmHWM:")), b"0")
        ticks = os.sysconf("SC_CLK_TCK")
        return {"cpu_s": round((int(fields[11]) + int(fields[12])) / ticks, 2), "peak_mb": round(int(hwm) / 1024, 1)}
    except (OSError, ValueError, IndexError, StopIteration):
        return {}


class WarmKernel:
    """Start a kernel in a background thread; ``km()`` waits for it; ``shutdown()`` stops it."""

    @classmethod
    def for_notebook(cls, notebook: str | os.PathLike, kernel_name: str | None = None) -> WarmKernel:
        """A kernel for a report of ``notebook``: in its folder, with :data:`PRELOADED` if it uses them."""
        return cls(kernel_name, cwd=os.path.dirname(os.path.abspath(notebook)), preload=preloads(notebook))

    def __init__(self, kernel_name: str | None = None, cwd: str | None = None, preload: bool = True):
        """``preload``: the kernel imports :data:`PRELOADED` before it answers (see :func:`preloads`)."""
        self.kernel_name = kernel_name or "python3"
        self.cwd = cwd
        self.preload = preload
        self._km = None                   # the kernel manager once warm: what km() hands out
        self._launched = None             # the kernel manager as soon as its process exists
        self._ipc_dir: str | None = None
        self._log = None
        self._stopped = False
        self._error: BaseException | None = None
        self._lock = threading.RLock()    # reentrant: a signal handler may interrupt shutdown() itself
        self._warm = threading.Event()    # set once the kernel is warm, or starting it failed
        self._done = threading.Event()    # set by shutdown(): the starting thread may end
        self._launched_event = threading.Event()   # set once the kernel process exists, or starting it failed
        self.returncode: int | None = None   # the kernel process's exit status once it is gone (-9: SIGKILL)
        self.usage: dict[str, float] = {}    # the kernel's CPU seconds and peak memory, read before it is stopped
        self._thread = threading.Thread(target=self._run, daemon=True, name="warm-kernel")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._start()
        finally:
            self._launched_event.set()
            self._warm.set()
        # the kernel gets SIGKILL when this thread ends (its parent-death signal): wait for shutdown()
        self._done.wait()

    def _start(self) -> None:
        km = None
        try:
            from jupyter_client.utils import run_sync

            from .kernelfork import manager_class
            AsyncKernelManager = manager_class(fork=_TEMPLATE["on"])   # noqa: N806  (starts warm: see there)
            import tempfile
            with self._lock:
                if self._stopped:
                    return
                # IPC (Unix sockets) keeps the kernel off TCP: nothing listens on the network, and
                # ipykernel has no "running over TCP without encryption" warning to print
                _sweep_orphans()
                self._ipc_dir = tempfile.mkdtemp(prefix=PREFIX)
                with open(os.path.join(self._ipc_dir, OWNER), "w") as f:
                    f.write(str(os.getpid()))
                km = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc",
                                        ip=os.path.join(self._ipc_dir, "k"),
                                        connection_file=os.path.join(self._ipc_dir, "kernel.json"))
                env = {**os.environ, "MPLBACKEND": "Agg", PRELOAD_ENV: "1" if self.preload else "0"}
                self._log = open(os.path.join(self._ipc_dir, "kernel.log"), "wb")
                from .proc import preexec
                die_with_us = preexec()   # SIGKILL when this thread or its process ends
                run_sync(km.start_kernel)(cwd=self.cwd, env=env, stdout=self._log, stderr=self._log,
                                          **({"preexec_fn": die_with_us} if die_with_us else {}))
                self._launched = km
            self._launched_event.set()
            # a client of the manager: it asks the process whether the kernel lives; a bare client would
            # go by heartbeats, and one missed while a loaded machine starts the kernel read as its death
            kc = km.client()
            kc.start_channels()
            try:
                run_sync(kc.wait_for_ready)(timeout=60)
                if self.preload:
                    kc.execute(WARM_CODE, silent=True, store_history=False)
            finally:
                kc.stop_channels()
            with self._lock:
                if not self._stopped:
                    self._km = km
        except BaseException as exc:  # reported by km() and error: the caller tries again or gives up
            self._error = exc
            code = self.poll()
            tail = self._log_tail()
            if code is not None or tail:   # what the kernel said, and how it ended
                self._error = RuntimeError(f"{exc}; the kernel process "
                                           f"{'ended with status ' + str(code) if code is not None else 'runs'}"
                                           f"{': ' + tail if tail else ''}")
            with self._lock:
                if km is not None and self._km is None and not self._stopped:
                    self._kill(km)     # started but never warm: nobody else would stop it

    def _log_tail(self, lines: int = 3) -> str:
        """The last lines the kernel wrote to its log (empty when there is none)."""
        if not self._ipc_dir:
            return ""
        try:
            with open(os.path.join(self._ipc_dir, "kernel.log"), "rb") as f:
                text = f.read()[-4000:].decode("utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(ln.strip() for ln in text.strip().splitlines()[-lines:])

    @property
    def error(self) -> BaseException | None:
        """Why starting the kernel failed, once :meth:`km` returned None."""
        return self._error

    def wait_launched(self, timeout: float | None = None) -> None:
        """Wait until the kernel's process has been started (or starting it failed): the caller's own
        imports then no longer compete with the launch for this process's interpreter."""
        self._launched_event.wait(timeout)

    def km(self):
        """The started kernel manager, or None when starting failed (see :attr:`error`)."""
        self._warm.wait()
        return self._km

    def poll(self) -> int | None:
        """The kernel process's exit status if it has ended (negative: the signal that killed it), else None."""
        km = self._launched
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        if proc is not None:
            code = proc.poll()
            if code is not None:
                self.returncode = code
        return self.returncode

    @staticmethod
    def _kill(km, *, fast: bool = False) -> int | None:
        """Kill the kernel's process and wait for it; then its connection file goes (``fast``: without
        jupyter_client's asynchronous shutdown, for a signal handler that exits right after)."""
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        if proc is not None and proc.poll() is None:
            try:
                proc.kill()
                proc.wait(timeout=10)
            except Exception:  # already gone, or not reaped in time: it was sent SIGKILL either way
                pass
        try:
            if fast:
                km.cleanup_connection_file()
            else:
                from jupyter_client.utils import run_sync
                run_sync(km.shutdown_kernel)(now=True)   # the process is gone: this frees sockets and files
        except Exception:  # best effort: what is left is a file in the runtime folder
            pass
        return proc.returncode if proc is not None else None

    def shutdown(self, *, fast: bool = False) -> None:
        """Stop the kernel (killed: a report's kernel holds nothing to save) and remove its folder.
        Safe at any moment and any number of times; ``fast`` from a signal handler (see :meth:`_kill`)."""
        with self._lock:
            self._stopped = True
            self._km = None
            km = self._launched
            if km is not None:
                if not fast:
                    self.usage = usage(getattr(getattr(km, "provisioner", None), "pid", None)) or self.usage
                code = self._kill(km, fast=fast)
                if self.returncode is None:
                    self.returncode = code
                self._launched = None   # only now: a handler interrupting _kill() kills it again
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._ipc_dir:
                shutil.rmtree(self._ipc_dir, ignore_errors=True)
                self._ipc_dir = None
            self._done.set()
