-- id: e12597b6-b827-40c2-b8ce-08e8ac4906cf
-- title: EDR alert followed by beaconing to a new, rare external destination
-- severity: high
-- attack: T1071.001, T1573, T1105
-- sources: edr_alerts, network_flows
-- description: An EDR alert on a device and, within minutes of it, the device starts contacting an external destination it has never contacted before, that few devices of the fleet ever contact, and keeps contacting it on a timer (regular intervals, steady sizes). That is what a payload calling home to command and control looks like; the alert itself may be routine, the new beacon is what makes it an incident.
-- falsepositives: A newly installed agent or updater that polls a vendor endpoint used by one or two devices, installed around the time of an alert (e.g. the alert is the installer). Devices whose destination has no host name and rotates addresses look new more often.
CREATE VIEW det_edr_alert_then_beacon AS
WITH params AS (
    SELECT
        -- Enough connections in the day for interval statistics to mean
        -- something (and more than a browsing session to a niche site).
        10 AS min_connections
),
-- New, rare, timer-driven external destinations (sql/views/new_rare_beacons.sql).
new_beacons AS (
    SELECT nb.* FROM new_rare_beacons nb CROSS JOIN params p
    WHERE nb.connections >= p.min_connections
),
-- Alerts on the same device from 30 minutes before the beacon's first
-- connection to 10 minutes after it: the alert for the stager, then the
-- implant calling home a few minutes later (or the EDR noticing late).
matched AS (
    SELECT
        nb.*,
        a.time AS alert_time, a.vendor, a.alert_id, a.title, a.severity, a.severity_id,
        CASE WHEN a.time <= nb.first_time THEN 0 ELSE 1 END AS after_beacon,
        abs(date_part('epoch', nb.first_time) - date_part('epoch', a.time)) AS distance_s
    FROM new_beacons nb
    JOIN edr_alerts a
      ON a.entity = nb.entity
     AND nb.first_time BETWEEN a.time - INTERVAL '10 minutes' AND a.time + INTERVAL '30 minutes'
),
-- One row per beacon. The trigger is the alert closest before the first
-- connection (else the closest after it); every alert in the window is
-- listed.
grouped AS (
    SELECT
        entity, dst_ip, dst_host, day, connections, bytes_out, bytes_in, beacon_score,
        first_time, dst_devices, rare_limit, median_gap_s, regularity,
        first_value(alert_time ORDER BY after_beacon, distance_s) AS alert_time,
        first_value(vendor ORDER BY after_beacon, distance_s) AS vendor,
        first_value(alert_id ORDER BY after_beacon, distance_s) AS alert_id,
        first_value(title ORDER BY after_beacon, distance_s) AS title,
        first_value(severity ORDER BY after_beacon, distance_s) AS severity,
        max(severity_id) AS severity_id,
        string_agg('"' || vendor || ':' || replace(replace(alert_id, '\', '\\'), '"', '\"') || '"', ',' ORDER BY alert_time) AS alert_ids
    FROM matched
    GROUP BY entity, dst_ip, dst_host, day, connections, bytes_out, bytes_in, beacon_score,
             first_time, dst_devices, rare_limit, median_gap_s, regularity
)
SELECT
    least(alert_time, first_time) AS time,
    entity,
    -- Regular timing and a destination nobody else uses weigh most.
    round(least(100.0, 100.0 * (0.4 + 0.3 * regularity
        + 0.3 * (1.0 - (dst_devices - 1) / greatest(rare_limit, 1.0)))), 1) AS score,
    arrow_cast(vendor || ' alert "' || title || '" on ' || entity
        || ', then ' || CAST(connections AS VARCHAR) || ' connections every ~'
        || CAST(CAST(round(median_gap_s) AS BIGINT) AS VARCHAR) || ' s to ' || dst_ip
        || coalesce(' (' || dst_host || ')', '')
        || ', a destination new to the device and contacted by ' || CAST(dst_devices AS VARCHAR)
        || ' device(s) in the fleet, starting '
        || CAST(CAST(round(abs(date_part('epoch', first_time) - date_part('epoch', alert_time)) / 60.0) AS BIGINT) AS VARCHAR)
        || CASE WHEN first_time >= alert_time THEN ' min after the alert.' ELSE ' min before the alert.' END, 'Utf8') AS summary,
    arrow_cast('{"alert":{"id":"' || vendor || ':' || replace(replace(alert_id, '\', '\\'), '"', '\"')
        || '","time":"' || to_char(alert_time, '%Y-%m-%dT%H:%M:%S%.3fZ')
        || '","severity":"' || severity
        || '","title":"' || replace(replace(regexp_replace(title, '[\x00-\x1f]', ' ', 'g'), '\', '\\'), '"', '\"') || '"}'
        || ',"alerts_in_window":[' || alert_ids || ']'
        || ',"beacon":{"dst_ip":"' || dst_ip || '"'
        || ',"dst_host":' || coalesce('"' || replace(replace(dst_host, '\', '\\'), '"', '\"') || '"', 'null')
        || ',"first_seen":"' || to_char(first_time, '%Y-%m-%dT%H:%M:%S%.3fZ') || '"'
        || ',"day":"' || to_char(day, '%Y-%m-%d') || '"'
        || ',"connections":' || CAST(connections AS VARCHAR)
        || ',"median_interval_s":' || CAST(round(median_gap_s, 1) AS VARCHAR)
        || ',"regularity":' || CAST(round(regularity, 3) AS VARCHAR)
        || ',"beacon_score":' || CAST(round(beacon_score, 3) AS VARCHAR)
        || ',"bytes_out":' || CAST(coalesce(bytes_out, 0) AS VARCHAR)
        || ',"bytes_in":' || CAST(coalesce(bytes_in, 0) AS VARCHAR)
        || ',"fleet_devices_contacting":' || CAST(dst_devices AS VARCHAR) || '}}', 'Utf8') AS evidence,
    severity_id AS alert_severity_id,
    dst_ip,
    dst_host,
    connections,
    beacon_score
FROM grouped;
