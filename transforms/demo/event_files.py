"""Write feed C: several files a day (JSON Lines or CSV, some gzip), events shuffled within a file,
times in three notations, with the event-level quirks of feeds.md.

Work is vectorised per file (polars); the only Python loops are over days and files.
"""
from __future__ import annotations

import gzip
import io
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from .item_events import CODES, RETENTION_CODES, Simulated
from .quirks import QuirkLog, mtime_for, write_bytes

FIELDS = ("item_id", "event_code", "event_time", "office_code", "next_office_code", "mail_class",
          "origin_country", "destination_country", "weight_g", "retention_code", "reason_code", "action_code")
KINDS = ("jsonl", "jsonl.gz", "csv", "csv.gz")
KIND_P = (0.4, 0.25, 0.2, 0.15)
UNKNOWN_EVENT_CODE = "EXZ"
DUP_SAME_FILE, DUP_OTHER_FILE = 0.002, 0.002
GZIP_LEVEL = 3


def _offset_text(h: int) -> str:
    return f"{'+' if h >= 0 else '-'}{abs(h):02d}:00"


def prepare(sim: Simulated, days: int, rng: np.random.Generator, log_counts: dict,
            quirks: bool = True) -> tuple[pl.DataFrame, np.ndarray]:
    """Assign events to files, add duplicates and row quirks; returns (events sorted by file, files per day)."""
    ev = sim.events
    m = ev.height
    n_files = rng.integers(4, 9, days)
    file_no = (rng.random(m) * n_files[ev["day"].to_numpy()]).astype(np.int16)
    # time notation: 0 local without offset, 1 with the office's offset, 2 UTC with Z;
    # foreign offices always carry their offset (their time zone is not in offices.csv)
    fmt = rng.choice(3, m, p=[0.8, 0.12, 0.08]).astype(np.int8)
    fmt[ev["office"].to_numpy() >= sim.offices.n_cn] = 1
    ev = ev.with_columns(pl.Series("file", file_no), pl.Series("fmt", fmt),
                         pl.lit(0, pl.Int8).alias("quirk"))

    if not quirks:
        ev = ev.with_columns(pl.Series("shuffle", rng.random(m))).sort(["day", "file", "shuffle"])
        return ev.drop("shuffle"), n_files
    # row quirks: 1 unknown event code, 2 unknown office, 3 impossible timestamp (a few each)
    k = max(2, m // 500_000)
    chosen = rng.choice(m, 3 * k, replace=False)
    quirk = np.zeros(m, np.int8)
    quirk[chosen[:k]], quirk[chosen[k:2 * k]], quirk[chosen[2 * k:]] = 1, 2, 3
    cn = ev["office"].to_numpy() < sim.offices.n_cn
    quirk[(quirk == 2) & ~cn] = 0  # only Chinese events get the unknown Chinese office
    ev = ev.with_columns(pl.Series("quirk", quirk))
    ev = ev.with_columns(
        pl.when(pl.col("quirk") == 2).then(sim.offices.unknown).otherwise(pl.col("office")).cast(pl.Int16).alias("office"))

    # duplicates: same file, and another file of the same day
    clean = np.nonzero(quirk == 0)[0]  # a duplicate of a broken row would not be a plain duplicate
    same = rng.choice(clean, max(1, int(m * DUP_SAME_FILE)), replace=False)
    other = rng.choice(clean, max(1, int(m * DUP_OTHER_FILE)), replace=False)
    d_same = ev[same].with_columns(pl.lit(4, pl.Int8).alias("quirk"))
    d_other = ev[other]
    nf = n_files[d_other["day"].to_numpy()]
    moved = ((d_other["file"].to_numpy() + 1 + rng.integers(0, 3, len(other))) % nf).astype(np.int16)
    d_other = d_other.with_columns(pl.Series("file", moved), pl.lit(5, pl.Int8).alias("quirk"))
    ev = pl.concat([ev, d_same, d_other])
    log_counts.update(duplicate_same_file=len(same), duplicate_other_file=len(other),
                      unknown_event_code=int((quirk == 1).sum()), unknown_office=int((quirk == 2).sum()),
                      impossible_timestamp=int((quirk == 3).sum()))
    # out of order within a file: a random key
    ev = ev.with_columns(pl.Series("shuffle", rng.random(ev.height))).sort(["day", "file", "shuffle"])
    return ev.drop("shuffle"), n_files


def render_rows(sim: Simulated, part: pl.DataFrame, bad_items: dict[int, str]) -> pl.DataFrame:
    """Strings of one file's events, in the field order of feeds.md."""
    offices = sim.offices
    codes = pl.Series(offices.codes)
    off_h = pl.Series(offices.offset_h)
    offs = pl.Series([_offset_text(int(h)) for h in offices.offset_h])
    item = part["item"].cast(pl.Int64)
    office = part["office"].cast(pl.Int64)
    it = sim.items[item.to_numpy()] if part.height else sim.items.clear()
    local = part["utc"] + off_h.gather(office) * 3600
    secs = np.where(part["fmt"].to_numpy() == 2, part["utc"].to_numpy(), local.to_numpy())
    df = pl.DataFrame({
        "item": item, "quirk": part["quirk"], "fmt": part["fmt"], "secs": secs,
        "code": part["code"].cast(pl.Int64), "office": office, "next": part["next_office"].cast(pl.Int64),
        "retention": part["retention"].cast(pl.Int64),
        "item_id": it["item_id"], "mail_class": it["mail_class"], "origin_country": it["origin_country"],
        "destination_country": it["destination_country"], "weight_g": it["weight_g"],
    })
    wall = pl.from_epoch(pl.col("secs"), "s").dt.strftime("%Y-%m-%dT%H:%M:%S")
    code_s = pl.Series(list(CODES))
    ret_s = pl.Series(list(RETENTION_CODES))
    if bad_items:
        bad = pl.DataFrame({"item": list(bad_items), "bad_id": list(bad_items.values())}, schema={"item": pl.Int64, "bad_id": pl.Utf8})
        df = df.join(bad, on="item", how="left", maintain_order="left")
    else:
        df = df.with_columns(pl.lit(None, pl.Utf8).alias("bad_id"))
    return df.select(
        pl.coalesce("bad_id", "item_id").alias("item_id"),
        pl.when(pl.col("quirk") == 1).then(pl.lit(UNKNOWN_EVENT_CODE))
        .otherwise(pl.col("code").map_batches(lambda s: code_s.gather(s), return_dtype=pl.Utf8)).alias("event_code"),
        pl.when(pl.col("quirk") == 3)
        .then(pl.from_epoch(pl.col("secs"), "s").dt.strftime("%Y-%m-%dT25:%M:%S"))  # hour 25
        .when(pl.col("fmt") == 0).then(wall)
        .when(pl.col("fmt") == 1).then(pl.concat_str(wall, pl.col("office").map_batches(lambda s: offs.gather(s), return_dtype=pl.Utf8)))
        .otherwise(pl.concat_str(wall, pl.lit("Z"))).alias("event_time"),
        pl.col("office").map_batches(lambda s: codes.gather(s), return_dtype=pl.Utf8).alias("office_code"),
        pl.when(pl.col("next") >= 0).then(pl.col("next").map_batches(lambda s: codes.gather(s.clip(0)), return_dtype=pl.Utf8))
        .alias("next_office_code"),
        "mail_class", "origin_country", "destination_country",
        # weight is weighed at arrival and posting only
        pl.when(pl.col("code").is_in([CODES.index(c) for c in ("EMA", "EMB", "EMD")])).then(pl.col("weight_g")).alias("weight_g"),
        pl.when(pl.col("retention") >= 0).then(pl.col("retention").map_batches(lambda s: ret_s.gather(s.clip(0)), return_dtype=pl.Utf8))
        .alias("retention_code"),
        pl.lit(None, pl.Utf8).alias("reason_code"),
        pl.lit(None, pl.Utf8).alias("action_code"),
    )


def encode(df: pl.DataFrame, kind: str) -> bytes:
    buf = io.BytesIO()
    if kind.startswith("jsonl"):
        df.write_ndjson(buf)
    else:
        df.write_csv(buf)
    data = buf.getvalue()
    return gzip.compress(data, GZIP_LEVEL, mtime=0) if kind.endswith(".gz") else data


def write_events(sim: Simulated, landing: Path, start: date, days: int, rng: np.random.Generator,
                 log: QuirkLog, quirks: bool = True) -> dict:
    counts: dict = {}
    ev, n_files = prepare(sim, days, rng, counts, quirks)
    n_bad = max(3, sim.items.height // 100_000) if quirks else 0
    bad_rows = rng.choice(sim.items.height, min(n_bad, sim.items.height), replace=False)
    bad_items = {}
    for r in bad_rows.tolist():  # a handful of items: wrong check digit, kept for all their events
        good = sim.items["item_id"][r]
        bad_items[r] = good[:10] + str((int(good[10]) + 1 + r % 8) % 10) + good[11:]

    kinds = rng.choice(len(KINDS), (days, 9), p=KIND_P)
    kinds[0, :4] = np.arange(4)  # every file kind appears
    truncated_day, part_day = (days // 2, days - 1) if quirks else (-1, -1)
    bounds = np.searchsorted(ev["day"].to_numpy() * 16 + ev["file"].to_numpy(),
                             np.arange(days * 16 + 1))
    written, n_events = 0, 0
    examples = {4: [], 5: [], 1: [], 2: [], 3: []}
    for d in range(days):
        day = start + timedelta(days=d)
        folder = landing / "item_events" / day.isoformat()
        ymd = day.strftime("%Y%m%d")
        for f in range(int(n_files[d])):
            kind = KINDS[kinds[d, f]]
            part = ev[int(bounds[d * 16 + f]): int(bounds[d * 16 + f + 1])]
            rows = render_rows(sim, part, bad_items)
            path = folder / f"emsevt_{ymd}_{f + 1:02d}.{kind}"
            mtime = mtime_for(day + timedelta(days=1), 1.5 + 0.25 * f + rng.uniform(0, 0.2))
            write_bytes(path, encode(rows, kind), mtime)
            written += 1
            n_events += rows.height
            _collect_examples(examples, part, rows, path, log)
            if d == truncated_day and f == 0:
                _truncated_gz(rows, folder / f"emsevt_{ymd}_resend.jsonl.gz", mtime + 7200, log)
                written += 1
            if d == part_day and f == 0:
                part_path = folder / f"emsevt_{ymd}_{int(n_files[d]) + 1:02d}.jsonl.part"
                data = encode(rows.head(200), "jsonl")
                write_bytes(part_path, data[: len(data) * 2 // 3], mtime + 600)
                log.add("part_file", part_path, "still being written: readers must skip it")
                written += 1
    for r, bad in bad_items.items():
        log.add("bad_s10_check_digit", landing / "item_events", bad, item_id=bad,
                correct=sim.items["item_id"][r])
    labels = {4: "duplicate_event_same_file", 5: "duplicate_event_other_file", 1: "unknown_event_code",
              2: "unknown_office", 3: "impossible_timestamp"}
    for q, found in examples.items():
        for path, rec in found:
            log.add(labels[q], path, rec.get("event_time", ""), **rec)
    return {"files": written, "events": n_events, **counts}


def _collect_examples(examples, part, rows, path, log, per_kind: int = 3) -> None:
    """Name a few occurrences of each event quirk with their file, for tests and the lead."""
    q = part["quirk"].to_numpy()
    for kind, found in examples.items():
        if len(found) >= per_kind and kind in (4, 5):
            continue
        for i in np.nonzero(q == kind)[0][: (per_kind - len(found)) if kind in (4, 5) else None]:
            r = rows.row(int(i), named=True)
            found.append((path, {"item_id": r["item_id"], "event_code": r["event_code"],
                                 "event_time": r["event_time"], "office_code": r["office_code"]}))


def _truncated_gz(rows: pl.DataFrame, path: Path, mtime: float, log: QuirkLog) -> None:
    data = encode(rows.head(300), "jsonl.gz")
    write_bytes(path, data[: len(data) // 2], mtime)
    log.add("truncated_gz", path, "gzip cut in the middle: the whole file is unreadable (copies of events sent elsewhere)")
