"""The command of a report's kernel: ``python -m analysis.kernellaunch -f CONNECTION_FILE``.

What ``python -m ipykernel_launcher`` does, after importing what every report's kernel needs
(:mod:`analysis.kernelboot`) and without the debugger: a report's kernel is driven by papermill,
which never debugs, and ipykernel imports debugpy (≈ 0.2 s) for every kernel it starts. The
kernel answers only once it is warm, so the notebook's first cell runs at once.

:mod:`analysis.kernel` starts this instead of the kernelspec's command when that command is this
interpreter's ``ipykernel_launcher`` (the project's own kernel); any other kernel is started as
its kernelspec says. Kernels an analyst opens in JupyterLab are started by JupyterLab from the
kernelspec: they keep their debugger.
"""
import sys
from pathlib import Path

if __name__ == "__main__":
    if sys.path[0] == "" or Path(sys.path[0]) == Path.cwd():   # as ipykernel_launcher: not the working folder
        del sys.path[0]                                          # (the kernel puts it back, as ipykernel does)
    from analysis.proc import name_process

    name_process("ipykernel")   # what ps -o comm and top show, as for the kernels forked from a template
    from analysis import kernelboot  # blocks debugpy, imports ipykernel, pandas, matplotlib, analysis
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=[*sys.argv[1:], *kernelboot.KERNEL_ARGS])
