"""Feed-C-shaped item events synthesized in DuckDB SQL (no Python row loop), one start day of
items at a time: the generator of bench/spike_history.py and bench/history_year.py."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

START = date(2026, 1, 1)
EVENTS_PER_ITEM = 3.9  # measured on the generator below; used only to size the item count

# One start day of items: 70 % import (EMD, EDB, [EME], EDC, EMF), 30 % export (EMB, EXA, EXC,
# EMC, EMD abroad). Serials are a bijection of the running item number (48271 is coprime with
# 10^8) and the prefix group changes every 10^8 items, so ids are unique up to 4 * 10^8 items (a
# year at 4 M events a day is 3.75 * 10^8) but spread like real ones. ~4 % of items are held (EME
# with a retention code) and a quarter of those not released yet. Events spill into later days.
GEN_SQL = """
WITH items AS (
    SELECT n, (hash(n) >> 1)::BIGINT AS h,
           lpad(((n * 48271) % 100000000)::VARCHAR, 8, '0') AS serial,
           getvariable('day0')::TIMESTAMP + to_seconds((hash(n) % 86400)::BIGINT) AS t0
    FROM range(getvariable('n_from'), getvariable('n_to')) r(n)
),
ids AS (
    SELECT *, ['EA','CP','RR','LX','UA','HA','EB','CQ','RA','LY','UB','HB',
                      'EC','CR','RB','LZ','UC','HC','ED','CS','RC','LA','UD','HD']
                     [1 + ((n // 100000000) * 6 + (h >> 8) % 6) % 24] AS prefix,
           ['US','GB','DE','JP','KR','FR','AU','RU','KH','TH'][1 + (h >> 16) % 10] AS foreign_c,
           ['CNSZXA','CNBJSA','CNSHAA','CNCANA','CNHGHA','CNNKGA','CNXMNA','CNTAOA','CNTSNA',
            'CNDLCA','CNKMGA','CNURCA','CNHRBA','CNCGOA','CNCTUA','CNWUHA','CNFOCA','CNNNGA',
            'CNSHEA','CNXIYA'][1 + (h >> 24) % 20] AS office,
           (h >> 32) % 10 < 7 AS import_item,
           (h >> 36) % 100 < 4 AS held,
           (h >> 40) % 4 = 0 AS unreleased
    FROM items
),
s10 AS (
    SELECT *, (11 - list_sum(list_transform(range(8), lambda x:
                 substr(serial, x + 1, 1)::INT * [8, 6, 4, 2, 3, 5, 9, 7][x + 1])) % 11) AS c
    FROM ids
),
keyed AS (
    SELECT *, prefix || serial || CASE c WHEN 10 THEN 0 WHEN 11 THEN 5 ELSE c END::VARCHAR
              || if(import_item, foreign_c, 'CN') AS item_id,
           t0 + to_hours(1 + ((h >> 44) % 6)::BIGINT) AS t_pres,
           to_hours(1 + ((h >> 48) % 96)::BIGINT) AS d_rel,
           to_hours(1 + ((h >> 52) % 24)::BIGINT) AS d_dep
    FROM s10
),
ev AS (
    SELECT item_id, n, office, foreign_c, import_item, h,
           UNNEST(CASE WHEN import_item THEN [
               {'code': 'EMD', 't': t0, 'ret': NULL},
               {'code': 'EDB', 't': t_pres, 'ret': NULL},
               {'code': CASE WHEN held THEN 'EME' END, 't': t_pres + INTERVAL 2 HOUR, 'ret': 'R' || (h % 9)::VARCHAR},
               {'code': CASE WHEN NOT (held AND unreleased) THEN 'EDC' END, 't': t_pres + d_rel, 'ret': NULL},
               {'code': CASE WHEN NOT (held AND unreleased) THEN 'EMF' END, 't': t_pres + d_rel + d_dep, 'ret': NULL}]
           ELSE [
               {'code': 'EMB', 't': t0, 'ret': NULL},
               {'code': 'EXA', 't': t_pres, 'ret': NULL},
               {'code': 'EXC', 't': t_pres + d_rel, 'ret': NULL},
               {'code': 'EMC', 't': t_pres + d_rel + d_dep, 'ret': NULL},
               {'code': 'EMD', 't': t_pres + d_rel + d_dep + INTERVAL 3 DAY, 'ret': NULL}] END) AS e
    FROM keyed
)
SELECT item_id,
       e.code AS event_code,
       e.t AS event_utc,
       CASE WHEN e.code = 'EMD' AND NOT import_item THEN foreign_c || 'AAAA' ELSE office END AS office_code,
       e.t + INTERVAL 8 HOUR AS event_local,
       CASE WHEN e.code IN ('EMF', 'EMC') THEN if(import_item, 'CNXXXA', foreign_c || 'AAAA') END
           AS next_office_code,
       ['U', 'C', 'E'][1 + (h >> 20) % 3] AS mail_class,
       if(import_item, foreign_c, 'CN') AS origin_country,
       if(import_item, 'CN', foreign_c) AS destination_country,
       round(50 + (h % 20000) / 10.0, 1) AS weight_g,
       CASE WHEN e.code = 'EME' THEN e.ret END AS retention_code,
       CASE WHEN e.code = 'EME' THEN 'A' END AS reason_code,
       NULL::VARCHAR AS action_code,
       strftime(e.t + INTERVAL 8 HOUR, '%Y-%m-%dT%H:%M:%S+08:00') AS event_time,
       getvariable('file_id')::BIGINT + (n % 24) AS file_id,
       row_number() OVER () AS line,
       480 AS local_offset_min,
       (e.t)::DATE AS day
FROM ev WHERE e.code IS NOT NULL
"""


def connect(threads: int, mem: str, spill: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for the synthesis; it spills to `spill` (DuckDB's default for an
    in-memory database is `.tmp` in the working directory, the checkout)."""
    con = duckdb.connect()
    if spill is not None:
        con.execute("SET temp_directory = ?", [str(spill)])
    con.execute("SET threads = ?", [threads])
    con.execute("SET memory_limit = ?", [mem])
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET parquet_metadata_cache = true")
    return con


def gen_day(con, d: int, items_per_day: int, start: date = START) -> None:
    """temp.gen = the events of the items that start on day d (counted from `start`)."""
    con.execute("SET VARIABLE day0 = ?", [start + timedelta(days=d)])
    con.execute("SET VARIABLE n_from = ?", [d * items_per_day])
    con.execute("SET VARIABLE n_to = ?", [(d + 1) * items_per_day])
    con.execute("SET VARIABLE file_id = ?", [d * 24])
    con.execute("CREATE OR REPLACE TEMP TABLE gen AS " + GEN_SQL)
