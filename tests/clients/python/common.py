"""Shared by the Python client suites: connection settings and the demo-lake
rows every suite checks (looked up in data/demo-lake with psql).

Each suite is a script run by tests/it/clients.rs against a huntlake server
over the demo lake:

    python3 check_psycopg.py --host 127.0.0.1 --port 5433 --user huntlake --password huntlake

(or PGHOST/PGPORT/PGUSER/PGPASSWORD). A suite exits 0 when every value
matches and 1 with a message naming the first mismatch.
"""

import argparse
import datetime as dt
import os
import sys

UTC = dt.timezone.utc

# An alert with three techniques (list<utf8> -> text[]) and a millisecond time.
ALERT_ID = "da639292090543989041_-1994759201"
ALERT = {
    "time": dt.datetime(2026, 11, 2, 9, 34, 4, 135000, tzinfo=UTC),
    "vendor": "mde",
    "entity": "ws-0017",
    "severity_id": 2,
    "techniques": ["T1016", "T1033", "T1082"],
    "device_ip": "10.20.16.24",
    "user_name": "bianca.koch",
    "title": "Suspicious sequence of exploration activities",
}
# An alert whose techniques array is empty (not NULL).
EMPTY_TECHNIQUES_ALERT_ID = "1247703270007575987"

# A flow with every nullable column set (microsecond time, float8, int8)...
FLOW_UID = "CWzOE3h0wsfwtxFLC8"
FLOW = {
    "time": dt.datetime(2026, 11, 5, 14, 37, 49, 463381, tzinfo=UTC),
    "src_ip": "10.20.16.24",
    "src_port": 58181,
    "dst_port": 443,
    "service": "ssl",
    "duration_s": 14.107649,
    "bytes_out": 2465985,
    "bytes_in": 2581,
    "dst_host": "corpexample-my.sharepoint.com",
    "entity": "ws-0017",
}
# ... and an inbound scan with NULL entity, service, duration_s and dst_host.
NULL_FLOW_UID = "C01NBV37YuVSVHrJU3"
NULL_FLOW = {
    "time": dt.datetime(2026, 11, 6, 2, 52, 18, 489724, tzinfo=UTC),
    "src_ip": "103.213.151.57",
    "src_port": 54358,
    "dst_port": 80,
    "service": None,
    "duration_s": None,
    "bytes_out": 0,
    "bytes_in": 0,
    "dst_host": None,
    "entity": None,
}
FLOW_COLUMNS = list(FLOW)

# int8 beyond int4: total bytes the backup server sent in the week.
BACKUP_BYTES_OUT = 12799472163
ALERT_COUNT = 714
FLOW_COUNT = 105418

TABLES = {"edr_alerts", "network_flows", "assets", "detections"}
VIEWS = {"edr_alerts_scored", "beacons", "new_rare_beacons", "det_unusual_edr_alert", "det_edr_alert_then_beacon"}

# PostgreSQL type names of a few columns, as information about the lake types.
EDR_ALERT_TYPES = {
    "time": "timestamp with time zone",
    "alert_id": "text",
    "severity_id": "integer",
    "techniques": "text[]",
}
FLOW_TYPES = {
    "time": "timestamp with time zone",
    "bytes_out": "bigint",
    "duration_s": "double precision",
    "dst_port": "integer",
    "entity": "text",
}


def args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default=os.environ.get("PGHOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PGPORT", "5433")))
    p.add_argument("--user", default=os.environ.get("PGUSER", "huntlake"))
    p.add_argument("--password", default=os.environ.get("PGPASSWORD", "huntlake"))
    p.add_argument("--dbname", default=os.environ.get("PGDATABASE", "huntlake"))
    return p.parse_args()


class Mismatch(Exception):
    pass


def check(what, got, expected):
    """Fails with both values unless they are equal (floats exactly: the lake
    stores float8, both wire formats must give back the same double)."""
    if got != expected or type(got) is not type(expected):
        raise Mismatch(f"{what}: got {got!r} ({type(got).__name__}), expected {expected!r} ({type(expected).__name__})")
    print(f"ok  {what} = {got!r}")


def check_row(what, row, expected, columns):
    if row is None:
        raise Mismatch(f"{what}: no row")
    if len(row) != len(columns):
        raise Mismatch(f"{what}: {len(row)} columns, expected {len(columns)}")
    for name, value in zip(columns, row):
        check(f"{what}.{name}", value, expected[name])


def run(main):
    """Runs a suite's main(), turning a mismatch or error into exit code 1."""
    try:
        main()
    except Mismatch as e:
        print(f"MISMATCH {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # a driver error: show what failed and where
        import traceback

        traceback.print_exc()
        print(f"ERROR {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print("all checks passed")
