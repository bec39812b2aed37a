"""SQLAlchemy 2 (psycopg 3 and psycopg2 dialects) and pandas against
huntlake: the inspector's table, view and column listings with their
types, Core queries with bound parameters, and pandas.read_sql values on
known demo-lake rows."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

import common as c

# SQLAlchemy type class of each checked column.
ALERT_TYPES = {"time": sa.TIMESTAMP, "alert_id": sa.TEXT, "severity_id": sa.INTEGER, "techniques": pg.ARRAY}
FLOW_TYPES = {"time": sa.TIMESTAMP, "bytes_out": sa.BIGINT, "duration_s": pg.DOUBLE_PRECISION, "dst_port": sa.INTEGER,
              "entity": sa.TEXT}


def check_dialect(a, driver):
    url = sa.engine.URL.create(f"postgresql+{driver}", username=a.user, password=a.password, host=a.host,
                               port=a.port, database=a.dbname)
    engine = sa.create_engine(url)
    try:
        insp = sa.inspect(engine)
        c.check(f"{driver} schema names contain public", "public" in insp.get_schema_names(), True)
        tables = set(insp.get_table_names())
        views = set(insp.get_view_names())
        for t in c.TABLES:
            c.check(f"{driver} get_table_names has {t}", t in tables, True)
            c.check(f"{driver} get_view_names lacks table {t}", t in views, False)
        for v in c.VIEWS:
            c.check(f"{driver} get_view_names has {v}", v in views, True)
            c.check(f"{driver} get_table_names lacks view {v}", v in tables, False)
        for table, expected in (("edr_alerts", ALERT_TYPES), ("network_flows", FLOW_TYPES)):
            cols = {col["name"]: col for col in insp.get_columns(table)}
            for name, ty in expected.items():
                got = cols[name]["type"]
                if not isinstance(got, ty):
                    raise c.Mismatch(f"{driver} {table}.{name} type {got!r}, expected {ty.__name__}")
                print(f"ok  {driver} {table}.{name} type {got!r}")
            c.check(f"{driver} edr_alerts.time has time zone" if table == "edr_alerts" else f"{driver} {table}.time tz",
                    cols["time"]["type"].timezone, True)
            c.check(f"{driver} {table}.time not nullable", cols["time"]["nullable"], False)
        alert_cols = {col["name"]: col for col in insp.get_columns("edr_alerts")}
        c.check(f"{driver} techniques element type", type(alert_cols["techniques"]["type"].item_type), sa.TEXT)
        c.check(f"{driver} device_ip nullable", alert_cols["device_ip"]["nullable"], True)
        view_cols = [col["name"] for col in insp.get_columns("edr_alerts_scored")]
        c.check(f"{driver} view columns start", view_cols[:2], ["time", "updated_time"])

        # Core: a reflected table, bound parameters, lake values.
        md = sa.MetaData()
        flows = sa.Table("network_flows", md, autoload_with=engine)
        with engine.connect() as conn:
            q = sa.select(*[flows.c[n] for n in c.FLOW_COLUMNS]).where(flows.c.uid == sa.bindparam("uid"))
            for uid, expected in ((c.FLOW_UID, c.FLOW), (c.NULL_FLOW_UID, c.NULL_FLOW)):
                c.check_row(f"{driver} core flow {uid}", tuple(conn.execute(q, {"uid": uid}).one()), expected,
                            c.FLOW_COLUMNS)
            n = conn.execute(sa.text("SELECT count(*) FROM edr_alerts WHERE entity = :e AND time >= :t"),
                             {"e": "ws-0017", "t": c.ALERT["time"]}).scalar_one()
            if not (isinstance(n, int) and n >= 1):
                raise c.Mismatch(f"{driver} text() count {n!r}")
            print(f"ok  {driver} text() with parameters = {n}")

        # pandas over the same engine.
        df = pd.read_sql(
            sa.text("SELECT time, alert_id, severity_id, techniques, device_ip FROM edr_alerts "
                    "WHERE alert_id IN (:a, :b) ORDER BY alert_id"),
            engine, params={"a": c.ALERT_ID, "b": c.EMPTY_TECHNIQUES_ALERT_ID})
        c.check(f"{driver} pandas rows", len(df), 2)
        c.check(f"{driver} pandas time dtype", str(df["time"].dtype).startswith("datetime64"), True)
        c.check(f"{driver} pandas time tz", str(df["time"].dt.tz), "UTC")
        row = df[df["alert_id"] == c.ALERT_ID].iloc[0]
        c.check(f"{driver} pandas time", row["time"].to_pydatetime(), c.ALERT["time"])
        c.check(f"{driver} pandas severity_id", int(row["severity_id"]), c.ALERT["severity_id"])
        c.check(f"{driver} pandas techniques", list(row["techniques"]), c.ALERT["techniques"])
        empty = df[df["alert_id"] == c.EMPTY_TECHNIQUES_ALERT_ID].iloc[0]
        c.check(f"{driver} pandas empty techniques", list(empty["techniques"]), [])
        fdf = pd.read_sql(
            f"SELECT {', '.join(c.FLOW_COLUMNS)} FROM network_flows WHERE uid IN ('{c.FLOW_UID}', '{c.NULL_FLOW_UID}') ORDER BY uid",
            engine)
        null_row, full_row = fdf.iloc[0], fdf.iloc[1]
        c.check(f"{driver} pandas bytes_out dtype", str(fdf["bytes_out"].dtype), "int64")
        c.check(f"{driver} pandas duration_s", float(full_row["duration_s"]), c.FLOW["duration_s"])
        c.check(f"{driver} pandas NULL duration_s is NaN", bool(pd.isna(null_row["duration_s"])), True)
        c.check(f"{driver} pandas NULL entity is missing", bool(pd.isna(null_row["entity"])), True)
        c.check(f"{driver} pandas entity", full_row["entity"], c.FLOW["entity"])
        c.check(f"{driver} pandas bytes_out", int(full_row["bytes_out"]), c.FLOW["bytes_out"])
    finally:
        engine.dispose()


def main():
    a = c.args(__doc__)
    for driver in ("psycopg", "psycopg2"):
        check_dialect(a, driver)


if __name__ == "__main__":
    c.run(main)
