"""The DuckDB side of `huntlake bench analytics`.

huntlake embeds this file and runs it as `python3 -c <this file> <config JSON>`.
DuckDB reads the same Parquet lake as huntlake and computes the same
definitions (design/functions.md) in plain DuckDB SQL: the rarity family
with window functions, the time-window join as an ordinary join, and the
beacon statistics with lists and aggregates.

Config (argv[1], JSON): {"lake": folder, "threads": n, "runs": n,
"queries": ["q1", ...], "fingerprint_sql": {"q1": "... FROM ({query}) AS q"}}.

Prints one JSON object on standard output:
{"duckdb": version, "fetch": how results are materialised,
 "peak_rss_kib": peak resident memory of the process, "queries": {"q1": {"seconds": [...], "rows": n, "fingerprint": {name: value}}}};
progress goes to standard error.
"""

import json
import resource
import sys
import time

# `is_private_ip` of functions.md for the addresses of the lake: every IPv4
# range of the contract, IPv6 by prefix (::, ::1, fc00::/7, fe80::/10,
# ff00::/8, and IPv4-mapped ::ffff:a.b.c.d by its IPv4 rule). Text that is
# not an address gives NULL, like the huntlake function.
MACROS = r"""
-- The rule on the four octets `o` of a well-formed dotted quad.
CREATE OR REPLACE TEMP MACRO ipv4_octets_private(o) AS CASE
    WHEN o[1] > 255 OR o[2] > 255 OR o[3] > 255 OR o[4] > 255 THEN NULL
    ELSE o[1] IN (0, 10, 127)
      OR o[1] >= 224
      OR (o[1] = 100 AND o[2] BETWEEN 64 AND 127)
      OR (o[1] = 169 AND o[2] = 254)
      OR (o[1] = 172 AND o[2] BETWEEN 16 AND 31)
      OR (o[1] = 192 AND o[2] = 168)
END;
-- The octets are parsed once and bound to a lambda parameter: a macro
-- argument is re-evaluated at every use, which costs DuckDB 6x the CPU here.
CREATE OR REPLACE TEMP MACRO ipv4_is_private(ip) AS CASE
    WHEN NOT regexp_full_match(ip, '(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}') THEN NULL
    ELSE list_transform(
        [list_transform(string_split(ip, '.'), lambda octet: octet::INTEGER)],
        lambda o: ipv4_octets_private(o))[1]
END;
CREATE OR REPLACE TEMP MACRO is_private_ip(ip) AS CASE
    WHEN ip IS NULL THEN NULL
    WHEN NOT contains(ip, ':') THEN ipv4_is_private(ip)
    WHEN lower(ip) LIKE '::ffff:%.%' THEN ipv4_is_private(substr(ip, 8))
    WHEN NOT regexp_full_match(ip, '[0-9A-Fa-f:]+') THEN NULL
    ELSE ip IN ('::', '::1')
      OR regexp_full_match(lower(ip), 'f[cd][0-9a-f]{2}:.*')
      OR regexp_full_match(lower(ip), 'fe[89ab][0-9a-f]:.*')
      OR regexp_full_match(lower(ip), 'ff[0-9a-f]{2}:.*')
END;

-- quantile_cont of an ascending list, computed exactly as functions.md
-- (and huntlake) define it: lo + (hi - lo) * fraction at position
-- q * (n - 1). DuckDB's own quantile_cont rounds differently in the last
-- bit, which would flip the exact `Q2 = Q1` tests of skew_score.
CREATE OR REPLACE TEMP MACRO q_cont(xs, q) AS
    xs[floor(q * (len(xs) - 1))::BIGINT + 1]
    + (xs[ceil(q * (len(xs) - 1))::BIGINT + 1] - xs[floor(q * (len(xs) - 1))::BIGINT + 1])
      * (q * (len(xs) - 1) - floor(q * (len(xs) - 1)));
CREATE OR REPLACE TEMP MACRO skew_score(q1, q2, q3) AS CASE
    WHEN q3 - q1 < 10 OR q2 = q1 OR q2 = q3 THEN 1.0::DOUBLE
    ELSE 1.0::DOUBLE - abs((q1 + q3 - 2.0::DOUBLE * q2) / (q3 - q1))
END;
CREATE OR REPLACE TEMP MACRO mad_score(median, mad, small_median) AS CASE
    WHEN median < 1 THEN small_median
    ELSE greatest(0.0::DOUBLE, (median - mad) / median)
END;
-- The median absolute deviation of a list around its median.
CREATE OR REPLACE TEMP MACRO mad(xs, median) AS
    q_cont(list_sort(list_transform(xs, lambda v: abs(v - median))), 0.5::DOUBLE);
"""

# (Q1) entity_surprise, population_surprise and unusualness of every alert,
# value = vendor || ':' || title, over all alerts ordered by time. History is
# strictly earlier rows: RANGE ... 1 MICROSECOND PRECEDING excludes ties.
# D_v and E count distinct entities through "first occurrence" flags summed
# over strictly earlier rows (as sql/views/edr_alerts_scored.sql does).
Q1 = """
WITH base AS (
    SELECT vendor, alert_id, entity, time, vendor || ':' || title AS alert_value
    FROM edr_alerts
),
flags AS (
    SELECT *,
        row_number() OVER (PARTITION BY entity ORDER BY time) = 1 AS first_for_device,
        alert_value IS NOT NULL
            AND row_number() OVER (PARTITION BY entity, alert_value ORDER BY time) = 1 AS first_for_device_value
    FROM base
),
counts AS (
    SELECT vendor, alert_id, entity, time,
        count(*) OVER (
            PARTITION BY entity ORDER BY time
            RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING
        ) AS n_e,
        CASE WHEN alert_value IS NULL THEN 0 ELSE count(*) OVER (
            PARTITION BY entity, alert_value ORDER BY time
            RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING
        ) END AS c_ev,
        coalesce(sum(first_for_device_value::BIGINT) OVER (
            PARTITION BY alert_value ORDER BY time
            RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING
        ), 0) AS d_v,
        coalesce(sum(first_for_device::BIGINT) OVER (
            ORDER BY time
            RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING
        ), 0) AS e
    FROM flags
)
SELECT vendor, alert_id, entity, time,
    log2((n_e + 1)::DOUBLE / (c_ev + 1)::DOUBLE) AS entity_surprise,
    -log2((d_v + 1)::DOUBLE / (e + 2)::DOUBLE) AS population_surprise,
    100.0::DOUBLE * least(1.0::DOUBLE, -log2(
        (c_ev + 10.0::DOUBLE * ((d_v + 1)::DOUBLE / (e + 2)::DOUBLE)) / (n_e + 10)::DOUBLE
    ) / 16.0::DOUBLE) AS unusualness
FROM counts
"""

# (Q2) For each alert, the same entity's flows to non-private addresses
# within [time - 5 min, time + 10 min], bounds inclusive.
Q2 = """
SELECT a.vendor, a.alert_id, a.entity, a.time,
    count(f.time) AS flows,
    sum(f.bytes_out) AS bytes_out,
    sum(f.bytes_in) AS bytes_in
FROM edr_alerts a
LEFT JOIN (
    SELECT entity, time, bytes_out, bytes_in FROM network_flows WHERE NOT is_private_ip(dst_ip)
) f
  ON f.entity = a.entity
 AND f.time BETWEEN a.time - INTERVAL 5 MINUTE AND a.time + INTERVAL 10 MINUTE
GROUP BY a.vendor, a.alert_id, a.entity, a.time
"""

# (Q3) beacon_score per (src_ip, dst_ip, UTC day) over bytes_out, the
# RITA-style statistics of functions.md:
# * intervals: differences of the sorted timestamps in seconds, zeros
#   removed; eligible with >= 3 of them (>= 4 distinct times) and fewer than
#   86400 connections, else NULL;
# * ts/ds: (skew_score + mad_score) / 2 over intervals / non-NULL sizes
#   (mad_score 1 resp. 0 when the median is below 1); ds = 0 below 3 sizes;
# * hist: max(0, 1 - cv) of the 24 bin counts over [day, day + 1 day);
# * dur: min(1, max(coverage, longest wrapping run of non-empty bins / 12)),
#   the run read off the 24-bit mask of non-empty bins, written out twice.
# One aggregation collects each group's sorted times and sizes and its bin
# histogram; list functions do the rest. (Intervals by lag() over a window
# partitioned by group give the same answer but cost DuckDB ~30% more CPU.)
Q3 = """
WITH f AS (
    SELECT src_ip, dst_ip, date_trunc('day', time) AS day, epoch_us(time) AS t, bytes_out
    FROM network_flows
),
groups AS (
    SELECT src_ip, dst_ip, day,
        count(*) AS connections,
        min(t) AS first_t,
        max(t) AS last_t,
        epoch_us(day) AS window_start,
        epoch_us(day + INTERVAL 1 DAY) AS window_end,
        list_sort(list(t)) AS times,
        list_sort(list(bytes_out::DOUBLE) FILTER (WHERE bytes_out IS NOT NULL)) AS sizes,
        histogram(least((t - epoch_us(day)) * 24 // (epoch_us(day + INTERVAL 1 DAY) - epoch_us(day)), 23)) AS bins
    FROM f
    GROUP BY src_ip, dst_ip, day
),
series AS (
    SELECT * EXCLUDE (times, bins),
        list_sort(list_transform(
            list_filter(
                list_transform(list_zip(times[2:], times[1:len(times) - 1]), lambda pair: pair[1] - pair[2]),
                lambda gap: gap <> 0),
            lambda gap: gap::DOUBLE / 1e6::DOUBLE)) AS intervals,
        map_values(bins) AS bin_counts,
        lpad(bin(list_sum(list_transform(map_keys(bins), lambda slot: 1::BIGINT << slot))), 24, '0') AS mask,
        connections::DOUBLE / 24.0::DOUBLE AS mean
    FROM groups
),
quartiles AS (
    SELECT *,
        q_cont(intervals, 0.25::DOUBLE) AS i_q1,
        q_cont(intervals, 0.5::DOUBLE) AS i_q2,
        q_cont(intervals, 0.75::DOUBLE) AS i_q3,
        q_cont(sizes, 0.25::DOUBLE) AS s_q1,
        q_cont(sizes, 0.5::DOUBLE) AS s_q2,
        q_cont(sizes, 0.75::DOUBLE) AS s_q3
    FROM series
),
deviations AS (
    -- The medians are columns by now, so the lambdas capture a number, not a list.
    SELECT *, mad(intervals, i_q2) AS i_mad, mad(sizes, s_q2) AS s_mad
    FROM quartiles
)
SELECT src_ip, dst_ip, day, connections,
    CASE WHEN connections < 86400 AND coalesce(len(intervals), 0) >= 3 THEN (
        (skew_score(i_q1, i_q2, i_q3) + mad_score(i_q2, i_mad, 1.0::DOUBLE)) / 2.0::DOUBLE
        + CASE WHEN coalesce(len(sizes), 0) >= 3
            THEN (skew_score(s_q1, s_q2, s_q3) + mad_score(s_q2, s_mad, 0.0::DOUBLE)) / 2.0::DOUBLE
            ELSE 0.0::DOUBLE END
        + greatest(0.0::DOUBLE, 1.0::DOUBLE - sqrt(
            (list_sum(list_transform(bin_counts, lambda c: (c - mean) * (c - mean))) + (24 - len(bin_counts)) * mean * mean)
            / 24.0::DOUBLE) / mean)
        + least(1.0::DOUBLE, greatest(
            (last_t - first_t)::DOUBLE / (window_end - window_start)::DOUBLE,
            least(24, list_max(list_transform(string_split(mask || mask, '0'), lambda run: length(run))))::DOUBLE
                / 12.0::DOUBLE))
    ) / 4.0::DOUBLE END AS beacon_score
FROM deviations
"""

QUERIES = {"q1": Q1, "q2": Q2, "q3": Q3}


def log(message):
    print(f"duckdb: {message}", file=sys.stderr, flush=True)


def sql_string(text):
    return "'" + text.replace("'", "''") + "'"


def materialise(con, sql, arrow):
    """Runs `sql` and materialises its whole result; returns the row count."""
    if arrow:
        relation = con.sql(sql)
        to_arrow = getattr(relation, "to_arrow_table", None) or getattr(relation, "arrow")
        return to_arrow().num_rows
    return len(con.execute(sql).fetchall())


def main():
    config = json.loads(sys.argv[1])
    import duckdb

    try:
        import pyarrow  # noqa: F401  (only makes the Arrow fetch available)

        arrow = True
    except ImportError:
        arrow = False

    con = duckdb.connect()
    con.execute(f"SET threads = {int(config['threads'])}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    lake = config["lake"].rstrip("/")
    for table in ("edr_alerts", "network_flows"):
        files = sql_string(f"{lake}/{table}/*/*.parquet")
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({files}, hive_partitioning = true)")
    con.execute(MACROS)

    out = {
        "duckdb": duckdb.__version__,
        "fetch": "Arrow table (pyarrow)" if arrow else "Python tuples (fetchall; pip install pyarrow for Arrow)",
        "queries": {},
    }
    for name in config["queries"]:
        sql = QUERIES[name]
        seconds = []
        rows = 0
        for run in range(int(config["runs"])):
            started = time.perf_counter()
            rows = materialise(con, sql, arrow)
            seconds.append(time.perf_counter() - started)
            log(f"{name} run {run + 1}: {seconds[-1]:.3f} s, {rows} rows")
        cursor = con.execute(config["fingerprint_sql"][name].replace("{query}", sql))
        names = [d[0] for d in cursor.description]
        (values,) = cursor.fetchall()  # one row; fetching all finishes the result
        fingerprint = {}
        for column, value in zip(names, values):
            if value is not None and not isinstance(value, (int, float)):
                value = float(value)  # DECIMAL or HUGEINT that slipped through a cast
            fingerprint[column] = value
        out["queries"][name] = {"seconds": seconds, "rows": rows, "fingerprint": fingerprint}
    out["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))


if __name__ == "__main__":
    main()
