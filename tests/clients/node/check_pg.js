// node-postgres (pg) against huntlake: parameterised queries (extended
// protocol), pg's type parsers on every lake type, a pool, and values of
// known demo-lake rows. Results are text, pg's default: its `binary: true`
// mode mis-decodes timestamptz and int8 against PostgreSQL 15 itself
// (pg 8.23: 09:34:04.135 comes back as 09:57:03.418), so it is not a
// compatibility target.
//
//   node check_pg.js --host 127.0.0.1 --port 5433 --user huntlake --password huntlake
//
// (or PGHOST/PGPORT/PGUSER/PGPASSWORD). Exits 1 naming the first mismatch.
'use strict';

const assert = require('node:assert/strict');
const { Client, Pool, types } = require('pg');

function args() {
  const out = {
    host: process.env.PGHOST || '127.0.0.1',
    port: Number(process.env.PGPORT || 5433),
    user: process.env.PGUSER || 'huntlake',
    password: process.env.PGPASSWORD || 'huntlake',
    database: process.env.PGDATABASE || 'huntlake',
  };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    out[key === 'dbname' ? 'database' : key] = key === 'port' ? Number(argv[i + 1]) : argv[i + 1];
  }
  return out;
}

// Demo-lake rows (data/demo-lake, looked up with psql).
const ALERT_ID = 'da639292090543989041_-1994759201';
const FLOW_UID = 'CWzOE3h0wsfwtxFLC8';
const NULL_FLOW_UID = 'C01NBV37YuVSVHrJU3';
const BACKUP_BYTES_OUT = '12799472163'; // int8 comes back as a string by default

function check(what, got, expected) {
  assert.deepStrictEqual(got, expected, `${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  console.log(`ok  ${what} = ${JSON.stringify(got)}`);
}

async function checkClient(conn, fmt) {
  const q = (text, values) => conn.query({ text, values });
  let r = await q(
    'SELECT time, vendor, entity, severity_id, techniques, device_ip, user_name FROM edr_alerts WHERE alert_id = $1',
    [ALERT_ID]);
  check(`${fmt} alert rows`, r.rows.length, 1);
  const a = r.rows[0];
  check(`${fmt} alert time`, a.time.toISOString(), '2026-11-02T09:34:04.135Z');
  check(`${fmt} alert vendor`, a.vendor, 'mde');
  check(`${fmt} alert entity`, a.entity, 'ws-0017');
  check(`${fmt} alert severity_id`, a.severity_id, 2);
  check(`${fmt} alert techniques`, a.techniques, ['T1016', 'T1033', 'T1082']);
  check(`${fmt} alert device_ip`, a.device_ip, '10.20.16.24');
  check(`${fmt} alert user_name`, a.user_name, 'bianca.koch');
  const oids = Object.fromEntries(r.fields.map((f) => [f.name, f.dataTypeID]));
  check(`${fmt} type oids`, [oids.time, oids.severity_id, oids.techniques, oids.vendor], [1184, 23, 1009, 25]);

  r = await q('SELECT techniques FROM edr_alerts WHERE alert_id = $1', ['1247703270007575987']);
  check(`${fmt} empty techniques`, r.rows[0].techniques, []);

  const cols = 'time, src_ip, src_port, dst_port, service, duration_s, bytes_out, bytes_in, dst_host, entity';
  r = await q(`SELECT ${cols} FROM network_flows WHERE uid = $1`, [FLOW_UID]);
  const f = r.rows[0];
  check(`${fmt} flow time`, f.time.toISOString(), '2026-11-05T14:37:49.463Z');
  check(`${fmt} flow ports`, [f.src_port, f.dst_port], [58181, 443]);
  check(`${fmt} flow service`, f.service, 'ssl');
  check(`${fmt} flow duration_s`, f.duration_s, 14.107649);
  check(`${fmt} flow bytes`, [f.bytes_out, f.bytes_in], ['2465985', '2581']);
  check(`${fmt} flow dst_host/entity`, [f.dst_host, f.entity], ['corpexample-my.sharepoint.com', 'ws-0017']);
  r = await q(`SELECT ${cols} FROM network_flows WHERE uid = $1`, [NULL_FLOW_UID]);
  const n = r.rows[0];
  check(`${fmt} null flow`, [n.src_ip, n.src_port, n.service, n.duration_s, n.bytes_out, n.dst_host, n.entity],
    ['103.213.151.57', 54358, null, null, '0', null, null]);

  // Parameters of several types: text, Date (timestamptz), number, array.
  r = await q('SELECT count(*) AS n FROM edr_alerts WHERE entity = $1 AND time = $2 AND severity_id = $3',
    ['ws-0017', new Date('2026-11-02T09:34:04.135Z'), 2]);
  check(`${fmt} typed parameters`, r.rows[0].n, '1');
  r = await q('SELECT sum(bytes_out) AS s FROM network_flows WHERE entity = $1', ['srv-backup01']);
  check(`${fmt} int8 sum`, r.rows[0].s, BACKUP_BYTES_OUT);
}

async function main() {
  const cfg = args();
  const client = new Client(cfg);
  await client.connect();
  try {
    await checkClient(client, 'text');

    // Microseconds survive: read timestamptz as its text, not a JS Date.
    const r = await client.query({
      text: 'SELECT time FROM network_flows WHERE uid = $1',
      values: [FLOW_UID],
      types: { getTypeParser: (oid, format) => (oid === 1184 ? (v) => v : types.getTypeParser(oid, format)) },
    });
    check('timestamptz text', r.rows[0].time, '2026-11-05 14:37:49.463381+00');

    // Simple protocol (no parameters), rows as arrays.
    const s = await client.query({ text: 'SELECT vendor, count(*) FROM edr_alerts GROUP BY 1 ORDER BY 1', rowMode: 'array' });
    check('vendors', s.rows.map((x) => x[0]), ['crowdstrike', 'mde', 'sentinelone']);
    check('alert total', s.rows.reduce((t, x) => t + Number(x[1]), 0), 714);

    // Views are views.
    const v = await client.query(
      "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' AND table_name = ANY($1::text[]) ORDER BY 1",
      [['beacons', 'edr_alerts', 'edr_alerts_scored']]);
    check('table types', v.rows.map((x) => `${x.table_name}:${x.table_type}`),
      ['beacons:VIEW', 'edr_alerts:BASE TABLE', 'edr_alerts_scored:VIEW']);

    // `= ANY($1)` without a cast: the parameter is typed text[] from the column.
    const any = await client.query('SELECT count(*)::int AS n FROM edr_alerts WHERE alert_id = ANY($1)',
      [[ALERT_ID, '1247703270007575987', 'no-such-alert']]);
    check('alert_id = ANY($1)', any.rows[0].n, 2);

    // Errors keep the connection usable.
    await assert.rejects(client.query('SELECT * FROM no_such_table'), (e) => e.code === '42P01');
    console.log('ok  unknown table -> 42P01');
  } finally {
    await client.end();
  }

  const pool = new Pool({ ...cfg, max: 4 });
  try {
    const counts = await Promise.all(['ws-0017', 'ws-0001', 'srv-dc01', 'ws-0017'].map((e) =>
      pool.query('SELECT count(*)::int AS n FROM network_flows WHERE entity = $1', [e])));
    check('pool: ws-0017 flows', counts[0].rows[0].n, 2165);
    check('pool: same query twice', counts[3].rows[0].n, counts[0].rows[0].n);
    check('pool: srv-dc01 flows', counts[2].rows[0].n, 5685);
  } finally {
    await pool.end();
  }
  console.log('all checks passed');
}

main().catch((e) => {
  console.error(`MISMATCH/ERROR ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
