//! Run-time enable/disable of scrapers and discovery sources ("switches"), kept in the store
//! so that a restart, even after `kill -9`, keeps them.
//!
//! A switch wins over the config's `enabled`. One that agrees with the config is forgotten
//! (at the switch or at the next load of the config), so editing `enabled` in the file
//! decides again once it says what the switch said.

use std::collections::BTreeMap;

use anyhow::Context as _;

use crate::config::Config;
use crate::daemon::Daemon;
use crate::tasks::{format_rfc3339, now_nanos};

/// The store's kind of a scraper's switch.
const SCRAPER: &str = "scraper";
/// The store's kind of a discovery source's switch (by id, for every section with that id).
const DISCOVERER: &str = "discoverer";

impl Daemon {
    /// Enable or disable a scraper and keep it so; `Ok(false)` when there is no such scraper.
    pub fn switch_scraper(&self, name: &str, enabled: bool) -> anyhow::Result<bool> {
        if !self.scrapers.set_enabled(name, enabled) {
            return Ok(false);
        }
        let configured = self
            .config
            .load()
            .config
            .scraper
            .iter()
            .find(|scraper| scraper.name == name)
            .map(|scraper| scraper.enabled);
        self.keep_switch(SCRAPER, name, enabled, configured)?;
        Ok(true)
    }

    /// Enable or disable every discovery source with this id and keep it so; `Ok(false)`
    /// when no source has this id.
    pub fn switch_discoverer(&self, id: &str, enabled: bool) -> anyhow::Result<bool> {
        if !self.discovery.set_enabled(id, enabled) {
            return Ok(false);
        }
        let configured = self.discovery.config_enabled(id);
        self.keep_switch(DISCOVERER, id, enabled, configured)?;
        Ok(true)
    }

    fn keep_switch(
        &self,
        kind: &str,
        name: &str,
        enabled: bool,
        configured: Option<bool>,
    ) -> anyhow::Result<()> {
        let result = if configured == Some(enabled) {
            self.store.delete_switch(kind, name).map(|_| ())
        } else {
            self.store
                .put_switch(kind, name, enabled, &format_rfc3339(now_nanos()))
        };
        result.with_context(|| {
            format!("{kind} {name} is switched but the store did not keep it (a restart undoes it)")
        })
    }

    /// Hand the kept discoverer switches to the discovery manager before it applies `config`.
    pub(crate) fn load_discoverer_switches(&self) -> BTreeMap<String, bool> {
        let switches = self.stored_switches(DISCOVERER);
        self.discovery.set_switches(switches.clone());
        switches
    }

    /// After the discovery manager applied a config: forget the switches it now agrees with.
    pub(crate) fn prune_discoverer_switches(&self, switches: &BTreeMap<String, bool>) {
        for (id, enabled) in switches {
            if self.discovery.config_enabled(id) == Some(*enabled) {
                self.forget_switch(DISCOVERER, id);
            }
        }
    }

    /// The scrapers of `config` with the kept switches applied; switches that agree with the
    /// config are forgotten.
    pub(crate) fn switched_scrapers(&self, config: &Config) -> Vec<weir_scrapers::ScraperConfig> {
        let switches = self.stored_switches(SCRAPER);
        let mut scrapers = config.scraper.clone();
        for scraper in &mut scrapers {
            match switches.get(&scraper.name) {
                Some(&enabled) if enabled == scraper.enabled => {
                    self.forget_switch(SCRAPER, &scraper.name);
                }
                Some(&enabled) => {
                    tracing::info!(scraper = %scraper.name, enabled, "scraper switched at run time (kept in the store)");
                    scraper.enabled = enabled;
                }
                None => {}
            }
        }
        scrapers
    }

    fn stored_switches(&self, kind: &str) -> BTreeMap<String, bool> {
        self.store.switches(kind).unwrap_or_else(|error| {
            tracing::error!(%error, kind, "cannot read the kept switches; the config decides");
            BTreeMap::new()
        })
    }

    fn forget_switch(&self, kind: &str, name: &str) {
        if let Err(error) = self.store.delete_switch(kind, name) {
            tracing::error!(%error, kind, name, "cannot forget a switch");
        }
    }
}
