-- Days on which a device starts beaconing to an external destination:
-- first contacted that day (by address and host name, after the device's
-- first hour in the lake), contacted by few devices of the fleet, and
-- timer-driven (RITA-style beacon_score and regular gaps). Shared by the
-- beacon detections, which add their own anchors and minimum connections.
CREATE VIEW new_rare_beacons AS
WITH params AS (
    SELECT
        -- "Few devices": at most 5% of the devices seen on the network ever
        -- contact the destination (by address or by host name), and never
        -- fewer than 1 (the device itself), so the bar scales with the fleet.
        0.05 AS rare_fleet_fraction,
        -- Enough connections in the day for interval statistics to mean
        -- something; detections ask for more as they need.
        10 AS min_connections,
        -- Timer regularity = 1 - MAD / median of the gaps between
        -- connections (RITA's interval "mad score"). 0.8 = the gaps stay
        -- within ~20% of their median: a sleep() loop with jitter. Browsing
        -- and proxy fetches sit around 0.5 or below.
        0.8 AS min_regularity,
        -- RITA's beacon_score over the day (timing, sizes, spread,
        -- persistence): 0.5 is its midpoint; a few-hour beacon scores ~0.6,
        -- a burst of regular connections over a few minutes stays below.
        0.5 AS min_beacon_score,
        -- "First seen" means nothing during a device's first hour in the
        -- lake (everything is new then), so destinations first contacted
        -- before that are not called new.
        3600 AS warmup_seconds
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
-- When each device first contacted each address and each host name: a
-- destination is new for the device only if neither was contacted before
-- (a service moving to another address of the same host is not new).
pair_first AS (
    SELECT entity, dst_ip, min(time) AS first_time FROM ext GROUP BY entity, dst_ip
),
host_first AS (
    SELECT entity, dst_host, min(time) AS first_time FROM ext WHERE dst_host IS NOT NULL GROUP BY entity, dst_host
),
device_first AS (
    SELECT entity, min(time) AS first_time FROM network_flows WHERE entity IS NOT NULL GROUP BY entity
),
-- The beacons view per device, external destination and day (a device that
-- changed address during the day has one row per address there).
beacon_days AS (
    SELECT entity, dst_ip, day,
           max(dst_host) AS dst_host,
           sum(connections) AS connections,
           sum(bytes_out) AS bytes_out,
           sum(bytes_in) AS bytes_in,
           max(beacon_score) AS beacon_score
    FROM beacons
    WHERE external AND entity IS NOT NULL
    GROUP BY entity, dst_ip, day
),
-- Days on which a device makes regular-looking connections to an external
-- destination that is rare in the fleet and that it contacted for the first
-- time that day.
candidate_days AS (
    SELECT
        b.entity, b.dst_ip, b.dst_host, b.day, b.connections, b.bytes_out, b.bytes_in, b.beacon_score,
        pf.first_time,
        greatest(ir.devices, coalesce(hr.devices, 0)) AS dst_devices,
        greatest(1.0, floor(p.rare_fleet_fraction * fl.devices)) AS rare_limit
    FROM beacon_days b
    CROSS JOIN params p
    CROSS JOIN fleet fl
    JOIN pair_first pf ON pf.entity = b.entity AND pf.dst_ip = b.dst_ip
    JOIN device_first df ON df.entity = b.entity
    JOIN ip_reach ir ON ir.dst_ip = b.dst_ip
    LEFT JOIN host_reach hr ON hr.dst_host = b.dst_host
    LEFT JOIN host_first hf ON hf.entity = b.entity AND hf.dst_host = b.dst_host
    WHERE date_trunc('day', pf.first_time) = b.day
      AND (hf.first_time IS NULL OR hf.first_time >= pf.first_time)
      AND date_part('epoch', pf.first_time) - date_part('epoch', df.first_time) >= p.warmup_seconds
      AND b.connections >= p.min_connections
      AND b.beacon_score >= p.min_beacon_score
      AND greatest(ir.devices, coalesce(hr.devices, 0)) <= greatest(1.0, floor(p.rare_fleet_fraction * fl.devices))
),
-- Gaps between consecutive connections of those days only.
gaps AS (
    SELECT x.*,
           t - lag(t) OVER (PARTITION BY entity, dst_ip, day ORDER BY t) AS gap_s
    FROM (
        SELECT c.*, date_part('epoch', e.time) AS t
        FROM ext e
        JOIN candidate_days c
          ON c.entity = e.entity AND c.dst_ip = e.dst_ip AND c.day = date_trunc('day', e.time)
    ) x
),
gap_median AS (
    SELECT g.*, median(gap_s) OVER (PARTITION BY entity, dst_ip, day) AS median_gap_s
    FROM gaps g
    WHERE gap_s > 0
),
-- ...that are timer-driven: beacons.
new_beacons AS (
    SELECT
        entity, dst_ip, dst_host, day, connections, bytes_out, bytes_in, beacon_score,
        first_time, dst_devices, rare_limit, median_gap_s,
        greatest(0.0, 1.0 - median(abs(gap_s - median_gap_s)) / median_gap_s) AS regularity
    FROM gap_median
    CROSS JOIN params p
    WHERE median_gap_s > 0
    GROUP BY entity, dst_ip, dst_host, day, connections, bytes_out, bytes_in, beacon_score,
             first_time, dst_devices, rare_limit, median_gap_s, p.min_regularity
    HAVING 1.0 - median(abs(gap_s - median_gap_s)) / median_gap_s >= p.min_regularity
)
SELECT * FROM new_beacons;
