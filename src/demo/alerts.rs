//! EDR alerts from three vendors, normalised into `edr_alerts` *and* kept as
//! the vendor's own JSON in `raw`, exactly as the connectors would land them.
//!
//! Each vendor has a catalogue of realistic alert kinds (Defender titles,
//! CrowdStrike `display_name`s with tactic/technique, SentinelOne threats
//! named after a file). Background alerts follow device habits: a device
//! keeps raising the same few kinds (an admin's scripts trip the PowerShell
//! rule every week), plus a Zipf-ish draw from the catalogue, so per-device
//! and fleet rarity are meaningful. Some kinds are never background: they
//! only appear when an incident plants them or as a fleet's routine noise.
//!
//! The normalised columns are derived from the same values that go into the
//! raw JSON, following the rules in `lake.md` (severity bands, status
//! mapping, ATT&CK ids only), so a test can re-normalise `raw` and compare.
//! Alert times have millisecond precision, as the vendors report first
//! activity; update times have microseconds.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, Int32Builder, ListBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field};
use chrono::DateTime;
use serde_json::{json, Value};

use super::fleet::{ip_string, uuid_string, Device, Fleet, Vendor, NETBIOS_DOMAIN, US_PER_MIN, US_PER_S};
use super::rng::{mix64, Rng};
use crate::lake::schema::edr_alerts;

/// Normalised severity (OCSF numbering in `severity_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Informational = 1,
    Low = 2,
    Medium = 3,
    High = 4,
    Critical = 5,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// CrowdStrike's 0-100 score bands, as `lake.md` normalises them.
    pub const fn from_crowdstrike(score: i64) -> Self {
        match score {
            90.. => Severity::Critical,
            70..=89 => Severity::High,
            50..=69 => Severity::Medium,
            20..=49 => Severity::Low,
            _ => Severity::Informational,
        }
    }

    /// SentinelOne threats carry a confidence level, not a severity.
    pub const fn from_sentinelone(confidence: &str) -> Self {
        if const_eq(confidence, "malicious") {
            Severity::High
        } else if const_eq(confidence, "suspicious") {
            Severity::Medium
        } else {
            Severity::Low
        }
    }
}

/// String equality usable in `const fn` (the catalogues are constants).
const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Triage state of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    New,
    InProgress,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
        }
    }
}

/// Vendor-specific facts of an alert kind.
#[derive(Debug, Clone, Copy)]
pub enum Detail {
    /// Defender: `detectionSource`.
    Mde { detection_source: &'static str },
    /// CrowdStrike: internal `name`, tactic/technique with ids, 0-100 score.
    Cs {
        name: &'static str,
        tactic_id: &'static str,
        technique: &'static str,
        technique_id: &'static str,
        score: i64,
        scenario: &'static str,
        objective: &'static str,
    },
    /// SentinelOne: classification, confidence level and indicator category.
    S1 { classification: &'static str, confidence: &'static str, indicator: &'static str },
}

/// One kind of alert a vendor raises.
#[derive(Debug, Clone, Copy)]
pub struct AlertKind {
    pub vendor: Vendor,
    /// Defender `title` / CrowdStrike `display_name` / SentinelOne `threatName`.
    pub title: &'static str,
    /// Normalised `category`: Defender category, CrowdStrike tactic,
    /// SentinelOne indicator tactic (else classification).
    pub category: &'static str,
    pub severity: Severity,
    /// ATT&CK ids only (vendor-private ids are not listed here).
    pub techniques: &'static [&'static str],
    /// Image name of the acting process.
    pub process: &'static str,
    pub parent: &'static str,
    /// May contain `{user}`.
    pub command_line: &'static str,
    /// `(directory, name)` of the detected file, if the alert is about one.
    pub file: Option<(&'static str, &'static str)>,
    pub description: &'static str,
    /// Relative frequency as background noise; 0 = never background.
    pub weight: f64,
    /// Runs as SYSTEM (root on Linux) rather than the logged-on user.
    pub system: bool,
    /// A Linux detection (only Linux devices raise it; Windows ones only Windows).
    pub linux: bool,
    pub detail: Detail,
}

#[allow(clippy::too_many_arguments)]
const fn mde(
    title: &'static str,
    category: &'static str,
    severity: Severity,
    techniques: &'static [&'static str],
    process: &'static str,
    parent: &'static str,
    command_line: &'static str,
    file: Option<(&'static str, &'static str)>,
    detection_source: &'static str,
    weight: f64,
    description: &'static str,
) -> AlertKind {
    AlertKind {
        vendor: Vendor::Mde,
        title,
        category,
        severity,
        techniques,
        process,
        parent,
        command_line,
        file,
        description,
        weight,
        system: false,
        linux: false,
        detail: Detail::Mde { detection_source },
    }
}

#[allow(clippy::too_many_arguments)]
const fn cs(
    display_name: &'static str,
    name: &'static str,
    tactic: &'static str,
    tactic_id: &'static str,
    technique: &'static str,
    technique_id: &'static str,
    score: i64,
    process: &'static str,
    parent: &'static str,
    command_line: &'static str,
    file: Option<(&'static str, &'static str)>,
    weight: f64,
    description: &'static str,
) -> AlertKind {
    AlertKind {
        vendor: Vendor::CrowdStrike,
        title: display_name,
        category: tactic,
        severity: Severity::from_crowdstrike(score),
        // ATT&CK ids are attached with `with_techniques`; CrowdStrike's own
        // `CST…` ids are not ATT&CK and normalise to an empty list.
        techniques: &[],
        process,
        parent,
        command_line,
        file,
        description,
        weight,
        system: false,
        linux: false,
        detail: Detail::Cs {
            name,
            tactic_id,
            technique,
            technique_id,
            score,
            scenario: if tactic_id.as_bytes()[0] == b'C' { "NGAV" } else { "suspicious_activity" },
            objective: "Falcon Detection Method",
        },
    }
}

#[allow(clippy::too_many_arguments)]
const fn s1(
    threat_name: &'static str,
    classification: &'static str,
    confidence: &'static str,
    tactic: Option<&'static str>,
    techniques: &'static [&'static str],
    indicator: &'static str,
    process: &'static str,
    parent: &'static str,
    command_line: &'static str,
    dir: &'static str,
    weight: f64,
    description: &'static str,
) -> AlertKind {
    AlertKind {
        vendor: Vendor::SentinelOne,
        title: threat_name,
        category: match tactic {
            Some(t) => t,
            None => classification,
        },
        severity: Severity::from_sentinelone(confidence),
        techniques,
        process,
        parent,
        command_line,
        file: Some((dir, threat_name)),
        description,
        weight,
        system: false,
        linux: false,
        detail: Detail::S1 { classification, confidence, indicator },
    }
}

const fn system(mut k: AlertKind) -> AlertKind {
    k.system = true;
    k
}

const fn linux(mut k: AlertKind) -> AlertKind {
    k.linux = true;
    k.system = true;
    k
}

const fn with_techniques(mut k: AlertKind, t: &'static [&'static str]) -> AlertKind {
    k.techniques = t;
    k
}

use Severity::*;

const DL: &str = r"C:\Users\{user}\Downloads";
const TEMP: &str = r"C:\Users\{user}\AppData\Local\Temp";

/// Defender titles (as in the Defender portal and Graph `alerts_v2`).
pub static MDE_KINDS: &[AlertKind] = &[
    mde("Suspicious PowerShell command line", "Execution", Medium, &["T1059.001"], "powershell.exe", "cmd.exe",
        r"powershell.exe -NoProfile -ExecutionPolicy Bypass -WindowStyle Hidden -File C:\ProgramData\IT\Scripts\Get-Inventory.ps1",
        None, "microsoftDefenderForEndpoint", 6.0,
        "A suspicious PowerShell command line was observed. Attackers use PowerShell to download and run payloads in memory."),
    mde("'Presenoker' unwanted software was detected", "Malware", Low, &[], "msedge.exe", "explorer.exe",
        r#""C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe""#, Some((DL, "PDFConverterSetup.exe")),
        "antivirus", 4.0, "Potentially unwanted application 'Presenoker' was detected and quarantined."),
    mde("Suspicious process discovery", "Discovery", Low, &["T1057"], "tasklist.exe", "cmd.exe",
        "tasklist /v /fo csv", None, "microsoftDefenderForEndpoint", 4.0,
        "A process enumerated running processes in a way that resembles attacker reconnaissance."),
    mde("Anomalous account lookups", "Discovery", Low, &["T1087.002"], "net.exe", "cmd.exe",
        r#"net group "Domain Admins" /domain"#, None, "microsoftDefenderForEndpoint", 3.0,
        "Domain groups and accounts were enumerated in an unusual way."),
    mde("Suspicious sequence of exploration activities", "Discovery", Low, &["T1016", "T1033", "T1082"], "cmd.exe",
        "explorer.exe", r#"cmd.exe /c "ipconfig /all & whoami /all & systeminfo""#, None, "microsoftDefenderForEndpoint",
        3.0, "A sequence of system and network discovery commands ran in short succession."),
    mde("An active 'Wacatac' malware was blocked", "Malware", Medium, &[], "explorer.exe", "userinit.exe",
        r"C:\Windows\Explorer.EXE", Some((DL, "invoice_1127.zip")), "antivirus", 1.5,
        "Microsoft Defender Antivirus blocked 'Trojan:Win32/Wacatac' while it was being written to disk."),
    mde("Suspicious file dropped and launched", "Execution", Medium, &["T1204.002"], "updater_x64.exe", "outlook.exe",
        r"C:\Users\{user}\AppData\Local\Temp\updater_x64.exe /silent", Some((TEMP, "updater_x64.exe")),
        "microsoftDefenderForEndpoint", 2.0, "A file was dropped by an email client and executed shortly after."),
    mde("Suspicious connection blocked by network protection", "CommandAndControl", Medium, &["T1071.001"], "msedge.exe",
        "explorer.exe", r#""C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --single-argument"#, None,
        "smartScreen", 2.0, "Network protection blocked a connection to a low-reputation site."),
    mde("Unexpected behavior observed by a process ran with no command line arguments", "DefenseEvasion", Medium,
        &["T1055"], "rundll32.exe", "svchost.exe", "rundll32.exe", None, "microsoftDefenderForEndpoint", 1.5,
        "A process normally started with arguments ran without any and behaved unexpectedly."),
    mde("Suspicious WMI process creation", "Execution", Medium, &["T1047"], "WmiPrvSE.exe", "svchost.exe",
        r#"wmic.exe process call create "C:\Windows\CCM\ccmexec.exe -refresh""#, None, "microsoftDefenderForEndpoint",
        1.5, "A process was created through WMI, a technique also used for remote execution."),
    mde("Use of living-off-the-land binary to run malicious code", "DefenseEvasion", Medium, &["T1218.011"],
        "rundll32.exe", "cmd.exe", r"rundll32.exe C:\Users\Public\Documents\print_helper.dll,DllRegisterServer",
        Some((r"C:\Users\Public\Documents", "print_helper.dll")), "microsoftDefenderForEndpoint", 1.0,
        "A signed Windows binary was used to load a DLL from a user-writable folder."),
    mde("Attempt to turn off Microsoft Defender Antivirus protection", "DefenseEvasion", Medium, &["T1562.001"],
        "powershell.exe", "cmd.exe", "powershell.exe Set-MpPreference -DisableRealtimeMonitoring $true", None,
        "microsoftDefenderForEndpoint", 0.8, "A command tried to disable real-time protection."),
    // Routine noise only (a bundler some people keep re-running): never background.
    mde("'BundleInstaller' unwanted software was detected", "Malware", Low, &[], "BundleInstaller_Setup.exe",
        "explorer.exe", r"C:\Users\{user}\Downloads\BundleInstaller_Setup.exe /S", Some((DL, "BundleInstaller_Setup.exe")),
        "antivirus", 0.0, "Potentially unwanted application 'BundleInstaller' was detected and quarantined."),
    // Routine noise on devices running a backup agent, and incident material: never background.
    system(mde("Suspicious Task Scheduler activity", "Persistence", Low, &["T1053.005"], "schtasks.exe",
        "VeeamAgent.exe",
        r#"schtasks.exe /create /tn "Veeam\BackupAgentHealth" /tr "C:\Program Files\Veeam\Endpoint Backup\Veeam.EndPoint.Tray.exe -health" /sc daily /st 02:00 /f"#,
        None, "microsoftDefenderForEndpoint", 0.0,
        "A scheduled task was created or modified in a way attackers use for persistence.")),
];

/// CrowdStrike Falcon alerts (`display_name`, internal `name`, tactic, technique).
pub static CS_KINDS: &[AlertKind] = &[
    cs("Machine Learning detection", "MLSensorLowConfidence", "Machine Learning", "CSTA0004", "Sensor-based ML",
        "CST0007", 30, "setup_helper.exe", "explorer.exe", r"C:\Users\{user}\Downloads\setup_helper.exe",
        Some((DL, "setup_helper.exe")), 5.0,
        "This file meets the machine learning-based on-sensor AV protection's low confidence threshold for malicious files."),
    cs("Adware/PUP", "AdwarePUPLowConfidence", "Machine Learning", "CSTA0004", "Adware/PUP", "CST0000", 30,
        "BundleInstaller_Setup.exe", "explorer.exe", r"C:\Users\{user}\Downloads\BundleInstaller_Setup.exe /S",
        Some((DL, "BundleInstaller_Setup.exe")), 2.0,
        "This file meets the Adware/PUP Anti-malware ML algorithm's lowest-confidence threshold."),
    with_techniques(cs("Suspicious PowerShell script execution", "PowerShellSuspiciousScript", "Execution", "TA0002",
        "PowerShell", "T1059.001", 50, "powershell.exe", "cmd.exe",
        r"powershell.exe -ep bypass -File \\srv-file01\it$\scripts\map-drives.ps1", None, 4.0,
        "PowerShell ran a script with execution policy bypassed."), &["T1059.001"]),
    with_techniques(cs("Suspicious scheduled task creation", "ScheduledTaskCreation", "Persistence", "TA0003",
        "Scheduled Task", "T1053.005", 50, "schtasks.exe", "cmd.exe",
        r#"schtasks /create /tn "GoogleUpdateTaskMachineUA" /tr "C:\Program Files (x86)\Google\Update\GoogleUpdate.exe /ua" /sc hourly"#,
        None, 2.0, "A scheduled task was created from the command line."), &["T1053.005"]),
    with_techniques(cs("Security tool tampering", "DefenseEvasionImpairDefenses", "Defense Evasion", "TA0005",
        "Disable or Modify Tools", "T1562.001", 60, "sc.exe", "cmd.exe", "sc.exe config WinDefend start= disabled",
        None, 1.0, "A process tried to stop or reconfigure a security product."), &["T1562.001"]),
    with_techniques(cs("Living-off-the-land binary proxy execution", "Rundll32ProxyExecution", "Defense Evasion",
        "TA0005", "Rundll32", "T1218.011", 50, "rundll32.exe", "explorer.exe",
        r"rundll32.exe C:\Users\{user}\AppData\Local\Temp\msvcp_helper.dll,Start",
        Some((TEMP, "msvcp_helper.dll")), 1.5, "rundll32 loaded a DLL from a temporary folder."), &["T1218.011"]),
    with_techniques(cs("Archive created with a compression utility", "ArchiveViaUtility", "Collection", "TA0009",
        "Archive via Utility", "T1560.001", 20, "7z.exe", "explorer.exe",
        r#""C:\Program Files\7-Zip\7z.exe" a -tzip C:\Users\{user}\Documents\project_backup.zip C:\Users\{user}\Documents\Projects"#,
        None, 3.0, "Files were compressed into an archive from the command line."), &["T1560.001"]),
    with_techniques(cs("Unusual outbound network connection", "UnusualOutboundConnection", "Command and Control",
        "TA0011", "Application Layer Protocol", "T1071", 40, "javaw.exe", "explorer.exe",
        r#""C:\Program Files\Java\jre-1.8\bin\javaw.exe" -jar C:\Tools\dbvisualizer.jar"#, None, 2.0,
        "A process made an outbound connection that is unusual for it."), &["T1071"]),
    linux(with_techniques(cs("Linux system discovery", "LinuxSystemInfoDiscovery", "Discovery", "TA0007",
        "System Information Discovery", "T1082", 20, "bash", "sshd", "uname -a; cat /etc/os-release; id; ss -tlnp",
        None, 2.0, "A shell collected system and network information."), &["T1082"])),
    cs("Known malicious file quarantined", "IntelHashQuarantine", "Malware", "CSTA0001", "Malicious File", "CST0001",
        70, "outlook.exe", "explorer.exe", r#""C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE""#,
        Some((r"C:\Users\{user}\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook", "Remittance_Advice.iso")),
        0.6, "A file matching a known-malicious hash was written and quarantined."),
    with_techniques(cs("System discovery via command line", "SystemInfoDiscovery", "Discovery", "TA0007",
        "System Information Discovery", "T1082", 20, "systeminfo.exe", "cmd.exe", "systeminfo /fo list", None, 3.0,
        "System information was collected from the command line."), &["T1082"]),
    // Incident material only.
    with_techniques(cs("Credential dumping from LSASS memory", "CredentialDumpingLsass", "Credential Access",
        "TA0006", "LSASS Memory", "T1003.001", 80, "rundll32.exe", "cmd.exe",
        r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 672 C:\Windows\Temp\dbg.dmp full", None, 0.0,
        "A process read LSASS memory in a way consistent with credential theft."), &["T1003.001"]),
    with_techniques(cs("Process injection into a system process", "ProcessInjectionSystemProcess", "Defense Evasion",
        "TA0005", "Process Injection", "T1055", 70, "svchost.exe", "upd.exe", r"C:\Windows\System32\svchost.exe -k netsvcs",
        None, 0.0, "Code was injected into a system process by an unsigned binary."), &["T1055"]),
];

/// SentinelOne threats (named after the detected file).
pub static S1_KINDS: &[AlertKind] = &[
    s1("BundleInstaller_Setup.exe", "PUA", "n/a", None, &[], "General", "BundleInstaller_Setup.exe", "explorer.exe",
        r"C:\Users\{user}\Downloads\BundleInstaller_Setup.exe /S", DL, 1.5,
        "Potentially unwanted application bundling third-party offers."),
    s1("OneLaunch_Installer.exe", "PUA", "n/a", None, &[], "General", "OneLaunch_Installer.exe", "msedge.exe",
        r"C:\Users\{user}\Downloads\OneLaunch_Installer.exe", DL, 3.0, "Potentially unwanted browser add-on installer."),
    s1("WaveBrowser_Setup.exe", "PUA", "n/a", None, &[], "General", "WaveBrowser_Setup.exe", "msedge.exe",
        r"C:\Users\{user}\Downloads\WaveBrowser_Setup.exe", DL, 2.0, "Potentially unwanted browser."),
    s1("powershell.exe", "Malware", "suspicious", Some("Execution"), &["T1059.001"], "Exploitation", "powershell.exe",
        "cmd.exe", "powershell.exe -nop -w hidden -enc JABzAD0ATgBlAHcALQBPAGIAagBlAGMAdAA=",
        r"C:\Windows\System32\WindowsPowerShell\v1.0", 3.0, "Encoded PowerShell command executed."),
    s1("mshta.exe", "Malware", "suspicious", Some("Defense Evasion"), &["T1218.005"], "Evasion", "mshta.exe",
        "explorer.exe", r"mshta.exe C:\Users\{user}\Downloads\survey.hta", r"C:\Windows\System32", 1.0,
        "mshta executed an HTML application from a user folder."),
    s1("AutoKMS.exe", "Hacktool", "suspicious", Some("Persistence"), &["T1053.005"], "Persistence", "AutoKMS.exe",
        "svchost.exe", r"C:\ProgramData\KMSAutoS\AutoKMS.exe /task", r"C:\ProgramData\KMSAutoS", 1.5,
        "KMS activation tool registered a scheduled task."),
    s1("AnyDesk.exe", "PUA", "suspicious", Some("Command and Control"), &["T1219"], "General", "AnyDesk.exe",
        "explorer.exe", r"C:\Users\{user}\Downloads\AnyDesk.exe", DL, 1.5, "Remote access software was executed."),
    s1("Invoice_2026-11.docm", "Trojan", "malicious", Some("Execution"), &["T1204.002"], "Exploitation", "WINWORD.EXE",
        "outlook.exe", r#""C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "C:\Users\{user}\Downloads\Invoice_2026-11.docm""#,
        DL, 0.5, "Macro-enabled document with a malicious downloader."),
    s1("wscript.exe", "Malware", "suspicious", Some("Execution"), &["T1059.005"], "Exploitation", "wscript.exe",
        "explorer.exe", r"wscript.exe C:\Users\{user}\Downloads\shipment_details.vbs", r"C:\Windows\System32", 1.0,
        "Windows Script Host ran a script from the downloads folder."),
    linux(s1("certbot-renew.sh", "Malware", "suspicious", Some("Persistence"), &["T1053.003"], "Persistence", "crond",
        "systemd", "/bin/sh /etc/cron.daily/certbot-renew.sh", "/etc/cron.daily", 2.0,
        "A cron job ran a script that modifies system services.")),
    // Incident material only.
    s1("rclone.exe", "Hacktool", "suspicious", Some("Exfiltration"), &["T1567.002"], "DataExfiltration", "rclone.exe",
        "cmd.exe", r"rclone.exe copy C:\Users\{user}\Documents remote:backup --transfers 4 --multi-thread-streams 4 -q",
        r"C:\Users\{user}\AppData\Local\Temp\rc", 0.0, "A cloud synchronisation tool uploaded user documents."),
];

/// The catalogue of one vendor.
pub fn kinds(v: Vendor) -> &'static [AlertKind] {
    match v {
        Vendor::Mde => MDE_KINDS,
        Vendor::CrowdStrike => CS_KINDS,
        Vendor::SentinelOne => S1_KINDS,
    }
}

/// A kind by vendor and title; panics on a typo (a bug in this module).
pub fn kind(v: Vendor, title: &str) -> &'static AlertKind {
    kinds(v).iter().find(|k| k.title == title).unwrap_or_else(|| panic!("no {v:?} alert kind {title:?}"))
}

/// One alert to append.
#[derive(Debug, Clone)]
pub struct NewAlert<'a> {
    pub kind: &'static AlertKind,
    pub di: usize,
    /// First activity; rounded down to the millisecond.
    pub time_us: i64,
    /// Replaces the kind's command line (incidents).
    pub command_line: Option<&'a str>,
    /// Routine noise nobody triages: mostly stays `new`.
    pub routine: bool,
    /// Just happened (incidents): `new`, updated within minutes.
    pub fresh: bool,
}

/// Column builders for one day of `edr_alerts`.
pub struct AlertBatch {
    time: TimestampMicrosecondBuilder,
    updated_time: TimestampMicrosecondBuilder,
    ingest_time: TimestampMicrosecondBuilder,
    vendor: StringBuilder,
    alert_id: StringBuilder,
    entity: StringBuilder,
    device_id: StringBuilder,
    device_ip: StringBuilder,
    user_name: StringBuilder,
    title: StringBuilder,
    category: StringBuilder,
    severity: StringBuilder,
    severity_id: Int32Builder,
    techniques: ListBuilder<StringBuilder>,
    process_name: StringBuilder,
    command_line: StringBuilder,
    file_name: StringBuilder,
    file_sha256: StringBuilder,
    status: StringBuilder,
    console_url: StringBuilder,
    raw: StringBuilder,
}

impl Default for AlertBatch {
    fn default() -> Self {
        let ts = || TimestampMicrosecondBuilder::new().with_timezone("UTC");
        AlertBatch {
            time: ts(),
            updated_time: ts(),
            ingest_time: ts(),
            vendor: StringBuilder::new(),
            alert_id: StringBuilder::new(),
            entity: StringBuilder::new(),
            device_id: StringBuilder::new(),
            device_ip: StringBuilder::new(),
            user_name: StringBuilder::new(),
            title: StringBuilder::new(),
            category: StringBuilder::new(),
            severity: StringBuilder::new(),
            severity_id: Int32Builder::new(),
            techniques: ListBuilder::new(StringBuilder::new())
                .with_field(Arc::new(Field::new("item", DataType::Utf8, true))),
            process_name: StringBuilder::new(),
            command_line: StringBuilder::new(),
            file_name: StringBuilder::new(),
            file_sha256: StringBuilder::new(),
            status: StringBuilder::new(),
            console_url: StringBuilder::new(),
            raw: StringBuilder::new(),
        }
    }
}

/// Everything derived once per alert, shared by the columns and the JSON.
struct Facts<'a> {
    kind: &'static AlertKind,
    dev: &'a Device,
    time_us: i64,
    created_us: i64,
    updated_us: i64,
    status: Status,
    ip: String,
    user: String,
    user_sid: String,
    command_line: String,
    process_path: String,
    file_dir: Option<String>,
    file_name: String,
    sha256: String,
    sha1: String,
    md5: String,
    parent_sha256: String,
    process_sha256: String,
    pid: i64,
    ppid: i64,
}

impl AlertBatch {
    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// Appends `a`, drawing its ids and lifecycle from `rng`.
    pub fn push(&mut self, fleet: &Fleet, a: &NewAlert<'_>, rng: &mut Rng) {
        let kind = a.kind;
        let dev = &fleet.devices[a.di];
        let time_us = a.time_us - a.time_us.rem_euclid(1000);
        let created_us = time_us + rng.int(40, 240) * US_PER_S + rng.int(0, 999_999);
        let (status, updated_us) = lifecycle(rng, time_us, created_us, fleet.end_us(), a.routine, a.fresh);
        let ingest_us = updated_us + rng.int(30, 300) * US_PER_S + rng.int(0, 999_999);

        let (user, user_sid) = account(fleet, dev, kind, rng);
        let subst = |s: &str| s.replace("{user}", user.split('\\').next_back().unwrap_or(&user));
        let command_line = a.command_line.map(str::to_owned).unwrap_or_else(|| subst(kind.command_line));
        let file_dir = kind.file.map(|(d, _)| subst(d));
        // A detected executable that is itself the process runs from where it lies.
        let process_path = match (&file_dir, kind.file) {
            (Some(dir), Some((_, name))) if name == kind.process => join(dir, name),
            _ => join(image_dir(kind.process), kind.process),
        };
        let file_name = kind.file.map_or(kind.process, |(_, n)| n).to_owned();
        let f = Facts {
            kind,
            dev,
            time_us,
            created_us,
            updated_us,
            status,
            ip: ip_string(dev.ip_at(time_us)),
            user,
            user_sid,
            command_line,
            process_path,
            file_dir,
            sha256: file_hash(&file_name, 64),
            sha1: file_hash(&file_name, 40),
            md5: file_hash(&file_name, 32),
            parent_sha256: file_hash(kind.parent, 64),
            process_sha256: file_hash(kind.process, 64),
            file_name,
            pid: rng.int(200, 9000) * 4,
            ppid: rng.int(100, 2000) * 4,
        };

        let (alert_id, device_id, console_url, raw) = match kind.vendor {
            Vendor::Mde => mde_json(fleet, &f, rng),
            Vendor::CrowdStrike => cs_json(fleet, &f, rng),
            Vendor::SentinelOne => s1_json(fleet, &f, rng),
        };

        self.time.append_value(time_us);
        self.updated_time.append_value(updated_us);
        self.ingest_time.append_value(ingest_us);
        self.vendor.append_value(kind.vendor.as_str());
        self.alert_id.append_value(&alert_id);
        self.entity.append_value(&dev.name);
        self.device_id.append_value(device_id);
        self.device_ip.append_value(&f.ip);
        self.user_name.append_value(&f.user);
        self.title.append_value(kind.title);
        self.category.append_value(kind.category);
        self.severity.append_value(kind.severity.as_str());
        self.severity_id.append_value(kind.severity as i32);
        for t in kind.techniques {
            self.techniques.values().append_value(t);
        }
        self.techniques.append(true);
        self.process_name.append_value(kind.process);
        self.command_line.append_value(&f.command_line);
        self.file_name.append_value(&f.file_name);
        self.file_sha256.append_value(&f.sha256);
        self.status.append_value(status.as_str());
        self.console_url.append_value(&console_url);
        self.raw.append_value(raw.to_string());
    }

    /// The finished batch, in the `edr_alerts` schema.
    pub fn finish(mut self) -> RecordBatch {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.updated_time.finish()),
            Arc::new(self.ingest_time.finish()),
            Arc::new(self.vendor.finish()),
            Arc::new(self.alert_id.finish()),
            Arc::new(self.entity.finish()),
            Arc::new(self.device_id.finish()),
            Arc::new(self.device_ip.finish()),
            Arc::new(self.user_name.finish()),
            Arc::new(self.title.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.severity.finish()),
            Arc::new(self.severity_id.finish()),
            Arc::new(self.techniques.finish()),
            Arc::new(self.process_name.finish()),
            Arc::new(self.command_line.finish()),
            Arc::new(self.file_name.finish()),
            Arc::new(self.file_sha256.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.console_url.finish()),
            Arc::new(self.raw.finish()),
        ];
        RecordBatch::try_new(edr_alerts(), cols).expect("alert columns match the edr_alerts schema")
    }
}

/// Status and last-update time: older alerts are more likely triaged;
/// routine noise mostly sits untouched; nothing is updated after the lake
/// ends (the export is a snapshot at its end).
fn lifecycle(rng: &mut Rng, time_us: i64, created_us: i64, end_us: i64, routine: bool, fresh: bool) -> (Status, i64) {
    let touched = created_us + rng.int(0, 30 * US_PER_S);
    if fresh {
        return (Status::New, touched);
    }
    let room = end_us - 10 * US_PER_MIN - time_us;
    let age_h = room as f64 / 3600e6;
    let p_resolved = if routine { 0.1 } else { (age_h / 36.0).clamp(0.0, 0.8) };
    let u = rng.uniform();
    let (status, after) = if u < p_resolved {
        (Status::Resolved, rng.lognormal((6.0f64 * 3600e6).ln(), 1.0))
    } else if u < p_resolved + 0.15 {
        (Status::InProgress, rng.lognormal((40.0f64 * 60e6).ln(), 1.0))
    } else {
        return (Status::New, touched);
    };
    let updated = time_us + after as i64;
    if updated <= touched || updated > time_us + room {
        // Not triaged (yet) when the snapshot was taken.
        return (Status::New, touched);
    }
    (status, updated)
}

/// Who the acting process ran as: `(account, SID)`.
fn account(fleet: &Fleet, dev: &Device, kind: &AlertKind, rng: &mut Rng) -> (String, String) {
    if kind.system {
        return if dev.os.is_windows() { ("SYSTEM".into(), "S-1-5-18".into()) } else { ("root".into(), "0".into()) };
    }
    match dev.user {
        Some(u) => (fleet.users[u].account.clone(), fleet.users[u].sid.clone()),
        None => {
            // Servers: an IT admin's privileged account.
            let admins: Vec<&super::fleet::User> = fleet.users.iter().filter(|u| u.admin_account.is_some()).collect();
            let u = admins[rng.below(admins.len() as u64) as usize];
            // Admin accounts were created after the people's own, higher RIDs.
            let (domain, rid) = u.sid.rsplit_once('-').expect("SID has a RID");
            let rid: u64 = rid.parse().expect("numeric RID");
            (u.admin_account.clone().expect("admin"), format!("{domain}-{}", rid + 5000))
        }
    }
}

/// `dir` + `name` with the platform's separator.
fn join(dir: &str, name: &str) -> String {
    if dir.starts_with('/') {
        format!("{dir}/{name}")
    } else {
        format!(r"{dir}\{name}")
    }
}

/// Whether `kind` can plausibly fire on `dev`: same platform, and no
/// browser/mail/downloads story on a server nobody browses from.
pub fn fits(kind: &AlertKind, dev: &Device) -> bool {
    if kind.linux == dev.os.is_windows() {
        return false;
    }
    let user_centric = kind.command_line.contains("{user}")
        || kind.file.is_some_and(|(d, _)| d.contains("{user}"))
        || matches!(kind.process, "msedge.exe" | "outlook.exe" | "WINWORD.EXE" | "explorer.exe")
        || matches!(kind.parent, "msedge.exe" | "outlook.exe" | "explorer.exe")
        || matches!(kind.detail, Detail::S1 { classification: "PUA", .. });
    !(dev.is_server() && user_centric)
}

/// Folder of a well-known image, else a program folder.
fn image_dir(process: &str) -> &'static str {
    match process.to_ascii_lowercase().as_str() {
        "bash" | "sh" => "/usr/bin",
        "crond" | "sshd" => "/usr/sbin",
        "systemd" => "/usr/lib/systemd",
        "powershell.exe" => r"C:\Windows\System32\WindowsPowerShell\v1.0",
        "msedge.exe" => r"C:\Program Files (x86)\Microsoft\Edge\Application",
        "outlook.exe" | "winword.exe" => r"C:\Program Files\Microsoft Office\root\Office16",
        "explorer.exe" => r"C:\Windows",
        "7z.exe" => r"C:\Program Files\7-Zip",
        "javaw.exe" => r"C:\Program Files\Java\jre-1.8\bin",
        "veeamagent.exe" => r"C:\Program Files\Veeam\Endpoint Backup",
        "tasklist.exe" | "net.exe" | "cmd.exe" | "rundll32.exe" | "schtasks.exe" | "systeminfo.exe" | "sc.exe"
        | "mshta.exe" | "wscript.exe" | "svchost.exe" | "userinit.exe" => r"C:\Windows\System32",
        "wmiprvse.exe" => r"C:\Windows\System32\wbem",
        _ => r"C:\Users\Public\Downloads",
    }
}

/// A stable fake hash of a file name: the same file has the same hash on
/// every device, as it would in real telemetry.
fn file_hash(name: &str, hex_len: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    Rng::new(mix64(h ^ hex_len as u64)).hex(hex_len)
}

/// ISO-8601 UTC with `digits` fractional digits (0, 3, 6, 7 or 9).
///
/// Seven and nine digits pad the microsecond value so that the lake's
/// rounding to microseconds gives back exactly `us`.
pub fn iso(us: i64, digits: usize, rng: &mut Rng) -> String {
    let dt = DateTime::from_timestamp_micros(us).expect("in range");
    let frac = us.rem_euclid(1_000_000);
    let base = dt.format("%Y-%m-%dT%H:%M:%S");
    match digits {
        0 => format!("{base}Z"),
        3 => format!("{base}.{:03}Z", frac / 1000),
        6 => format!("{base}.{frac:06}Z"),
        7 => format!("{base}.{frac:06}{}Z", rng.below(5)),
        _ => format!("{base}.{frac:06}{:03}Z", rng.below(500)),
    }
}

fn mitre_link(t: &str) -> String {
    format!("https://attack.mitre.org/techniques/{}/", t.replace('.', "/"))
}

/// Defender (Graph `alerts_v2`): returns `(id, device id, console url, json)`.
fn mde_json<'a>(fleet: &Fleet, f: &Facts<'a>, rng: &mut Rng) -> (String, &'a str, String, Value) {
    let k = f.kind;
    let Detail::Mde { detection_source } = k.detail else { unreachable!("Defender kind") };
    let tenant = &fleet.tenant.mde_tenant_id;
    // Defender ids: "da" + .NET ticks of creation + "_" + a signed 32-bit value.
    let ticks = f.created_us * 10 + 621_355_968_000_000_000 + rng.below(10) as i64;
    let id = format!("da{ticks}_{}", rng.next_u64() as i32);
    let incident = rng.int(20_000, 99_999).to_string();
    let url = format!("https://security.microsoft.com/alerts/{id}?tid={tenant}");
    let (status, classification, determination) = match f.status {
        Status::New => ("new", Value::Null, Value::Null),
        Status::InProgress => ("inProgress", Value::Null, Value::Null),
        Status::Resolved => {
            let (c, d) = *rng.choice(&[
                ("informationalExpectedActivity", "confirmedUserActivity"),
                ("falsePositive", "clean"),
                ("truePositive", "unwantedSoftware"),
            ]);
            ("resolved", json!(c), json!(d))
        }
    };
    let created = iso(f.created_us, 7, rng);
    let updated = iso(f.updated_us, 7, rng);
    let first = iso(f.time_us, 3, rng);
    let dev = f.dev;
    let user_account = if f.user == "SYSTEM" {
        json!({"accountName": "SYSTEM", "domainName": "NT AUTHORITY", "userSid": "S-1-5-18",
               "azureAdUserId": null, "displayName": null, "userPrincipalName": null})
    } else {
        json!({"accountName": f.user, "domainName": NETBIOS_DOMAIN, "userSid": f.user_sid,
               "azureAdUserId": null, "displayName": null,
               "userPrincipalName": format!("{}@{}", f.user, super::fleet::DOMAIN)})
    };
    let base_ev = |t: &str, verdict: &str| {
        json!({"@odata.type": format!("#microsoft.graph.security.{t}"), "createdDateTime": created,
               "verdict": verdict, "remediationStatus": "none", "remediationStatusDetails": null,
               "roles": [], "detailedRoles": [], "tags": []})
    };
    let mut device_ev = base_ev("deviceEvidence", "unknown");
    merge(&mut device_ev, json!({
        "firstSeenDateTime": iso(dev.first_seen_us - dev.first_seen_us % 1000, 3, rng),
        "mdeDeviceId": dev.ids.mde_machine_id,
        "azureAdDeviceId": uuid_string(&mut Rng::new(mix64(dev.first_seen_us as u64))),
        "deviceDnsName": dev.fqdn,
        "osPlatform": dev.os.display().replace(' ', ""),
        "osBuild": dev.os.build(),
        "version": if dev.os.build() == 22631 { "23H2" } else { "22H2" },
        "healthStatus": "active",
        "riskScore": match k.severity { Severity::High | Severity::Critical => "high", Severity::Medium => "medium", _ => "low" },
        "rbacGroupId": if dev.is_server() { 412 } else { 411 },
        "rbacGroupName": if dev.is_server() { "Servers" } else { "Workstations" },
        "onboardingStatus": "onboarded",
        "defenderAvStatus": "updated",
        "ipInterfaces": [f.ip, "127.0.0.1"],
        "loggedOnUsers": dev.user.map_or(json!([]), |u| json!([{"accountName": fleet.users[u].account, "domainName": NETBIOS_DOMAIN}])),
        "vmMetadata": null,
    }));
    let mut process_ev = base_ev("processEvidence", "suspicious");
    merge(&mut process_ev, json!({
        "processId": f.pid,
        "parentProcessId": f.ppid,
        "processCommandLine": f.command_line,
        "processCreationDateTime": iso(f.time_us - 1000 * rng.int(5, 900), 7, rng),
        "parentProcessCreationDateTime": iso(f.time_us - 1000 * rng.int(60_000, 4_000_000), 7, rng),
        "detectionStatus": if detection_source == "antivirus" { "prevented" } else { "detected" },
        "mdeDeviceId": dev.ids.mde_machine_id,
        "imageFile": file_details(k.process, dir_of(&f.process_path), &f.process_sha256, &file_hash(k.process, 40), &file_hash(k.process, 32)),
        "parentProcessImageFile": file_details(k.parent, image_dir(k.parent), &f.parent_sha256, &file_hash(k.parent, 40), &file_hash(k.parent, 32)),
        "userAccount": user_account,
    }));
    let mut evidence = vec![device_ev, process_ev];
    if let Some(dir) = &f.file_dir {
        let mut file_ev = base_ev("fileEvidence", "malicious");
        merge(&mut file_ev, json!({
            "detectionStatus": if detection_source == "antivirus" { "prevented" } else { "detected" },
            "mdeDeviceId": dev.ids.mde_machine_id,
            "fileDetails": file_details(&f.file_name, dir, &f.sha256, &f.sha1, &f.md5),
        }));
        evidence.push(file_ev);
    }
    let raw = json!({
        "@odata.type": "#microsoft.graph.security.alert",
        "id": id,
        "providerAlertId": id,
        "incidentId": incident,
        "status": status,
        "severity": k.severity.as_str(),
        "classification": classification,
        "determination": determination,
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": detection_source,
        "detectorId": uuid_string(&mut Rng::new(fnv(k.title))),
        "tenantId": tenant,
        "title": k.title,
        "description": k.description,
        "recommendedActions": "Review the process tree and the device timeline; isolate the device if the activity is not expected.",
        "category": k.category,
        "assignedTo": if f.status == Status::New { Value::Null } else { json!("secops@corp.example.com") },
        "alertWebUrl": url,
        "incidentWebUrl": format!("https://security.microsoft.com/incidents/{incident}?tid={tenant}"),
        "actorDisplayName": null,
        "threatDisplayName": null,
        "threatFamilyName": null,
        "mitreTechniques": k.techniques,
        "createdDateTime": created,
        "lastUpdateDateTime": updated,
        "resolvedDateTime": if f.status == Status::Resolved { json!(updated) } else { Value::Null },
        "firstActivityDateTime": first,
        "lastActivityDateTime": iso(f.time_us + 1000 * rng.int(0, 60_000), 3, rng),
        "comments": [],
        "systemTags": [],
        "evidence": evidence,
    });
    (id, &dev.ids.mde_machine_id, url, raw)
}

/// The folder part of a Windows or Linux path.
fn dir_of(path: &str) -> &str {
    path.rfind(['\\', '/']).map_or("", |i| &path[..i])
}

fn file_details(name: &str, dir: &str, sha256: &str, sha1: &str, md5: &str) -> Value {
    json!({"fileName": name, "filePath": dir, "filePublisher": null, "issuer": null, "signer": null,
           "md5": md5, "sha1": sha1, "sha256": sha256, "sha256Ac": null, "fileSize": 1024 + (fnv(sha256) % 4_000_000) as i64})
}

/// CrowdStrike Alerts v2: returns `(composite_id, aid, falcon_host_link, json)`.
fn cs_json<'a>(fleet: &Fleet, f: &Facts<'a>, rng: &mut Rng) -> (String, &'a str, String, Value) {
    let k = f.kind;
    let Detail::Cs { name, tactic_id, technique, technique_id, score, scenario, objective } = k.detail else {
        unreachable!("CrowdStrike kind")
    };
    let dev = f.dev;
    let aid = &dev.ids.cs_aid;
    let cid = &fleet.tenant.cs_cid;
    let tail = format!("{}-{}-{}", rng.digits(12), rng.int(1000, 9999), rng.digits(8));
    let composite = format!("{cid}:ind:{aid}:{tail}");
    let link = format!("https://falcon.us-2.crowdstrike.com/activity-v2/detections/{composite}");
    let status = match f.status {
        Status::New => "new",
        Status::InProgress if rng.bool(0.1) => "reopened",
        Status::InProgress => "in_progress",
        Status::Resolved => "closed",
    };
    // Falcon reports Windows paths in NT device form.
    let device_path = |p: &str| match p.strip_prefix("C:") {
        Some(rest) => format!(r"\Device\HarddiskVolume3{rest}"),
        None => p.to_owned(),
    };
    // A detected file other than the process image is listed as quarantined.
    let quarantined = match (&f.file_dir, f.file_name != k.process) {
        (Some(dir), true) => json!([{
            "id": format!("{aid}_{}", f.sha256),
            "filename": device_path(&join(dir, &f.file_name)),
            "sha256": f.sha256,
            "state": "quarantined",
        }]),
        _ => json!([]),
    };
    let severity_name = match k.severity {
        Severity::Informational => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    };
    let parent_details = json!({
        "cmdline": k.parent,
        "filename": k.parent,
        "filepath": device_path(&join(image_dir(k.parent), k.parent)),
        "sha256": f.parent_sha256,
        "md5": file_hash(k.parent, 32),
        "user_name": f.user,
        "process_graph_id": format!("pid:{aid}:{}", rng.digits(12)),
    });
    let device = json!({
        "device_id": aid,
        "hostname": dev.host,
        "local_ip": f.ip,
        "external_ip": ip_string(fleet.tenant.egress_ip),
        "mac_address": dev.mac.replace(':', "-"),
        "platform_name": if dev.os.is_windows() { "Windows" } else { "Linux" },
        "os_version": dev.os.display(),
        "product_type_desc": if dev.is_server() { "Server" } else { "Workstation" },
        "agent_version": if dev.os.is_windows() { "7.18.18905.0" } else { "7.17.17706.0" },
        "machine_domain": super::fleet::DOMAIN,
        "site_name": "London-HQ",
        "ou": [if dev.is_server() { "Servers" } else { "Workstations" }, "Corp"],
        "groups": [],
        "first_seen": iso(dev.first_seen_us, 0, rng),
        "last_seen": iso(f.time_us, 0, rng),
        "hostinfo": {"domain": super::fleet::DOMAIN},
    });
    let mut raw = json!({
        "composite_id": composite,
        "id": format!("ind:{aid}:{tail}"),
        "indicator_id": format!("ind:{aid}:{tail}"),
        "aggregate_id": format!("aggind:{aid}:{}", rng.digits(10)),
        "cid": cid,
        "agent_id": aid,
        "product": "epp",
        "type": "ldt",
        "platform": if dev.os.is_windows() { "Windows" } else { "Linux" },
        "scenario": scenario,
        "objective": objective,
        "name": name,
        "display_name": k.title,
        "description": k.description,
        "severity": score,
        "severity_name": severity_name,
        "confidence": (score + rng.int(-10, 10)).clamp(10, 100),
        "tactic": k.category,
        "tactic_id": tactic_id,
        "technique": technique,
        "technique_id": technique_id,
        "pattern_id": 10_000 + (fnv(name) % 90_000) as i64,
        "pattern_disposition": 0,
        "pattern_disposition_description": "Detection, standard detection.",
        "pattern_disposition_details": {"detect": false, "indicator": false, "kill_process": false,
            "quarantine_file": false, "operation_blocked": false, "process_blocked": false, "blocking_unsupported_or_disabled": false},
        "filename": k.process,
        "filepath": device_path(&f.process_path),
        "quarantined_files": quarantined,
        "cmdline": f.command_line,
        "sha256": f.process_sha256,
        "sha1": "0000000000000000000000000000000000000000",
        "md5": file_hash(k.process, 32),
        "user_name": f.user,
        "user_id": f.user_sid,
        "logon_domain": match f.user.as_str() { "SYSTEM" => "NT AUTHORITY", "root" => "", _ => NETBIOS_DOMAIN },
        "process_id": rng.digits(12),
        "parent_process_id": rng.digits(12),
        "process_start_time": ((f.time_us - rng.int(1, 600) * US_PER_S) / US_PER_S).to_string(),
        "process_end_time": "",
        "parent_details": parent_details,
    });
    merge(&mut raw, json!({
        "status": status,
        "show_in_ui": true,
        "timestamp": iso(f.time_us, 3, rng),
        "created_timestamp": iso(f.created_us, 9, rng),
        "updated_timestamp": iso(f.updated_us, 9, rng),
        "crawled_timestamp": iso(f.created_us + rng.int(1, 30) * US_PER_S, 9, rng),
        "falcon_host_link": link,
        "source_products": ["Falcon Insight"],
        "source_vendors": ["CrowdStrike"],
        "data_domains": ["Endpoint"],
        "device": device,
    }));
    (composite, aid, link, raw)
}

/// SentinelOne threat: returns `(id, agent id, console url, json)`.
fn s1_json<'a>(fleet: &Fleet, f: &Facts<'a>, rng: &mut Rng) -> (String, &'a str, String, Value) {
    let k = f.kind;
    let Detail::S1 { classification, confidence, indicator } = k.detail else { unreachable!("SentinelOne kind") };
    let dev = f.dev;
    let t = &fleet.tenant;
    let id = rng.digits(19);
    let url = format!("https://{}/incidents/threats/{id}/overview", t.s1_console);
    let (incident, verdict, mitigation) = match f.status {
        Status::New => ("unresolved", "undefined", "not_mitigated"),
        Status::InProgress => ("in_progress", "suspicious", "not_mitigated"),
        Status::Resolved => {
            if k.severity >= Severity::Medium || rng.bool(0.5) {
                ("resolved", "true_positive", "mitigated")
            } else {
                ("resolved", "false_positive", "marked_as_benign")
            }
        }
    };
    let describe = |s: &str| {
        let mut c = s.replace('_', " ");
        if let Some(first) = c.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        c
    };
    let indicators = if k.techniques.is_empty() {
        json!([])
    } else {
        json!([{
            "category": indicator,
            "description": k.description,
            "ids": [rng.int(10, 400)],
            "tactics": [{
                "name": k.category,
                "source": "MITRE",
                "techniques": k.techniques.iter().map(|t| json!({"name": t, "link": mitre_link(t)})).collect::<Vec<_>>(),
            }],
        }])
    };
    let dir = f.file_dir.clone().unwrap_or_default();
    let group_id = if dev.is_server() { &t.s1_group_servers } else { &t.s1_group_workstations };
    let group_name = if dev.is_server() { "Servers" } else { "Workstations" };
    let os_type = if dev.os.is_windows() { "windows" } else { "linux" };
    let user_qualified = match f.user.as_str() {
        "SYSTEM" => r"NT AUTHORITY\SYSTEM".to_owned(),
        "root" => "root".to_owned(),
        u => format!(r"{NETBIOS_DOMAIN}\{u}"),
    };
    let last_user = dev.user.map_or(String::new(), |u| fleet.users[u].account.clone());
    let threat_info = json!({
        "threatId": id,
        "threatName": k.title,
        "classification": classification,
        "classificationSource": if classification == "PUA" { "Static" } else { "Cloud" },
        "confidenceLevel": confidence,
        "mitigationStatus": mitigation,
        "mitigationStatusDescription": describe(mitigation),
        "analystVerdict": verdict,
        "analystVerdictDescription": describe(verdict),
        "incidentStatus": incident,
        "incidentStatusDescription": describe(incident),
        "sha1": f.sha1,
        "sha256": f.sha256,
        "md5": null,
        "filePath": join(&dir, &f.file_name),
        "fileSize": 1024 + (fnv(&f.sha256) % 40_000_000) as i64,
        "publisherName": "",
        "originatorProcess": k.process,
        "processUser": user_qualified,
        "maliciousProcessArguments": f.command_line,
        "storyline": rng.hex(16).to_uppercase(),
        "detectionType": if k.techniques.is_empty() { "static" } else { "dynamic" },
        "engines": [if k.techniques.is_empty() { "SentinelOne Cloud" } else { "Behavioral AI" }],
        "detectionEngines": [if k.techniques.is_empty() {
            json!({"key": "sentinelone_cloud", "title": "SentinelOne Cloud"})
        } else {
            json!({"key": "executables", "title": "Behavioral AI"})
        }],
        "initiatedBy": "agent_policy",
        "initiatedByDescription": "Agent Policy",
        "createdAt": iso(f.created_us, 6, rng),
        "updatedAt": iso(f.updated_us, 6, rng),
        "identifiedAt": iso(f.time_us, 6, rng),
        "automaticallyResolved": false,
        "collectionId": rng.digits(19),
    });
    let realtime = json!({
        "agentId": dev.ids.s1_agent_id,
        "agentComputerName": dev.host,
        "agentOsType": os_type,
        "agentOsName": dev.os.display(),
        "agentOsRevision": dev.os.build().to_string(),
        "agentVersion": if dev.os.is_windows() { "24.1.4.257" } else { "24.2.2.20" },
        "agentUuid": dev.ids.s1_uuid,
        "agentDomain": NETBIOS_DOMAIN,
        "agentMachineType": if dev.is_server() { "server" } else if dev.roams { "laptop" } else { "desktop" },
        "agentNetworkStatus": "connected",
        "agentIsActive": true,
        "agentInfected": f.status != Status::Resolved,
        "siteId": t.s1_site_id,
        "siteName": "London HQ",
        "accountId": t.s1_account_id,
        "accountName": "Corp Example Ltd",
        "groupId": group_id,
        "groupName": group_name,
        "networkInterfaces": [{"inet": [f.ip], "inet6": [], "physical": dev.mac, "id": rng.digits(19)}],
    });
    let detection = json!({
        "agentIpV4": f.ip,
        "agentIpV6": null,
        "externalIp": ip_string(t.egress_ip),
        "agentLastLoggedInUserName": last_user,
        "agentLastLoggedInUpn": if last_user.is_empty() { Value::Null } else { json!(format!("{last_user}@{}", super::fleet::DOMAIN)) },
        "agentDomain": NETBIOS_DOMAIN,
        "agentOsName": dev.os.display(),
        "agentVersion": if dev.os.is_windows() { "24.1.4.257" } else { "24.2.2.20" },
        "agentMitigationMode": "protect",
        "siteId": t.s1_site_id,
        "siteName": "London HQ",
        "accountId": t.s1_account_id,
        "accountName": "Corp Example Ltd",
        "groupId": group_id,
        "groupName": group_name,
    });
    let raw = json!({
        "id": id,
        "threatInfo": threat_info,
        "agentRealtimeInfo": realtime,
        "agentDetectionInfo": detection,
        "indicators": indicators,
        "mitigationStatus": if mitigation == "mitigated" {
            json!([{"action": "quarantine", "status": "success", "mitigationStartedAt": iso(f.updated_us, 6, rng),
                    "mitigationEndedAt": iso(f.updated_us, 6, rng), "lastUpdate": iso(f.updated_us, 6, rng),
                    "actionsCounters": {"success": 1, "failed": 0, "total": 1, "notFound": 0, "pendingReboot": 0}}])
        } else { json!([]) },
        "whiteningOptions": ["hash", "path"],
        "containerInfo": {},
        "kubernetesInfo": {},
    });
    (id, &dev.ids.s1_agent_id, url, raw)
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        a.extend(b);
    }
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}

// ---------------------------------------------------------------------------
// Background alerts
// ---------------------------------------------------------------------------

/// Background alerts of one device, one day: a Poisson count with mean
/// `lambda`, at times drawn from the device's activity profile. Half come
/// from the device's habits (two or three kinds it keeps raising), the rest
/// from the vendor catalogue by weight. Kinds of weight 0 (routine noise,
/// incident material) never appear here, so "first time on this device"
/// stays under the incidents' control.
pub fn background(fleet: &Fleet, out: &mut AlertBatch, rng: &mut Rng, di: usize, day: u32, lambda: f64) {
    let dev = &fleet.devices[di];
    let plan = fleet.plans[di][day as usize];
    let Some(profile) = plan.minute_profile(dev.is_server()) else { return };
    let n = rng.poisson(lambda);
    for _ in 0..n {
        let vendor = if dev.vendors.len() > 1 && rng.bool(0.4) { dev.vendors[1] } else { dev.vendors[0] };
        let eligible: Vec<&'static AlertKind> =
            kinds(vendor).iter().filter(|k| k.weight > 0.0 && fits(k, dev)).collect();
        if eligible.is_empty() {
            continue;
        }
        let kind = if rng.bool(0.5) {
            // Habit: derived from the device, stable across days.
            let h = mix64((di as u64) << 8 ^ vendor as u64 ^ (rng.below(3) << 4));
            eligible[(h % eligible.len() as u64) as usize]
        } else {
            let table: Vec<(&'static AlertKind, f64)> = eligible.iter().map(|k| (*k, k.weight)).collect();
            *rng.weighted(&table)
        };
        let minute = profile.sample(rng) as i64;
        let t = fleet.day_start_us(day) + minute * US_PER_MIN + rng.below(US_PER_MIN as u64) as i64;
        out.push(fleet, &NewAlert { kind, di, time_us: t, command_line: None, routine: false, fresh: false }, rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_are_consistent() {
        for v in [Vendor::Mde, Vendor::CrowdStrike, Vendor::SentinelOne] {
            for k in kinds(v) {
                assert_eq!(k.vendor, v);
                for t in k.techniques {
                    let ok = t.len() >= 5 && t.starts_with('T') && t[1..5].bytes().all(|b| b.is_ascii_digit());
                    assert!(ok, "{} has non-ATT&CK technique {t}", k.title);
                }
                if let Detail::Cs { score, technique_id, .. } = k.detail {
                    assert_eq!(Severity::from_crowdstrike(score), k.severity);
                    assert_eq!(technique_id.starts_with('T'), !k.techniques.is_empty(), "{}", k.title);
                }
                if let Detail::S1 { confidence, .. } = k.detail {
                    assert_eq!(Severity::from_sentinelone(confidence), k.severity);
                }
                if v == Vendor::Mde {
                    assert!(k.severity <= Severity::High, "Defender has no critical");
                }
            }
        }
    }

    #[test]
    fn iso_round_trips_to_micros() {
        let mut r = Rng::new(1);
        let us = 1_793_000_000_123_456;
        let seven = iso(us, 7, &mut r);
        assert!(seven.starts_with("2026-10-26T07:33:20.123456"), "{seven}");
        assert_eq!(seven.len(), "2026-10-25T09:33:20.1234560Z".len());
        assert!(iso(us - 456, 3, &mut r).ends_with(".123Z"));
        assert!(iso(us, 0, &mut r).ends_with(":20Z"));
        let nine = iso(us, 9, &mut r);
        let frac = &nine[nine.find('.').unwrap() + 1..nine.len() - 1];
        assert_eq!(frac.len(), 9);
        assert!(frac[6..].parse::<u32>().unwrap() < 500);
    }
}
