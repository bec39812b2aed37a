//! The simulated organisation: devices, their users, EDR agents, working
//! hours and the IP address plan (static servers, DHCP-leased workstations).
//!
//! Everything downstream (flows, alerts, incidents, the `assets` table) asks
//! this module *who* a device is and *which address it held at a time*, so
//! that `network_flows.entity`, `edr_alerts.device_ip` and `assets` can never
//! disagree. Laptops sometimes get a new lease in the morning and freed
//! addresses are handed to other laptops on later days, so joining flows to
//! devices by address without time is visibly wrong in this lake.
//!
//! Building happens in two steps: [`Fleet::new`] creates devices and users;
//! the incident casting (see `incidents.rs`) may then pin some devices (keep
//! one address, be online at a given time, be always on); finally
//! [`Fleet::plan`] draws every device's day plans and DHCP leases.

use std::collections::VecDeque;

use chrono::{Datelike, NaiveDate};

use super::rng::{Cumulative, Rng};
use super::DemoSpec;

/// Active Directory DNS domain of the simulated company.
pub const DOMAIN: &str = "corp.example.com";
/// NetBIOS domain, as it appears in `DOMAIN\user`.
pub const NETBIOS_DOMAIN: &str = "CORP";

/// Microseconds per second / minute / day.
pub const US_PER_S: i64 = 1_000_000;
pub const US_PER_MIN: i64 = 60 * US_PER_S;
pub const US_PER_DAY: i64 = 86_400 * US_PER_S;

/// Labels for derived random streams (see [`Rng::derive`]).
pub(crate) mod stream {
    pub const FLEET: u64 = 1;
    pub const PLAN: u64 = 2;
    pub const LEASES: u64 = 3;
    pub const NET: u64 = 4;
    pub const FLOWS: u64 = 5;
    pub const ALERTS: u64 = 6;
    pub const CAST: u64 = 7;
    pub const INCIDENT: u64 = 8;
    pub const NOISE: u64 = 9;
    pub const SERVER_JOBS: u64 = 10;
}

/// The EDR products in the lake, with their `vendor` column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Vendor {
    Mde,
    CrowdStrike,
    SentinelOne,
}

impl Vendor {
    /// The `edr_alerts.vendor` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Mde => "mde",
            Vendor::CrowdStrike => "crowdstrike",
            Vendor::SentinelOne => "sentinelone",
        }
    }
}

/// What a device is for; decides its traffic mix and schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Workstation,
    DomainController,
    FileServer,
    Proxy,
    WebServer,
    AppServer,
    SqlServer,
    BackupServer,
}

/// Operating system, as the EDR agents report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Windows11,
    Windows10,
    WindowsServer2022,
    WindowsServer2019,
    Ubuntu2204,
}

impl Os {
    pub fn is_windows(self) -> bool {
        !matches!(self, Os::Ubuntu2204)
    }

    /// Ephemeral source-port range of the OS's TCP/IP stack.
    pub fn ephemeral_ports(self) -> (i64, i64) {
        if self.is_windows() {
            (49152, 65535)
        } else {
            (32768, 60999)
        }
    }

    /// Product name as consoles show it.
    pub fn display(self) -> &'static str {
        match self {
            Os::Windows11 => "Windows 11",
            Os::Windows10 => "Windows 10",
            Os::WindowsServer2022 => "Windows Server 2022",
            Os::WindowsServer2019 => "Windows Server 2019",
            Os::Ubuntu2204 => "Ubuntu 22.04.4 LTS",
        }
    }

    /// Build number (`osBuild` in Defender evidence).
    pub fn build(self) -> i64 {
        match self {
            Os::Windows11 => 22631,
            Os::Windows10 => 19045,
            Os::WindowsServer2022 => 20348,
            Os::WindowsServer2019 => 17763,
            Os::Ubuntu2204 => 0,
        }
    }
}

/// The ids each EDR vendor knows this device by.
#[derive(Debug, Clone)]
pub struct VendorIds {
    /// Defender `mdeDeviceId` / `machineId`: 40 hex digits.
    pub mde_machine_id: String,
    /// CrowdStrike agent id (`aid`, `device.device_id`): 32 hex digits.
    pub cs_aid: String,
    /// SentinelOne `agentRealtimeInfo.agentId`: a numeric string.
    pub s1_agent_id: String,
    /// SentinelOne `agentUuid`: 32 hex digits.
    pub s1_uuid: String,
}

/// One address held by a device over `[from_us, to_us)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub ip: u32,
    pub from_us: i64,
    /// `None` while still held at the end of the lake.
    pub to_us: Option<i64>,
    /// `dhcp` for workstation leases, `edr` for statically addressed servers.
    pub source: &'static str,
}

/// A person with a workstation.
#[derive(Debug, Clone)]
pub struct User {
    /// sAMAccountName, e.g. `anna.keller`.
    pub account: String,
    /// Administrative account for server logons, for IT staff.
    pub admin_account: Option<String>,
    pub sid: String,
}

/// A device of the fleet.
#[derive(Debug, Clone)]
pub struct Device {
    /// Canonical entity: lower-case short host name, e.g. `ws-0001`.
    pub name: String,
    /// Host name as Windows reports it, e.g. `WS-0001`.
    pub host: String,
    /// `WS-0001.corp.example.com`.
    pub fqdn: String,
    pub role: Role,
    pub os: Os,
    /// One EDR product, two on a few devices mid-migration.
    pub vendors: Vec<Vendor>,
    pub ids: VendorIds,
    pub mac: String,
    /// Index into [`Fleet::users`] (workstations only).
    pub user: Option<usize>,
    /// IT staff: RDP/WinRM/SMB to servers are routine for them.
    pub admin: bool,
    /// A desktop left on overnight; never roams, so keeps its address.
    pub always_on: bool,
    /// A laptop whose DHCP lease may change between days.
    pub roams: bool,
    /// Relative traffic volume of this device (log-normal around 1).
    pub activity: f64,
    /// Mean start / end of the working day, minutes after midnight UTC.
    pub start_mean_min: f64,
    pub end_mean_min: f64,
    /// Period of the fleet-wide Windows telemetry poll, seconds.
    pub telemetry_period_s: f64,
    /// Period of the EDR agent's cloud check-in, seconds.
    pub edr_period_s: f64,
    /// When the EDR agent was onboarded (µs since epoch).
    pub first_seen_us: i64,
    /// `(day, from_min, to_min)`: the device must be in use then (incidents).
    pub pinned: Vec<(u32, u32, u32)>,
    /// Address plan, sorted by time; filled by [`Fleet::plan`].
    pub leases: Vec<Lease>,
}

impl Device {
    /// The address this device held at `t_us`.
    ///
    /// Leases are contiguous from before the lake starts to its end, so there
    /// always is one; the first lease covers anything earlier.
    #[inline]
    pub fn ip_at(&self, t_us: i64) -> u32 {
        // Few leases per device: a reverse linear scan beats a binary search.
        for l in self.leases.iter().rev() {
            if l.from_us <= t_us {
                return l.ip;
            }
        }
        self.leases[0].ip
    }

    pub fn is_server(&self) -> bool {
        self.role != Role::Workstation
    }
}

/// What a device does on one day. Minutes are after midnight UTC (the
/// company works on UK time, which is UTC in November).
#[derive(Debug, Clone, Copy, Default)]
pub struct DayPlan {
    /// `[from, to)` minutes the device is switched on.
    pub powered: Option<(u32, u32)>,
    /// `[from, to)` minutes a person is working on it (servers: business hours).
    pub session: Option<(u32, u32)>,
}

impl DayPlan {
    /// Per-minute activity weights for sampling event times: heavy in the
    /// session with a morning peak and a lunch dip, a trickle when powered but
    /// idle, nothing when off. `None` when the device is off all day.
    pub fn minute_profile(&self, server: bool) -> Option<Cumulative> {
        let (on, off) = self.powered?;
        let idle = if server { 0.35 } else { 0.05 };
        Some(Cumulative::new((0..1440u32).map(|m| {
            if m < on || m >= off {
                return 0.0;
            }
            match self.session {
                Some((s, e)) if m >= s && m < e => {
                    let h = m as f64 / 60.0;
                    let shape = if (12.0..13.0).contains(&h) {
                        0.6
                    } else if (9.0..11.5).contains(&h) {
                        1.25
                    } else if (13.5..16.0).contains(&h) {
                        1.15
                    } else {
                        1.0
                    };
                    if !server && m + 45 >= e {
                        shape * 0.8
                    } else {
                        shape
                    }
                }
                _ => idle,
            }
        })))
    }

    /// Minutes in session and powered-but-idle.
    pub fn minutes(&self) -> (u32, u32) {
        let powered = self.powered.map_or(0, |(a, b)| b - a);
        let session = self.session.map_or(0, |(a, b)| b - a);
        (session, powered.saturating_sub(session))
    }
}

/// Ids of the simulated company in each vendor's cloud.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Entra tenant id (Defender `tenantId`, `?tid=` in console links).
    pub mde_tenant_id: String,
    /// CrowdStrike customer id (first part of `composite_id`).
    pub cs_cid: String,
    /// SentinelOne management console host.
    pub s1_console: &'static str,
    pub s1_account_id: String,
    pub s1_site_id: String,
    pub s1_group_workstations: String,
    pub s1_group_servers: String,
    /// The company's public egress (NAT) address.
    pub egress_ip: u32,
}

/// The whole simulated organisation.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub devices: Vec<Device>,
    pub users: Vec<User>,
    /// `plans[device][day]`, filled by [`Fleet::plan`].
    pub plans: Vec<Vec<DayPlan>>,
    pub workstations: Vec<usize>,
    pub servers: Vec<usize>,
    pub dcs: Vec<usize>,
    pub file: usize,
    pub proxy: usize,
    pub web: usize,
    pub app: usize,
    pub sql: usize,
    pub backup: usize,
    /// Network printers (not EDR-managed, so not in `assets`).
    pub printers: Vec<u32>,
    pub tenant: Tenant,
    /// Midnight UTC of the first day, µs since epoch.
    pub start_us: i64,
    pub days: u32,
    pub start: NaiveDate,
}

/// The fixed server estate: name, role, OS, EDR, static address.
const SERVERS: &[(&str, Role, Os, Vendor, [u8; 4])] = &[
    ("srv-dc01", Role::DomainController, Os::WindowsServer2022, Vendor::Mde, [10, 20, 1, 10]),
    ("srv-dc02", Role::DomainController, Os::WindowsServer2022, Vendor::Mde, [10, 20, 1, 11]),
    ("srv-file01", Role::FileServer, Os::WindowsServer2019, Vendor::CrowdStrike, [10, 20, 1, 20]),
    ("srv-proxy01", Role::Proxy, Os::Ubuntu2204, Vendor::CrowdStrike, [10, 20, 1, 30]),
    ("srv-web01", Role::WebServer, Os::Ubuntu2204, Vendor::SentinelOne, [10, 20, 2, 10]),
    ("srv-app01", Role::AppServer, Os::WindowsServer2022, Vendor::Mde, [10, 20, 1, 40]),
    ("srv-sql01", Role::SqlServer, Os::WindowsServer2019, Vendor::CrowdStrike, [10, 20, 1, 41]),
    ("srv-backup01", Role::BackupServer, Os::WindowsServer2022, Vendor::SentinelOne, [10, 20, 1, 50]),
];

/// Smallest fleet the generator supports: the servers plus a handful of
/// workstations.
pub const MIN_DEVICES: usize = SERVERS.len() + 4;

const FIRST_NAMES: &[&str] = &[
    "anna", "ben", "carla", "daniel", "elena", "felix", "grace", "hugo", "ines", "jonas",
    "katrin", "liam", "maria", "noah", "olivia", "paul", "quinn", "rosa", "samuel", "tara",
    "umar", "vera", "william", "xenia", "yusuf", "zoe", "adam", "bianca", "chris", "diana",
    "emil", "fatima", "george", "hannah", "ivan", "julia", "kevin", "laura", "marco", "nina",
];
const LAST_NAMES: &[&str] = &[
    "keller", "smith", "novak", "fischer", "garcia", "brown", "meyer", "rossi", "jones",
    "schmidt", "khan", "walker", "bauer", "lopez", "wilson", "weber", "silva", "taylor",
    "wagner", "moreau", "evans", "hoffmann", "costa", "clarke", "becker", "nowak", "hughes",
    "richter", "santos", "baker", "wolf", "dubois", "turner", "koch", "ferrari", "hall",
    "lang", "jensen", "morgan", "berg",
];
const MAC_OUIS: &[&str] = &["3c:52:82", "f4:39:09", "a4:bb:6d", "98:fa:9b", "c8:5b:76", "54:05:db"];

/// `a.b.c.d` as a `u32`.
pub const fn ip(o: [u8; 4]) -> u32 {
    u32::from_be_bytes(o)
}

/// Dotted-quad text of an IPv4 address.
pub fn ip_string(ip: u32) -> String {
    let mut buf = [0u8; 15];
    ip_str(ip, &mut buf).to_owned()
}

/// Formats `ip` into `buf` without allocating.
#[inline]
pub fn ip_str(ip: u32, buf: &mut [u8; 15]) -> &str {
    let mut n = 0;
    for (i, o) in ip.to_be_bytes().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + (o / 10) % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    std::str::from_utf8(&buf[..n]).expect("ASCII digits and dots")
}

/// Address of slot `i` of the workstation DHCP scope: 10.20.16.10 onwards,
/// 240 hosts per /24, spilling into 10.21.x.y for fleets beyond ~57k.
pub fn dhcp_slot(i: usize) -> u32 {
    let third = 16 + i / 240;
    ip([10, 20 + (third / 256) as u8, (third % 256) as u8, (10 + i % 240) as u8])
}

impl Fleet {
    /// Devices, users and vendor tenants for `spec` (no day plans yet).
    pub fn new(spec: &DemoSpec) -> Fleet {
        assert!(
            spec.devices >= MIN_DEVICES,
            "DemoSpec.devices is {}, the demo fleet needs at least {MIN_DEVICES} (8 servers + 4 workstations)",
            spec.devices
        );
        assert!(spec.days >= 1, "DemoSpec.days must be at least 1");
        let mut rng = Rng::derive(spec.seed, &[stream::FLEET]);
        let start_us = spec.start.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros();

        let tenant = Tenant {
            mde_tenant_id: uuid_string(&mut rng),
            cs_cid: rng.hex(32),
            s1_console: "usea1-corp.sentinelone.net",
            s1_account_id: rng.digits(19),
            s1_site_id: rng.digits(19),
            s1_group_workstations: rng.digits(19),
            s1_group_servers: rng.digits(19),
            egress_ip: ip([81, 2, 69, 160]),
        };

        let n_ws = spec.devices - SERVERS.len();
        let users = make_users(&mut rng, n_ws);

        // Vendor quotas (45% Defender, 35% CrowdStrike, 20% SentinelOne),
        // shuffled, then a few Defender devices get a second agent.
        let n_mde = (n_ws as f64 * 0.45).round() as usize;
        let n_cs = (n_ws as f64 * 0.35).round() as usize;
        let mut ws_vendors: Vec<Vec<Vendor>> = (0..n_ws)
            .map(|i| {
                vec![if i < n_mde {
                    Vendor::Mde
                } else if i < n_mde + n_cs {
                    Vendor::CrowdStrike
                } else {
                    Vendor::SentinelOne
                }]
            })
            .collect();
        rng.shuffle(&mut ws_vendors);
        let n_dual = (n_ws / 10).max(4);
        let mut duals = 0;
        for v in ws_vendors.iter_mut() {
            if duals == n_dual {
                break;
            }
            if v[0] == Vendor::Mde {
                v.push(if duals % 2 == 0 { Vendor::CrowdStrike } else { Vendor::SentinelOne });
                duals += 1;
            }
        }

        let mut devices = Vec::with_capacity(spec.devices);
        for &(name, role, os, vendor, addr) in SERVERS {
            let mut d = new_device(&mut rng, name.to_owned(), role, os, vec![vendor], start_us);
            d.always_on = true;
            d.activity = match role {
                Role::DomainController => 3.0,
                Role::Proxy => 4.0,
                Role::FileServer | Role::WebServer => 1.5,
                Role::AppServer => 1.2,
                _ => 1.0,
            };
            d.leases.push(Lease { ip: ip(addr), from_us: d.first_seen_us, to_us: None, source: "edr" });
            devices.push(d);
        }
        let width = if n_ws > 9999 { 5 } else { 4 };
        for (i, vendors) in ws_vendors.into_iter().enumerate() {
            let name = format!("ws-{:0width$}", i + 1);
            let os = if rng.bool(0.8) { Os::Windows11 } else { Os::Windows10 };
            let mut d = new_device(&mut rng, name, Role::Workstation, os, vendors, start_us);
            d.user = Some(i);
            d.admin = users[i].admin_account.is_some();
            d.always_on = rng.bool(0.25);
            d.roams = !d.always_on;
            d.activity = rng.lognormal(0.0, 0.35);
            d.start_mean_min = rng.normal(8.3 * 60.0, 35.0).clamp(390.0, 600.0);
            d.end_mean_min = (d.start_mean_min + rng.normal(9.0 * 60.0, 30.0)).clamp(930.0, 1200.0);
            devices.push(d);
        }

        let by_role = |r: Role| devices.iter().position(|d| d.role == r).expect("server present");
        let workstations: Vec<usize> = (SERVERS.len()..devices.len()).collect();
        let servers: Vec<usize> = (0..SERVERS.len()).collect();
        let dcs = devices.iter().enumerate().filter(|(_, d)| d.role == Role::DomainController).map(|(i, _)| i).collect();
        Fleet {
            file: by_role(Role::FileServer),
            proxy: by_role(Role::Proxy),
            web: by_role(Role::WebServer),
            app: by_role(Role::AppServer),
            sql: by_role(Role::SqlServer),
            backup: by_role(Role::BackupServer),
            dcs,
            workstations,
            servers,
            printers: (10..14).map(|h| ip([10, 20, 5, h])).collect(),
            devices,
            users,
            plans: Vec::new(),
            tenant,
            start_us,
            days: spec.days,
            start: spec.start,
        }
    }

    /// Midnight UTC of day `day`, µs.
    pub fn day_start_us(&self, day: u32) -> i64 {
        self.start_us + day as i64 * US_PER_DAY
    }

    /// The lake's end (midnight after the last day), µs.
    pub fn end_us(&self) -> i64 {
        self.day_start_us(self.days)
    }

    /// The date of day `day`.
    pub fn date(&self, day: u32) -> NaiveDate {
        self.start + chrono::Days::new(day as u64)
    }

    pub fn is_weekend(&self, day: u32) -> bool {
        self.date(day).weekday().num_days_from_monday() >= 5
    }

    /// Draws every device's day plans, then the workstations' DHCP leases.
    /// Call once, after incident casting has pinned what it needs.
    pub fn plan(&mut self, seed: u64) {
        let days = self.days;
        let mut plans = Vec::with_capacity(self.devices.len());
        for (di, d) in self.devices.iter().enumerate() {
            let mut rng = Rng::derive(seed, &[stream::PLAN, di as u64]);
            // A few people take a block of days off.
            let absent = if d.role == Role::Workstation && rng.bool(0.08) {
                let from = rng.below(days as u64) as u32;
                from..from + 2 + rng.below(3) as u32
            } else {
                0..0
            };
            let mut v = Vec::with_capacity(days as usize);
            for day in 0..days {
                let weekend = self.is_weekend(day);
                let mut plan = if d.is_server() {
                    DayPlan { powered: Some((0, 1440)), session: (!weekend).then_some((7 * 60, 19 * 60)) }
                } else {
                    let session = if weekend {
                        rng.bool(0.08).then(|| {
                            let s = rng.int(9 * 60, 15 * 60) as u32;
                            (s, s + rng.int(45, 180) as u32)
                        })
                    } else if absent.contains(&day) || rng.bool(0.04) {
                        None
                    } else {
                        let s = rng.normal(d.start_mean_min, 20.0).clamp(360.0, 660.0) as u32;
                        let e = rng.normal(d.end_mean_min, 35.0).clamp(s as f64 + 240.0, 1380.0) as u32;
                        Some((s, e))
                    };
                    DayPlan { powered: None, session }
                };
                for &(pd, from, to) in &d.pinned {
                    if pd == day {
                        plan.session = Some(match plan.session {
                            Some((s, e)) => (s.min(from), e.max(to)),
                            None => (from, to),
                        });
                    }
                }
                if !d.is_server() {
                    plan.powered = if d.always_on {
                        Some((0, 1440))
                    } else {
                        plan.session.map(|(s, e)| {
                            (s.saturating_sub(rng.int(2, 15) as u32), (e + rng.int(2, 20) as u32).min(1440))
                        })
                    };
                }
                v.push(plan);
            }
            plans.push(v);
        }
        self.plans = plans;
        self.plan_leases(seed);
    }

    /// DHCP: every workstation starts with a lease from before the lake; on a
    /// working day a roaming laptop sometimes gets a different address when it
    /// powers on. Released addresses go to the back of the free list and are
    /// reused only from the next day on, so two devices never hold one address
    /// at the same time, but an address does change hands within the lake.
    fn plan_leases(&mut self, seed: u64) {
        let mut rng = Rng::derive(seed, &[stream::LEASES]);
        let n_ws = self.workstations.len();
        let pool = n_ws + (n_ws / 12).max(4);
        let mut slots: Vec<usize> = (0..pool).collect();
        rng.shuffle(&mut slots);
        let mut free: VecDeque<(u32, i64)> = slots[n_ws..].iter().map(|&s| (dhcp_slot(s), -1)).collect();
        for (k, &di) in self.workstations.iter().enumerate() {
            let back = rng.int(US_PER_DAY, 25 * US_PER_DAY) + rng.int(0, US_PER_DAY);
            self.devices[di].leases = vec![Lease {
                ip: dhcp_slot(slots[k]),
                from_us: self.start_us - back,
                to_us: None,
                source: "dhcp",
            }];
        }
        for day in 1..self.days {
            for &di in &self.workstations {
                let Some((on, _)) = self.plans[di][day as usize].powered else { continue };
                let d = &mut self.devices[di];
                if !d.roams || !rng.bool(0.08) {
                    continue;
                }
                let Some(pos) = free.iter().position(|&(_, released)| released < day as i64) else { continue };
                let (new_ip, _) = free.remove(pos).expect("position is valid");
                let at = self.start_us + day as i64 * US_PER_DAY + on as i64 * US_PER_MIN;
                let last = d.leases.last_mut().expect("initial lease");
                last.to_us = Some(at);
                free.push_back((last.ip, day as i64));
                d.leases.push(Lease { ip: new_ip, from_us: at, to_us: None, source: "dhcp" });
            }
        }
    }
}

fn new_device(rng: &mut Rng, name: String, role: Role, os: Os, vendors: Vec<Vendor>, start_us: i64) -> Device {
    let host = name.to_ascii_uppercase();
    let fqdn = format!("{host}.{DOMAIN}");
    let ids = VendorIds {
        mde_machine_id: rng.hex(40),
        cs_aid: rng.hex(32),
        s1_agent_id: rng.digits(19),
        s1_uuid: rng.hex(32),
    };
    let mut mac = String::from(*rng.choice(MAC_OUIS));
    for _ in 0..3 {
        mac.push(':');
        rng.hex_into(&mut mac, 2);
    }
    Device {
        name,
        host,
        fqdn,
        role,
        os,
        vendors,
        ids,
        mac,
        user: None,
        admin: false,
        always_on: false,
        roams: false,
        activity: 1.0,
        start_mean_min: 7.0 * 60.0,
        end_mean_min: 19.0 * 60.0,
        telemetry_period_s: rng.range(300.0, 900.0),
        edr_period_s: rng.range(900.0, 1800.0),
        first_seen_us: start_us - rng.int(60, 400) * US_PER_DAY - rng.int(0, US_PER_DAY),
        pinned: Vec::new(),
        leases: Vec::new(),
    }
}

fn make_users(rng: &mut Rng, n: usize) -> Vec<User> {
    let mut combos: Vec<(usize, usize)> =
        (0..FIRST_NAMES.len()).flat_map(|f| (0..LAST_NAMES.len()).map(move |l| (f, l))).collect();
    rng.shuffle(&mut combos);
    let domain_sid = format!(
        "S-1-5-21-{}-{}-{}",
        rng.int(1_000_000_000, 3_999_999_999),
        rng.int(1_000_000_000, 3_999_999_999),
        rng.int(1_000_000_000, 3_999_999_999)
    );
    // About one in twelve people are IT staff, at least two.
    let n_admin = (n / 12).max(2);
    let stride = (n / n_admin).max(1);
    (0..n)
        .map(|i| {
            let (f, l) = combos[i % combos.len()];
            let suffix = if i >= combos.len() { (i / combos.len() + 1).to_string() } else { String::new() };
            let account = format!("{}.{}{}", FIRST_NAMES[f], LAST_NAMES[l], suffix);
            User {
                admin_account: (i % stride == 1 && i / stride < n_admin).then(|| format!("adm-{account}")),
                sid: format!("{domain_sid}-{}", 1105 + i),
                account,
            }
        })
        .collect()
}

/// A random UUID in canonical text form.
pub fn uuid_string(rng: &mut Rng) -> String {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    b[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    // Version 4, RFC 4122 variant, so it looks like what vendors emit.
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    uuid::Uuid::from_bytes(b).hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_formatting() {
        assert_eq!(ip_string(ip([10, 20, 1, 10])), "10.20.1.10");
        assert_eq!(ip_string(ip([255, 0, 9, 100])), "255.0.9.100");
        assert_eq!(ip_string(dhcp_slot(0)), "10.20.16.10");
        assert_eq!(ip_string(dhcp_slot(241)), "10.20.17.11");
    }

    #[test]
    fn uuid_is_v4_shaped() {
        let u = uuid_string(&mut Rng::new(3));
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    }

    #[test]
    fn leases_never_overlap_per_address() {
        let spec = DemoSpec::demo(5);
        let mut fleet = Fleet::new(&spec);
        fleet.plan(spec.seed);
        let mut all: Vec<(u32, i64, i64)> = fleet
            .devices
            .iter()
            .flat_map(|d| d.leases.iter().map(|l| (l.ip, l.from_us, l.to_us.unwrap_or(i64::MAX))))
            .collect();
        all.sort();
        for w in all.windows(2) {
            if w[0].0 == w[1].0 {
                assert!(w[0].2 <= w[1].1, "overlap on {}", ip_string(w[0].0));
            }
        }
        assert!(fleet.devices.iter().any(|d| d.leases.len() > 1), "some laptop should roam");
        assert!(fleet.devices.iter().filter(|d| d.admin).count() >= 2);
    }
}
