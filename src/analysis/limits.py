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

# ------------------------------------------------------------------ data files
# Observations files (.csv, .xlsx) and the registries beside them (sources.csv, regions.csv) are
# read only when they are regular files (never a FIFO, device or folder: opening a FIFO would wait
# for a writer forever), and only within these bounds.

#: bytes of a CSV data file (≈ 3 million rows of the shipped kind: the design's panel of every
#: county in China over two decades, ≈ 2.4 million observations, fits)
MAX_DATA_FILE_BYTES = 512 * 2**20
#: data rows of one data file (blank rows and the header not counted)
MAX_DATA_ROWS = 3_000_000
#: columns of a data file (14 are known; any other is an error anyway)
MAX_DATA_COLUMNS = 100
#: characters of one cell of a data file (a quote is a clause or a sentence; Excel's own limit is 32 767)
MAX_CELL_CHARS = 10_000
#: bytes of an .xlsx workbook file
MAX_XLSX_BYTES = 100 * 2**20
#: bytes of all parts of an .xlsx workbook once decompressed, as its zip directory declares them —
#: checked before anything is decompressed. Python's zipfile stops at the declared size (and
#: then fails the CRC check), so a part that lies about its size is a broken file, never a bomb.
#: About 4 million cells; openpyxl reads ≈ 40 000 cells a second, so this is also a bound on time.
MAX_XLSX_UNCOMPRESSED_BYTES = 256 * 2**20
#: decompressed ÷ compressed size of any part of an .xlsx above :data:`XLSX_RATIO_FROM_BYTES`
#: (a zip bomb inflates by ~1 000; real sheets by 5–20, even a sheet of one row repeated by 18)
MAX_XLSX_RATIO = 100
#: parts smaller than this are not held to :data:`MAX_XLSX_RATIO` (small XML compresses well and is harmless)
XLSX_RATIO_FROM_BYTES = 2**20
#: parts (files) inside an .xlsx zip
MAX_XLSX_PARTS = 10_000
#: largest absolute value of a figure in its base unit (元, 辆, %, …): 10¹⁵ 元 is about eight
#: times China's GDP; a larger figure is a typo or a unit slip, and a non-finite one an overflow
MAX_ABS_VALUE = 1e15
#: bytes of a source snapshot named by sources.csv (read for its checksum and the quote check)
MAX_SNAPSHOT_BYTES = 200 * 2**20
#: problems listed in one error message (every problem is still collected and counted)
MAX_PROBLEMS_SHOWN = 200
#: distinct unknown names (indicators, units) that get a "did you mean" hint; difflib costs
#: milliseconds per name, and a file of garbage has a new name on every row
MAX_SUGGESTIONS = 200
