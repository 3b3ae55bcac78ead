"""A kernel started early and warmed up, handed to papermill (its ``km`` argument).

Starting a kernel and importing pandas/matplotlib/analysis in it takes seconds. Started at the
beginning of a run, it warms up while the parent checks the data and imports the exporters; the
notebook then runs in a kernel that is already ready. One kernel per report: nothing carries
over between reports.
"""
from __future__ import annotations

import os
import threading

#: what every report's kernel needs, imported while the parent prepares the frames
WARM_CODE = ("import analysis.sections, pyarrow.parquet  # warm-up: pandas, matplotlib, fonts, analysis\n"
             "from analysis.catalog import _validator; _validator()  # the catalog's schema checker")


class WarmKernel:
    """Start a kernel in a background thread; ``km()`` waits for it; ``shutdown()`` stops it."""

    def __init__(self, kernel_name: str | None = None, cwd: str | None = None):
        self.kernel_name = kernel_name or "python3"
        self.cwd = cwd
        self._km = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            from jupyter_client import BlockingKernelClient
            from jupyter_client.manager import AsyncKernelManager
            from jupyter_client.utils import run_sync
            import tempfile
            # IPC (Unix sockets) keeps the kernel off TCP: nothing listens on the network, and
            # ipykernel has no "running over TCP without encryption" warning to print
            self._ipc_dir = tempfile.mkdtemp(prefix="analysis-kernel-")
            km = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc",
                                    ip=os.path.join(self._ipc_dir, "k"))
            env = {**os.environ, "MPLBACKEND": "Agg"}
            run_sync(km.start_kernel)(cwd=self.cwd, env=env)
            kc = BlockingKernelClient()
            kc.load_connection_info(km.get_connection_info())
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            kc.execute(WARM_CODE, silent=True, store_history=False)
            kc.stop_channels()
            self._km = km
        except BaseException as exc:  # reported by km(): the caller falls back to papermill's own kernel
            self._error = exc

    def km(self):
        """The started kernel manager, or None when starting failed (papermill then starts its own)."""
        self._thread.join()
        return self._km

    def shutdown(self) -> None:
        self._thread.join()
        if self._km is not None:
            from jupyter_client.utils import run_sync
            try:
                run_sync(self._km.shutdown_kernel)(now=True)
            except Exception:  # already gone: nothing to clean
                pass
            self._km = None
        if getattr(self, "_ipc_dir", None):
            import shutil
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
