"""asyncpg against huntlake: binary results, prepared statements reused with
different parameters, a cursor, a connection pool's reset chatter, and
a custom codec. Type introspection is check_asyncpg_introspection.py."""

import asyncio

import asyncpg

import common as c

ALERT_COLUMNS = ["time", "vendor", "entity", "severity_id", "techniques", "device_ip", "user_name", "title"]


def check_record(what, record, expected, columns):
    c.check_row(what, tuple(record) if record is not None else None, expected, columns)


async def main_async():
    a = c.args(__doc__)
    conn = await asyncpg.connect(host=a.host, port=a.port, user=a.user, password=a.password, database=a.dbname)
    try:
        # Every asyncpg query is a prepared statement with binary results.
        row = await conn.fetchrow(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM edr_alerts WHERE alert_id = $1", c.ALERT_ID
        )
        check_record("alert", row, c.ALERT, ALERT_COLUMNS)
        c.check("empty techniques", await conn.fetchval(
            "SELECT techniques FROM edr_alerts WHERE alert_id = $1", c.EMPTY_TECHNIQUES_ALERT_ID), [])

        stmt = await conn.prepare(f"SELECT {', '.join(c.FLOW_COLUMNS)} FROM network_flows WHERE uid = $1")
        types = {attr.name: attr.type.name for attr in stmt.get_attributes()}
        c.check("prepared column type time", types["time"], "timestamptz")
        c.check("prepared column type bytes_out", types["bytes_out"], "int8")
        c.check("prepared column type duration_s", types["duration_s"], "float8")
        c.check("prepared parameter type", [t.name for t in stmt.get_parameters()], ["text"])
        for uid, expected in ((c.FLOW_UID, c.FLOW), (c.NULL_FLOW_UID, c.NULL_FLOW), (c.FLOW_UID, c.FLOW)):
            check_record(f"prepared flow {uid}", await stmt.fetchrow(uid), expected, c.FLOW_COLUMNS)

        # Parameters of every lake type, encoded in binary by asyncpg.
        n = await conn.fetchval(
            "SELECT count(*) FROM edr_alerts WHERE time = $1 AND severity_id = $2 AND techniques = $3 AND entity = $4",
            c.ALERT["time"], c.ALERT["severity_id"], c.ALERT["techniques"], c.ALERT["entity"],
        )
        c.check("binary parameters of each type", n, 1)
        c.check("int8 parameter", await conn.fetchval(
            "SELECT sum(bytes_out) FROM network_flows WHERE entity = $1 AND bytes_out >= $2", "srv-backup01", 0),
            c.BACKUP_BYTES_OUT)
        c.check("float8 parameter", await conn.fetchval(
            "SELECT uid FROM network_flows WHERE duration_s = $1 AND entity = $2", c.FLOW["duration_s"], "ws-0017"),
            c.FLOW_UID)

        # A cursor inside a transaction fetches in chunks.
        async with conn.transaction():
            seen = 0
            async for r in conn.cursor("SELECT time, entity FROM network_flows WHERE entity = $1", "ws-0017", prefetch=500):
                seen += 1
            c.check("cursor rows for ws-0017", seen, 2165)

        # A custom codec (json-style decoding is the usual reason).
        await conn.set_type_codec("int4", schema="pg_catalog", encoder=str, decoder=lambda s: f"sev{s}", format="text")
        c.check("custom int4 codec", await conn.fetchval(
            "SELECT severity_id FROM edr_alerts WHERE alert_id = $1", c.ALERT_ID), "sev2")
    finally:
        await conn.close()

    # A pool resets each connection when it is released (asyncpg's
    # pg_advisory_unlock_all / CLOSE ALL / UNLISTEN * / RESET ALL).
    pool = await asyncpg.create_pool(host=a.host, port=a.port, user=a.user, password=a.password,
                                     database=a.dbname, min_size=1, max_size=2)
    try:
        for _ in range(3):
            async with pool.acquire() as pc:
                c.check("pooled count", await pc.fetchval("SELECT count(*) FROM edr_alerts"), c.ALERT_COUNT)
        views = await pool.fetch(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'")
        names = {r["table_name"] for r in views}
        for v in c.VIEWS:
            if v not in names:
                raise c.Mismatch(f"view {v} missing from information_schema.views: {sorted(names)}")
        print(f"ok  information_schema.views has {sorted(c.VIEWS)}")
    finally:
        await pool.close()


def main():
    asyncio.run(main_async())


if __name__ == "__main__":
    c.run(main)
