-- id: a257f2d6-1820-4dfc-b493-6ebb287862a6
-- title: Unusual alerts from two vendors or two ATT&CK tactics on one device within an hour
-- severity: high
-- attack:
-- sources: edr_alerts
-- description: Two or more alerts on the same device within 60 minutes that come from different EDR vendors or cover different ATT&CK tactics, each new on that device, unusual together for this lake (combined score of the pair) and none below its typical alert; two vendors agreeing need less than one vendor raising two tactics. A title that is routine on other devices but appears here for the first time, followed by a different vendor's or tactic's alert, is an intrusion progressing (persistence, then defense evasion), not background noise. ATT&CK techniques vary with the alerts and are listed in the evidence.
-- falsepositives: A user running several dubious tools in one session (a cracked installer that trips a script and a remote-access rule); an admin's first use of tooling that two agents both flag.
CREATE VIEW det_multi_vendor_or_tactic_alerts AS
WITH params AS (
    SELECT
        -- The pair's combined unusualness, Stouffer's z = (z_a + z_b) /
        -- sqrt(2), where z is an alert's unusualness in standard deviations
        -- above the mean of this lake's alerts (after warm-up): relative to
        -- this fleet's own score distribution. Two vendors are independent
        -- sensors agreeing, so that pair needs less (2.5) than two tactics
        -- from one vendor (3.5, the single-alert detection's bar).
        2.5 AS min_combined_z_two_vendors,
        3.5 AS min_combined_z_one_vendor,
        -- Every alert of the group is at least as unusual as this lake's
        -- mean alert: a routine alert does not corroborate anything.
        0.0 AS min_each_z,
        -- "New on the device" needs a device that has alerted before.
        1 AS min_device_history,
        -- Warm-up as in det_unusual_edr_alert: one daily cycle, and half of
        -- the devices that ever alert, before rarity means anything.
        86400 AS warmup_seconds,
        0.5 AS min_fleet_coverage
),
lake AS (
    SELECT min(time) AS start_time, count(DISTINCT entity) AS alerting_devices FROM edr_alerts
),
warm AS (
    SELECT
        a.*,
        -- Vendors spell tactics differently ("Defense Evasion",
        -- "DefenseEvasion"); non-tactic categories (Malware, PUA, Machine
        -- Learning) count as no tactic.
        CASE WHEN lower(regexp_replace(a.category, '[^A-Za-z]', '', 'g')) IN (
                'reconnaissance', 'resourcedevelopment', 'initialaccess', 'execution', 'persistence',
                'privilegeescalation', 'defenseevasion', 'credentialaccess', 'discovery', 'lateralmovement',
                'collection', 'commandandcontrol', 'exfiltration', 'impact')
             THEN lower(regexp_replace(a.category, '[^A-Za-z]', '', 'g')) END AS tactic
    FROM edr_alerts_scored a
    CROSS JOIN lake l
    CROSS JOIN params p
    WHERE date_part('epoch', a.time) - date_part('epoch', l.start_time) >= p.warmup_seconds
      AND a.fleet_devices >= p.min_fleet_coverage * l.alerting_devices
),
dist AS (
    SELECT avg(unusualness) AS mean_u, stddev_pop(unusualness) AS sd_u FROM warm
),
-- Alerts new on a device with history and at least as unusual as usual.
eligible AS (
    SELECT w.*, (w.unusualness - d.mean_u) / nullif(d.sd_u, 0) AS z
    FROM warm w
    CROSS JOIN dist d
    CROSS JOIN params p
    WHERE w.first_seen
      AND w.device_history >= p.min_device_history
      AND (w.unusualness - d.mean_u) / nullif(d.sd_u, 0) >= p.min_each_z
),
-- Pairs within 60 minutes (b at or after a) from different vendors or of
-- different tactics, unusual together.
pairs AS (
    SELECT
        a.entity,
        a.vendor AS a_vendor, a.alert_id AS a_alert_id, a.time AS a_time,
        b.vendor AS b_vendor, b.alert_id AS b_alert_id, b.time AS b_time
    FROM eligible a
    CROSS JOIN params p
    JOIN eligible b
      ON b.entity = a.entity
     AND b.time BETWEEN a.time AND a.time + INTERVAL '60 minutes'
    WHERE (a.vendor <> b.vendor OR a.alert_id <> b.alert_id)
      AND (a.vendor <> b.vendor OR a.tactic <> b.tactic)
      AND (a.z + b.z) / sqrt(2.0) >= CASE WHEN a.vendor <> b.vendor
                                          THEN p.min_combined_z_two_vendors
                                          ELSE p.min_combined_z_one_vendor END
),
-- Every alert of a qualifying pair, then groups: an alert more than 60
-- minutes after the previous member on the device starts a new group.
members AS (
    SELECT DISTINCT entity, a_vendor AS vendor, a_alert_id AS alert_id FROM pairs
    UNION
    SELECT DISTINCT entity, b_vendor AS vendor, b_alert_id AS alert_id FROM pairs
),
member_alerts AS (
    SELECT e.*
    FROM members m
    JOIN eligible e ON e.entity = m.entity AND e.vendor = m.vendor AND e.alert_id = m.alert_id
),
sessions AS (
    SELECT *,
           sum(new_group) OVER (PARTITION BY entity ORDER BY time, vendor, alert_id
                                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS group_no
    FROM (
        SELECT ma.*,
               CASE WHEN lag(time) OVER (PARTITION BY entity ORDER BY time, vendor, alert_id) IS NULL
                      OR date_part('epoch', time)
                         - date_part('epoch', lag(time) OVER (PARTITION BY entity ORDER BY time, vendor, alert_id)) > 3600
                    THEN 1 ELSE 0 END AS new_group
        FROM member_alerts ma
    ) x
),
groups AS (
    SELECT
        entity, group_no,
        min(time) AS first_time,
        max(time) AS last_time,
        count(*) AS alerts,
        count(DISTINCT vendor) AS vendors,
        count(DISTINCT tactic) AS tactics,
        max(unusualness) AS max_unusualness,
        max(z) AS max_z,
        max(severity_id) AS severity_id,
        array_to_string(array_sort(array_agg(DISTINCT vendor)), ', ') AS vendor_list,
        array_to_string(array_sort(array_agg(DISTINCT tactic)), ', ') AS tactic_list,
        string_agg(vendor || ' "' || title || '"', ', then ' ORDER BY time) AS titles,
        string_agg(
            '{"id":"' || vendor || ':' || replace(replace(alert_id, '\', '\\'), '"', '\"')
            || '","time":"' || to_char(time, '%Y-%m-%dT%H:%M:%S%.3fZ')
            || '","severity":"' || severity
            || '","title":"' || replace(replace(regexp_replace(title, '[\x00-\x1f]', ' ', 'g'), '\', '\\'), '"', '\"')
            || '","tactic":' || coalesce('"' || tactic || '"', 'null')
            || ',"techniques":' || CASE WHEN techniques IS NULL OR cardinality(techniques) = 0 THEN '[]'
                                        ELSE '["' || array_to_string(techniques, '","') || '"]' END
            || ',"device_history":' || CAST(device_history AS VARCHAR)
            || ',"fleet_value_devices":' || CAST(fleet_value_devices AS VARCHAR)
            || ',"fleet_devices":' || CAST(fleet_devices AS VARCHAR)
            || ',"unusualness":' || CAST(round(unusualness, 2) AS VARCHAR)
            || ',"z":' || CAST(round(z, 2) AS VARCHAR) || '}',
            ',' ORDER BY time) AS alerts_json
    FROM sessions
    GROUP BY entity, group_no
)
SELECT
    first_time AS time,
    entity,
    -- The most unusual member's score, +10 for corroboration by a second
    -- vendor and +5 per extra tactic.
    round(least(100.0, max_unusualness
        + CASE WHEN vendors >= 2 THEN 10.0 ELSE 0.0 END
        + 5.0 * greatest(tactics - 1, 0)), 1) AS score,
    arrow_cast(CAST(alerts AS VARCHAR) || ' alerts new on ' || entity || ' within '
        || CAST(CAST(round((date_part('epoch', last_time) - date_part('epoch', first_time)) / 60.0) AS BIGINT) AS VARCHAR)
        || ' min from ' || CAST(vendors AS VARCHAR) || ' vendor(s) (' || vendor_list || ') covering '
        || CAST(tactics AS VARCHAR) || ' tactic(s) (' || coalesce(nullif(tactic_list, ''), 'none') || '): '
        || titles || '.', 'Utf8') AS summary,
    arrow_cast('{"alerts":[' || alerts_json || ']'
        || ',"vendors":' || CAST(vendors AS VARCHAR)
        || ',"tactics":' || CAST(tactics AS VARCHAR)
        || ',"max_z":' || CAST(round(max_z, 2) AS VARCHAR) || '}', 'Utf8') AS evidence,
    severity_id AS alert_severity_id,
    alerts,
    vendors,
    tactics
FROM groups;
