-- id: 0df975bd-d085-48e2-878a-50a08dfb3e87
-- title: Strong beaconing to a new external destination few devices contact
-- severity: medium
-- attack: T1071.001, T1573
-- sources: network_flows
-- description: Network only: a device starts contacting an external destination that it never contacted before and that few devices of the fleet ever contact, and keeps doing so on a timer for hours (regular intervals and steady sizes, RITA-style beacon score). Periodic traffic to services the whole fleet uses (telemetry, EDR check-ins) and rare but irregular browsing are ignored.
-- falsepositives: A new agent, updater or monitoring probe rolled out to one or two devices; a user's browser tab that auto-refreshes a niche site on a fixed timer.
CREATE VIEW det_rare_destination_beacon AS
WITH params AS (
    SELECT
        -- Without an alert to anchor on, ask for a sustained beacon: at
        -- least 24 connections in the day (e.g. 2 hours at one a minute, or a
        -- day at one an hour), far more than a visit to a niche site.
        24 AS min_connections
),
-- New, rare, timer-driven external destinations (sql/views/new_rare_beacons.sql).
new_beacons AS (
    SELECT nb.* FROM new_rare_beacons nb CROSS JOIN params p
    WHERE nb.connections >= p.min_connections
)
SELECT
    first_time AS time,
    entity,
    -- Regular timing, a beacon-like day and a destination nobody else uses.
    round(least(100.0, 100.0 * (0.3 * regularity + 0.3 * beacon_score
        + 0.4 * (1.0 - (dst_devices - 1) / greatest(rare_limit, 1.0)))), 1) AS score,
    arrow_cast(entity || ' beacons to ' || dst_ip || coalesce(' (' || dst_host || ')', '')
        || ': ' || CAST(connections AS VARCHAR) || ' connections every ~'
        || CAST(CAST(round(median_gap_s) AS BIGINT) AS VARCHAR) || ' s on '
        || to_char(day, '%Y-%m-%d') || ' (beacon score ' || CAST(round(beacon_score, 2) AS VARCHAR)
        || '), a destination new to the device and contacted by ' || CAST(dst_devices AS VARCHAR)
        || ' device(s) in the fleet.', 'Utf8') AS summary,
    arrow_cast('{"dst_ip":"' || dst_ip || '"'
        || ',"dst_host":' || coalesce('"' || replace(replace(dst_host, '\', '\\'), '"', '\"') || '"', 'null')
        || ',"first_seen":"' || to_char(first_time, '%Y-%m-%dT%H:%M:%S%.3fZ') || '"'
        || ',"day":"' || to_char(day, '%Y-%m-%d') || '"'
        || ',"connections":' || CAST(connections AS VARCHAR)
        || ',"median_interval_s":' || CAST(round(median_gap_s, 1) AS VARCHAR)
        || ',"regularity":' || CAST(round(regularity, 3) AS VARCHAR)
        || ',"beacon_score":' || CAST(round(beacon_score, 3) AS VARCHAR)
        || ',"bytes_out":' || CAST(coalesce(bytes_out, 0) AS VARCHAR)
        || ',"bytes_in":' || CAST(coalesce(bytes_in, 0) AS VARCHAR)
        || ',"fleet_devices_contacting":' || CAST(dst_devices AS VARCHAR) || '}', 'Utf8') AS evidence,
    dst_ip,
    dst_host,
    connections,
    beacon_score
FROM new_beacons;
