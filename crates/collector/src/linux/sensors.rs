//! Temperatures from the hwmon class of sysfs (`<sysfs>/class/hwmon`).
//!
//! Each `hwmonN` directory is one chip: its `name` file names it and every
//! `tempK_input` is one sensor in millidegrees Celsius, labelled by
//! `tempK_label` when the driver provides one. Chips and sensors are
//! discovered once and re-discovered only when the set of `hwmonN` entries
//! changes or a sensor file vanishes, so a cycle costs one directory read
//! plus one small file read per sensor.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use oxmon_common::metric::{LABEL_CHIP, LABEL_SENSOR, Labels, Metric, SENSORS_TEMPERATURE};

use super::read_into;
use crate::{Collection, Error};

/// One temperature input.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Sensor {
    pub(super) input: PathBuf,
    pub(super) chip: String,
    pub(super) sensor: String,
}

/// `temp12_input` → 12.
fn temp_input_index(file: &[u8]) -> Option<u32> {
    let digits = file.strip_prefix(b"temp")?.strip_suffix(b"_input")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// `hwmon12` → 12; other entries sort after the numbered ones.
fn hwmon_index(entry: &OsString) -> (u32, &OsString) {
    let index = entry.to_str().and_then(|s| s.strip_prefix("hwmon")).and_then(|n| n.parse().ok());
    (index.unwrap_or(u32::MAX), entry)
}

/// `45500\n` (millidegrees) → 45.5 degrees.
pub(super) fn parse_millidegrees(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let millidegrees: i64 = text.parse().ok()?;
    Some(millidegrees as f64 / 1000.0)
}

/// Reads a small sysfs attribute as trimmed text; `None` if it is missing,
/// unreadable or empty.
fn read_attribute(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A chip found in one `hwmonN` directory, before names are made unique.
struct Chip {
    name: String,
    /// What tells two chips of the same name apart: the basename of the
    /// `device` link (`nvme0`, `coretemp.0`, `0000:00:18.3`), else `hwmonN`.
    device: String,
    /// `(index, label)` of every `tempK_input`, by index.
    inputs: Vec<(u32, PathBuf, String)>,
}

/// Reads the chip of one `hwmonN` directory; `None` if it has no `name` or
/// no temperature input. Kernels before 3.x kept the attributes in the
/// `device` directory below it, which is tried second.
fn discover_chip(hwmon: &Path, entry: &OsString) -> Option<Chip> {
    let dir = hwmon.join(entry);
    let (attributes, name) = match read_attribute(&dir.join("name")) {
        Some(name) => (dir.clone(), name),
        None => {
            let device = dir.join("device");
            let name = read_attribute(&device.join("name"))?;
            (device, name)
        }
    };
    let mut inputs = Vec::new();
    for file in fs::read_dir(&attributes).ok()?.flatten() {
        let file_name = file.file_name();
        let Some(index) = temp_input_index(file_name.as_encoded_bytes()) else { continue };
        let label = read_attribute(&attributes.join(format!("temp{index}_label")));
        inputs.push((index, file.path(), label.unwrap_or_else(|| format!("temp{index}"))));
    }
    if inputs.is_empty() {
        return None;
    }
    inputs.sort_by_key(|(index, ..)| *index);
    // Two inputs with the same label (a driver labelling them all alike)
    // would be one series: the later ones keep their `tempK` name.
    for i in 1..inputs.len() {
        if inputs[..i].iter().any(|(_, _, label)| *label == inputs[i].2) {
            inputs[i].2 = format!("temp{}", inputs[i].0);
        }
    }
    let device = fs::read_link(dir.join("device"))
        .ok()
        .and_then(|target| target.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| entry.to_string_lossy().into_owned());
    Some(Chip { name, device, inputs })
}

/// Every temperature sensor below `hwmon`, given its sorted entries.
///
/// A chip is labelled by its `name`; when several chips share a name (two
/// NVMe drives, one `coretemp` per socket) each becomes `name/device`.
pub(super) fn discover(hwmon: &Path, entries: &[OsString]) -> Vec<Sensor> {
    let chips: Vec<Chip> = entries.iter().filter_map(|entry| discover_chip(hwmon, entry)).collect();
    let mut sensors = Vec::new();
    for chip in &chips {
        let shared = chips.iter().filter(|c| c.name == chip.name).count() > 1;
        let label = if shared { format!("{}/{}", chip.name, chip.device) } else { chip.name.clone() };
        for (_, input, sensor) in &chip.inputs {
            sensors.push(Sensor { input: input.clone(), chip: label.clone(), sensor: sensor.clone() });
        }
    }
    sensors
}

/// The temperature sub-collector.
pub(super) struct Sensors {
    hwmon: PathBuf,
    /// The `hwmonN` entries `sensors` was discovered from, sorted.
    entries: Vec<OsString>,
    /// This cycle's entries, compared with `entries`.
    listed: Vec<OsString>,
    sensors: Vec<Sensor>,
    /// Re-discover next cycle even if the entries are the same.
    stale: bool,
    buf: Vec<u8>,
}

impl Sensors {
    pub(super) fn new(sysfs: &Path) -> Self {
        Self {
            hwmon: sysfs.join("class/hwmon"),
            entries: Vec::new(),
            listed: Vec::new(),
            sensors: Vec::new(),
            stale: true,
            buf: Vec::new(),
        }
    }

    /// Number of sensors known.
    pub(super) fn sensors(&self) -> usize {
        self.sensors.len()
    }

    pub(super) fn collect(&mut self, out: &mut Collection) {
        self.listed.clear();
        match fs::read_dir(&self.hwmon) {
            Ok(dir) => self.listed.extend(dir.flatten().map(|entry| entry.file_name())),
            // No hwmon class (a VM, a container without the host's /sys):
            // no sensors, which is not an error.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                out.errors.push(Error::Read { path: self.hwmon.clone(), error });
                return;
            }
        }
        self.listed.sort_by(|a, b| hwmon_index(a).cmp(&hwmon_index(b)));
        if self.stale || self.listed != self.entries {
            std::mem::swap(&mut self.entries, &mut self.listed);
            self.sensors = discover(&self.hwmon, &self.entries);
            self.stale = false;
        }
        let mut failed = false;
        for sensor in &self.sensors {
            let value = read_into(&sensor.input, &mut self.buf).and_then(|()| {
                parse_millidegrees(&self.buf).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))
            });
            match value {
                Ok(celsius) => out.metrics.push(Metric {
                    name: SENSORS_TEMPERATURE,
                    labels: Labels::from_pairs([
                        (LABEL_CHIP, sensor.chip.as_str()),
                        (LABEL_SENSOR, sensor.sensor.as_str()),
                    ]),
                    value: celsius,
                }),
                Err(error) => {
                    // A sensor that vanished means the chips changed.
                    self.stale |= error.kind() == io::ErrorKind::NotFound;
                    // Sensors fail together (a drive asleep, a driver
                    // unloaded); one error per cycle says it.
                    if !std::mem::replace(&mut failed, true) {
                        out.errors.push(Error::Read { path: sensor.input.clone(), error });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn temperature_inputs_are_recognised_by_name() {
        assert_eq!(temp_input_index(b"temp1_input"), Some(1));
        assert_eq!(temp_input_index(b"temp12_input"), Some(12));
        for other in ["temp1_label", "temp_input", "tempx_input", "in0_input", "fan1_input", "temp1_input2"] {
            assert_eq!(temp_input_index(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn values_are_millidegrees() {
        assert_eq!(parse_millidegrees(b"45500\n"), Some(45.5));
        assert_eq!(parse_millidegrees(b"-7000\n"), Some(-7.0));
        assert_eq!(parse_millidegrees(b"0"), Some(0.0));
        assert_eq!(parse_millidegrees(b""), None);
        assert_eq!(parse_millidegrees(b"45.5\n"), None);
        assert_eq!(parse_millidegrees(b"\xff"), None);
    }

    #[test]
    fn hwmon_entries_sort_numerically() {
        let mut entries: Vec<OsString> = ["hwmon10", "hwmon2", "other", "hwmon0"].map(OsString::from).to_vec();
        entries.sort_by(|a, b| hwmon_index(a).cmp(&hwmon_index(b)));
        assert_eq!(entries, ["hwmon0", "hwmon2", "hwmon10", "other"]);
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(text in proptest::collection::vec(any::<u8>(), 0..32)) {
            let _ = parse_millidegrees(&text);
            let _ = temp_input_index(&text);
        }
    }
}
