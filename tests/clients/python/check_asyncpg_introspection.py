"""asyncpg's type introspection against huntlake: the recursive
`typeinfo_tree` catalog query asyncpg runs whenever a statement has a
parameter or result type outside its built-in codecs (any array but text[]
and oid[], e.g. `array_agg(severity_id)`), checked on the lake's array and
timestamp types."""

import asyncio

import asyncpg

import common as c


async def main_async():
    a = c.args(__doc__)
    conn = await asyncpg.connect(host=a.host, port=a.port, user=a.user, password=a.password, database=a.dbname)
    try:
        # What asyncpg runs for an unknown type, asked for directly.
        infos, _ = await asyncio.wait_for(conn._introspect_types([1009, 1184], 10), 30)
        by_name = {r["name"]: r for r in infos}
        c.check("introspected _text kind", by_name["_text"]["kind"], b"b")
        c.check("introspected _text elemtype", by_name["_text"]["elemtype"], 25)
        c.check("introspected _text elemtype_name", by_name["_text"]["elemtype_name"], "text")
        c.check("introspected timestamptz ns", by_name["timestamptz"]["ns"], "pg_catalog")
        c.check("introspected text (element, depth 1)", by_name["text"]["depth"], 1)
        # A result type asyncpg has no built-in codec for (int4[]).
        sev = await asyncio.wait_for(conn.fetchval(
            "SELECT array_agg(severity_id ORDER BY alert_id) FROM edr_alerts WHERE alert_id = $1", c.ALERT_ID), 30)
        c.check("int4[] result via introspection", sev, [c.ALERT["severity_id"]])
    finally:
        conn.terminate()


def main():
    asyncio.run(main_async())


if __name__ == "__main__":
    c.run(main)
