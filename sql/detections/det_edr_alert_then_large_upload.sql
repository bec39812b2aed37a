-- id: 20d99f36-fdb7-461f-a8a7-04b76b0fb48f
-- title: EDR alert followed by an unusually large upload to a rare external destination
-- severity: high
-- attack: T1567.002, T1048, T1041
-- sources: edr_alerts, network_flows
-- description: Within an hour of an EDR alert, the device sends far more data to one external destination than it ever sends to any destination in an hour, and that destination is one few devices of the fleet ever contact. An alert followed by a bulk upload to an unfamiliar place is the shape of data theft (rclone, a cloud-storage client, an implant's exfil channel).
-- falsepositives: A user's first large upload to a new file-sharing or storage service right after an unrelated alert (e.g. sending a video to a customer's portal); a one-off data migration to a new provider.
CREATE VIEW det_edr_alert_then_large_upload AS
WITH params AS (
    SELECT
        -- "Few devices": at most 5% of the devices seen on the network ever
        -- contact the destination (by address or by host name), never fewer
        -- than 1 (the device itself): the bar scales with the fleet.
        0.05 AS rare_fleet_fraction,
        -- "Far above": the upload is at least 10x the device's own largest
        -- hourly upload to any other external destination (its history),
        -- and 10x what a typical device of this fleet uploads at most in an
        -- hour (so a device with almost no history is not judged on noise).
        10.0 AS upload_ratio
),
fleet AS (
    SELECT count(DISTINCT entity) AS devices FROM network_flows WHERE entity IS NOT NULL
),
ext AS (
    SELECT entity, time, dst_ip, dst_host, bytes_out
    FROM network_flows
    WHERE entity IS NOT NULL AND NOT is_private_ip(dst_ip)
),
ip_reach AS (
    SELECT dst_ip, count(DISTINCT entity) AS devices FROM ext GROUP BY dst_ip
),
host_reach AS (
    SELECT dst_host, count(DISTINCT entity) AS devices FROM ext WHERE dst_host IS NOT NULL GROUP BY dst_host
),
-- Bytes each device sent to each external destination in each hour: the
-- device's history, and (through its per-device maximum) the fleet's.
hourly AS (
    SELECT entity, dst_ip, date_trunc('hour', time) AS hour, sum(coalesce(bytes_out, 0)) AS bytes_out
    FROM ext GROUP BY entity, dst_ip, date_trunc('hour', time)
),
fleet_typical AS (
    SELECT median(max_hour) AS typical_max_hour
    FROM (SELECT entity, max(bytes_out) AS max_hour FROM hourly GROUP BY entity) t
),
-- Uploads that start from 5 minutes before to 60 minutes after an alert on
-- the same device (the tool is flagged, then it runs: listing, auth, bulk).
windowed AS (
    SELECT
        a.vendor, a.alert_id, a.time AS alert_time, a.title, a.severity, a.severity_id, a.unusualness,
        f.entity, f.dst_ip, f.dst_host, f.time AS flow_time, f.bytes_out
    FROM edr_alerts_scored a
    JOIN ext f
      ON f.entity = a.entity
     AND f.time BETWEEN a.time - INTERVAL '5 minutes' AND a.time + INTERVAL '60 minutes'
),
per_alert AS (
    SELECT
        entity, dst_ip, vendor, alert_id, alert_time, title, severity, severity_id, unusualness,
        max(dst_host) AS dst_host,
        min(flow_time) AS first_flow,
        count(*) AS connections,
        sum(coalesce(bytes_out, 0)) AS bytes_out
    FROM windowed
    GROUP BY entity, dst_ip, vendor, alert_id, alert_time, title, severity, severity_id, unusualness
),
-- One candidate per device and destination. When several alerts' windows
-- saw the upload, the most unusual alert is the trigger (the tool that was
-- flagged); all of them are listed.
candidates AS (
    SELECT
        entity, dst_ip,
        max(dst_host) AS dst_host,
        first_value(vendor ORDER BY unusualness DESC, alert_time DESC) AS vendor,
        first_value(alert_id ORDER BY unusualness DESC, alert_time DESC) AS alert_id,
        first_value(alert_time ORDER BY unusualness DESC, alert_time DESC) AS alert_time,
        first_value(title ORDER BY unusualness DESC, alert_time DESC) AS title,
        first_value(severity ORDER BY unusualness DESC, alert_time DESC) AS severity,
        first_value(unusualness ORDER BY unusualness DESC, alert_time DESC) AS unusualness,
        first_value(first_flow ORDER BY unusualness DESC, alert_time DESC) AS first_flow,
        first_value(connections ORDER BY unusualness DESC, alert_time DESC) AS connections,
        first_value(bytes_out ORDER BY unusualness DESC, alert_time DESC) AS bytes_out,
        max(severity_id) AS severity_id,
        string_agg('"' || vendor || ':' || replace(replace(alert_id, '\', '\\'), '"', '\"') || '"', ',' ORDER BY alert_time) AS alert_ids
    FROM per_alert
    GROUP BY entity, dst_ip
),
-- Uploads to a rare destination that already exceed the fleet's bar.
large_rare AS (
    SELECT
        c.*,
        ft.typical_max_hour,
        greatest(ir.devices, coalesce(hr.devices, 0)) AS dst_devices,
        greatest(1.0, floor(p.rare_fleet_fraction * fl.devices)) AS rare_limit,
        p.upload_ratio
    FROM candidates c
    CROSS JOIN params p
    CROSS JOIN fleet fl
    CROSS JOIN fleet_typical ft
    JOIN ip_reach ir ON ir.dst_ip = c.dst_ip
    LEFT JOIN host_reach hr ON hr.dst_host = c.dst_host
    WHERE greatest(ir.devices, coalesce(hr.devices, 0)) <= greatest(1.0, floor(p.rare_fleet_fraction * fl.devices))
      AND CAST(c.bytes_out AS DOUBLE) >= p.upload_ratio * greatest(CAST(ft.typical_max_hour AS DOUBLE), 1.0)
),
-- The device's largest hourly upload to any other external destination.
scored AS (
    SELECT
        lr.entity, lr.dst_ip, lr.dst_host, lr.vendor, lr.alert_id, lr.alert_time, lr.title, lr.severity,
        lr.unusualness, lr.first_flow, lr.connections, lr.bytes_out, lr.severity_id, lr.alert_ids,
        lr.typical_max_hour, lr.dst_devices, lr.rare_limit, lr.upload_ratio,
        coalesce(max(h.bytes_out), 0) AS own_max_hour,
        CAST(lr.bytes_out AS DOUBLE)
            / greatest(CAST(coalesce(max(h.bytes_out), 0) AS DOUBLE), CAST(lr.typical_max_hour AS DOUBLE), 1.0) AS ratio
    FROM large_rare lr
    LEFT JOIN hourly h ON h.entity = lr.entity AND h.dst_ip <> lr.dst_ip
    GROUP BY lr.entity, lr.dst_ip, lr.dst_host, lr.vendor, lr.alert_id, lr.alert_time, lr.title, lr.severity,
             lr.unusualness, lr.first_flow, lr.connections, lr.bytes_out, lr.severity_id, lr.alert_ids,
             lr.typical_max_hour, lr.dst_devices, lr.rare_limit, lr.upload_ratio
)
SELECT
    least(alert_time, first_flow) AS time,
    entity,
    -- 60 at the bar, +10 per doubling beyond it, up to 90; +10 when nobody
    -- else ever contacts the destination.
    round(least(100.0, least(90.0, 60.0 + 10.0 * log2(ratio / upload_ratio))
        + CASE WHEN dst_devices <= 1 THEN 10.0 ELSE 0.0 END), 1) AS score,
    arrow_cast(vendor || ' alert "' || title || '" on ' || entity || ', then '
        || CAST(round(CAST(bytes_out AS DOUBLE) / 1e6, 1) AS VARCHAR) || ' MB uploaded in '
        || CAST(connections AS VARCHAR) || ' connection(s) to ' || dst_ip
        || coalesce(' (' || dst_host || ')', '')
        || ', contacted by ' || CAST(dst_devices AS VARCHAR) || ' device(s) in the fleet; '
        || CAST(CAST(round(ratio) AS BIGINT) AS VARCHAR)
        || 'x the larger of the device''s and a typical device''s biggest hourly upload.', 'Utf8') AS summary,
    arrow_cast('{"alert":{"id":"' || vendor || ':' || replace(replace(alert_id, '\', '\\'), '"', '\"')
        || '","time":"' || to_char(alert_time, '%Y-%m-%dT%H:%M:%S%.3fZ')
        || '","severity":"' || severity
        || '","title":"' || replace(replace(regexp_replace(title, '[\x00-\x1f]', ' ', 'g'), '\', '\\'), '"', '\"')
        || '","unusualness":' || CAST(round(unusualness, 1) AS VARCHAR) || '}'
        || ',"alerts_in_window":[' || alert_ids || ']'
        || ',"upload":{"dst_ip":"' || dst_ip || '"'
        || ',"dst_host":' || coalesce('"' || replace(replace(dst_host, '\', '\\'), '"', '\"') || '"', 'null')
        || ',"first_flow":"' || to_char(first_flow, '%Y-%m-%dT%H:%M:%S%.3fZ') || '"'
        || ',"connections":' || CAST(connections AS VARCHAR)
        || ',"bytes_out":' || CAST(bytes_out AS VARCHAR)
        || ',"device_max_hourly_bytes_out_elsewhere":' || CAST(own_max_hour AS VARCHAR)
        || ',"fleet_typical_max_hourly_bytes_out":' || CAST(CAST(typical_max_hour AS BIGINT) AS VARCHAR)
        || ',"ratio":' || CAST(round(ratio, 1) AS VARCHAR)
        || ',"fleet_devices_contacting":' || CAST(dst_devices AS VARCHAR) || '}}', 'Utf8') AS evidence,
    severity_id AS alert_severity_id,
    dst_ip,
    dst_host,
    bytes_out
FROM scored
WHERE ratio >= upload_ratio;
