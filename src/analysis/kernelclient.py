"""The client of a report's kernel: jupyter_client's, with a readiness check that does not sleep.

jupyter_client's ``wait_for_ready`` asks for ``kernel_info``, and once the reply is in waits 0.2 s for
a message on IOPub (to know the subscription reached the kernel); the status messages of that
request were published before the new subscription was in place, so the wait runs out and it asks
again — 0.2 s per client, measured on every start (two clients per report: the one that sees the
kernel warm, papermill's). Here the client polls both channels in short steps: IOPub's first message
is the kernel's greeting to a new subscriber (``iopub_welcome``, ipykernel ≥ 7) or the status of a
request, and ``kernel_info`` is asked again after 50 ms without one (what jupyter_client does, sooner),
so a kernel without the greeting is ready as soon as it answers too. Used by the managers of
:func:`analysis.kernelfork.manager_class` (every report's kernel).
"""
from __future__ import annotations

import time
from queue import Empty

from jupyter_client.asynchronous.client import AsyncKernelClient

#: how long one look at a channel waits (s); kernel_info is asked again after AGAIN without an IOPub message
STEP, AGAIN = 0.01, 0.05


class ReportKernelClient(AsyncKernelClient):
    async def wait_for_ready(self, timeout: float | None = None) -> None:   # type: ignore[override]
        """Return once the kernel answered ``kernel_info`` and this client's IOPub gets its messages.

        Raises:
            RuntimeError: the kernel died, or did not answer within ``timeout`` seconds (jupyter_client's messages).
        """
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        replied = heard = False
        self.kernel_info()
        asked = checked = time.monotonic()
        while not (replied and heard):
            if not heard:
                try:
                    await self.iopub_channel.get_msg(timeout=STEP)
                    heard = True
                except Empty:
                    pass
            if not replied:
                try:
                    msg = await self.shell_channel.get_msg(timeout=STEP)
                except Empty:
                    pass
                else:
                    if msg["msg_type"] == "kernel_info_reply":
                        self._handle_kernel_info_reply(msg)
                        replied = True
            now = time.monotonic()
            if replied and not heard and now - asked > AGAIN:
                self.kernel_info()          # its status messages reach the subscription now in place
                asked = now
            if not (replied and heard) and now - checked > 1.0:
                checked = now
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if now > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
                if not replied:
                    self.kernel_info()      # as jupyter_client: asked again every second until it answers
                    asked = now
