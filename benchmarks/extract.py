"""Extraction benchmark (issue 13): `analysis extract` on every gold text, scored per field.

The gold texts: the project's own source (data/observations.csv, source S000, a news feature) and
the hand transcriptions in tests/gold/ (a 统计公报 section, a statistics bureau's reading). Each
is extracted in a fresh process, as a user runs it (imports included), and scored with
analysis.extract.score. Targets: figure (value, unit, qualifier, measure) recall ≥ 0.90 and
precision ≥ 0.85 on each text. Run: ``python benchmarks/extract.py``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: (label, kind, document, gold file, source id, extract options)
TEXTS = [
    ("S000 渝北区", "news feature", "data/raw/000_c8145b6dd64842e1.txt", "data/observations.csv", "S000",
     ["--region", "渝北区", "--published", "2025-01"]),
    ("G-LY 庐阳区", "统计公报 (sections 一–三)", "tests/gold/raw/luyang_2024_gongbao.txt", "tests/gold/luyang_2024.csv",
     "G-LY", ["--region", "庐阳区", "--published", "2025"]),
    ("G-JB 江北区", "statistics bureau's reading", "tests/gold/raw/jiangbei_2024_industry.txt",
     "tests/gold/jiangbei_2024.csv", "G-JB", ["--region", "江北区", "--published", "2025-01-21"]),
    ("G-JD 嘉定区", "district economy reading (held out)", "tests/gold/raw/jiading_2024_economy.txt",
     "tests/gold/jiading_2024.csv", "G-JD", ["--region", "嘉定区", "--published", "2025"]),
]
TARGET_RECALL, TARGET_PRECISION = 0.90, 0.85

_SCORE = """
import json, sys, time
t = time.perf_counter()
from analysis.catalog import load_catalog
from analysis.extract import extract
from analysis.extract.score import read_gold, score
doc, gold, source, opts = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
frame = extract(doc, source=source, **opts)
seconds = time.perf_counter() - t
s = score(frame, read_gold(gold, source), load_catalog())
print(json.dumps({"seconds": seconds, "scores": {k: [v.precision, v.recall, v.right, v.candidates, v.gold]
                                                 for k, v in s.items()}}))
"""


def _options(args: list[str]) -> dict:
    it = iter(args)
    return {k.lstrip("-"): v for k, v in zip(it, it)}


def run() -> list[dict]:
    """Scores and times of every gold text (each extraction in its own process, imports included)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    out = []
    for label, kind, doc, gold, source, opts in TEXTS:
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", _SCORE, doc, gold, source, json.dumps(_options(opts))],
                             capture_output=True, text=True, cwd=ROOT, env=env, check=True)
        wall = time.perf_counter() - t
        data = json.loads(res.stdout.strip().splitlines()[-1])
        fig = data["scores"]["figure"]
        out.append({"label": label, "kind": kind, "wall_s": wall, "extract_s": data["seconds"],
                    "scores": data["scores"], "meets": fig[1] >= TARGET_RECALL and fig[0] >= TARGET_PRECISION})
    return out


def main() -> int:
    for r in run():
        print(f"{r['label']} ({r['kind']}): {r['wall_s']:.1f} s")
        for field, (p, rc, right, n_c, n_g) in r["scores"].items():
            print(f"  {field:<10} precision {p:.2f} recall {rc:.2f} ({right}/{n_c}/{n_g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
