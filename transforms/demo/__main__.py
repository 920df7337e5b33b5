"""python -m transforms.demo --landing DIR [--start DATE] [--days N] [--seed S] [--scale X] [--no-quirks]"""
from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

from .generator import generate


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m transforms.demo", description="Write a seeded demo landing zone.")
    p.add_argument("--landing", type=Path, required=True)
    p.add_argument("--start", type=date.fromisoformat, default=None, help="first day (default: today - days)")
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--scale", type=float, default=1.0, help="items = 300,000 x scale over the period")
    p.add_argument("--no-quirks", dest="quirks", action="store_false")
    a = p.parse_args(argv)
    t0 = time.monotonic()
    summary = generate(a.landing, a.start, a.days, a.seed, a.scale, a.quirks)
    brief = {k: v for k, v in summary.items() if k != "quirks"}
    brief["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(brief, ensure_ascii=False, indent=2))
    return summary


if __name__ == "__main__":
    main()
