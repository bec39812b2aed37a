-- id: d88dc0b2-c806-4210-a2e4-771187f6a471
-- title: Unusual EDR alert followed by lateral movement fan-out from the same device
-- severity: critical
-- attack: T1021.002, T1021.001, T1021.006, T1021.004, T1570
-- sources: edr_alerts, network_flows
-- description: An alert that is new on the device and above this lake's typical unusualness, and within the hour around it the device opens SMB, RDP, WinRM or SSH connections to many internal hosts: several times its own busiest hour anywhere else in the lake, mostly hosts it never used these protocols with. Credential theft followed by fan-out to other machines is how an intrusion spreads.
-- falsepositives: An administrator's first remote-management sweep from a workstation that normally does not do it (patching, inventory scripts, a vulnerability scanner) right after an alert on that workstation; a backup server's first run.
CREATE VIEW det_unusual_alert_then_lateral_movement AS
WITH params AS (
    SELECT
        -- "Unusual alert": new on the device and at least 1 standard
        -- deviation above the mean unusualness of this lake's alerts. The
        -- fan-out is the strong evidence here, so the alert bar is low.
        1.0 AS min_alert_z,
        -- "Well above the device's own baseline": at least 2.5x the most
        -- internal SMB/RDP/WinRM/SSH peers the device reached in any hour
        -- outside the window, and 2.5x the typical device's busiest hour
        -- (median over devices), so a device with no history of its own
        -- (or the lake's first morning, when every peer is new) is judged
        -- against the fleet's normal pattern (domain controllers + file
        -- server). Admin workstations stay below ~1.5x the typical device.
        2.5 AS fanout_ratio,
        -- ...and at least 3 of the peers are hosts the device never used
        -- these protocols with before the window: a sweep, not a user
        -- mapping one new share.
        3 AS min_new_peers
),
dist AS (
    SELECT avg(unusualness) AS mean_u, stddev_pop(unusualness) AS sd_u FROM edr_alerts_scored
),
unusual_alerts AS (
    SELECT a.*, (a.unusualness - d.mean_u) / nullif(d.sd_u, 0) AS z
    FROM edr_alerts_scored a
    CROSS JOIN dist d
    CROSS JOIN params p
    WHERE a.first_seen
      AND (a.unusualness - d.mean_u) / nullif(d.sd_u, 0) >= p.min_alert_z
),
-- Remote-administration connections (attempts included: refused RDP/WinRM
-- to workstations is part of a sweep) from a device to internal hosts.
admin_flows AS (
    SELECT entity, time, dst_ip, dst_port, conn_state, bytes_out
    FROM network_flows
    WHERE entity IS NOT NULL
      AND dst_port IN (22, 139, 445, 3389, 5985, 5986)
      AND is_private_ip(dst_ip)
),
first_contact AS (
    SELECT entity, dst_ip, min(time) AS first_time FROM admin_flows GROUP BY entity, dst_ip
),
hourly AS (
    SELECT entity, date_trunc('hour', time) AS hour, count(DISTINCT dst_ip) AS peers
    FROM admin_flows GROUP BY entity, date_trunc('hour', time)
),
fleet_typical AS (
    SELECT median(max_peers) AS typical_peers
    FROM (SELECT entity, max(peers) AS max_peers FROM hourly GROUP BY entity) t
),
-- Connections from 10 minutes before to 60 minutes after the alert: dump
-- credentials, then use them.
windowed AS (
    SELECT
        a.vendor, a.alert_id, a.time AS alert_time, a.title, a.severity, a.severity_id, a.unusualness, a.z,
        l.entity, l.time, l.dst_ip, l.dst_port, l.conn_state
    FROM unusual_alerts a
    JOIN admin_flows l
      ON l.entity = a.entity
     AND l.time BETWEEN a.time - INTERVAL '10 minutes' AND a.time + INTERVAL '60 minutes'
),
per_alert AS (
    SELECT
        w.entity, w.vendor, w.alert_id, w.alert_time, w.title, w.severity, w.severity_id, w.unusualness, w.z,
        min(w.time) AS first_flow,
        max(w.time) AS last_flow,
        -- The sweep itself: connections to hosts new to the device.
        min(CASE WHEN fc.first_time >= w.alert_time - INTERVAL '10 minutes' THEN w.time END) AS first_new_flow,
        count(*) AS connections,
        count(DISTINCT w.dst_ip) AS peers,
        count(DISTINCT CASE WHEN fc.first_time >= w.alert_time - INTERVAL '10 minutes' THEN w.dst_ip END) AS new_peers,
        count(DISTINCT CASE WHEN w.dst_port IN (139, 445) THEN w.dst_ip END) AS smb_peers,
        count(DISTINCT CASE WHEN w.dst_port = 3389 THEN w.dst_ip END) AS rdp_peers,
        count(DISTINCT CASE WHEN w.dst_port IN (5985, 5986) THEN w.dst_ip END) AS winrm_peers,
        count(DISTINCT CASE WHEN w.dst_port = 22 THEN w.dst_ip END) AS ssh_peers,
        count(CASE WHEN w.conn_state IN ('REJ', 'S0', 'RSTO', 'RSTR', 'RSTOS0', 'SH', 'OTH') THEN 1 END) AS failed_connections
    FROM windowed w
    JOIN first_contact fc ON fc.entity = w.entity AND fc.dst_ip = w.dst_ip
    GROUP BY w.entity, w.vendor, w.alert_id, w.alert_time, w.title, w.severity, w.severity_id, w.unusualness, w.z
),
-- The device's busiest hour for these protocols outside the window.
baseline AS (
    SELECT pa.entity, pa.vendor, pa.alert_id, coalesce(max(h.peers), 0) AS baseline_peers
    FROM per_alert pa
    LEFT JOIN hourly h
      ON h.entity = pa.entity
     AND (h.hour + INTERVAL '1 hour' <= pa.alert_time - INTERVAL '10 minutes'
          OR h.hour >= pa.alert_time + INTERVAL '60 minutes')
    GROUP BY pa.entity, pa.vendor, pa.alert_id
),
hits AS (
    SELECT pa.*, b.baseline_peers, ft.typical_peers,
           greatest(CAST(b.baseline_peers AS DOUBLE), CAST(ft.typical_peers AS DOUBLE), 1.0) AS reference_peers,
           p.fanout_ratio
    FROM per_alert pa
    CROSS JOIN params p
    CROSS JOIN fleet_typical ft
    JOIN baseline b ON b.entity = pa.entity AND b.vendor = pa.vendor AND b.alert_id = pa.alert_id
    WHERE pa.peers >= p.fanout_ratio * greatest(CAST(b.baseline_peers AS DOUBLE), CAST(ft.typical_peers AS DOUBLE), 1.0)
      AND pa.new_peers >= p.min_new_peers
),
-- One row per sweep: alerts whose windows saw the same sweep are merged,
-- the most unusual alert is the trigger.
ranked AS (
    SELECT h.*,
           row_number() OVER (PARTITION BY entity, date_trunc('hour', first_new_flow) ORDER BY unusualness DESC, alert_time) AS rn
    FROM hits h
)
SELECT
    least(alert_time, first_new_flow) AS time,
    entity,
    -- 60 at the bar, +10 per doubling of the fan-out beyond the baseline,
    -- up to 90; +10 when the alert is fleet-level unusual (z >= 3).
    round(least(100.0, least(90.0, 60.0 + 10.0 * log2(CAST(peers AS DOUBLE) / (fanout_ratio * reference_peers)))
        + CASE WHEN z >= 3.0 THEN 10.0 ELSE 0.0 END), 1) AS score,
    arrow_cast(vendor || ' alert "' || title || '" on ' || entity || ', then connections to '
        || CAST(peers AS VARCHAR) || ' internal hosts (' || CAST(new_peers AS VARCHAR) || ' never contacted before; '
        || CAST(smb_peers AS VARCHAR) || ' SMB, ' || CAST(rdp_peers AS VARCHAR) || ' RDP, '
        || CAST(winrm_peers AS VARCHAR) || ' WinRM, ' || CAST(ssh_peers AS VARCHAR) || ' SSH) within '
        || CAST(CAST(round((date_part('epoch', last_flow) - date_part('epoch', first_flow)) / 60.0) AS BIGINT) AS VARCHAR)
        || ' min; its busiest hour elsewhere reached ' || CAST(baseline_peers AS VARCHAR)
        || ', a typical device''s ' || CAST(CAST(typical_peers AS BIGINT) AS VARCHAR) || '.', 'Utf8') AS summary,
    arrow_cast('{"alert":{"id":"' || vendor || ':' || replace(replace(alert_id, '\', '\\'), '"', '\"')
        || '","time":"' || to_char(alert_time, '%Y-%m-%dT%H:%M:%S%.3fZ')
        || '","severity":"' || severity
        || '","title":"' || replace(replace(regexp_replace(title, '[\x00-\x1f]', ' ', 'g'), '\', '\\'), '"', '\"')
        || '","unusualness":' || CAST(round(unusualness, 2) AS VARCHAR)
        || ',"z":' || CAST(round(z, 2) AS VARCHAR) || '}'
        || ',"lateral":{"first_flow":"' || to_char(first_flow, '%Y-%m-%dT%H:%M:%S%.3fZ')
        || '","first_new_peer_flow":"' || to_char(first_new_flow, '%Y-%m-%dT%H:%M:%S%.3fZ')
        || '","last_flow":"' || to_char(last_flow, '%Y-%m-%dT%H:%M:%S%.3fZ')
        || '","connections":' || CAST(connections AS VARCHAR)
        || ',"failed_connections":' || CAST(failed_connections AS VARCHAR)
        || ',"peers":' || CAST(peers AS VARCHAR)
        || ',"new_peers":' || CAST(new_peers AS VARCHAR)
        || ',"smb_peers":' || CAST(smb_peers AS VARCHAR)
        || ',"rdp_peers":' || CAST(rdp_peers AS VARCHAR)
        || ',"winrm_peers":' || CAST(winrm_peers AS VARCHAR)
        || ',"ssh_peers":' || CAST(ssh_peers AS VARCHAR)
        || ',"device_busiest_hour_peers":' || CAST(baseline_peers AS VARCHAR)
        || ',"fleet_typical_busiest_hour_peers":' || CAST(typical_peers AS VARCHAR) || '}}', 'Utf8') AS evidence,
    severity_id AS alert_severity_id,
    peers,
    new_peers,
    baseline_peers
FROM ranked
WHERE rn = 1;
