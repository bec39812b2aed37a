"""psycopg2 against huntlake: client-side parameter interpolation over the
simple protocol, text results, and the lake types' values on known
demo-lake rows."""

import psycopg2
import psycopg2.extras

import common as c

ALERT_COLUMNS = ["time", "vendor", "entity", "severity_id", "techniques", "device_ip", "user_name", "title"]


def main():
    a = c.args(__doc__)
    conn = psycopg2.connect(host=a.host, port=a.port, user=a.user, password=a.password, dbname=a.dbname)
    try:
        # psycopg2 opens a transaction before the first statement (BEGIN).
        cur = conn.cursor()
        cur.execute(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM edr_alerts WHERE alert_id = %s AND severity_id = %s",
            (c.ALERT_ID, c.ALERT["severity_id"]),
        )
        c.check_row("alert", cur.fetchone(), c.ALERT, ALERT_COLUMNS)
        types = {d.name: d.type_code for d in cur.description}
        c.check("type oid techniques", types["techniques"], 1009)
        c.check("type oid time", types["time"], 1184)
        cur.execute("SELECT techniques FROM edr_alerts WHERE alert_id = %s", (c.EMPTY_TECHNIQUES_ALERT_ID,))
        c.check("empty techniques", cur.fetchone()[0], [])
        for uid, expected in ((c.FLOW_UID, c.FLOW), (c.NULL_FLOW_UID, c.NULL_FLOW)):
            cur.execute(f"SELECT {', '.join(c.FLOW_COLUMNS)} FROM network_flows WHERE uid = %(uid)s", {"uid": uid})
            c.check_row(f"flow {uid}", cur.fetchone(), expected, c.FLOW_COLUMNS)
        cur.execute("SELECT sum(bytes_out) FROM network_flows WHERE entity = %s", ("srv-backup01",))
        c.check("int8 sum", cur.fetchone()[0], c.BACKUP_BYTES_OUT)
        # A timestamptz and a list parameter, interpolated as literals.
        cur.execute(
            "SELECT count(*) FROM edr_alerts WHERE time = %s AND entity = ANY(%s)",
            (c.ALERT["time"], ["ws-0017", "ws-0001"]),
        )
        c.check("timestamptz + array parameters", cur.fetchone()[0], 1)
        conn.commit()

        # Dict rows, as many psycopg2 applications read them.
        dcur = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
        dcur.execute("SELECT entity, ip, valid_to FROM assets WHERE entity = %s ORDER BY valid_from LIMIT 1", ("ws-0016",))
        row = dcur.fetchone()
        c.check("assets dict row entity", row["entity"], "ws-0016")
        conn.commit()

        cur.execute("SELECT count(*) FROM network_flows")
        c.check("flow count", cur.fetchone()[0], c.FLOW_COUNT)
        # Errors roll back; the connection stays usable.
        try:
            cur.execute("SELECT * FROM no_such_table")
            raise c.Mismatch("unknown table did not fail")
        except psycopg2.errors.UndefinedTable:
            conn.rollback()
            print("ok  unknown table -> 42P01")
        cur.execute("SELECT %s::int8 * 2", (c.BACKUP_BYTES_OUT,))
        c.check("after error", cur.fetchone()[0], 2 * c.BACKUP_BYTES_OUT)
    finally:
        conn.close()


if __name__ == "__main__":
    c.run(main)
