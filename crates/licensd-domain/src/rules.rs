//! Pure licensing rules. Each takes the state the store loaded (inside its locked transaction) and
//! the current instant, and returns what must happen or the `Denial` that refuses it.

use crate::clock::{DAY, HOUR, Millis, SECOND};
use crate::denial::Denial;
use crate::model::*;

/// The instant past which a license no longer validates: expiry plus grace.
pub fn effective_expiry(license: &License) -> Option<Millis> {
    license
        .expires_at
        .map(|at| at.saturating_add(license.terms.grace_period_hours.max(0).saturating_mul(HOUR)))
}

/// Whether the license is expired at `now`: at or past its expiry plus grace. The one definition
/// every API enforces and reports (`is_expired`, `is_license_expired`, `Expired` keywords): a
/// license inside its grace period is not expired (LicenseSpring reference 6.2,
/// `validity_with_grace`), and SLASCONE reports it the same way.
pub fn is_expired(license: &License, now: Millis) -> bool {
    effective_expiry(license).is_some_and(|end| now >= end)
}

/// Whether a feature of a license is active at `now`: it has no expiry of its own, or `now` is
/// before it. Consumption, floating, feature checks, licence files and every dialect's feature
/// list use this one rule.
pub fn feature_active(feature: &LicenseFeature, now: Millis) -> bool {
    feature.overrides.expires_at.is_none_or(|at| now < at)
}

/// True when the license is past `expires_at` but still inside its grace period.
pub fn in_grace_period(license: &License, now: Millis) -> bool {
    match (license.expires_at, effective_expiry(license)) {
        (Some(expiry), Some(with_grace)) => now >= expiry && now < with_grace,
        _ => false,
    }
}

/// Whether the license is inside its maintenance (updates) period; `None` maintenance means always.
pub fn maintenance_active(license: &License, now: Millis) -> bool {
    license.maintenance_expires_at.is_none_or(|until| now < until)
}

/// The checks every use of a license makes, in this order: product state, license state, start,
/// expiry. Activation, validation, consumption and floating all start here, so a dialect can never
/// check them in a different order.
pub fn check_license_usable(product: &Product, license: &License, now: Millis) -> Result<(), Denial> {
    match product.status {
        ProductStatus::Active => {}
        ProductStatus::Disabled => return Err(Denial::ProductDisabled),
        ProductStatus::Archived => return Err(Denial::ProductArchived),
    }
    match license.status {
        LicenseStatus::Active => {}
        LicenseStatus::Disabled => return Err(Denial::LicenseDisabled),
        LicenseStatus::Blocked => return Err(Denial::LicenseBlocked),
        LicenseStatus::Suspended => return Err(Denial::LicenseSuspended),
    }
    if license.assignment == Assignment::InStock {
        return Err(Denial::LicenseNotAssigned);
    }
    if license.starts_at.is_some_and(|start| now < start) {
        return Err(Denial::LicenseNotStarted);
    }
    if is_expired(license, now) {
        return Err(if license.terms.kind == LicenseKind::Trial {
            Denial::TrialExpired
        } else {
            Denial::LicenseExpired
        });
    }
    Ok(())
}

/// Everything validation needs to know about a device.
#[derive(Debug, Clone, Copy)]
pub struct DeviceState<'a> {
    pub fingerprint: Option<&'a str>,
    /// The active device row for that fingerprint on this license, if any.
    pub device: Option<&'a Device>,
    pub blocked: bool,
}

/// The outcome of a successful validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    pub in_grace_period: bool,
    pub maintenance_active: bool,
}

/// Validation order: not found (store) → product → license state → not started → expired →
/// device blocked → device not activated. Floating licenses validate without an activation: their
/// seat is a lease, checked by the floating rules.
pub fn validate(
    product: &Product,
    license: &License,
    device: DeviceState<'_>,
    now: Millis,
) -> Result<Validity, Denial> {
    check_license_usable(product, license, now)?;
    if let Some(fingerprint) = device.fingerprint {
        if fingerprint.trim().is_empty() {
            return Err(Denial::FingerprintRequired);
        }
        if device.blocked {
            return Err(Denial::DeviceBlocked);
        }
        let activated = device.device.is_some_and(Device::is_active);
        if !activated && license.terms.floating.is_none() {
            return Err(Denial::DeviceNotActivated);
        }
    }
    Ok(Validity {
        in_grace_period: in_grace_period(license, now),
        maintenance_active: maintenance_active(license, now),
    })
}

/// State the activation rule reads, loaded after the license row was locked.
#[derive(Debug, Clone)]
pub struct ActivationState<'a> {
    pub product: &'a Product,
    pub license: &'a License,
    pub device: &'a DeviceInfo,
    /// The existing row for this fingerprint on this license, active or not.
    pub existing: Option<&'a Device>,
    pub blocked: bool,
    pub active_devices: i64,
    /// Active devices of the activating license user, for user-based licenses.
    pub user_active_devices: Option<i64>,
    /// New activations within the reactivation lockout window.
    pub recent_activations: i64,
}

/// What the store must do to carry out an allowed activation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivationPlan {
    /// The device is already active: nothing is consumed, only last-seen data is refreshed.
    AlreadyActive,
    /// Bind the device. `is_transfer` increments the license's transfer count;
    /// `start_trial_expiry` sets a trial's expiry on its first activation.
    Activate {
        is_transfer: bool,
        start_trial_expiry: Option<Millis>,
    },
}

pub fn plan_activation(state: &ActivationState<'_>, now: Millis) -> Result<ActivationPlan, Denial> {
    let license = state.license;
    check_license_usable(state.product, license, now)?;
    if state.device.fingerprint.trim().is_empty() {
        return Err(Denial::FingerprintRequired);
    }
    if state.blocked {
        return Err(Denial::DeviceBlocked);
    }
    if state.device.is_vm && !license.terms.vm_allowed {
        return Err(Denial::VmNotAllowed);
    }
    if state.existing.is_some_and(Device::is_active) {
        return Ok(ActivationPlan::AlreadyActive);
    }
    if crate::lockout::reactivation_locked(license, state.recent_activations) {
        return Err(Denial::ReactivationLockout);
    }
    if let Some(max) = license.terms.max_activations
        && state.active_devices >= max
    {
        return Err(Denial::ActivationLimitReached);
    }
    if let (Some(max), Some(active)) = (license.terms.max_activations_per_user, state.user_active_devices)
        && active >= max
    {
        return Err(Denial::UserActivationLimitReached);
    }
    // A transfer is a *different* device arriving after an earlier device left (deactivations
    // outnumber transfers). A device that was active on this license before (its row is kept,
    // inactive) coming back is a reactivation, not a transfer: an owner who deactivates and
    // reactivates their own machine consumes no transfer, even with `max_transfers: 0`.
    let returning = state.existing.is_some();
    let is_transfer = !returning && license.deactivation_count > license.transfer_count;
    if is_transfer
        && license
            .terms
            .max_transfers
            .is_some_and(|max| license.transfer_count >= max)
    {
        return Err(Denial::TransferLimitReached);
    }
    let start_trial_expiry = match (license.expires_at, expiry_days_after_activation(license)) {
        (None, Some(days)) => Some(now.saturating_add(days.saturating_mul(DAY))),
        _ => None,
    };
    Ok(ActivationPlan::Activate {
        is_transfer,
        start_trial_expiry,
    })
}

/// How long a test code lasts after its first activation when the license does not say
/// (DNA: "expires 15 days after activation").
pub const TEST_CODE_DAYS: i64 = 15;

/// The days a license runs from its first activation (DNA's ExpiryNoDays): its `trial_days`
/// (stamped at issue, from the product for trials and evaluation codes; none → no clock), and for
/// test codes without them `TEST_CODE_DAYS`. The clock starts only while the license has no
/// `expires_at`: a fixed expiry is kept.
pub fn expiry_days_after_activation(license: &License) -> Option<i64> {
    match license.terms.kind {
        LicenseKind::Test => Some(license.trial_days.unwrap_or(TEST_CODE_DAYS)),
        LicenseKind::Trial | LicenseKind::Evaluation | LicenseKind::Normal => license.trial_days,
    }
}

/// Assigning one more user to a license: refused once `max_users` users are assigned.
pub fn check_user_assignment(license: &License, assigned_users: i64) -> Result<(), Denial> {
    match license.terms.max_users {
        Some(max) if assigned_users >= max => Err(Denial::LicenseUserLimitReached),
        _ => Ok(()),
    }
}

/// Deactivation needs an active device; it never consumes a transfer by itself (the next new
/// device does).
pub fn check_deactivation(existing: Option<&Device>) -> Result<(), Denial> {
    match existing {
        Some(device) if device.is_active() => Ok(()),
        _ => Err(Denial::DeviceNotActivated),
    }
}

/// The first instant of the consumption period containing `now`.
pub fn period_start(period: ResetPeriod, now: Millis) -> Millis {
    use jiff::{Timestamp, ToSpan, tz::TimeZone};
    let Ok(ts) = Timestamp::from_millisecond(now) else {
        return now;
    };
    let date = ts.to_zoned(TimeZone::UTC).date();
    let start = match period {
        ResetPeriod::Never => return i64::MIN,
        ResetPeriod::Daily => date,
        ResetPeriod::Weekly => {
            let back = i64::from(date.weekday().to_monday_zero_offset());
            date.checked_sub(back.days()).unwrap_or(date)
        }
        ResetPeriod::Monthly => date.first_of_month(),
        ResetPeriod::Yearly => date.first_of_year(),
    };
    start
        .to_zoned(TimeZone::UTC)
        .map(|zoned| zoned.timestamp().as_millisecond())
        .unwrap_or(now)
}

/// A counter as it stands after applying a due periodic reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub used: i64,
    pub period_start: Millis,
}

pub fn current_counter(terms: &ConsumptionTerms, used: i64, stored_period_start: Millis, now: Millis) -> Counter {
    if terms.reset_period == ResetPeriod::Never {
        return Counter {
            used,
            period_start: stored_period_start,
        };
    }
    let start = period_start(terms.reset_period, now);
    if start > stored_period_start {
        Counter {
            used: 0,
            period_start: start,
        }
    } else {
        Counter {
            used,
            period_start: stored_period_start,
        }
    }
}

/// The most a counter may reach: the cap plus any allowed overage. `None` is unlimited.
pub fn consumption_ceiling(terms: &ConsumptionTerms) -> Option<i64> {
    let cap = terms.max_consumptions?;
    if !terms.allow_overages {
        return Some(cap);
    }
    terms.max_overages.map(|over| cap.saturating_add(over.max(0)))
}

/// Decides a consumption of `amount` units against a counter. Returns the counter after it.
/// Negative amounts give units back; the counter never goes below zero.
pub fn apply_consumption(
    terms: &ConsumptionTerms,
    counter: Counter,
    amount: i64,
    limit_denial: Denial,
) -> Result<Counter, Denial> {
    if amount == 0 {
        return Err(Denial::ConsumptionAmountInvalid);
    }
    if amount < 0 && !terms.allow_negative {
        return Err(Denial::NegativeConsumptionNotAllowed);
    }
    let next = counter.used.saturating_add(amount).max(0);
    if amount > 0 && consumption_ceiling(terms).is_some_and(|ceiling| next > ceiling) {
        return Err(limit_denial);
    }
    Ok(Counter {
        used: next,
        period_start: counter.period_start,
    })
}

/// License-level consumption: usable license, consumption type, then the counter.
pub fn plan_consumption(product: &Product, license: &License, amount: i64, now: Millis) -> Result<Counter, Denial> {
    check_license_usable(product, license, now)?;
    let terms = match (&license.terms.license_type, &license.terms.consumption) {
        (LicenseType::Consumption, Some(terms)) => terms.clone(),
        (LicenseType::Consumption, None) => ConsumptionTerms {
            max_consumptions: None,
            allow_overages: false,
            max_overages: None,
            allow_negative: false,
            reset_period: ResetPeriod::Never,
        },
        _ => return Err(Denial::NotConsumption),
    };
    let counter = current_counter(&terms, license.consumption_used, license.consumption_period_start, now);
    apply_consumption(&terms, counter, amount, Denial::ConsumptionLimitReached)
}

/// Feature-level consumption.
pub fn plan_feature_consumption(
    product: &Product,
    license: &License,
    feature: &LicenseFeature,
    amount: i64,
    now: Millis,
) -> Result<Counter, Denial> {
    check_license_usable(product, license, now)?;
    if !feature_active(feature, now) {
        return Err(Denial::FeatureExpired);
    }
    if feature.definition.spec.feature_type != FeatureType::Consumption {
        return Err(Denial::FeatureNotConsumption);
    }
    let terms = feature.consumption_terms();
    let counter = current_counter(&terms, feature.consumption_used, feature.period_start, now);
    apply_consumption(&terms, counter, amount, Denial::FeatureConsumptionLimitReached)
}

/// Whether a lease still holds its seat at `now`.
pub fn lease_is_live(lease: &FloatingLease, now: Millis) -> bool {
    lease.expires_at > now || lease.borrowed_until.is_some_and(|until| until > now)
}

/// State the floating checkout rule reads, after locking the license row.
#[derive(Debug, Clone)]
pub struct LeaseState<'a> {
    pub product: &'a Product,
    pub license: &'a License,
    pub fingerprint: &'a str,
    pub blocked: bool,
    /// Live leases of other devices on the same license (or feature).
    pub other_live_leases: i64,
    /// This device's lease, live or not.
    pub own_lease: Option<&'a FloatingLease>,
    /// Requested borrow end, if borrowing.
    pub borrow_until: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasePlan {
    pub expires_at: Millis,
    pub borrowed_until: Option<Millis>,
    /// False when the device already held a live lease (a renewal).
    pub new_seat: bool,
}

/// Checks out or renews a floating seat for a license.
pub fn plan_lease(state: &LeaseState<'_>, now: Millis) -> Result<LeasePlan, Denial> {
    check_license_usable(state.product, state.license, now)?;
    let Some(floating) = &state.license.terms.floating else {
        return Err(Denial::NotFloating);
    };
    if state.fingerprint.trim().is_empty() {
        return Err(Denial::FingerprintRequired);
    }
    if state.blocked {
        return Err(Denial::DeviceBlocked);
    }
    let borrowed_until = match state.borrow_until {
        None => None,
        Some(_) if !floating.borrow_allowed => return Err(Denial::BorrowNotAllowed),
        Some(until) => {
            let longest = now.saturating_add(floating.max_borrow_hours.max(0).saturating_mul(HOUR));
            if until <= now || until > longest {
                return Err(Denial::BorrowPeriodInvalid);
            }
            Some(until)
        }
    };
    plan_seat(
        floating.seats,
        floating.lease_seconds,
        state.other_live_leases,
        state.own_lease,
        borrowed_until,
        now,
        Denial::FloatingSeatsExhausted,
    )
}

/// Checks out or renews a floating feature seat.
pub fn plan_feature_lease(
    product: &Product,
    license: &License,
    feature: &LicenseFeature,
    other_live_leases: i64,
    own_lease: Option<&FloatingLease>,
    now: Millis,
) -> Result<LeasePlan, Denial> {
    check_license_usable(product, license, now)?;
    if !feature_active(feature, now) {
        return Err(Denial::FeatureExpired);
    }
    let Some(seats) = feature.floating_seats() else {
        return Err(Denial::FeatureNotFloating);
    };
    plan_seat(
        seats,
        feature.definition.spec.floating_lease_seconds,
        other_live_leases,
        own_lease,
        None,
        now,
        Denial::FeatureSeatsExhausted,
    )
}

fn plan_seat(
    seats: i64,
    lease_seconds: i64,
    other_live: i64,
    own: Option<&FloatingLease>,
    borrowed_until: Option<Millis>,
    now: Millis,
    exhausted: Denial,
) -> Result<LeasePlan, Denial> {
    let holds_seat = own.is_some_and(|lease| lease_is_live(lease, now));
    if !holds_seat && other_live >= seats {
        return Err(exhausted);
    }
    Ok(LeasePlan {
        expires_at: now.saturating_add(lease_seconds.max(1).saturating_mul(SECOND)),
        borrowed_until,
        new_seat: !holds_seat,
    })
}

/// Releasing needs a live lease held by the device.
pub fn check_release(own_lease: Option<&FloatingLease>, now: Millis, not_held: Denial) -> Result<(), Denial> {
    match own_lease {
        Some(lease) if lease_is_live(lease, now) => Ok(()),
        _ => Err(not_held),
    }
}

/// Builds a license's dates and terms from a policy at issue time.
pub fn stamp_from_policy(policy: &Policy, now: Millis) -> (LicenseTerms, Option<Millis>, Option<Millis>) {
    let expires_at = match (policy.terms.kind, policy.duration_days) {
        // Trials start their clock at first activation (see `plan_activation`).
        (LicenseKind::Trial, _) | (_, None) => None,
        (_, Some(days)) => Some(now.saturating_add(days.saturating_mul(DAY))),
    };
    let maintenance = policy
        .maintenance_days
        .map(|days| now.saturating_add(days.saturating_mul(DAY)));
    (policy.terms.clone(), expires_at, maintenance)
}

#[cfg(test)]
mod tests;
