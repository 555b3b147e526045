//! HTTPS for the API (`[http] https-enabled`): rustls with the aws-lc-rs provider (the one
//! provider of the whole dependency tree), PEM certificate chain and private key.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// A TLS acceptor from PEM files; `key` defaults to the certificate file (Kapacitor's rule:
/// the key may sit in the same file).
pub fn acceptor(certificate: &Path, key: Option<&Path>) -> anyhow::Result<TlsAcceptor> {
    let key = key.unwrap_or(certificate);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certificate)
        .with_context(|| {
            format!(
                "[http] https-certificate {}: cannot read",
                certificate.display()
            )
        })?
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!(
                "[http] https-certificate {}: not PEM certificates",
                certificate.display()
            )
        })?;
    if chain.is_empty() {
        bail!(
            "[http] https-certificate {}: no certificate in the file",
            certificate.display()
        );
    }
    let private_key = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "[http] https-private-key {}: no PEM private key",
            key.display()
        )
    })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(chain, private_key)
    .context("[http] the certificate and private key do not match")?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
