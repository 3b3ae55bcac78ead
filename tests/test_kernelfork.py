"""Kernels forked from a warm template (analysis.kernelfork), as batch workers start them.

Each case runs in its own interpreter (the template is per process), through the same
``WarmKernel`` and jupyter_client calls a report makes.
"""
from __future__ import annotations

import json
import subprocess
import textwrap

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import BIN, ROOT

SCRIPT = textwrap.dedent('''
    import json, os, signal, sys, time
    from jupyter_client.utils import run_sync
    from analysis import kernel

    def run(km, code):
        """Execute code in the kernel; its stdout."""
        kc = km.blocking_client(); kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            out = []
            reply = kc.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(
                m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
            deadline = time.time() + 10
            while not out and time.time() < deadline:   # under load a print's stream can come after "idle"
                try:
                    m = kc.get_iopub_msg(timeout=1)
                except Exception:
                    continue
                if m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == reply["parent_header"]["msg_id"]:
                    out.append(m["content"].get("text", ""))
            return "".join(out)
        finally:
            kc.stop_channels()

    def main():
        kernel.use_template()
        result = {}
        k1 = kernel.WarmKernel(cwd=sys.argv[1])
        km = k1.km()
        assert km is not None, k1.error
        pid1 = km.provisioner.pid
        result["first"] = json.loads(run(km, "import os, sys, json; leaked = 42; "
            "print(json.dumps({'cwd': os.getcwd(), 'ppid': os.getppid(), 'pid': os.getpid(), "
            "'comm': open('/proc/self/comm').read().strip(), 'warm': 'analysis.sections' in sys.modules, "
            "'mpl': os.environ.get('MPLBACKEND'), 'marker': os.environ.get('KF_MARKER'), "
            "'history': get_ipython().history_manager.enabled, 'frozen': __import__('gc').get_freeze_count(), "
            "'gc': __import__('gc').isenabled()}))"))
        result["first"]["parent"] = os.getpid()
        k1.shutdown()
        result["first_exit"] = k1.returncode
        result["first_gone"] = not os.path.exists(f"/proc/{pid1}")

        k2 = kernel.WarmKernel(cwd=sys.argv[1])
        km2 = k2.km()
        result["second"] = run(km2, "print('leaked' in globals())").strip()
        pid2 = km2.provisioner.pid
        os.kill(pid2, signal.SIGKILL)              # killed from outside, as the OOM killer would
        deadline = time.time() + 20
        while k2.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        result["killed_status"] = k2.poll()
        k2.shutdown()

        template = result["first"]["ppid"]
        k3 = kernel.WarmKernel(cwd=sys.argv[1])
        km3 = k3.km()
        pid3 = km3.provisioner.pid
        os.kill(template, signal.SIGKILL)          # the template dies: its kernels die with it
        deadline = time.time() + 20
        while k3.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        result["orphan_status"] = k3.poll()
        k3.shutdown()
        k4 = kernel.WarmKernel(cwd=sys.argv[1])    # a new template is started for the next kernel
        result["after_template_death"] = run(k4.km(), "print(1 + 1)").strip()
        k4.shutdown()
        print(json.dumps(result))

    if __name__ == "__main__":
        main()
''')


def test_forked_kernels_are_fresh_warm_and_die_as_they_should(tmp_path):
    script = tmp_path / "fork_check.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {"PATH": str(BIN), "KF_MARKER": "kf-1", "HOME": str(tmp_path), "ANALYSIS_HOME": str(ROOT)}
    proc = subprocess.run([str(BIN / "python"), str(script), str(tmp_path)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    first = r["first"]
    assert first["cwd"] == str(tmp_path)               # the report's folder, not the template's
    assert first["comm"] == "ipykernel"                # what ps shows for a forked kernel
    assert first["warm"] is True                       # imported by the template, before the fork
    assert first["mpl"] == "Agg" and first["marker"] == "kf-1"   # the environment the manager passed
    assert first["history"] is False                   # report kernels keep no input history
    assert first["frozen"] > 50_000 and first["gc"] is True   # the template's imports out of collections; the
                                                       # notebook's own objects still collected (analysis.gcpause)
    assert first["ppid"] != first["parent"]            # forked by the template, not started by the worker
    assert r["first_exit"] is not None and r["first_gone"]
    assert r["second"] == "False"                      # nothing carries over from one kernel to the next
    assert r["killed_status"] == -9                    # a kernel killed outright reads as SIGKILL
    assert r["orphan_status"] is not None              # the template's death took its kernel along
    assert r["after_template_death"] == "2"


def test_a_batch_records_kernel_cpu_and_peak_memory(failing_batch):
    """The manifest records what each job's kernel and worker cost; the summary the peak memory
    (conftest's failing_batch: two workers, their kernels forked from the template)."""
    _, out, res, _ = failing_batch
    assert "peak memory per worker" in res.stdout
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    ok = [entry for entry in manifest["jobs"].values() if entry["status"] == "ok"]
    assert len(ok) == 3
    for entry in ok:
        usage = entry["usage"]
        assert usage["kernel_cpu_s"] > 0 and usage["kernel_peak_mb"] > 50 and usage["process_peak_mb"] > 50


OWNER = textwrap.dedent('''
    import json, sys, time
    from analysis import kernel

    def main():
        kernel.use_template()
        k = kernel.WarmKernel(cwd=sys.argv[1])
        km = k.km()
        import os
        print(json.dumps({"kernel": km.provisioner.pid, "template": int(open(f"/proc/{km.provisioner.pid}/stat")
                          .read().rsplit(")", 1)[1].split()[1])}), flush=True)
        time.sleep(120)

    if __name__ == "__main__":
        main()
''')


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_process_killed_outright_leaves_no_template_and_no_kernel(tmp_path):
    """SIGKILL to the process that owns the template (a batch worker killed by the OOM killer): the
    template and the kernels forked from it end too."""
    import signal
    import time
    script = tmp_path / "owner.py"
    script.write_text(OWNER, encoding="utf-8")
    proc = subprocess.Popen([str(BIN / "python"), str(script), str(tmp_path)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        pids = json.loads(proc.stdout.readline())
        assert _alive(pids["kernel"]) and _alive(pids["template"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.time() + 20
        while (_alive(pids["kernel"]) or _alive(pids["template"])) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(pids["kernel"]) and not _alive(pids["template"])
    finally:
        proc.kill()


LAUNCHED = textwrap.dedent('''
    import ast, json, queue, sys, time
    from jupyter_client.utils import run_sync
    from analysis import kernel

    def main():
        for preload in (True, False):
            probe(preload)

    def probe(preload):
        k = kernel.WarmKernel(cwd=sys.argv[1], preload=preload)   # one report: a new interpreter, not a fork
        km = k.km()
        assert km is not None, k.error
        kc = km.client()
        kc.start_channels()
        run_sync(kc.wait_for_ready)(timeout=60)
        seen = []
        # the first request after readiness: IOPub must carry all of it, its first messages (busy, the
        # code) too — the subscription was in place before it ran. The answer comes back in the reply
        # (user_expressions): a print's stream can reach the client after "idle" under load (ipykernel).
        probe = ("json.dumps({'comm': open('/proc/self/comm').read().strip(), "
                 "'warm': 'analysis.sections' in sys.modules, 'debugger': 'debugpy' in sys.modules and "
                 "sys.modules['debugpy'] is not None, 'cwd': os.getcwd(), 'cwd_importable': '' in sys.path, "
                 "'history': get_ipython().history_manager.enabled, 'frozen': gc.get_freeze_count(), "
                 "'gc': gc.isenabled(), 'pandas': 'pandas' in sys.modules, 'matplotlib': 'matplotlib' in sys.modules})")
        reply = run_sync(kc.execute_interactive)(
            "import gc, json, os, sys", user_expressions={"r": probe}, timeout=60,
            output_hook=lambda m: seen.append(m["header"]["msg_type"] + ":" + m["content"].get("execution_state", "")))
        # ipykernel 7 publishes from more than one thread: under load "idle" can overtake "busy" and the
        # code (execute_interactive stops at idle), so the rest of this request's messages are read on
        # for up to 10 s; a subscription made too late would never get them
        own, until = reply["parent_header"]["msg_id"], time.monotonic() + 10
        while not {"status:busy", "execute_input:", "status:idle"} <= set(seen) and time.monotonic() < until:
            try:
                m = run_sync(kc.iopub_channel.get_msg)(timeout=0.5)
            except queue.Empty:
                continue
            if m["parent_header"].get("msg_id") == own:
                seen.append(m["header"]["msg_type"] + ":" + m["content"].get("execution_state", ""))
        kc.stop_channels()
        k.shutdown()
        r = json.loads(ast.literal_eval(reply["content"]["user_expressions"]["r"]["data"]["text/plain"]))
        r["iopub"] = seen
        r["client"] = type(kc).__name__
        print(json.dumps(r))

    if __name__ == "__main__":
        main()
''')


def test_a_single_reports_kernel_starts_warm_without_debugger_and_is_ready_at_once(tmp_path):
    """``analysis report``'s kernel runs ``python -m analysis.kernellaunch``: warm when it first answers, named
    ipykernel, no debugpy; its client (analysis.kernelclient) is ready and IOPub carries its first request whole.
    The same without the packages a notebook that uses none of them would not use (preload=False)."""
    script = tmp_path / "launch_check.py"
    script.write_text(LAUNCHED, encoding="utf-8")
    proc = subprocess.run([str(BIN / "python"), str(script), str(tmp_path)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    warm, light = map(json.loads, proc.stdout.strip().splitlines()[-2:])
    for r in (warm, light):
        assert r["client"] == "ReportKernelClient", r
        assert {"status:busy", "execute_input:", "status:idle"} <= set(r["iopub"]), r   # all of it reached the client
        assert r["comm"] == "ipykernel" and r["debugger"] is False, r
        assert r["cwd"] == str(tmp_path) and r["cwd_importable"] is True, r   # as ipykernel_launcher leaves it
        assert r["history"] is False and r["gc"] is True, r                  # no SQLite write per cell; collection on
    assert warm["warm"] is warm["pandas"] is warm["matplotlib"] is True, warm
    assert warm["frozen"] > 50_000, warm                                     # its imports frozen
    # a notebook that uses none of them (preload=False): ipykernel alone
    assert light["warm"] is light["pandas"] is light["matplotlib"] is False, light


def test_the_clients_readiness_check_reports_a_kernel_that_died(tmp_path):
    """A kernel that dies before it answers: the readiness check says so instead of waiting for its timeout."""
    code = textwrap.dedent('''
        import sys, time
        from jupyter_client.utils import run_sync
        from analysis.kernelfork import manager_class

        def main():
            km = manager_class(fork=False)(kernel_name="python3")
            km.kernel_spec.argv[:] = [sys.executable, "-c", "import sys; sys.exit(3)", "-f", "{connection_file}"]
            run_sync(km.start_kernel)()
            kc = km.client(); kc.start_channels()
            t = time.monotonic()
            try:
                run_sync(kc.wait_for_ready)(timeout=60)
            except RuntimeError as exc:
                print(type(kc).__name__, exc, round(time.monotonic() - t) < 30)
            finally:
                kc.stop_channels()
                run_sync(km.shutdown_kernel)(now=True)

        if __name__ == "__main__":
            main()
    ''')
    script = tmp_path / "dead_check.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run([str(BIN / "python"), str(script)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "ReportKernelClient Kernel died before replying to kernel_info True"


@pytest.mark.parametrize("code, preloaded", [
    ("from analysis.report import open_report", True),
    ("import pandas as pd", True),
    ("import os, numpy as np", True),
    ("import os\nif True:\n    import matplotlib.pyplot as plt", True),     # at any indentation
    ("from pyarrow import parquet", True),
    ("import os, sys\nprint('import pandas')", False),                   # a string, not a statement
    ("# import pandas\nx = 1", False),                                   # a comment
    ("import analysis_tools\nimport pandasql", False),                   # other packages
    ("%matplotlib inline\nx = 1", False),
])
def test_a_notebook_is_given_the_preloaded_packages_only_if_it_imports_one(tmp_path, code, preloaded):
    from analysis.kernel import preloads
    nb = new_notebook(cells=[new_markdown_cell("import pandas"), new_code_cell("x = 1"), new_code_cell(code)])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    assert preloads(path) is preloaded
    path.write_text("{not json", encoding="utf-8")      # changed (another size): read again; unreadable: given them
    assert preloads(path) is True and preloads(tmp_path / "missing.ipynb") is True
