"""psycopg 3 against huntlake: text and binary result formats, server-side
parameter binding (the extended protocol), a prepared statement, and the
lake types' values on known demo-lake rows."""

import psycopg

import common as c

ALERT_COLUMNS = ["time", "vendor", "entity", "severity_id", "techniques", "device_ip", "user_name", "title"]
ALERT_SQL = f"SELECT {', '.join(ALERT_COLUMNS)} FROM edr_alerts WHERE alert_id = %s"
FLOW_SQL = f"SELECT {', '.join(c.FLOW_COLUMNS)} FROM network_flows WHERE uid = %s"


def main():
    a = c.args(__doc__)
    with psycopg.connect(host=a.host, port=a.port, user=a.user, password=a.password, dbname=a.dbname) as conn:
        conn.autocommit = True
        for binary in (False, True):
            fmt = "binary" if binary else "text"
            with conn.cursor(binary=binary) as cur:
                # Server-side parameters: psycopg 3 sends $1 in a Bind message.
                cur.execute(ALERT_SQL, (c.ALERT_ID,))
                c.check_row(f"{fmt} alert", cur.fetchone(), c.ALERT, ALERT_COLUMNS)
                check_oids(cur, fmt, {"time": 1184, "severity_id": 23, "techniques": 1009, "title": 25})
                cur.execute("SELECT techniques FROM edr_alerts WHERE alert_id = %s", (c.EMPTY_TECHNIQUES_ALERT_ID,))
                c.check(f"{fmt} empty techniques", cur.fetchone()[0], [])
                for uid, expected in ((c.FLOW_UID, c.FLOW), (c.NULL_FLOW_UID, c.NULL_FLOW)):
                    cur.execute(FLOW_SQL, (uid,))
                    c.check_row(f"{fmt} flow {uid}", cur.fetchone(), expected, c.FLOW_COLUMNS)
                check_oids(cur, fmt, {"bytes_out": 20, "duration_s": 701, "dst_port": 23})
                # Typed parameters of several kinds in one statement.
                cur.execute(
                    "SELECT count(*) FROM network_flows WHERE entity = %s AND time >= %s AND bytes_out > %s AND duration_s > %s",
                    ("ws-0017", c.FLOW["time"], 2465984, 14.1),
                )
                n = cur.fetchone()[0]
                if not (isinstance(n, int) and n >= 1):
                    raise c.Mismatch(f"{fmt} parameter count: {n!r}")
                print(f"ok  {fmt} typed parameters count = {n}")
                cur.execute("SELECT sum(bytes_out) FROM network_flows WHERE entity = %s", ("srv-backup01",))
                c.check(f"{fmt} int8 sum", cur.fetchone()[0], c.BACKUP_BYTES_OUT)
                cur.execute("SELECT count(*) FROM edr_alerts")
                c.check(f"{fmt} alert count", cur.fetchone()[0], c.ALERT_COUNT)

        # `= ANY(%s)` with a list: psycopg binds it server-side as an array.
        with conn.cursor() as cur:
            ids = [c.ALERT_ID, c.EMPTY_TECHNIQUES_ALERT_ID, "no-such-alert"]
            cur.execute("SELECT count(*) FROM edr_alerts WHERE alert_id = ANY(%s)", (ids,))
            c.check("alert_id = ANY(text[])", cur.fetchone()[0], 2)
            cur.execute("SELECT alert_id FROM edr_alerts WHERE alert_id = ANY(%s)", ([c.ALERT_ID],))
            c.check("alert_id = ANY(one id)", cur.fetchall(), [(c.ALERT_ID,)])

        # A prepared statement, executed repeatedly with different parameters.
        with conn.cursor(binary=True) as cur:
            for uid, expected in ((c.FLOW_UID, c.FLOW), (c.NULL_FLOW_UID, c.NULL_FLOW), (c.FLOW_UID, c.FLOW)):
                cur.execute(FLOW_SQL, (uid,), prepare=True)
                c.check_row(f"prepared flow {uid}", cur.fetchone(), expected, c.FLOW_COLUMNS)

        # Views answer like tables; a view's rows come back like a table's.
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name, table_type FROM information_schema.tables "
                "WHERE table_schema = 'public' ORDER BY table_name"
            )
            kinds = dict(cur.fetchall())
            for t in c.TABLES:
                c.check(f"information_schema table_type {t}", kinds.get(t), "BASE TABLE")
            for v in c.VIEWS:
                c.check(f"information_schema table_type {v}", kinds.get(v), "VIEW")
            cur.execute("SELECT entity, severity_id FROM edr_alerts_scored WHERE alert_id = %s", (c.ALERT_ID,))
            c.check("edr_alerts_scored row", cur.fetchone(), (c.ALERT["entity"], c.ALERT["severity_id"]))

        # A server-side error does not break the connection.
        try:
            conn.execute("SELECT no_such_column FROM edr_alerts")
            raise c.Mismatch("unknown column did not fail")
        except psycopg.errors.UndefinedColumn:
            print("ok  unknown column -> 42703")
        c.check("after error", conn.execute("SELECT 1 + %s", (1,)).fetchone()[0], 2)


def check_oids(cur, fmt, expected):
    oids = {d.name: d.type_code for d in cur.description}
    for name, oid in expected.items():
        c.check(f"{fmt} type oid {name}", oids[name], oid)


if __name__ == "__main__":
    c.run(main)
