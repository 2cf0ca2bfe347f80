//! Issue 13's defects, each proven black-box against the real binary on both databases.

#[path = "hardening/json_objects.rs"]
mod json_objects;
#[path = "hardening/limits.rs"]
mod limits;
#[path = "hardening/log_secrets.rs"]
mod log_secrets;
#[path = "hardening/nul.rs"]
mod nul;
#[path = "hardening/rate_limits.rs"]
mod rate_limits;
#[path = "hardening/slow_clients.rs"]
mod slow_clients;
#[path = "hardening/trial_race.rs"]
mod trial_race;
#[path = "hardening/webhooks.rs"]
mod webhooks;
