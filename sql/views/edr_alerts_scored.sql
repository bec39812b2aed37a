-- Every EDR alert with how unusual it is for its device and for the fleet
-- (functions.md, "Rarity family", with value = vendor || ':' || title).
-- The counts behind the scores are columns too, so analysts and detections
-- can see why a score is what it is:
--   device_history        N_e  alerts on this device strictly before
--   device_value_history  C_ev of them with the same vendor:title
--   fleet_value_devices   D_v  devices that had this vendor:title before
--   fleet_devices         E    devices with any alert before
CREATE VIEW edr_alerts_scored AS
WITH base AS (
    SELECT
        a.*,
        a.vendor || ':' || a.title AS alert_value,
        row_number() OVER (PARTITION BY a.entity ORDER BY a.time) = 1 AS first_for_device,
        row_number() OVER (PARTITION BY a.entity, a.vendor, a.title ORDER BY a.time) = 1 AS first_for_device_value
    FROM edr_alerts a
)
SELECT
    time, updated_time, ingest_time, vendor, alert_id, entity, device_id, device_ip, user_name,
    title, category, severity, severity_id, techniques, process_name, command_line, file_name,
    file_sha256, status, console_url, raw,
    alert_value,
    count(*) OVER (
        PARTITION BY entity ORDER BY time
        RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL '1 microsecond' PRECEDING
    ) AS device_history,
    count(*) OVER (
        PARTITION BY entity, alert_value ORDER BY time
        RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL '1 microsecond' PRECEDING
    ) AS device_value_history,
    coalesce(sum(CAST(first_for_device_value AS BIGINT)) OVER (
        PARTITION BY alert_value ORDER BY time
        RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL '1 microsecond' PRECEDING
    ), 0) AS fleet_value_devices,
    coalesce(sum(CAST(first_for_device AS BIGINT)) OVER (
        ORDER BY time
        RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL '1 microsecond' PRECEDING
    ), 0) AS fleet_devices,
    entity_surprise(entity, alert_value) OVER (ORDER BY time) AS entity_surprise,
    population_surprise(entity, alert_value) OVER (ORDER BY time) AS population_surprise,
    unusualness(entity, alert_value) OVER (ORDER BY time) AS unusualness,
    first_seen(entity, alert_value) OVER (ORDER BY time) AS first_seen
FROM base;
