//! Benign network flows, as a Zeek sensor at the internet edge and core
//! switch would log them (`conn.log` mapped to `network_flows`).
//!
//! The traffic is shaped so that naive detections fail and good ones work:
//!
//! * volume follows each device's day plan (work hours, lunch dip, laptops off
//!   at night and at weekends, servers always on);
//! * internal services look like an AD network: DNS/Kerberos/LDAP/NTP to the
//!   domain controllers, SMB to the file server, an HTTP proxy, an intranet,
//!   SQL behind the application servers, nightly backups; IT staff RDP and
//!   WinRM to servers;
//! * external HTTPS goes to a Zipf-popular pool of SaaS/CDN services plus a
//!   long tail of niche sites each visited by one or two people, so "rare
//!   destination" alone is not an alert;
//! * every Windows device polls a telemetry service every 5-15 minutes and
//!   every EDR agent checks in with its cloud, so "periodic" alone is not an
//!   alert either; only periodic *and* rare is;
//! * the backup server uploads gigabytes to cloud storage every night, so
//!   "large upload" alone is not an alert.
//!
//! Rows are appended straight into Arrow builders ([`FlowBatch`]); a row costs
//! no heap allocation beyond the builders' own buffers.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, Float64Builder, Int32Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};

use super::fleet::{ip, ip_str, Device, Fleet, Role, Vendor, US_PER_MIN, US_PER_S};
use super::rng::{mix64, Cumulative, Rng};
use crate::lake::schema::network_flows;

/// One connection, borrowed strings only.
#[derive(Debug, Clone, Copy)]
pub struct Flow<'a> {
    pub time_us: i64,
    pub src: u32,
    pub sport: i32,
    pub dst: u32,
    pub dport: i32,
    pub proto: &'static str,
    pub service: Option<&'static str>,
    pub duration: Option<f64>,
    pub bytes_out: Option<i64>,
    pub bytes_in: Option<i64>,
    pub state: Option<&'static str>,
    pub dst_host: Option<&'a str>,
    pub entity: Option<&'a str>,
}


/// Column builders for one day of `network_flows`.
pub struct FlowBatch {
    time: TimestampMicrosecondBuilder,
    sensor: StringBuilder,
    uid: StringBuilder,
    src_ip: StringBuilder,
    src_port: Int32Builder,
    dst_ip: StringBuilder,
    dst_port: Int32Builder,
    proto: StringBuilder,
    service: StringBuilder,
    duration: Float64Builder,
    bytes_out: Int64Builder,
    bytes_in: Int64Builder,
    conn_state: StringBuilder,
    dst_host: StringBuilder,
    entity: StringBuilder,
    uid_base: u64,
    uid_next: u64,
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A Zeek-looking connection id (`C` and 17 base-62 characters) for the
/// `n`-th connection after `base`. The last 11 characters encode
/// `mix64(base + n)`, a bijection, so ids never collide.
fn uid_str(base: u64, n: u64, buf: &mut [u8; 18]) -> &str {
    let v1 = mix64(base.wrapping_add(n));
    let mut v2 = mix64(v1 ^ 0xA076_1D64_78BD_642F);
    let mut v = v1;
    buf[0] = b'C';
    for b in buf[1..7].iter_mut() {
        *b = BASE62[(v2 % 62) as usize];
        v2 /= 62;
    }
    for b in buf[7..].iter_mut() {
        *b = BASE62[(v % 62) as usize];
        v /= 62;
    }
    std::str::from_utf8(buf).expect("base-62 is ASCII")
}

impl FlowBatch {
    /// Builders sized for about `rows` rows. `uid_base` must leave room for
    /// 2^32 ids per batch without meeting another batch's range (the caller
    /// uses `seed_key + (day << 32)`).
    pub fn new(rows: usize, uid_base: u64) -> Self {
        let s = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        FlowBatch {
            time: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            sensor: s(4),
            uid: s(18),
            src_ip: s(12),
            src_port: Int32Builder::with_capacity(rows),
            dst_ip: s(13),
            dst_port: Int32Builder::with_capacity(rows),
            proto: s(3),
            service: s(4),
            duration: Float64Builder::with_capacity(rows),
            bytes_out: Int64Builder::with_capacity(rows),
            bytes_in: Int64Builder::with_capacity(rows),
            conn_state: s(2),
            dst_host: s(16),
            entity: s(7),
            uid_base,
            uid_next: 0,
        }
    }

    /// Appends one row.
    pub fn push(&mut self, f: &Flow<'_>) {
        let mut ipbuf = [0u8; 15];
        let mut uidbuf = [0u8; 18];
        self.time.append_value(f.time_us);
        self.sensor.append_value("zeek");
        self.uid.append_value(uid_str(self.uid_base, self.uid_next, &mut uidbuf));
        self.uid_next += 1;
        self.src_ip.append_value(ip_str(f.src, &mut ipbuf));
        self.src_port.append_value(f.sport);
        self.dst_ip.append_value(ip_str(f.dst, &mut ipbuf));
        self.dst_port.append_value(f.dport);
        self.proto.append_value(f.proto);
        self.service.append_option(f.service);
        // Zeek logs intervals with microsecond precision.
        self.duration.append_option(f.duration.map(|d| (d * 1e6).round() / 1e6));
        self.bytes_out.append_option(f.bytes_out);
        self.bytes_in.append_option(f.bytes_in);
        self.conn_state.append_option(f.state);
        self.dst_host.append_option(f.dst_host);
        self.entity.append_option(f.entity);
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// The finished batch, in the `network_flows` schema.
    pub fn finish(mut self) -> RecordBatch {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.sensor.finish()),
            Arc::new(self.uid.finish()),
            Arc::new(self.src_ip.finish()),
            Arc::new(self.src_port.finish()),
            Arc::new(self.dst_ip.finish()),
            Arc::new(self.dst_port.finish()),
            Arc::new(self.proto.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.duration.finish()),
            Arc::new(self.bytes_out.finish()),
            Arc::new(self.bytes_in.finish()),
            Arc::new(self.conn_state.finish()),
            Arc::new(self.dst_host.finish()),
            Arc::new(self.entity.finish()),
        ];
        RecordBatch::try_new(network_flows(), cols).expect("flow columns match the network_flows schema")
    }
}

// ---------------------------------------------------------------------------
// The internet as the fleet sees it
// ---------------------------------------------------------------------------

/// First two octets of address blocks that real providers announce; hosts
/// are drawn inside them so destinations look like what a proxy log shows.
mod prefix {
    pub const MICROSOFT: &[[u8; 2]] =
        &[[13, 107], [20, 190], [20, 42], [40, 126], [52, 96], [52, 113], [52, 109], [20, 189], [40, 99]];
    pub const GOOGLE: &[[u8; 2]] = &[[142, 250], [172, 217], [216, 58], [142, 251]];
    pub const AMAZON: &[[u8; 2]] = &[[3, 5], [18, 66], [52, 84], [54, 230], [13, 224], [99, 84], [35, 162], [3, 120]];
    pub const S3: &[[u8; 2]] = &[[52, 218], [3, 5]];
    pub const CLOUDFLARE: &[[u8; 2]] = &[[104, 16], [104, 18], [172, 64], [172, 67], [104, 21]];
    pub const AKAMAI: &[[u8; 2]] = &[[23, 32], [23, 45], [2, 16], [184, 28], [23, 62]];
    pub const FASTLY: &[[u8; 2]] = &[[151, 101]];
    pub const GITHUB: &[[u8; 2]] = &[[140, 82]];
    pub const ZOOM: &[[u8; 2]] = &[[170, 114]];
    pub const DROPBOX: &[[u8; 2]] = &[[162, 125]];
    pub const SALESFORCE: &[[u8; 2]] = &[[136, 146], [13, 108]];
    pub const CANONICAL: &[[u8; 2]] = &[[91, 189], [185, 125]];
    pub const APPLE: &[[u8; 2]] = &[[17, 253], [17, 57]];
    pub const META: &[[u8; 2]] = &[[157, 240], [31, 13]];
    pub const WIKIMEDIA: &[[u8; 2]] = &[[185, 15], [208, 80]];
    pub const SENTINELONE: &[[u8; 2]] = &[[3, 218], [34, 225]];
    /// Small hosting providers: where niche sites live.
    pub const HOSTING: &[[u8; 2]] = &[
        [5, 39], [31, 186], [37, 120], [46, 101], [62, 75], [78, 46], [82, 165], [85, 13], [88, 198],
        [92, 204], [94, 130], [95, 216], [104, 248], [107, 180], [138, 68], [139, 59], [159, 89],
        [164, 90], [167, 99], [176, 9], [178, 62], [188, 114], [195, 201], [212, 227], [213, 133],
    ];
}

/// Popular services in popularity order: host, provider blocks, addresses.
const POPULAR: &[(&str, &[[u8; 2]], usize)] = &[
    ("outlook.office365.com", prefix::MICROSOFT, 6),
    ("login.microsoftonline.com", prefix::MICROSOFT, 4),
    ("teams.microsoft.com", prefix::MICROSOFT, 4),
    ("www.google.com", prefix::GOOGLE, 4),
    ("corpexample.sharepoint.com", prefix::MICROSOFT, 3),
    ("graph.microsoft.com", prefix::MICROSOFT, 3),
    ("fonts.gstatic.com", prefix::GOOGLE, 2),
    ("www.bing.com", prefix::MICROSOFT, 2),
    ("edge.microsoft.com", prefix::MICROSOFT, 2),
    ("slack.com", prefix::AMAZON, 3),
    ("zoom.us", prefix::ZOOM, 3),
    ("github.com", prefix::GITHUB, 2),
    ("ecs.office.com", prefix::MICROSOFT, 2),
    ("update.googleapis.com", prefix::GOOGLE, 2),
    ("cdnjs.cloudflare.com", prefix::CLOUDFLARE, 2),
    ("corpexample-my.sharepoint.com", prefix::MICROSOFT, 3),
    ("www.linkedin.com", prefix::MICROSOFT, 2),
    ("clients2.google.com", prefix::GOOGLE, 2),
    ("nav.smartscreen.microsoft.com", prefix::MICROSOFT, 2),
    ("wdcp.microsoft.com", prefix::MICROSOFT, 2),
    ("s3.eu-west-1.amazonaws.com", prefix::S3, 4),
    ("www.youtube.com", prefix::GOOGLE, 3),
    ("i.ytimg.com", prefix::GOOGLE, 2),
    ("cdn.jsdelivr.net", prefix::FASTLY, 2),
    ("corpexample.atlassian.net", prefix::AMAZON, 2),
    ("corpexample.my.salesforce.com", prefix::SALESFORCE, 2),
    ("www.bbc.co.uk", prefix::FASTLY, 2),
    ("www.theguardian.com", prefix::FASTLY, 2),
    ("dl.delivery.mp.microsoft.com", prefix::AKAMAI, 3),
    ("www.dropbox.com", prefix::DROPBOX, 2),
    ("api.github.com", prefix::GITHUB, 1),
    ("pypi.org", prefix::FASTLY, 1),
    ("files.pythonhosted.org", prefix::FASTLY, 1),
    ("registry.npmjs.org", prefix::CLOUDFLARE, 2),
    ("www.reddit.com", prefix::FASTLY, 2),
    ("acrobat.adobe.com", prefix::AKAMAI, 2),
    ("www.amazon.co.uk", prefix::AMAZON, 2),
    ("d3k2c7j9x1q8sl.cloudfront.net", prefix::AMAZON, 2),
    ("safebrowsing.googleapis.com", prefix::GOOGLE, 1),
    ("accounts.google.com", prefix::GOOGLE, 1),
    ("chatgpt.com", prefix::CLOUDFLARE, 2),
    ("www.wikipedia.org", prefix::WIKIMEDIA, 1),
    ("stackoverflow.com", prefix::CLOUDFLARE, 1),
    ("docs.google.com", prefix::GOOGLE, 2),
    ("www.office.com", prefix::MICROSOFT, 2),
    ("mobile.events.data.microsoft.com", prefix::MICROSOFT, 1),
    ("gs.apple.com", prefix::APPLE, 1),
    ("www.apple.com", prefix::AKAMAI, 1),
    ("login.live.com", prefix::MICROSOFT, 1),
    ("www.msn.com", prefix::MICROSOFT, 2),
    ("assets.msn.com", prefix::MICROSOFT, 2),
    ("api.zoom.us", prefix::ZOOM, 1),
    ("www.dhl.com", prefix::AKAMAI, 1),
    ("www.booking.com", prefix::AMAZON, 1),
    ("weather.com", prefix::AKAMAI, 1),
    ("open.spotify.com", prefix::GOOGLE, 1),
    ("web.whatsapp.com", prefix::META, 1),
    ("www.facebook.com", prefix::META, 1),
];

/// Plain-HTTP hosts that legacy agents fetch through the proxy.
const HTTP_HOSTS: &[(&str, &[[u8; 2]], usize)] = &[
    ("ctldl.windowsupdate.com", prefix::AKAMAI, 2),
    ("ocsp.digicert.com", prefix::AKAMAI, 2),
    ("crl.microsoft.com", prefix::AKAMAI, 1),
    ("www.msftconnecttest.com", prefix::MICROSOFT, 1),
    ("ocsp.sectigo.com", prefix::CLOUDFLARE, 1),
    ("x1.c.lencr.org", prefix::AKAMAI, 1),
];

const TAIL_WORDS_A: &[&str] = &["blue", "quiet", "north", "rapid", "green", "silver", "urban", "daily", "open", "bright", "little", "modern"];
const TAIL_WORDS_B: &[&str] = &["harbor", "garden", "pixel", "river", "kitchen", "atlas", "forge", "summit", "journal", "market", "studio", "review"];
const TAIL_TLDS: &[&str] = &["com", "net", "org", "io", "co.uk", "de"];

/// A named service and the addresses it resolves to.
#[derive(Debug, Clone)]
pub struct Service {
    pub host: String,
    pub ips: Vec<u32>,
}

/// The external destinations the fleet talks to.
#[derive(Debug, Clone)]
pub struct Internet {
    /// Popular SaaS/CDN services, most popular first.
    pub popular: Vec<Service>,
    popularity: Cumulative,
    /// Plain-HTTP hosts fetched through the proxy.
    pub http: Vec<Service>,
    /// Niche sites: each is someone's personal habit.
    pub tail: Vec<Service>,
    /// Windows telemetry, polled by every Windows device.
    pub telemetry: Service,
    /// EDR cloud endpoints by vendor (Defender, CrowdStrike, SentinelOne).
    pub edr: [Service; 3],
    /// Public resolvers the domain controllers forward to.
    pub resolvers: Vec<u32>,
    pub ntp: Service,
    pub ubuntu: Service,
    /// Index in `popular` of object storage (nightly backups) and OneDrive.
    pub s3: usize,
    pub onedrive: usize,
    quic: Vec<usize>,
    used: BTreeSet<u32>,
}

impl Internet {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::derive(seed, &[super::fleet::stream::NET]);
        let mut used = BTreeSet::new();
        // The company's own public address is never a destination.
        used.insert(ip([81, 2, 69, 160]));
        let svc = |rng: &mut Rng, used: &mut BTreeSet<u32>, host: String, p: &[[u8; 2]], n: usize| {
            let ips = (0..n).map(|_| fresh(rng, used, p)).collect();
            Service { host, ips }
        };
        let fixed = |host: &str, ips: &[[u8; 4]], used: &mut BTreeSet<u32>| {
            let ips: Vec<u32> = ips.iter().map(|&o| ip(o)).collect();
            used.extend(ips.iter().copied());
            Service { host: host.to_owned(), ips }
        };
        let resolvers = vec![ip([1, 1, 1, 1]), ip([8, 8, 8, 8]), ip([9, 9, 9, 9]), ip([1, 0, 0, 1])];
        used.extend(resolvers.iter().copied());
        let ntp = fixed("time.windows.com", &[[168, 61, 215, 74]], &mut used);
        let popular: Vec<Service> =
            POPULAR.iter().map(|&(h, p, n)| svc(&mut rng, &mut used, h.to_owned(), p, n)).collect();
        let http = HTTP_HOSTS.iter().map(|&(h, p, n)| svc(&mut rng, &mut used, h.to_owned(), p, n)).collect();
        let telemetry = svc(&mut rng, &mut used, "v10.events.data.microsoft.com".into(), &[[20, 42]], 3);
        let edr = [
            svc(&mut rng, &mut used, "winatp-gw-weu.microsoft.com".into(), &[[20, 50], [51, 105]], 2),
            svc(&mut rng, &mut used, "ts01-gyr-maverick.cloudsink.net".into(), &[[35, 162], [52, 40]], 2),
            svc(&mut rng, &mut used, "usea1-corp.sentinelone.net".into(), prefix::SENTINELONE, 2),
        ];
        let ubuntu = svc(&mut rng, &mut used, "archive.ubuntu.com".into(), prefix::CANONICAL, 2);
        let mut names: Vec<String> = TAIL_WORDS_A
            .iter()
            .flat_map(|a| TAIL_WORDS_B.iter().flat_map(move |b| TAIL_TLDS.iter().map(move |t| format!("www.{a}{b}.{t}"))))
            .collect();
        rng.shuffle(&mut names);
        let tail = names.into_iter().take(400).map(|h| svc(&mut rng, &mut used, h, prefix::HOSTING, 1)).collect();
        let find = |h: &str| POPULAR.iter().position(|p| p.0 == h).expect("listed service");
        Internet {
            popularity: Cumulative::zipf(popular.len(), 1.05),
            s3: find("s3.eu-west-1.amazonaws.com"),
            onedrive: find("corpexample-my.sharepoint.com"),
            quic: ["www.google.com", "www.youtube.com", "i.ytimg.com", "fonts.gstatic.com", "docs.google.com"]
                .iter()
                .map(|h| find(h))
                .collect(),
            popular,
            http,
            tail,
            telemetry,
            edr,
            resolvers,
            ntp,
            ubuntu,
            used,
        }
    }

    /// Whether any benign traffic may use `ip` as a destination.
    pub fn is_known(&self, ip: u32) -> bool {
        self.used.contains(&ip)
    }

    /// A new public address in `blocks` that no benign destination uses
    /// (for attacker infrastructure).
    pub fn unused_ip(&mut self, rng: &mut Rng, blocks: &[[u8; 2]]) -> u32 {
        fresh(rng, &mut self.used, blocks)
    }

    /// A popular service by Zipf rank.
    #[inline]
    pub fn pick_popular(&self, rng: &mut Rng) -> &Service {
        &self.popular[self.popularity.sample(rng)]
    }

    /// The EDR cloud service of `v`.
    pub fn edr_of(&self, v: Vendor) -> &Service {
        &self.edr[match v {
            Vendor::Mde => 0,
            Vendor::CrowdStrike => 1,
            Vendor::SentinelOne => 2,
        }]
    }

    /// All destination addresses of benign traffic.
    #[cfg(test)]
    pub fn all_ips(&self) -> impl Iterator<Item = u32> + '_ {
        self.used.iter().copied()
    }
}

/// A host address inside one of `blocks` not yet in `used`.
fn fresh(rng: &mut Rng, used: &mut BTreeSet<u32>, blocks: &[[u8; 2]]) -> u32 {
    loop {
        let p = rng.choice(blocks);
        let a = ip([p[0], p[1], rng.int(0, 255) as u8, rng.int(1, 254) as u8]);
        if used.insert(a) {
            return a;
        }
    }
}

/// Whether `ip` is a public unicast address (the complement of the lake's
/// `is_private_ip`, plus the documentation ranges).
pub fn is_public(ip: u32) -> bool {
    let [a, b, c, _] = ip.to_be_bytes();
    !(a == 0
        || a == 10
        || a == 127
        || a >= 224
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113))
}

// ---------------------------------------------------------------------------
// Per-device traffic
// ---------------------------------------------------------------------------

/// What a connection is for; each kind knows its port, protocol, peer and
/// size distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dns,
    KrbUdp,
    KrbTcp,
    Ldap,
    SmbFile,
    SmbDc,
    Ntp,
    ProxyHttp,
    Https,
    Tail,
    Quic,
    Intranet,
    AppWeb,
    Print,
    CloudUpload,
    Rdp,
    WinRm,
    SmbAdmin,
    Ssh,
    DnsForward,
    DcReplication,
    NtpExternal,
    ProxyOutHttps,
    ProxyOutHttp,
    Sql,
    UbuntuHttp,
}

use Kind::*;

const WORKSTATION_MIX: &[(Kind, f64)] = &[
    (Dns, 30.0), (KrbUdp, 2.0), (KrbTcp, 2.0), (Ldap, 4.0), (SmbFile, 6.0), (SmbDc, 2.0), (Ntp, 0.5),
    (ProxyHttp, 6.0), (Https, 30.0), (Tail, 2.5), (Quic, 4.0), (Intranet, 3.0), (AppWeb, 2.0),
    (Print, 0.4), (CloudUpload, 0.3),
];
const ADMIN_MIX: &[(Kind, f64)] = &[
    (Dns, 30.0), (KrbUdp, 2.0), (KrbTcp, 3.0), (Ldap, 5.0), (SmbFile, 6.0), (SmbDc, 2.0), (Ntp, 0.5),
    (ProxyHttp, 6.0), (Https, 28.0), (Tail, 2.0), (Quic, 3.0), (Intranet, 3.0), (AppWeb, 2.0),
    (Print, 0.3), (CloudUpload, 0.3), (Rdp, 1.0), (WinRm, 0.8), (SmbAdmin, 1.0), (Ssh, 0.6),
];
const DC_MIX: &[(Kind, f64)] = &[
    (DnsForward, 35.0), (Dns, 5.0), (DcReplication, 10.0), (Ldap, 5.0), (KrbTcp, 3.0), (Https, 8.0),
    (NtpExternal, 0.5),
];
const FILE_MIX: &[(Kind, f64)] = &[(Dns, 30.0), (KrbTcp, 8.0), (Ldap, 10.0), (Https, 10.0), (SmbDc, 3.0)];
const PROXY_MIX: &[(Kind, f64)] = &[(ProxyOutHttps, 55.0), (ProxyOutHttp, 25.0), (Dns, 20.0)];
const WEB_MIX: &[(Kind, f64)] = &[(Dns, 30.0), (Sql, 25.0), (Ldap, 5.0), (UbuntuHttp, 3.0), (Https, 5.0)];
const APP_MIX: &[(Kind, f64)] = &[(Sql, 45.0), (Dns, 20.0), (Ldap, 10.0), (KrbTcp, 5.0), (Https, 10.0)];
const SQL_MIX: &[(Kind, f64)] = &[(Dns, 40.0), (KrbTcp, 15.0), (Ldap, 15.0), (Https, 10.0)];
const BACKUP_MIX: &[(Kind, f64)] = &[(Dns, 40.0), (Ldap, 10.0), (Https, 10.0)];

/// Log-normal parameters `(mu, sigma)` of bytes or seconds.
type Ln = (f64, f64);

/// One day of the fleet, shared by every generator of that day.
pub struct DayCtx<'a> {
    pub fleet: &'a Fleet,
    pub net: &'a Internet,
    pub day: u32,
    pub day_start_us: i64,
}

/// Emits the connections of one device, one day.
pub struct DeviceDay<'a, 'b> {
    ctx: &'b DayCtx<'a>,
    out: &'b mut FlowBatch,
    rng: &'b mut Rng,
    di: usize,
    dev: &'a Device,
}

impl<'a, 'b> DeviceDay<'a, 'b> {
    pub fn new(ctx: &'b DayCtx<'a>, out: &'b mut FlowBatch, rng: &'b mut Rng, di: usize) -> Self {
        DeviceDay { ctx, out, rng, di, dev: &ctx.fleet.devices[di] }
    }

    /// The day's benign traffic: periodic polls while powered, then
    /// `random_flows` connections at times drawn from the activity profile.
    pub fn run(&mut self, random_flows: usize) {
        let plan = self.ctx.fleet.plans[self.di][self.ctx.day as usize];
        let Some(profile) = plan.minute_profile(self.dev.is_server()) else { return };
        let (on, off) = plan.powered.expect("a profile implies power");
        self.periodic(on, off);
        let mix = match self.dev.role {
            Role::Workstation if self.dev.admin => ADMIN_MIX,
            Role::Workstation => WORKSTATION_MIX,
            Role::DomainController => DC_MIX,
            Role::FileServer => FILE_MIX,
            Role::Proxy => PROXY_MIX,
            Role::WebServer => WEB_MIX,
            Role::AppServer => APP_MIX,
            Role::SqlServer => SQL_MIX,
            Role::BackupServer => BACKUP_MIX,
        };
        for _ in 0..random_flows {
            let minute = profile.sample(self.rng) as i64;
            let t = self.ctx.day_start_us + minute * US_PER_MIN + self.rng.below(US_PER_MIN as u64) as i64;
            let kind = *self.rng.weighted(mix);
            self.emit(kind, t);
        }
    }

    /// Windows telemetry every `telemetry_period_s` and each EDR agent's
    /// check-in every `edr_period_s`, with a couple of percent jitter and
    /// near-constant sizes: the benign look-alikes of a beacon.
    fn periodic(&mut self, on: u32, off: u32) {
        let (from, to) = (on as f64 * 60.0, off as f64 * 60.0);
        let key = mix64((self.di as u64) << 20 | self.ctx.day as u64);
        let mut jobs: Vec<(&'a Service, f64, Ln, Ln)> = Vec::with_capacity(3);
        if self.dev.os.is_windows() {
            jobs.push((&self.ctx.net.telemetry, self.dev.telemetry_period_s, (7.75, 0.04), (6.43, 0.05)));
        }
        for &v in &self.dev.vendors {
            jobs.push((self.ctx.net.edr_of(v), self.dev.edr_period_s, (8.6, 0.5), (7.0, 0.3)));
        }
        for (svc, period, out, inn) in jobs {
            // One resolved address per device and day, as a DNS cache would.
            let dst = svc.ips[(key % svc.ips.len() as u64) as usize];
            let mut s = from + self.rng.range(0.0, period);
            while s < to {
                let t = self.ctx.day_start_us + (s * 1e6) as i64;
                self.tcp_ok(t, dst, 443, Some("ssl"), Some(&svc.host), out, inn, (-1.3, 0.3));
                s += period * (1.0 + self.rng.normal(0.0, 0.02));
            }
        }
    }

    /// Emits one connection of `kind` at `t`.
    fn emit(&mut self, kind: Kind, t: i64) {
        let fleet = self.ctx.fleet;
        let net = self.ctx.net;
        match kind {
            Dns => {
                let dc = self.dc_peer();
                self.udp(t, self.device_ip(dc, t), 53, Some("dns"), None, (3.8, 0.25), (4.9, 0.5), (-5.5, 0.8));
            }
            KrbUdp => {
                let dc = self.dc_peer();
                self.udp(t, self.device_ip(dc, t), 88, Some("krb"), None, (7.0, 0.3), (7.2, 0.3), (-5.0, 0.6));
            }
            KrbTcp => {
                let dc = self.dc_peer();
                self.tcp(t, self.device_ip(dc, t), 88, Some("krb_tcp"), None, (7.3, 0.3), (7.4, 0.3), (-4.0, 0.6));
            }
            Ldap => {
                let dc = self.dc_peer();
                self.tcp(t, self.device_ip(dc, t), 389, Some("ldap"), None, (6.5, 0.8), (7.5, 1.2), (-2.5, 1.5));
            }
            SmbFile => {
                let dst = self.device_ip(fleet.file, t);
                self.tcp(t, dst, 445, Some("smb"), None, (8.5, 1.8), (10.5, 2.2), (1.5, 2.0));
            }
            SmbDc => {
                let dc = self.dc_peer();
                self.tcp(t, self.device_ip(dc, t), 445, Some("smb"), None, (7.5, 1.0), (9.0, 1.2), (-0.5, 1.0));
            }
            Ntp => {
                let dc = self.dc_peer();
                self.udp_fixed(t, self.device_ip(dc, t), 123, "ntp", 48, 48);
            }
            ProxyHttp => {
                let svc = self.rng.choice(&net.http);
                let dst = self.device_ip(fleet.proxy, t);
                self.tcp(t, dst, 8080, Some("http"), Some(&svc.host), (6.8, 0.7), (9.5, 2.0), (0.0, 1.5));
            }
            Https => {
                let svc = net.pick_popular(self.rng);
                let dst = *self.rng.choice(&svc.ips);
                self.tcp(t, dst, 443, Some("ssl"), Some(&svc.host), (7.2, 1.0), (9.0, 2.0), (1.0, 1.8));
            }
            Tail => {
                // Mostly a handful of personal favourites, sometimes any link.
                let n = net.tail.len() as u64;
                let idx = if self.rng.bool(0.85) {
                    mix64(self.di as u64 * 0x1000 + self.rng.below(5)) % n
                } else {
                    self.rng.below(n)
                };
                let svc = &net.tail[idx as usize];
                self.tcp(t, svc.ips[0], 443, Some("ssl"), Some(&svc.host), (7.0, 0.9), (10.0, 1.6), (1.5, 1.5));
            }
            Quic => {
                let svc = &net.popular[*self.rng.choice(&net.quic)];
                let dst = *self.rng.choice(&svc.ips);
                self.udp(t, dst, 443, Some("quic"), Some(&svc.host), (7.5, 1.0), (10.0, 1.8), (1.5, 1.5));
            }
            Intranet => {
                let dst = self.device_ip(fleet.web, t);
                self.tcp(t, dst, 443, Some("ssl"), Some("intranet.corp.example.com"), (7.0, 0.8), (9.5, 1.5), (0.5, 1.5));
            }
            AppWeb => {
                let dst = self.device_ip(fleet.app, t);
                self.tcp(t, dst, 443, Some("ssl"), Some("apps.corp.example.com"), (7.2, 0.8), (9.2, 1.4), (1.0, 1.5));
            }
            Print => {
                let dst = fleet.printers[self.di % fleet.printers.len()];
                self.tcp(t, dst, 9100, None, None, (11.0, 1.0), (4.0, 0.5), (1.0, 0.8));
            }
            CloudUpload => {
                let svc = &net.popular[net.onedrive];
                let dst = *self.rng.choice(&svc.ips);
                self.tcp(t, dst, 443, Some("ssl"), Some(&svc.host), (15.5, 1.0), (8.5, 0.6), (3.0, 1.0));
            }
            Rdp => {
                let s = self.windows_server();
                self.tcp(t, self.device_ip(s, t), 3389, Some("rdp"), None, (12.0, 1.0), (14.0, 1.2), (6.5, 1.0));
            }
            WinRm => {
                let s = self.windows_server();
                self.tcp(t, self.device_ip(s, t), 5985, Some("http"), None, (8.0, 1.0), (8.5, 1.0), (0.5, 1.0));
            }
            SmbAdmin => {
                let s = self.windows_server();
                self.tcp(t, self.device_ip(s, t), 445, Some("smb"), None, (8.0, 1.5), (9.0, 1.5), (0.5, 1.5));
            }
            Ssh => {
                let s = if self.rng.bool(0.5) { fleet.proxy } else { fleet.web };
                self.tcp(t, self.device_ip(s, t), 22, Some("ssh"), None, (9.0, 1.5), (10.0, 1.5), (5.0, 1.5));
            }
            DnsForward => {
                let dst = *self.rng.choice(&net.resolvers);
                self.udp(t, dst, 53, Some("dns"), None, (3.9, 0.3), (5.2, 0.6), (-3.8, 0.7));
            }
            DcReplication => {
                let dc = self.dc_peer();
                let port = if self.rng.bool(0.2) { 135 } else { 49668 };
                self.tcp(t, self.device_ip(dc, t), port, Some("dce_rpc"), None, (8.0, 1.5), (8.5, 1.5), (-1.0, 1.5));
            }
            NtpExternal => self.udp_fixed(t, net.ntp.ips[0], 123, "ntp", 48, 48),
            ProxyOutHttps => {
                // The proxy forwards CONNECTs: mostly popular, some niche.
                let svc = if self.rng.bool(0.95) {
                    net.pick_popular(self.rng)
                } else {
                    self.rng.choice(&net.tail)
                };
                let dst = *self.rng.choice(&svc.ips);
                self.tcp(t, dst, 443, Some("ssl"), Some(&svc.host), (7.3, 1.0), (9.3, 2.0), (1.0, 1.8));
            }
            ProxyOutHttp => {
                let svc = self.rng.choice(&net.http);
                let dst = *self.rng.choice(&svc.ips);
                self.tcp(t, dst, 80, Some("http"), Some(&svc.host), (6.6, 0.6), (9.4, 2.0), (-0.5, 1.2));
            }
            Sql => {
                let dst = self.device_ip(fleet.sql, t);
                self.tcp(t, dst, 1433, None, None, (7.0, 1.0), (9.0, 1.5), (-1.0, 1.5));
            }
            UbuntuHttp => {
                let dst = *self.rng.choice(&net.ubuntu.ips);
                self.tcp(t, dst, 80, Some("http"), Some(&net.ubuntu.host), (6.5, 0.5), (12.0, 2.0), (1.0, 1.5));
            }
        }
    }

    /// A domain controller other than this device.
    fn dc_peer(&mut self) -> usize {
        let dcs = &self.ctx.fleet.dcs;
        let candidates = || dcs.iter().copied().filter(|&d| d != self.di);
        let n = candidates().count();
        // The first DC is the preferred one (site affinity).
        let k = if n > 1 && self.rng.bool(0.35) { 1 } else { 0 };
        candidates().nth(k).unwrap_or(dcs[0])
    }

    fn windows_server(&mut self) -> usize {
        let f = self.ctx.fleet;
        loop {
            let s = *self.rng.choice(&f.servers);
            if f.devices[s].os.is_windows() {
                return s;
            }
        }
    }

    fn device_ip(&self, di: usize, t: i64) -> u32 {
        self.ctx.fleet.devices[di].ip_at(t)
    }

    fn sport(&mut self) -> i32 {
        let (lo, hi) = self.dev.os.ephemeral_ports();
        self.rng.int(lo, hi) as i32
    }

    fn bytes(&mut self, ln: Ln) -> i64 {
        (self.rng.lognormal(ln.0, ln.1).round() as i64).max(1)
    }

    /// A TCP connection with a realistic share of resets, half-open and
    /// rejected attempts (Zeek `conn_state`).
    #[allow(clippy::too_many_arguments)]
    fn tcp(&mut self, t: i64, dst: u32, dport: i32, service: Option<&'static str>, host: Option<&str>, out: Ln, inn: Ln, dur: Ln) {
        let r = self.rng.uniform();
        let (state, svc, bo, bi, d) = if r < 0.925 {
            ("SF", service, self.bytes(out), self.bytes(inn), Some(self.rng.lognormal(dur.0, dur.1)))
        } else if r < 0.950 {
            ("RSTO", service, self.bytes(out), self.bytes((inn.0 - 1.0, inn.1)), Some(self.rng.lognormal(dur.0, dur.1)))
        } else if r < 0.965 {
            ("RSTR", service, self.bytes(out), self.bytes(inn), Some(self.rng.lognormal(dur.0, dur.1)))
        } else if r < 0.975 {
            ("SH", service, self.bytes(out), 0, Some(self.rng.lognormal(dur.0 - 1.0, dur.1)))
        } else if r < 0.986 {
            ("S0", None, 0, 0, self.rng.bool(0.5).then(|| self.rng.range(0.5, 9.0)))
        } else if r < 0.993 {
            ("REJ", None, 0, 0, Some(self.rng.range(0.0001, 0.003)))
        } else if r < 0.997 {
            ("OTH", service, self.bytes(out), self.bytes(inn), None)
        } else {
            ("S1", service, self.bytes(out), self.bytes(inn), Some(self.rng.lognormal(dur.0, dur.1)))
        };
        self.push(t, dst, dport, "tcp", svc, host, d, bo, bi, state);
    }

    /// A TCP connection that completed normally (periodic services).
    #[allow(clippy::too_many_arguments)]
    fn tcp_ok(&mut self, t: i64, dst: u32, dport: i32, service: Option<&'static str>, host: Option<&str>, out: Ln, inn: Ln, dur: Ln) {
        let (bo, bi, d) = (self.bytes(out), self.bytes(inn), self.rng.lognormal(dur.0, dur.1));
        self.push(t, dst, dport, "tcp", service, host, Some(d), bo, bi, "SF");
    }

    #[allow(clippy::too_many_arguments)]
    fn udp(&mut self, t: i64, dst: u32, dport: i32, service: Option<&'static str>, host: Option<&str>, out: Ln, inn: Ln, dur: Ln) {
        let bo = self.bytes(out);
        if self.rng.bool(0.025) {
            // No answer: Zeek still names the service from the request.
            self.push(t, dst, dport, "udp", service, host, None, bo, 0, "S0");
        } else {
            let (bi, d) = (self.bytes(inn), self.rng.lognormal(dur.0, dur.1));
            self.push(t, dst, dport, "udp", service, host, Some(d), bo, bi, "SF");
        }
    }

    fn udp_fixed(&mut self, t: i64, dst: u32, dport: i32, service: &'static str, bo: i64, bi: i64) {
        let d = self.rng.lognormal(-4.0, 0.5);
        self.push(t, dst, dport, "udp", Some(service), None, Some(d), bo, bi, "SF");
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        t: i64,
        dst: u32,
        dport: i32,
        proto: &'static str,
        service: Option<&'static str>,
        host: Option<&str>,
        duration: Option<f64>,
        bytes_out: i64,
        bytes_in: i64,
        state: &'static str,
    ) {
        let sport = if proto == "udp" && dport == 123 { 123 } else { self.sport() };
        self.out.push(&Flow {
            time_us: t,
            src: self.dev.ip_at(t),
            sport,
            dst,
            dport,
            proto,
            service,
            duration,
            bytes_out: Some(bytes_out),
            bytes_in: Some(bytes_in),
            state: Some(state),
            dst_host: host,
            entity: Some(&self.dev.name),
        });
    }
}

/// Scheduled server work that does not follow a person's day: the nightly
/// backup (SMB pulls from every server, then a multi-gigabyte upload to
/// object storage) and inbound internet traffic to the DMZ web server
/// (customers and scanners).
pub fn server_jobs(ctx: &DayCtx<'_>, out: &mut FlowBatch, rng: &mut Rng) {
    let fleet = ctx.fleet;
    let net = ctx.net;
    let backup = &fleet.devices[fleet.backup];
    let mut t = ctx.day_start_us + rng.int(60, 80) * US_PER_MIN;
    for &s in &fleet.servers {
        if s == fleet.backup {
            continue;
        }
        let size = if s == fleet.file { rng.lognormal(21.0, 0.3) } else { rng.lognormal(18.5, 0.6) };
        let secs = size / rng.range(40e6, 110e6);
        out.push(&Flow {
            time_us: t,
            src: backup.ip_at(t),
            sport: rng.int(49152, 65535) as i32,
            dst: fleet.devices[s].ip_at(t),
            dport: 445,
            proto: "tcp",
            service: Some("smb"),
            duration: Some(secs),
            bytes_out: Some(rng.lognormal(11.0, 0.5) as i64),
            bytes_in: Some(size as i64),
            state: Some("SF"),
            dst_host: None,
            entity: Some(&backup.name),
        });
        t += (secs * 1e6) as i64 + rng.int(5, 60) * US_PER_S;
    }
    let s3 = &net.popular[net.s3];
    let mut t = ctx.day_start_us + rng.int(180, 200) * US_PER_MIN;
    for _ in 0..rng.int(6, 10) {
        let size = rng.lognormal(19.3, 0.3);
        let secs = size / rng.range(25e6, 60e6);
        out.push(&Flow {
            time_us: t,
            src: backup.ip_at(t),
            sport: rng.int(49152, 65535) as i32,
            dst: *rng.choice(&s3.ips),
            dport: 443,
            proto: "tcp",
            service: Some("ssl"),
            duration: Some(secs),
            bytes_out: Some(size as i64),
            bytes_in: Some(rng.lognormal(12.0, 0.4) as i64),
            state: Some("SF"),
            dst_host: Some(&s3.host),
            entity: Some(&backup.name),
        });
        t += rng.int(20, 240) * US_PER_S;
    }

    let web = &fleet.devices[fleet.web];
    let n = rng.poisson(if fleet.is_weekend(ctx.day) { 80.0 } else { 140.0 });
    for _ in 0..n {
        let t = ctx.day_start_us + rng.below(86_400 * US_PER_S as u64) as i64;
        let src = loop {
            let a = rng.next_u64() as u32;
            if is_public(a) && !net.is_known(a) {
                break a;
            }
        };
        let sport = rng.int(1024, 65535) as i32;
        let dst = web.ip_at(t);
        let flow = if rng.bool(0.8) {
            Flow {
                time_us: t,
                src,
                sport,
                dst,
                dport: 443,
                proto: "tcp",
                service: Some("ssl"),
                duration: Some(rng.lognormal(0.5, 1.2)),
                bytes_out: Some(rng.lognormal(6.5, 0.6) as i64),
                bytes_in: Some(rng.lognormal(10.0, 1.2) as i64),
                state: Some("SF"),
                dst_host: Some("www.corp.example.com"),
                entity: None,
            }
        } else {
            let dport = *rng.choice(&[22, 23, 80, 445, 3389, 5900, 8080]);
            let state = if rng.bool(0.6) { "S0" } else { "REJ" };
            Flow {
                time_us: t,
                src,
                sport,
                dst,
                dport,
                proto: "tcp",
                service: None,
                duration: (state == "REJ").then(|| rng.range(0.0001, 0.002)),
                bytes_out: Some(0),
                bytes_in: Some(0),
                state: Some(state),
                dst_host: None,
                entity: None,
            }
        };
        out.push(&flow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_look_like_zeek_and_differ() {
        let mut a = [0u8; 18];
        let mut b = [0u8; 18];
        let x = uid_str(7, 0, &mut a).to_owned();
        let y = uid_str(7, 1, &mut b).to_owned();
        assert_eq!(x.len(), 18);
        assert!(x.starts_with('C') && x.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(x, y);
    }

    #[test]
    fn internet_is_public_and_distinct() {
        let net = Internet::new(42);
        let ips: Vec<u32> = net.all_ips().collect();
        assert!(ips.len() > 300, "pool has {} addresses", ips.len());
        assert!(ips.iter().all(|&a| is_public(a)));
        assert!(!is_public(ip([172, 20, 1, 1])) && is_public(ip([172, 217, 1, 1])));
    }
}
