-- id: 1195188c-6d5b-4484-83d3-d0870b02856d
-- title: EDR alert unusual for the device and for the fleet
-- severity: medium
-- attack:
-- sources: edr_alerts
-- description: The noise-reduced alert stream. An alert fires here only when its vendor and title are new on the device, (almost) nobody else in the fleet has had it before, and its unusualness stands out from the lake's own distribution of alert scores. A recurring alert on one device stops firing after its first occurrence, but fires again when it shows up on another device where it is unusual. ATT&CK techniques vary with the alert and are listed in the evidence.
-- falsepositives: The first occurrence of a rare but benign detection (a new software rollout, a red-team or admin tool used once); alerts on a device whose agent was just installed, once the fleet baseline exists.
CREATE VIEW det_unusual_edr_alert AS
WITH params AS (
    SELECT
        -- Unusualness must stand 3.5 standard deviations above the mean of
        -- this lake's alerts (after warm-up). Relative to the fleet's own
        -- score distribution, because the score's ceiling depends on fleet
        -- size and history (functions.md, "The score is bounded by the
        -- evidence"). At 3 the first occurrences of rare but benign titles
        -- (a PUA installer, a KMS activator) start to come through.
        3.5 AS min_unusualness_z,
        -- Fleet rarity: at most 5% of the devices with alerts so far have
        -- had this vendor:title before (so none in fleets under 20 devices). A
        -- title routine on a few devices still fires on a new device.
        0.05 AS max_fleet_prevalence,
        -- The device must have alerted before: "new for the device" means
        -- nothing on its first alert.
        1 AS min_device_history,
        -- Warm-up: the fleet baseline needs one full daily cycle (routine
        -- jobs that alert every day are all "new" on the lake's first day)
        -- and at least half of the devices that ever alert in the lake.
        86400 AS warmup_seconds,
        0.5 AS min_fleet_coverage
),
lake AS (
    SELECT min(time) AS start_time, count(DISTINCT entity) AS alerting_devices FROM edr_alerts
),
warm AS (
    SELECT a.*
    FROM edr_alerts_scored a
    CROSS JOIN lake l
    CROSS JOIN params p
    WHERE date_part('epoch', a.time) - date_part('epoch', l.start_time) >= p.warmup_seconds
      AND a.fleet_devices >= p.min_fleet_coverage * l.alerting_devices
),
dist AS (
    SELECT avg(unusualness) AS mean_u, stddev_pop(unusualness) AS sd_u FROM warm
),
candidates AS (
    SELECT
        a.*,
        (a.unusualness - d.mean_u) / nullif(d.sd_u, 0) AS unusualness_z,
        d.mean_u, d.sd_u
    FROM warm a
    CROSS JOIN dist d
    CROSS JOIN params p
    WHERE a.first_seen
      AND a.device_history >= p.min_device_history
      AND a.fleet_value_devices <= floor(p.max_fleet_prevalence * a.fleet_devices)
      AND (a.unusualness - d.mean_u) / nullif(d.sd_u, 0) >= p.min_unusualness_z
)
SELECT
    time,
    entity,
    round(least(100.0, greatest(0.0, unusualness)), 1) AS score,
    arrow_cast(vendor || ' alert "' || title || '" (' || severity || coalesce(', ' || category, '') || ') on ' || entity
        || ': new on the device after ' || CAST(device_history AS VARCHAR) || ' earlier alert(s), seen before on '
        || CAST(fleet_value_devices AS VARCHAR) || ' of ' || CAST(fleet_devices AS VARCHAR)
        || ' devices; unusualness ' || CAST(round(unusualness, 1) AS VARCHAR)
        || ' (' || CAST(round(unusualness_z, 1) AS VARCHAR) || ' sd above this lake''s mean after warm-up).', 'Utf8') AS summary,
    arrow_cast('{"alert":{"id":"' || vendor || ':' || replace(replace(alert_id, '\', '\\'), '"', '\"')
        || '","time":"' || to_char(time, '%Y-%m-%dT%H:%M:%S%.3fZ')
        || '","severity":"' || severity
        || '","title":"' || replace(replace(regexp_replace(title, '[\x00-\x1f]', ' ', 'g'), '\', '\\'), '"', '\"')
        || '","category":' || coalesce('"' || replace(replace(category, '\', '\\'), '"', '\"') || '"', 'null')
        || ',"techniques":' || CASE WHEN techniques IS NULL OR cardinality(techniques) = 0 THEN '[]'
                                    ELSE '["' || array_to_string(techniques, '","') || '"]' END
        || ',"console_url":' || coalesce('"' || replace(replace(console_url, '\', '\\'), '"', '\"') || '"', 'null') || '}'
        || ',"rarity":{"device_history":' || CAST(device_history AS VARCHAR)
        || ',"device_value_history":' || CAST(device_value_history AS VARCHAR)
        || ',"fleet_value_devices":' || CAST(fleet_value_devices AS VARCHAR)
        || ',"fleet_devices":' || CAST(fleet_devices AS VARCHAR)
        || ',"entity_surprise":' || CAST(round(entity_surprise, 3) AS VARCHAR)
        || ',"population_surprise":' || CAST(round(population_surprise, 3) AS VARCHAR)
        || ',"unusualness":' || CAST(round(unusualness, 2) AS VARCHAR)
        || ',"lake_mean_unusualness":' || CAST(round(mean_u, 2) AS VARCHAR)
        || ',"lake_sd_unusualness":' || CAST(round(sd_u, 2) AS VARCHAR)
        || ',"z":' || CAST(round(unusualness_z, 2) AS VARCHAR) || '}}', 'Utf8') AS evidence,
    severity_id AS alert_severity_id,
    vendor,
    alert_id,
    title,
    unusualness
FROM candidates;
