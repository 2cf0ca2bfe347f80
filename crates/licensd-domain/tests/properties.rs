//! Property tests of the domain rules (tests/reliability/README.md): random sequences of
//! commands — activate, deactivate, consume (positive and negative), roll back, check out,
//! release, heartbeat, time passing — applied to an in-memory licence exactly as the store applies
//! the rules' plans. Whatever the sequence and the terms: no limit is ever exceeded (active
//! devices, transfers, consumption ceiling, floating seats) and no counter goes negative.

use licensd_domain::consumption_rollback::plan_rollback;
use licensd_domain::rules::*;
use licensd_domain::*;
use proptest::prelude::*;

const START: Millis = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn product() -> Product {
    Product {
        id: ProductId::new(1),
        code: "app".into(),
        name: "App".into(),
        auth_method: AuthMethod::Key,
        status: ProductStatus::Active,
        trial_allowed: true,
        trial_days: 14,
        metadata: serde_json::Value::Null,
        created_at: 0,
        updated_at: 0,
    }
}

fn license(terms: LicenseTerms) -> License {
    License {
        id: LicenseId::new(7),
        product_id: ProductId::new(1),
        policy_id: None,
        customer_id: None,
        key: Some("KEY".into()),
        status: LicenseStatus::Active,
        assignment: Assignment::Assigned,
        terms,
        starts_at: None,
        expires_at: None,
        maintenance_expires_at: None,
        trial_days: None,
        transfer_count: 0,
        deactivation_count: 0,
        consumption_used: 0,
        consumption_period_start: 0,
        order_ref: None,
        metadata: serde_json::Value::Null,
        created_at: 0,
        updated_at: 0,
    }
}

fn device(id: i64, fingerprint: &str, now: Millis) -> Device {
    Device {
        id: DeviceId::new(id),
        license_id: LicenseId::new(7),
        fingerprint: fingerprint.into(),
        name: None,
        hostname: None,
        os: None,
        app_version: None,
        ip: None,
        mac: None,
        is_vm: false,
        user_id: None,
        variables: serde_json::Value::Null,
        activated_at: now,
        last_seen_at: now,
        deactivated_at: None,
    }
}

#[derive(Debug, Clone)]
enum Command {
    Activate(u8),
    Deactivate(u8),
    Consume(i64),
    /// Roll back the n-th recorded consumption (modulo how many there are).
    Rollback(usize),
    Checkout(u8),
    Release(u8),
    Borrow(u8, i64),
    Advance(i64),
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => (0u8..8).prop_map(Command::Activate),
        2 => (0u8..8).prop_map(Command::Deactivate),
        3 => prop_oneof![-50i64..50, Just(i64::MAX), Just(i64::MIN + 1), Just(i64::MIN)].prop_map(Command::Consume),
        1 => any::<usize>().prop_map(Command::Rollback),
        3 => (0u8..8).prop_map(Command::Checkout),
        1 => (0u8..8).prop_map(Command::Release),
        1 => ((0u8..8), -10i64..100).prop_map(|(d, h)| Command::Borrow(d, h)),
        1 => prop_oneof![0i64..120_000, Just(3_600_000), Just(86_400_000 * 40)].prop_map(Command::Advance),
    ]
}

fn terms() -> impl Strategy<Value = LicenseTerms> {
    (
        prop::option::of(0i64..5),
        prop::option::of(0i64..3),
        (
            prop::option::of(0i64..200),
            any::<bool>(),
            prop::option::of(-5i64..50),
            any::<bool>(),
        ),
        prop_oneof![
            Just(ResetPeriod::Never),
            Just(ResetPeriod::Daily),
            Just(ResetPeriod::Monthly)
        ],
        (1i64..4, 1i64..600, any::<bool>(), 0i64..48),
    )
        .prop_map(
            |(max_activations, max_transfers, (cap, overages, max_overages, negative), reset, floating)| LicenseTerms {
                license_type: LicenseType::Consumption,
                max_activations,
                max_transfers,
                consumption: Some(ConsumptionTerms {
                    max_consumptions: cap,
                    allow_overages: overages,
                    max_overages,
                    allow_negative: negative,
                    reset_period: reset,
                }),
                floating: Some(FloatingTerms {
                    seats: floating.0,
                    lease_seconds: floating.1,
                    borrow_allowed: floating.2,
                    max_borrow_hours: floating.3,
                    sessions_per_client: None,
                }),
                ..LicenseTerms::default()
            },
        )
}

/// The in-memory store: the licence row, its devices, leases and recorded consumptions.
struct World {
    product: Product,
    license: License,
    devices: Vec<Device>,
    leases: Vec<FloatingLease>,
    consumptions: Vec<(i64, Millis)>,
    now: Millis,
}

impl World {
    fn active(&self) -> i64 {
        self.devices.iter().filter(|d| d.is_active()).count() as i64
    }

    fn live_leases(&self) -> i64 {
        self.leases.iter().filter(|l| lease_is_live(l, self.now)).count() as i64
    }

    fn apply(&mut self, command: &Command) {
        let now = self.now;
        match *command {
            Command::Activate(d) => {
                let fingerprint = format!("dev-{d}");
                let info = DeviceInfo {
                    fingerprint: fingerprint.clone(),
                    ..DeviceInfo::default()
                };
                let existing = self.devices.iter().find(|x| x.fingerprint == fingerprint).cloned();
                let state = ActivationState {
                    product: &self.product,
                    license: &self.license,
                    device: &info,
                    existing: existing.as_ref(),
                    blocked: false,
                    active_devices: self.active(),
                    user_active_devices: None,
                    recent_activations: 0,
                };
                if let Ok(ActivationPlan::Activate { is_transfer, .. }) = plan_activation(&state, now) {
                    if is_transfer {
                        self.license.transfer_count += 1;
                    }
                    match self.devices.iter_mut().find(|x| x.fingerprint == fingerprint) {
                        Some(row) => row.deactivated_at = None,
                        None => {
                            let id = self.devices.len() as i64 + 1;
                            self.devices.push(device(id, &fingerprint, now));
                        }
                    }
                }
            }
            Command::Deactivate(d) => {
                let fingerprint = format!("dev-{d}");
                let existing = self.devices.iter().find(|x| x.fingerprint == fingerprint).cloned();
                if check_deactivation(existing.as_ref()).is_ok()
                    && let Some(row) = self.devices.iter_mut().find(|x| x.fingerprint == fingerprint)
                {
                    row.deactivated_at = Some(now);
                    self.license.deactivation_count += 1;
                }
            }
            Command::Consume(amount) => {
                if let Ok(counter) = plan_consumption(&self.product, &self.license, amount, now) {
                    self.license.consumption_used = counter.used;
                    self.license.consumption_period_start = counter.period_start;
                    if amount > 0 {
                        self.consumptions.push((amount, now));
                    }
                }
            }
            Command::Rollback(n) => {
                if self.consumptions.is_empty() {
                    return;
                }
                let (amount, at) = self.consumptions.remove(n % self.consumptions.len());
                #[allow(
                    clippy::expect_used,
                    reason = "test model: every generated licence has consumption terms"
                )]
                let terms = self.license.terms.consumption.clone().expect("consumption terms");
                let current = current_counter(
                    &terms,
                    self.license.consumption_used,
                    self.license.consumption_period_start,
                    now,
                );
                if let Ok(counter) = plan_rollback(current, amount, at) {
                    self.license.consumption_used = counter.used;
                    self.license.consumption_period_start = counter.period_start;
                }
            }
            Command::Checkout(d) | Command::Borrow(d, _) => {
                let fingerprint = format!("dev-{d}");
                let borrow_until = match *command {
                    Command::Borrow(_, hours) => Some(now.saturating_add(hours.saturating_mul(3_600_000))),
                    _ => None,
                };
                let own = self.leases.iter().find(|l| l.fingerprint == fingerprint).cloned();
                let other_live_leases = self
                    .leases
                    .iter()
                    .filter(|l| l.fingerprint != fingerprint && lease_is_live(l, now))
                    .count() as i64;
                let state = LeaseState {
                    product: &self.product,
                    license: &self.license,
                    fingerprint: &fingerprint,
                    blocked: false,
                    other_live_leases,
                    own_lease: own.as_ref(),
                    borrow_until,
                };
                if let Ok(plan) = plan_lease(&state, now) {
                    self.leases.retain(|l| l.fingerprint != fingerprint);
                    self.leases.push(FloatingLease {
                        id: 0,
                        license_id: LicenseId::new(7),
                        feature_id: None,
                        fingerprint,
                        expires_at: plan.expires_at,
                        borrowed_until: plan.borrowed_until,
                        created_at: now,
                    });
                }
            }
            Command::Release(d) => {
                let fingerprint = format!("dev-{d}");
                let own = self.leases.iter().find(|l| l.fingerprint == fingerprint).cloned();
                if check_release(own.as_ref(), now, Denial::NotFloating).is_ok() {
                    self.leases.retain(|l| l.fingerprint != fingerprint);
                }
            }
            Command::Advance(ms) => self.now = self.now.saturating_add(ms),
        }
    }

    fn check_invariants(&self, step: usize) -> Result<(), TestCaseError> {
        let terms = &self.license.terms;
        if let Some(max) = terms.max_activations {
            prop_assert!(self.active() <= max, "step {step}: {} active > {max}", self.active());
        }
        if let Some(max) = terms.max_transfers {
            prop_assert!(
                self.license.transfer_count <= max,
                "step {step}: {} transfers > {max}",
                self.license.transfer_count
            );
        }
        prop_assert!(self.license.consumption_used >= 0, "step {step}: negative counter");
        if let Some(consumption) = &terms.consumption
            && let Some(ceiling) = consumption_ceiling(consumption)
        {
            prop_assert!(
                self.license.consumption_used <= ceiling.max(0),
                "step {step}: used {} > ceiling {ceiling}",
                self.license.consumption_used
            );
        }
        if let Some(floating) = &terms.floating {
            prop_assert!(
                self.live_leases() <= floating.seats,
                "step {step}: {} live leases > {} seats",
                self.live_leases(),
                floating.seats
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_command_sequence_exceeds_a_limit_or_makes_a_counter_negative(
        terms in terms(),
        commands in prop::collection::vec(command(), 1..120),
    ) {
        let mut world = World {
            product: product(),
            license: license(terms),
            devices: Vec::new(),
            leases: Vec::new(),
            consumptions: Vec::new(),
            now: START,
        };
        for (step, command) in commands.iter().enumerate() {
            world.apply(command);
            world.check_invariants(step)?;
        }
    }

    /// `apply_consumption` alone, with any counter and amount (the values a store may hold).
    #[test]
    fn consumption_never_goes_negative_or_past_the_ceiling(
        used in 0i64..=i64::MAX,
        amount in any::<i64>(),
        cap in prop::option::of(0i64..=i64::MAX),
        overages in any::<bool>(),
        max_overages in prop::option::of(any::<i64>()),
        negative in any::<bool>(),
    ) {
        let terms = ConsumptionTerms {
            max_consumptions: cap,
            allow_overages: overages,
            max_overages,
            allow_negative: negative,
            reset_period: ResetPeriod::Never,
        };
        let counter = Counter { used, period_start: 0 };
        if let Ok(next) = apply_consumption(&terms, counter, amount, Denial::ConsumptionLimitReached) {
            prop_assert!(next.used >= 0);
            if amount > 0 && let Some(ceiling) = consumption_ceiling(&terms) {
                prop_assert!(next.used <= ceiling, "{next:?} over {ceiling}");
            }
            if amount < 0 {
                prop_assert!(next.used <= used, "giving back raised the counter");
            }
        }
    }
}
