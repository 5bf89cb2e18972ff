//! Device strings (`cpu`, `cuda`, `cuda:N`) and their canonical form. A leaf module.
//!
//! Requests cross the plugin boundary with the device as a string ([`device_string`] writes
//! it); [`parse_device`] reads it back and rejects anything else, so a typo never turns into a
//! silent CPU run.

use tch::Device;

/// Why a device string was rejected by [`parse_device`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("device {input:?}: {why}; expected cpu, cuda or cuda:N (N a GPU index: 0, 1, ...)")]
pub struct DeviceError {
    /// The string as given.
    pub input: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// `cpu` → [`Device::Cpu`], `cuda` → `Cuda(0)`, `cuda:N` → `Cuda(N)`. Leading and trailing
/// whitespace is not accepted; `auto` is not a device (the command line resolves it first).
///
/// Whether GPU `N` exists is not checked here (that needs libtorch's view of the machine).
///
/// # Errors
/// [`DeviceError`] for an unknown string or a `cuda:` suffix that is not a non-negative
/// integer.
pub fn parse_device(s: &str) -> Result<Device, DeviceError> {
    let err = |why| DeviceError {
        input: s.to_string(),
        why,
    };
    match s {
        "cpu" => Ok(Device::Cpu),
        "cuda" => Ok(Device::Cuda(0)),
        _ => match s.strip_prefix("cuda:") {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n
                .parse()
                .map(Device::Cuda)
                .map_err(|_| err("the GPU index is too large")),
            Some(_) => Err(err("the GPU index after `cuda:` must be a number")),
            None => Err(err("unknown device")),
        },
    }
}

/// Canonical device string for records and requests: `cpu` or `cuda:N` (what
/// [`parse_device`] reads back); other libtorch devices as their lower-cased debug name.
pub fn device_string(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_and_round_trips() {
        assert_eq!(parse_device("cpu"), Ok(Device::Cpu));
        assert_eq!(parse_device("cuda"), Ok(Device::Cuda(0)));
        assert_eq!(parse_device("cuda:3"), Ok(Device::Cuda(3)));
        for d in [Device::Cpu, Device::Cuda(0), Device::Cuda(7)] {
            assert_eq!(parse_device(&device_string(d)), Ok(d));
        }
    }

    #[test]
    fn rejects_what_it_used_to_turn_into_cpu_or_cuda_0() {
        for bad in [
            "gpu", "CPU", "auto", "", " cpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1.5",
        ] {
            let e = parse_device(bad).unwrap_err();
            assert_eq!(e.input, bad);
            let msg = e.to_string();
            assert!(msg.contains("expected cpu, cuda or cuda:N"), "{msg}");
        }
        assert!(parse_device("cuda:x")
            .unwrap_err()
            .to_string()
            .contains("must be a number"));
        assert!(parse_device("cuda:99999999999999999999")
            .unwrap_err()
            .to_string()
            .contains("too large"));
    }
}
