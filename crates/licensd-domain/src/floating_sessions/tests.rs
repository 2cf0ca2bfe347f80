use super::*;
use crate::clock::{HOUR, MINUTE};
use crate::ids::LicenseId;
use crate::model::*;

const NOW: Millis = 1_767_225_600_000;

fn product(auth_method: AuthMethod) -> Product {
    Product {
        auth_method,
        ..crate::test_fixtures::product()
    }
}

fn license(seats: i64, sessions_per_client: Option<i64>) -> License {
    License {
        terms: LicenseTerms {
            max_activations: None,
            floating: Some(FloatingTerms {
                seats,
                lease_seconds: 300,
                borrow_allowed: true,
                max_borrow_hours: 24,
                sessions_per_client,
            }),
            ..LicenseTerms::default()
        },
        ..crate::test_fixtures::license()
    }
}

fn lease(expires_at: Millis) -> FloatingLease {
    FloatingLease {
        id: 1,
        license_id: LicenseId::new(7),
        feature_id: None,
        fingerprint: "s".into(),
        expires_at,
        borrowed_until: None,
        created_at: 0,
    }
}

fn state<'a>(product: &'a Product, license: &'a License) -> SessionState<'a> {
    SessionState {
        product,
        license,
        client_id: "C1",
        blocked: false,
        own_session: None,
        other_live_leases: 0,
        client_other_sessions: 0,
        user_assigned: None,
        user_sessions_on_other_clients: 0,
        borrow_until: None,
    }
}

#[test]
fn a_second_session_of_a_client_at_its_limit_is_refused_but_a_renewal_is_not() {
    let (p, l) = (product(AuthMethod::Key), license(5, None));
    let mut s = state(&p, &l);
    s.client_other_sessions = 1;
    s.other_live_leases = 1;
    assert_eq!(plan_session(&s, NOW), Err(SessionRefusal::ClientSessionLimit));
    let live = lease(NOW + MINUTE);
    s.own_session = Some(&live);
    assert!(plan_session(&s, NOW).is_ok_and(|plan| !plan.new_seat));
    // An expired session of the same id is a new session again.
    let dead = lease(NOW);
    s.own_session = Some(&dead);
    assert_eq!(plan_session(&s, NOW), Err(SessionRefusal::ClientSessionLimit));
    let two = license(5, Some(2));
    let mut s = state(&p, &two);
    s.client_other_sessions = 1;
    assert!(plan_session(&s, NOW).is_ok_and(|plan| plan.new_seat));
}

#[test]
fn every_session_is_a_seat() {
    let (p, l) = (product(AuthMethod::Key), license(2, Some(3)));
    let mut s = state(&p, &l);
    s.other_live_leases = 2;
    assert_eq!(
        plan_session(&s, NOW),
        Err(SessionRefusal::Denied(Denial::FloatingSeatsExhausted))
    );
}

#[test]
fn users_need_an_assignment_and_one_client_at_a_time() {
    let (p, l) = (product(AuthMethod::User), license(5, Some(2)));
    let mut s = state(&p, &l);
    assert_eq!(
        plan_session(&s, NOW),
        Err(SessionRefusal::Denied(Denial::LicenseUserNotFound))
    );
    s.user_assigned = Some(false);
    assert_eq!(
        plan_session(&s, NOW),
        Err(SessionRefusal::Denied(Denial::LicenseUserNotFound))
    );
    s.user_assigned = Some(true);
    assert!(plan_session(&s, NOW).is_ok());
    s.user_sessions_on_other_clients = 1;
    assert_eq!(plan_session(&s, NOW), Err(SessionRefusal::UserActiveElsewhere));
    // Key-type products do not tie sessions to users.
    let key_product = product(AuthMethod::Key);
    let mut s = state(&key_product, &l);
    s.user_sessions_on_other_clients = 1;
    assert!(plan_session(&s, NOW).is_ok());
}

#[test]
fn license_state_comes_first_and_borrowing_follows_the_floating_rule() {
    let p = product(AuthMethod::User);
    let mut expired = license(5, None);
    expired.expires_at = Some(NOW);
    assert_eq!(
        plan_session(&state(&p, &expired), NOW),
        Err(SessionRefusal::Denied(Denial::LicenseExpired))
    );
    let mut named = license(5, None);
    named.terms.floating = None;
    assert_eq!(
        plan_session(&state(&p, &named), NOW),
        Err(SessionRefusal::Denied(Denial::NotFloating))
    );
    let kp = product(AuthMethod::Key);
    let l = license(5, None);
    let mut s = state(&kp, &l);
    s.borrow_until = Some(NOW + 2 * HOUR);
    assert_eq!(
        plan_session(&s, NOW).map(|plan| plan.borrowed_until),
        Ok(Some(NOW + 2 * HOUR))
    );
    s.borrow_until = Some(NOW + 25 * HOUR);
    assert_eq!(
        plan_session(&s, NOW),
        Err(SessionRefusal::Denied(Denial::BorrowPeriodInvalid))
    );
}
