"""Child process: the history ratio (issue 4 point 2).

python -m bench.history --long L60 --short L7 --end D --work DIR --out result.json [--repeat N]

For each landing, one catch-up night up to D-1 (every earlier day), then a snapshot of the
warehouse directory. The final night D (identical new files in both landings) is then timed
`repeat` times per landing, alternating, each from a fresh copy of the snapshot, in one process
(Great Expectations imported once, so both sides pay the same). The ratio uses the medians.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from datetime import date, timedelta
from pathlib import Path


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--long", required=True)
    p.add_argument("--short", required=True)
    p.add_argument("--end", required=True, type=date.fromisoformat)
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args(argv)
    from transforms import pipeline
    from transforms.config import Paths

    work = Path(a.work)
    sides = {"long": Path(a.long), "short": Path(a.short)}
    result: dict = {"end": a.end.isoformat(), "catch_up": {}, "final": {"long": [], "short": []},
                    "final_timings": {"long": [], "short": []}}
    for name, landing in sides.items():
        snap = work / f"{name}_snapshot"
        if snap.exists():
            shutil.rmtree(snap)
        paths = Paths.from_args(landing, snap / "warehouse.duckdb")
        t0 = time.perf_counter()
        pipeline.run_night(paths, a.end - timedelta(days=1))
        result["catch_up"][name] = round(time.perf_counter() - t0, 3)
    for k in range(a.repeat):
        order = ["long", "short"] if k % 2 == 0 else ["short", "long"]
        for name in order:
            run_dir = work / f"{name}_run"
            if run_dir.exists():
                shutil.rmtree(run_dir)
            shutil.copytree(work / f"{name}_snapshot", run_dir)
            paths = Paths.from_args(sides[name], run_dir / "warehouse.duckdb")
            t0 = time.perf_counter()
            rep = pipeline.run_night(paths, a.end)
            result["final"][name].append(round(time.perf_counter() - t0, 3))
            result["final_timings"][name].append(rep["timings"])
    med = {n: statistics.median(v) for n, v in result["final"].items()}
    result["median_s"] = med
    result["ratio"] = round(med["long"] / med["short"], 3)
    Path(a.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
