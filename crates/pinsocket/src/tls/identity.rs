//! [`TlsConfig`]: the server's certificate chain and private key, read from
//! PEM and checked to go together, and [`TlsSetting`], what the builder
//! holds until the server starts.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A server's TLS identity: a certificate chain and its private key, with
/// rustls (on *ring*) set up to serve them: TLS 1.3 and 1.2, ALPN
/// `http/1.1`, no client certificates.
///
/// Give it to [`Server::tls`](crate::Server::tls), or let
/// [`Server::tls_pem`](crate::Server::tls_pem) read the files when the
/// server starts. `pinsocket gen-cert` writes a self-signed pair.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) server: Arc<ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Reads a PEM certificate chain (the server's certificate first, then
    /// any intermediates) and a PEM private key: PKCS#8 (`BEGIN PRIVATE
    /// KEY`), RSA or EC, or the older `BEGIN RSA PRIVATE KEY` and `BEGIN EC
    /// PRIVATE KEY` forms. Every error names the file it is about.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<TlsConfig> {
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let read = |path: &Path, what: &str| {
            std::fs::read(path).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot read the TLS {what} {}: {e}", path.display()),
                )
            })
        };
        let cert_pem = read(cert, "certificate")?;
        let key_pem = read(key, "private key")?;
        build(
            &cert_pem,
            &key_pem,
            &cert.display().to_string(),
            &key.display().to_string(),
        )
    }

    /// Like [`TlsConfig::from_pem_files`], from PEM text in memory.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> io::Result<TlsConfig> {
        build(
            cert_pem,
            key_pem,
            "the certificate PEM",
            "the private key PEM",
        )
    }
}

/// The certificate chain and key checked and handed to rustls; `cert_name`
/// and `key_name` say in errors which input was wrong.
fn build(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_name: &str,
    key_name: &str,
) -> io::Result<TlsConfig> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            invalid(format!(
                "{cert_name}: not a valid PEM certificate chain: {e}"
            ))
        })?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "{cert_name}: no certificate in it (a PEM file with `-----BEGIN CERTIFICATE-----`)"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => invalid(format!(
            "{key_name}: no private key in it (a PEM file with `-----BEGIN PRIVATE KEY-----`, \
             PKCS#8, RSA or EC)"
        )),
        e => invalid(format!("{key_name}: not a valid PEM private key: {e}")),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => invalid(format!(
                "{key_name} is not the private key of the certificate in {cert_name}"
            )),
            e => invalid(format!("{key_name}: not usable with {cert_name}: {e}")),
        })?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConfig {
        server: Arc::new(server),
    })
}

/// What [`Server::tls`](crate::Server::tls) or
/// [`Server::tls_pem`](crate::Server::tls_pem) set: an identity, or the
/// files to read it from when the server starts.
#[derive(Debug)]
pub(crate) enum TlsSetting {
    Ready(TlsConfig),
    Pem { cert: PathBuf, key: PathBuf },
}

impl TlsSetting {
    pub(crate) fn load(self) -> io::Result<TlsConfig> {
        match self {
            TlsSetting::Ready(config) => Ok(config),
            TlsSetting::Pem { cert, key } => TlsConfig::from_pem_files(cert, key),
        }
    }
}
