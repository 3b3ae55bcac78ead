"""Every limit on what the tool accepts, in one place.

Each input is bounded so that no input of an allowed size can make a command crash, hang or fill
the disk; going over a limit is a clear error naming the input (exit 2 for options and jobs
files, 1 for data). The README's "Limits and failure behaviour" lists them; tests import them
from here.
"""
from __future__ import annotations

#: characters of a report title (``--title``, a jobs file's ``parameters.title``)
MAX_TITLE_CHARS = 200
#: characters of a region or entity name (``--region``, the data's ``region`` and ``entity`` columns)
MAX_NAME_CHARS = 100
#: characters of a text value of a notebook's other parameters (``-p NAME VALUE``, a jobs file)
MAX_PARAMETER_CHARS = 1000
#: jobs of one jobs file: the matrix's combinations (counted before expanding it) plus the listed jobs
MAX_JOBS = 10_000
#: bytes of a jobs file
MAX_JOBS_FILE_BYTES = 1_000_000
#: nodes of a YAML document counted with every alias expanded (anchors that multiply — "billion
#: laughs" — are refused while the document is composed, before anything is built from it)
MAX_YAML_NODES = 100_000
#: nesting depth of a YAML document
MAX_YAML_DEPTH = 40
#: digits of an integer written in a YAML document
MAX_YAML_INT_DIGITS = 30
#: UTF-8 bytes of the readable part of an output folder name; longer names are cut and get a hash
MAX_NAME_BYTES = 96
#: a catalog file (YAML): bytes (the shipped one is about 30 KB)
MAX_CATALOG_BYTES = 2_000_000
