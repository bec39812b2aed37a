"""The client side of `huntlake bench wire`, run by huntlake as
`python3 -c <this file> <json config>`; prints one JSON object.

Modes:
  stream   psycopg 3, binary results, streams the query's rows in chunks
           (cursor.stream) and keeps only a count and the sum of one int8
           column, so the client holds no more than a chunk.
  latency  asyncpg, `clients` connections at once, each running the prepared
           query `per_client` times with entities taken in turn; per-query
           wall time in milliseconds.
"""

import asyncio
import json
import sys
import time


def stream(cfg):
    import psycopg

    with psycopg.connect(cfg["dsn"], autocommit=True) as conn:
        with conn.cursor(binary=True) as cur:
            rows = 0
            total = 0
            col = cfg["sum_column"]
            start = time.perf_counter()
            for row in cur.stream(cfg["sql"], size=cfg.get("chunk", 10000)):
                rows += 1
                v = row[col]
                if v is not None:
                    total += v
            seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": rows, "sum": total}


async def latency_async(cfg):
    import asyncpg

    entities = cfg["entities"]
    clients = cfg["clients"]
    per_client = cfg["per_client"]
    conns = [await asyncpg.connect(cfg["dsn"]) for _ in range(clients)]
    try:
        stmts = [await c.prepare(cfg["sql"]) for c in conns]
        # One untimed query per connection: plans and caches warm up.
        for s in stmts:
            await s.fetch(entities[0])
        latencies = []
        rows = 0

        async def one_client(i):
            nonlocal rows
            s = stmts[i]
            for k in range(per_client):
                entity = entities[(i * per_client + k) % len(entities)]
                t0 = time.perf_counter()
                r = await s.fetch(entity)
                latencies.append((time.perf_counter() - t0) * 1000.0)
                rows += len(r)

        start = time.perf_counter()
        await asyncio.gather(*(one_client(i) for i in range(clients)))
        seconds = time.perf_counter() - start
        return {"latencies_ms": latencies, "rows": rows, "seconds": seconds}
    finally:
        for c in conns:
            await c.close()


def main():
    cfg = json.loads(sys.argv[1])
    if cfg["mode"] == "stream":
        out = stream(cfg)
    elif cfg["mode"] == "latency":
        out = asyncio.run(latency_async(cfg))
    else:
        raise SystemExit(f"unknown mode {cfg['mode']}")
    print(json.dumps(out))


main()
