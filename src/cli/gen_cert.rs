//! `pinsocket gen-cert`: a self-signed certificate and its private key for
//! `--tls-cert` and `--tls-key`, with what to do next printed.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose, PublicKeyData,
    SanType, SerialNumber,
};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

/// Apple devices refuse TLS server certificates valid for longer.
const APPLE_MAX_DAYS: u32 = 825;

/// Write a self-signed certificate and private key (ECDSA P-256, PEM) for
/// `--tls-cert` and `--tls-key`, then say how to serve with them and how
/// to make a phone trust the certificate.
#[derive(clap::Args, Debug)]
pub(crate) struct GenCert {
    /// A host name or IP address the server is opened by, as typed in the
    /// browser: `pi.local`, `192.168.1.20`, `localhost`. Repeat it for
    /// each one; an address becomes an IP entry of the certificate, a name
    /// a DNS entry. A browser refuses the certificate for any other.
    #[arg(long = "host", value_name = "NAME-OR-IP", required = true)]
    hosts: Vec<String>,
    /// Where to write the certificate.
    #[arg(long, value_name = "FILE", default_value = "pinsocket-cert.pem")]
    cert: PathBuf,
    /// Where to write the private key (readable by its owner only).
    #[arg(long, value_name = "FILE", default_value = "pinsocket-key.pem")]
    key: PathBuf,
    /// How many days the certificate is valid. Apple devices refuse
    /// more than 825.
    #[arg(long, value_name = "N", default_value_t = APPLE_MAX_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    days: u32,
    /// Replace the files if they exist (by default nothing is overwritten).
    #[arg(long)]
    force: bool,
}

/// Runs `pinsocket gen-cert`.
pub(crate) fn gen_cert(args: &GenCert) -> anyhow::Result<()> {
    let sans = args
        .hosts
        .iter()
        .map(|host| san(host))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.cert == args.key {
        bail!(
            "--cert and --key are the same file, {}",
            args.cert.display()
        );
    }
    if !args.force {
        for path in [&args.cert, &args.key] {
            if path.exists() {
                bail!(
                    "{} exists: not overwritten (--force replaces it)",
                    path.display()
                );
            }
        }
    }

    let key = KeyPair::generate().context("cannot generate a key")?;
    let mut params = CertificateParams::default();
    params.subject_alt_names = sans;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("pinsocket {}", args.hosts[0]));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.serial_number = Some(serial()?);
    let now = time::OffsetDateTime::now_utc();
    // An hour back, for clocks a little behind this one.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(args.days));
    let cert = params
        .self_signed(&key)
        .context("cannot make the certificate")?;

    write_new(&args.key, key.serialize_pem().as_bytes(), true, args.force)?;
    write_new(&args.cert, cert.pem().as_bytes(), false, args.force)?;

    let fingerprint = digest(&SHA256, cert.der())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let spki = STANDARD.encode(digest(&SHA256, &key.subject_public_key_info()));
    let until = params.not_after.date();
    let (cert_path, key_path) = (args.cert.display(), args.key.display());
    let hosts = args.hosts.join(", ");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "pinsocket: wrote the certificate {cert_path}, for {hosts}, valid until {until}"
    )?;
    writeln!(
        out,
        "pinsocket: wrote its private key {key_path}: keep it secret, on this machine"
    )?;
    writeln!(out, "pinsocket: SHA-256 fingerprint {fingerprint}")?;
    if args.days > APPLE_MAX_DAYS {
        writeln!(
            out,
            "pinsocket: note: iPhones and iPads refuse a certificate valid for more than \
             {APPLE_MAX_DAYS} days"
        )?;
    }
    let (cert_toml, key_toml) = (
        format!("{:?}", cert_path.to_string()),
        format!("{:?}", key_path.to_string()),
    );
    writeln!(
        out,
        "\nServe https with it:\n  pinsocket --listen 0.0.0.0:8443 --tls-cert {cert_path} \
         --tls-key {key_path}\nor in the config file:\n  [tls]\n  cert = {cert_toml}\n  \
         key = {key_toml}"
    )?;
    match args.hosts.iter().find(|h| !is_loopback(h)) {
        Some(host) => writeln!(
            out,
            "\nOpen https://{}:8443/ on the phone. To trust the certificate there, copy \
             {cert_path} to it (never the key), then:\n  \
             iPhone, iPad: open the file and install the profile (Settings > General > VPN & \
             Device Management), then turn on full trust for it in Settings > General > About \
             > Certificate Trust Settings.\n  \
             Android: Settings > Security > Encryption & credentials > Install a certificate > \
             CA certificate, and pick the file (the names vary with the version).\n  \
             Or open the page and accept the browser's warning, once the fingerprint it shows \
             is the one above.",
            host_in_url(host)
        )?,
        None => writeln!(
            out,
            "\nEvery --host is this machine's own: a phone needs the certificate made for \
             the name or address it opens (--host 192.168.1.20, --host pi.local)."
        )?,
    }
    writeln!(
        out,
        "Chromium in tests trusts this key alone with \
         --ignore-certificate-errors-spki-list={spki}"
    )?;
    Ok(())
}

/// `host` as a subject alternative name: an IP address (bracketed or not)
/// or a DNS name (letters, digits, `-`, dots, a leading `*.` wildcard).
fn san(host: &str) -> anyhow::Result<SanType> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let labels = name.strip_prefix("*.").unwrap_or(name);
    let valid = !labels.is_empty()
        && name.len() <= 253
        && labels.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid {
        bail!("--host {host:?}: not a host name (like pi.local) or an IP address");
    }
    let name = rcgen::string::Ia5String::try_from(name.to_ascii_lowercase())
        .with_context(|| format!("--host {host:?}"))?;
    Ok(SanType::DnsName(name))
}

/// A random positive 128-bit serial number: a certificate made again for
/// the same host must not repeat one, or Firefox refuses it.
fn serial() -> anyhow::Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no random numbers from the system"))?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Whether `host` names this machine only: `localhost` or a loopback
/// address.
fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host` as it goes in a URL: an IPv6 address in brackets.
fn host_in_url(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => host.to_owned(),
    }
}

/// Writes `contents` to `path`, which must not exist unless `force`; a
/// `secret` file is readable by its owner only.
fn write_new(path: &Path, contents: &[u8], secret: bool, force: bool) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // A key file that existed keeps its mode through `--force`: narrow it.
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", path.display()))?;
    }
    file.write_all(contents)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn addresses_become_ip_entries_and_names_dns_entries() {
        assert!(matches!(
            san("192.168.1.20").unwrap(),
            SanType::IpAddress(_)
        ));
        assert!(matches!(san("[::1]").unwrap(), SanType::IpAddress(_)));
        assert!(matches!(san("fe80::1").unwrap(), SanType::IpAddress(_)));
        for name in ["pi.local", "localhost", "*.example.org", "Pi-2.Local."] {
            assert!(matches!(san(name).unwrap(), SanType::DnsName(_)), "{name}");
        }
    }

    #[test]
    fn a_host_that_is_neither_is_refused_by_name() {
        for bad in [
            "",
            "pi local",
            "-pi.local",
            "pi..local",
            "http://pi.local",
            "é.local",
        ] {
            let err = san(bad).unwrap_err().to_string();
            assert!(err.contains("not a host name"), "{bad}: {err}");
        }
    }

    #[test]
    fn ipv6_hosts_are_bracketed_in_urls() {
        assert_eq!(host_in_url("::1"), "[::1]");
        assert_eq!(host_in_url("pi.local"), "pi.local");
        assert_eq!(host_in_url("10.0.0.2"), "10.0.0.2");
    }
}
