// The PostgreSQL JDBC driver against huntlake: DatabaseMetaData (schemas,
// tables and views, columns with their SQL types), a PreparedStatement with
// parameters, and ResultSet getters for every lake type on known demo-lake
// rows. Compiled and run by tests/it/clients.rs:
//
//   javac -d OUT CheckJdbc.java && java -cp OUT:/usr/share/java/postgresql.jar CheckJdbc HOST PORT USER PASSWORD
//
// Exits 1 naming the first mismatch.

import java.sql.Array;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

public class CheckJdbc {
    static final String ALERT_ID = "da639292090543989041_-1994759201";
    static final String FLOW_UID = "CWzOE3h0wsfwtxFLC8";
    static final String NULL_FLOW_UID = "C01NBV37YuVSVHrJU3";

    static void check(String what, Object got, Object expected) {
        if (!Objects.equals(got, expected)) {
            throw new AssertionError(what + ": got " + got + ", expected " + expected);
        }
        System.out.println("ok  " + what + " = " + got);
    }

    public static void main(String[] args) throws Exception {
        String host = args.length > 0 ? args[0] : "127.0.0.1";
        String port = args.length > 1 ? args[1] : "5433";
        String user = args.length > 2 ? args[2] : "huntlake";
        String password = args.length > 3 ? args[3] : "huntlake";
        String url = "jdbc:postgresql://" + host + ":" + port + "/huntlake";
        try (Connection conn = DriverManager.getConnection(url, user, password)) {
            metadata(conn.getMetaData());
            prepared(conn);
            simple(conn);
        } catch (AssertionError | SQLException e) {
            e.printStackTrace();
            System.err.println("MISMATCH/ERROR " + e);
            System.exit(1);
        }
        System.out.println("all checks passed");
    }

    static void metadata(DatabaseMetaData md) throws SQLException {
        check("product name", md.getDatabaseProductName(), "PostgreSQL");
        Set<String> schemas = new HashSet<>();
        try (ResultSet rs = md.getSchemas()) {
            while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
        }
        check("getSchemas has public", schemas.contains("public"), true);

        Map<String, String> kinds = new HashMap<>();
        try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE", "VIEW"})) {
            while (rs.next()) kinds.put(rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE"));
        }
        for (String t : List.of("edr_alerts", "network_flows", "assets", "detections")) {
            check("getTables " + t, kinds.get(t), "TABLE");
        }
        for (String v : List.of("edr_alerts_scored", "beacons", "new_rare_beacons", "det_unusual_edr_alert")) {
            check("getTables " + v, kinds.get(v), "VIEW");
        }
        Set<String> viewsOnly = new HashSet<>();
        try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"VIEW"})) {
            while (rs.next()) viewsOnly.add(rs.getString("TABLE_NAME"));
        }
        check("getTables(VIEW) lacks tables", viewsOnly.contains("edr_alerts"), false);
        check("getTables(VIEW) has beacons", viewsOnly.contains("beacons"), true);

        // Column types: DATA_TYPE (java.sql.Types) and TYPE_NAME as pgJDBC reports them for
        // PostgreSQL (it maps timestamptz to Types.TIMESTAMP).
        Map<String, String> types = new HashMap<>();
        Map<String, Integer> nullable = new HashMap<>();
        try (ResultSet rs = md.getColumns(null, "public", "edr_alerts", "%")) {
            while (rs.next()) {
                String name = rs.getString("COLUMN_NAME");
                types.put(name, rs.getInt("DATA_TYPE") + ":" + rs.getString("TYPE_NAME"));
                nullable.put(name, rs.getInt("NULLABLE"));
            }
        }
        check("getColumns edr_alerts.time", types.get("time"), Types.TIMESTAMP + ":timestamptz");
        check("getColumns edr_alerts.alert_id", types.get("alert_id"), Types.VARCHAR + ":text");
        check("getColumns edr_alerts.severity_id", types.get("severity_id"), Types.INTEGER + ":int4");
        check("getColumns edr_alerts.techniques", types.get("techniques"), Types.ARRAY + ":_text");
        check("getColumns edr_alerts.time not null", nullable.get("time"), DatabaseMetaData.columnNoNulls);
        check("getColumns edr_alerts.device_ip nullable", nullable.get("device_ip"), DatabaseMetaData.columnNullable);
        try (ResultSet rs = md.getColumns(null, "public", "network_flows", "%")) {
            types.clear();
            while (rs.next()) types.put(rs.getString("COLUMN_NAME"), rs.getInt("DATA_TYPE") + ":" + rs.getString("TYPE_NAME"));
        }
        check("getColumns network_flows.bytes_out", types.get("bytes_out"), Types.BIGINT + ":int8");
        check("getColumns network_flows.duration_s", types.get("duration_s"), Types.DOUBLE + ":float8");
        List<String> viewColumns = new ArrayList<>();
        try (ResultSet rs = md.getColumns(null, "public", "beacons", "%")) {
            while (rs.next()) viewColumns.add(rs.getString("COLUMN_NAME"));
        }
        check("getColumns on a view lists columns", viewColumns.isEmpty(), false);
        try (ResultSet rs = md.getPrimaryKeys(null, "public", "edr_alerts")) {
            check("getPrimaryKeys (lake tables have none)", rs.next(), false);
        }
    }

    static void prepared(Connection conn) throws SQLException {
        // prepareThreshold=1: the second execution uses a named server-side statement.
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT time, vendor, entity, severity_id, techniques, device_ip FROM edr_alerts WHERE alert_id = ? AND severity_id >= ?")) {
            ps.unwrap(org.postgresql.PGStatement.class).setPrepareThreshold(1);
            for (int run = 1; run <= 3; run++) {
                ps.setString(1, ALERT_ID);
                ps.setInt(2, 2);
                try (ResultSet rs = ps.executeQuery()) {
                    check("run " + run + " alert found", rs.next(), true);
                    check("getObject(OffsetDateTime) time", rs.getObject("time", OffsetDateTime.class),
                        OffsetDateTime.of(2026, 11, 2, 9, 34, 4, 135_000_000, ZoneOffset.UTC));
                    check("getTimestamp time", rs.getTimestamp("time").toInstant().toString(), "2026-11-02T09:34:04.135Z");
                    check("getString vendor", rs.getString("vendor"), "mde");
                    check("getString entity", rs.getString("entity"), "ws-0017");
                    check("getInt severity_id", rs.getInt("severity_id"), 2);
                    Array techniques = rs.getArray("techniques");
                    check("getArray techniques type", techniques.getBaseTypeName(), "text");
                    check("getArray techniques", Arrays.asList((Object[]) techniques.getArray()), List.of("T1016", "T1033", "T1082"));
                    check("getString device_ip", rs.getString("device_ip"), "10.20.16.24");
                    check("one row", rs.next(), false);
                }
            }
        }
        String flowSql = "SELECT time, src_port, duration_s, bytes_out, bytes_in, service, entity FROM network_flows WHERE uid = ?";
        try (PreparedStatement ps = conn.prepareStatement(flowSql)) {
            ps.setString(1, FLOW_UID);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                check("flow time micros", rs.getObject("time", OffsetDateTime.class),
                    OffsetDateTime.of(2026, 11, 5, 14, 37, 49, 463_381_000, ZoneOffset.UTC));
                check("getInt src_port", rs.getInt("src_port"), 58181);
                check("getDouble duration_s", rs.getDouble("duration_s"), 14.107649);
                check("getLong bytes_out", rs.getLong("bytes_out"), 2465985L);
                check("getLong bytes_in", rs.getLong("bytes_in"), 2581L);
                check("getString service", rs.getString("service"), "ssl");
                check("getString entity", rs.getString("entity"), "ws-0017");
            }
            ps.setString(1, NULL_FLOW_UID);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                check("NULL duration_s getDouble", rs.getDouble("duration_s"), 0.0);
                check("NULL duration_s wasNull", rs.wasNull(), true);
                check("NULL service", rs.getString("service"), null);
                check("NULL entity", rs.getString("entity"), null);
                check("bytes_out 0 not null", rs.getObject("bytes_out"), 0L);
            }
        }
        // Parameters of each type.
        try (PreparedStatement ps = conn.prepareStatement(
                "SELECT count(*) FROM network_flows WHERE entity = ? AND time >= ? AND bytes_out > ? AND duration_s > ?")) {
            ps.setString(1, "ws-0017");
            ps.setObject(2, OffsetDateTime.of(2026, 11, 5, 14, 37, 49, 463_381_000, ZoneOffset.UTC));
            ps.setLong(3, 2465984L);
            ps.setDouble(4, 14.1);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                long n = rs.getLong(1);
                if (n < 1) throw new AssertionError("typed parameters matched no flow: " + n);
                System.out.println("ok  typed parameters count = " + n);
            }
        }
        try (PreparedStatement ps = conn.prepareStatement("SELECT sum(bytes_out) FROM network_flows WHERE entity = ?")) {
            ps.setString(1, "srv-backup01");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                check("int8 sum getLong", rs.getLong(1), 12799472163L);
            }
        }
    }

    static void simple(Connection conn) throws SQLException {
        try (Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM edr_alerts")) {
            rs.next();
            check("alert count", rs.getLong(1), 714L);
        }
        try (Statement st = conn.createStatement()) {
            try {
                st.executeQuery("SELECT * FROM no_such_table");
                throw new AssertionError("unknown table did not fail");
            } catch (SQLException e) {
                check("unknown table SQLSTATE", e.getSQLState(), "42P01");
            }
            try (ResultSet rs = st.executeQuery("SELECT entity FROM beacons LIMIT 1")) {
                check("view readable after error", rs.next(), true);
            }
        }
    }
}
