"""Benchmark landing zones, built with the demo generator and reshaped to the issue's file counts.

Peak day: the generator writes 4-8 event files a day and one report per site (about 20 offices
and 6 centres). The benchmark day needs 24 event files (mixed JSON Lines and CSV, all gzip) and
60 office / 40 centre reports, so this module
  * re-splits the generator's event files into 24 parts on line boundaries (CSV parts keep the
    header), alternating the two formats as the generator chose them, all gzip-compressed;
  * pads the report feeds with copies of plain CSV reports under new site codes, and adds those
    sites to reference/offices.csv (same bytes otherwise, so the readers do the same work).
The generator's quirk files (a truncated gzip resend, a half-written .part) are kept as delivered.
Everything is cached under the output directory, keyed by the parameters.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

from transforms.demo import generate

EVENT_FILES = 24
OFFICE_REPORTS = 60
CENTRE_REPORTS = 40
GZIP_LEVEL = 3  # the generator's level


def _done(marker: Path, params: dict) -> bool:
    try:
        return json.loads(marker.read_text()) == params
    except (OSError, ValueError):
        return False


def _resplit_events(folder: Path, n_out: int) -> dict:
    """Replace the day's data files by n_out gzip parts; quirk files (resend, .part) are kept."""
    data = sorted(p for p in folder.iterdir()
                  if re.fullmatch(r"emsevt_\d{8}_\d{2}\.(jsonl|csv)(\.gz)?", p.name))
    def size_of(p: Path) -> int:  # uncompressed size (gzip ISIZE trailer; files < 4 GB)
        if not p.name.endswith(".gz"):
            return p.stat().st_size
        with open(p, "rb") as fh:
            fh.seek(-4, os.SEEK_END)
            return int.from_bytes(fh.read(4), "little")

    def lines_of(p: Path) -> float:  # estimated from the mean length of the first lines
        opener = gzip.open if p.name.endswith(".gz") else open
        with opener(p, "rb") as fh:
            head = fh.read(1 << 20)
        return size_of(p) / (len(head) / max(1, head.count(b"\n")))

    # parts per source file proportional to its events, so both formats keep their share
    sizes = [lines_of(p) for p in data]
    total = sum(sizes)
    parts = [max(1, round(n_out * s / total)) for s in sizes]
    while sum(parts) > n_out:
        parts[parts.index(max(parts))] -= 1
    while sum(parts) < n_out:
        parts[sizes.index(max(sizes))] += 1
    ymd = data[0].name.split("_")[1]
    mtime = max(p.stat().st_mtime for p in data)
    out_no, formats = 0, {"jsonl": 0, "csv": 0}
    for p, k in zip(data, parts):
        raw = p.read_bytes()
        if p.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        fmt = "csv" if ".csv" in p.name else "jsonl"
        header = b""
        body = raw
        if fmt == "csv":
            cut = raw.index(b"\n") + 1
            header, body = raw[:cut], raw[cut:]
        start = 0
        for j in range(k):
            end = len(body) if j == k - 1 else body.find(b"\n", len(body) * (j + 1) // k) + 1
            end = end or len(body)
            out_no += 1
            target = folder / f"emsevt_{ymd}_{out_no:02d}.{fmt}.gz"
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(gzip.compress(header + body[start:end], GZIP_LEVEL, mtime=0))
            os.utime(tmp, (mtime + out_no, mtime + out_no))
            formats[fmt] += 1
            start = end
        p.unlink()
    for tmp in folder.glob("*.tmp"):
        tmp.rename(tmp.with_name(tmp.name.removesuffix(".tmp")))
    return {"event_files": out_no, "formats": formats}


def _pad_reports(landing: Path, day: date) -> dict:
    """Copies of plain CSV reports under new site codes until 60 office / 40 centre reports."""
    ref_path = landing / "reference" / "offices.csv"
    ref_lines = ref_path.read_bytes().decode("utf-8").splitlines(keepends=True)
    by_code = {line.split(",", 1)[0]: line for line in ref_lines[1:]}
    added_ref = []
    out = {}
    for feed, want in (("exchange_office", OFFICE_REPORTS), ("customs_centre", CENTRE_REPORTS)):
        folder = landing / feed / day.isoformat()
        files = sorted(folder.iterdir())
        have = len(files)
        # sources: one CSV per site (not redeliveries, not xlsx), whose site code is in the name
        sources = []
        for p in files:
            if p.suffix != ".csv" or "_v2" in p.stem or "export" in p.stem:
                continue
            code = next((c for c in by_code if c in p.name), None)
            if code:
                sources.append((p, code))
        i = 0
        while have < want and sources:
            p, code = sources[i % len(sources)]
            copy_no = i // len(sources) + 1
            # new code of the same shape: feed A CNxxxA -> CNxxx<letter>, feed B XXXKJ0n -> XXXK<nn>
            new = (code[:-1] + "BCDEFGHJKLMNPQRSTUVWXYZ"[copy_no - 1] if feed == "exchange_office"
                   else code[:-2] + f"{(int(code[-2:]) + 10 * copy_no) % 100:02d}")
            if new in by_code:
                i += 1
                continue
            target = folder / p.name.replace(code, new)
            target.write_bytes(p.read_bytes().replace(code.encode(), new.encode()))
            st = p.stat()
            os.utime(target, (st.st_atime, st.st_mtime))
            by_code[new] = by_code[code].replace(code, new, 1)
            added_ref.append(by_code[new])
            have += 1
            i += 1
        out[feed] = have
    if added_ref:
        st = ref_path.stat()
        ref_path.write_bytes(("".join(ref_lines) + "".join(added_ref)).encode("utf-8"))
        os.utime(ref_path, (st.st_atime, st.st_mtime))
    out["reference_sites"] = len(by_code)
    return out


def peak_day_landing(root: Path, day: date, scale: float, seed: int = 7) -> tuple[Path, dict]:
    """Landing zone of one peak day at `scale` (generator items = 300,000 x scale)."""
    landing = root / f"peak_{day.isoformat()}_s{scale:g}"
    params = {"day": day.isoformat(), "scale": scale, "seed": seed, "v": 3}
    marker = landing / ".bench.json"
    if _done(marker, params):
        return landing, json.loads((landing / ".bench_summary.json").read_text())
    if landing.exists():
        shutil.rmtree(landing)
    summary = generate(landing, start=day, days=1, seed=seed, scale=scale)
    shape = _resplit_events(landing / "item_events" / day.isoformat(), EVENT_FILES)
    shape.update(_pad_reports(landing, day))
    brief = {"items": summary["items"], "events": summary["events"], "generator_files": summary["files"],
             **shape}
    (landing / ".bench_summary.json").write_text(json.dumps(brief))
    marker.write_text(json.dumps(params))
    return landing, brief


def history_landings(root: Path, end: date, scale: float, long_days: int = 60, short_days: int = 7,
                     seed: int = 7) -> tuple[Path, Path]:
    """Two landings whose last (short_days + 1) days are byte-identical: long_days and short_days
    of history before the same final night `end`."""
    long_ = root / f"hist{long_days}_{end.isoformat()}_s{scale:g}"
    short = root / f"hist{short_days}_{end.isoformat()}_s{scale:g}"
    params = {"end": end.isoformat(), "scale": scale, "seed": seed, "long": long_days, "short": short_days}
    if _done(long_ / ".bench.json", params) and _done(short / ".bench.json", params):
        return long_, short
    for p in (long_, short):
        if p.exists():
            shutil.rmtree(p)
    start = end - timedelta(days=long_days)
    generate(long_, start=start, days=long_days + 1, seed=seed, scale=scale)
    keep = {(end - timedelta(days=k)).isoformat() for k in range(short_days + 1)}
    for feed_dir in long_.iterdir():
        if not feed_dir.is_dir():
            continue
        if feed_dir.name == "reference":
            shutil.copytree(feed_dir, short / feed_dir.name)
            continue
        for day_dir in feed_dir.iterdir():
            if day_dir.name in keep:
                shutil.copytree(day_dir, short / feed_dir.name / day_dir.name)  # copy2: same mtimes
    for p in (long_, short):
        (p / ".bench.json").write_text(json.dumps(params))
    return long_, short
