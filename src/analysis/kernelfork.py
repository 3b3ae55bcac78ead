"""Kernels forked from a warm template process: a batch worker's kernels start in milliseconds.

Starting a kernel the usual way costs about 2 s of CPU per report: a new interpreter imports
ipykernel, then the warm-up imports pandas, matplotlib, pyarrow and :mod:`analysis`. A batch
worker runs many reports, one kernel each, and on 2 cores every second of CPU is half a second of
the batch's wall time. Here a worker keeps one *template* process that has imported all of that
once (:mod:`multiprocessing`'s ``forkserver`` with :data:`PRELOAD`), and each report's kernel is a
fresh ``fork()`` of it that becomes the kernel (``IPKernelApp`` with the connection file
jupyter_client wrote). Nothing carries over between reports: every kernel is forked from the same
untouched template, not reused.

jupyter_client still manages the kernel: :func:`manager_class` gives an ``AsyncKernelManager``
whose provisioner (a ``LocalProvisioner``) launches through the template
when the kernelspec's command is this interpreter running ``ipykernel_launcher`` — any other kernel
is started as jupyter_client always does. The forked kernel is not a child of the worker but of the
template: :class:`Forked` gives the provisioner the ``Popen``-like handle it expects (its exit
status comes from the template, negative for a signal as ``Popen`` reports it).

Nothing is left behind: the template exits when the process that started it dies (its end of a pipe
closes), and each kernel has a parent-death signal on the template (:mod:`analysis.proc`). A kernel
calls itself ``ipykernel`` (``/proc/PID/comm``, what ``ps`` and ``top`` show), since its command
line is the template's.
"""
from __future__ import annotations

import functools
import multiprocessing as mp
import os
import signal
import sys
import threading

#: imported once in the template process (see :mod:`analysis.kernelboot`)
PRELOAD = "analysis.kernelboot"

_LOCK = threading.Lock()
_CTX = None


def context():
    """The ``forkserver`` context whose server is this process's kernel template."""
    global _CTX
    with _LOCK:
        if _CTX is None:
            os.environ.setdefault("MPLBACKEND", "Agg")   # the template's matplotlib draws off-screen
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload([PRELOAD])
            _CTX = ctx
        return _CTX


def prestart() -> None:
    """Start the template now (it imports for about 2 s), so the first report's kernel forks at once."""
    from multiprocessing import forkserver
    context()
    forkserver.ensure_running()


def forkable(cmd: list[str]) -> bool:
    """Whether a kernelspec command is this interpreter running ipykernel (what the template can fork)."""
    if len(cmd) < 5 or cmd[1:3] != ["-m", "ipykernel_launcher"] or "-f" not in cmd:
        return False
    try:
        return os.path.samefile(cmd[0], sys.executable)
    except OSError:
        return False


def _kernel_main(argv: list[str], cwd: str | None, env: dict, log: str | None) -> None:
    """In the forked child: become the kernel of the connection file in ``argv``."""
    os.setsid()                     # its own session, as jupyter_client starts kernels
    _drop_inherited()
    from .proc import name_process, set_pdeathsig
    set_pdeathsig()                 # the template's death (hence the worker's) kills the kernel
    name_process("ipykernel")
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)   # as a freshly started kernel has them
    os.environ.clear()
    os.environ.update(env)
    if cwd:
        os.chdir(cwd)
    if sys.path and sys.path[0] in ("", "."):   # as ipykernel_launcher does: not the working folder
        del sys.path[0]
    from ipykernel import kernelapp

    from .kernelboot import KERNEL_ARGS
    kernelapp.launch_new_instance(argv=[*argv, *KERNEL_ARGS])


def _drop_inherited() -> None:
    """Close what multiprocessing hands every forked child so that it could start processes itself:
    the template's keep-alive pipe (a kernel holding it would keep the template alive after its
    worker died, and the template's death is what ends the kernel) and the resource tracker's pipe."""
    from multiprocessing import forkserver, resource_tracker
    server = forkserver._forkserver
    for owner, attr in ((server, "_forkserver_alive_fd"), (resource_tracker._resource_tracker, "_fd")):
        fd = getattr(owner, attr, None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
            setattr(owner, attr, None)


class Forked:
    """The ``Popen``-like handle of a forked kernel that jupyter_client's provisioner uses."""

    stdin = stdout = stderr = None

    def __init__(self, process: mp.Process):
        self._process = process
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        self._process.join(timeout)
        if self._process.exitcode is None:
            import subprocess
            raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def launch(cmd: list[str], *, cwd: str | None, env: dict | None, log: str | None) -> Forked:
    """Fork a kernel from the template for a kernelspec command (``… -f CONNECTION_FILE``)."""
    ctx = context()
    argv = cmd[cmd.index("-m") + 2:]
    process = ctx.Process(target=_kernel_main, args=(argv, cwd, dict(env if env is not None else os.environ), log),
                          name="ipykernel", daemon=True)
    process.start()
    return Forked(process)


#: the module a report's kernel runs instead of ``ipykernel_launcher`` when it is not forked
LAUNCHER = "analysis.kernellaunch"


@functools.lru_cache(maxsize=2)
def _provisioner_class(fork: bool):
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    class ReportProvisioner(LocalProvisioner):
        """A LocalProvisioner that starts this interpreter's ipykernel warm: forked from the template
        (``fork``), else as ``python -m analysis.kernellaunch`` (:mod:`analysis.kernellaunch`)."""

        async def launch_kernel(self, cmd, **kwargs):
            if not forkable(cmd):
                return await super().launch_kernel(cmd, **kwargs)
            if not fork:
                i = cmd.index("-m")
                return await super().launch_kernel([*cmd[:i + 1], LAUNCHER, *cmd[i + 2:]], **kwargs)
            out = kwargs.get("stdout")
            self.process = launch(cmd, cwd=kwargs.get("cwd"), env=kwargs.get("env"),
                                  log=getattr(out, "name", None) if out is not None else None)
            self.pid = self.process.pid
            self.pgid = None           # signalled by pid: the child may not have called setsid() yet
            self.cwd = kwargs.get("cwd")
            return self.connection_info

    return ReportProvisioner


@functools.lru_cache(maxsize=2)
def manager_class(fork: bool = True):
    """``AsyncKernelManager`` whose kernels start warm: forked from the template (``fork``, see the module's
    docstring) or started as :data:`LAUNCHER`; any kernelspec but this interpreter's ipykernel as usual."""
    import uuid
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import DottedObjectName, Type
    provisioner = _provisioner_class(fork)

    class ReportKernelManager(AsyncKernelManager):
        # clients ready without a 0.2 s wait (analysis.kernelclient)
        client_class = DottedObjectName("analysis.kernelclient.ReportKernelClient")
        client_factory = Type(default_value="analysis.kernelclient.ReportKernelClient",
                              klass="jupyter_client.asynchronous.AsyncKernelClient")

        async def _async_pre_start_kernel(self, **kw):
            if self.provisioner is None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                self.provisioner = provisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
            return await super()._async_pre_start_kernel(**kw)

    return ReportKernelManager
