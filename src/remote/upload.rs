//! Upload of a remote collector's points to central's `/write`: every collected batch is
//! appended to the sinks' disk buffer (`data_dir/remote-buffer`, `[remote] buffer-max-size`,
//! oldest dropped first), so collection never waits on upload; one task sends the oldest
//! queued record at a time with the machine credential and acknowledges it on 2xx
//! (at-least-once). Each upload carries `X-Weir-Upload-Id`, the SHA-256 of what it sends,
//! which central remembers, so a retry after an interrupted upload is not counted twice.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use weir_engine::PointBatch;
use weir_engine::line_protocol::Precision;
use weir_sinks::buffer::disk::DiskQueue;
use weir_sinks::buffer::{BatchKey, QueueStats, Record};
use weir_sinks::influxdb::encode::encode_points;

/// The buffer between collection and upload.
pub struct Uploader {
    queue: Mutex<DiskQueue>,
    wake: tokio::sync::Notify,
}

/// What one attempt did.
pub enum Attempt {
    /// Nothing queued.
    Idle,
    /// A record was delivered (or central had it already).
    Sent,
    /// Central refused the credential (401/403).
    Refused(String),
    /// Central was unreachable or answered an error; retry later.
    Failed(String),
}

impl Uploader {
    /// Open (or resume) the buffer in `dir`.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Uploader> {
        Ok(Uploader {
            queue: Mutex::new(DiskQueue::open(dir, max_bytes)?),
            wake: tokio::sync::Notify::new(),
        })
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, DiskQueue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue a collected batch (never waits on the network).
    pub fn offer(&self, batch: &PointBatch) {
        if batch.points.is_empty() {
            return;
        }
        let mut body = Vec::new();
        let summary = encode_points(&mut body, &batch.points, Precision::Nanoseconds);
        if summary.encoded == 0 {
            return;
        }
        let key = BatchKey {
            database: batch.database.clone(),
            retention_policy: batch.retention_policy.clone(),
            precision: Precision::Nanoseconds,
            create: false,
        };
        let points = u32::try_from(summary.encoded).unwrap_or(u32::MAX);
        if let Err(error) = self.queue().push(Record::new(key, points, body)) {
            tracing::error!(%error, "remote upload buffer write failed; points dropped");
        }
        self.wake.notify_one();
    }

    /// Queue gauges (points, bytes, dropped so far).
    pub fn stats(&self) -> QueueStats {
        self.queue().stats()
    }

    /// Wait until something is queued or `timeout` passes.
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }

    /// Send the oldest queued record into `database` on central.
    pub async fn send_one(
        &self,
        http: &reqwest::Client,
        base: &str,
        credential: &str,
        database: &str,
    ) -> Attempt {
        let batch = {
            let mut queue = self.queue();
            // One record per upload: the same record is the same upload after a restart.
            match queue.next_batch(1) {
                Ok(Some(batch)) => batch,
                Ok(None) => return Attempt::Idle,
                Err(error) => {
                    return Attempt::Failed(format!("upload buffer read failed: {error}"));
                }
            }
        };
        let mut hasher = Sha256::new();
        hasher.update(batch.key.retention_policy.as_bytes());
        hasher.update([0]);
        hasher.update(&batch.body);
        let upload_id: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut url = format!("{base}/write?db={database}&precision=ns");
        if !batch.key.retention_policy.is_empty() {
            url.push_str(&format!("&rp={}", batch.key.retention_policy));
        }
        let sent = http
            .post(url)
            .bearer_auth(credential)
            .header(crate::api::UPLOAD_ID_HEADER, &upload_id)
            .body(batch.body.clone())
            .send()
            .await;
        let outcome = match sent {
            Ok(response) if response.status().is_success() => Attempt::Sent,
            Ok(response) => {
                let code = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                if code == 401 || code == 403 {
                    Attempt::Refused(format!("central refused the upload ({code}): {text}"))
                } else {
                    Attempt::Failed(format!("central answered the upload {code}: {text}"))
                }
            }
            Err(error) => Attempt::Failed(format!("cannot reach central: {error}")),
        };
        let mut queue = self.queue();
        match outcome {
            Attempt::Sent => {
                if let Err(error) = queue.ack(&batch) {
                    tracing::error!(%error, "upload buffer acknowledgement failed");
                }
            }
            _ => queue.rewind(),
        }
        outcome
    }
}
