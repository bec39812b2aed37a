-- Per device, source, destination and UTC day: how many connections, how
-- much data, and how beacon-like their timing and sizes are
-- (beacon_score, functions.md; NULL when there is too little to judge or
-- for strobes of 86400+ connections a day).
CREATE VIEW beacons AS
SELECT
    entity,
    src_ip,
    dst_ip,
    date_trunc('day', time) AS day,
    NOT is_private_ip(dst_ip) AS external,
    max(dst_host) AS dst_host,
    count(*) AS connections,
    count(DISTINCT dst_port) AS dst_ports,
    sum(bytes_out) AS bytes_out,
    sum(bytes_in) AS bytes_in,
    min(time) AS first_time,
    max(time) AS last_time,
    beacon_score(time, bytes_out, date_trunc('day', time), date_trunc('day', time) + INTERVAL '1 day') AS beacon_score
FROM network_flows
GROUP BY entity, src_ip, dst_ip, date_trunc('day', time);
