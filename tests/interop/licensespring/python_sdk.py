"""Drives LicenseSpring's official Python SDK (licensespring==4.0.0) against a running licensd.

Signature verification stays ON, with licensd's RSA public key as the trusted key. Prints one JSON
object with what each step observed and exits 0, or prints the failure and exits non-zero.

Usage: python python_sdk.py <scenario>
Environment: LS_DOMAIN (host:port), LS_API_KEY, LS_SHARED_KEY, LS_PRODUCT, LS_PUBLIC_KEY (PEM),
LS_KEY (license key), LS_FEATURE (consumption feature code), LS_HWID, LS_HWID2, LS_FILE_PATH,
for the floating scenario LS_FLOATING_KEY, and for the bundle scenario LS_MEMBER (a member
product's code) and LS_HWID3.
"""

import json
import os
import sys
import traceback

from licensespring.api import APIClient
from licensespring.api.error import ClientError
from licensespring.api.signature import SignatureVerifier
from licensespring.hardware import HardwareIdProvider
from licensespring.licensefile.bundle_manager import BundleManager
from licensespring.licensefile.config import Configuration
from licensespring.licensefile.license_manager import LicenseID, LicenseManager
from licensespring.licensefile.object_parser.customer import Customer

ENV = os.environ
OurVerifier = type("OurVerifier", (SignatureVerifier,), {"PUBLIC_KEY": ENV["LS_PUBLIC_KEY"]})


def client(shared_key=None, verifier=OurVerifier):
    return APIClient(
        api_key=ENV["LS_API_KEY"],
        shared_key=shared_key or ENV["LS_SHARED_KEY"],
        api_protocol="http",
        api_domain=ENV["LS_DOMAIN"],
        signature_verifier=verifier,
        verify_license_signature=True,
    )


def client_error(fn):
    """Runs fn, expecting a ClientError; returns [status, code]."""
    try:
        fn()
    except ClientError as error:
        return [error.status, error.code]
    raise AssertionError("expected a ClientError")


def quickstart():
    out = {}
    product, key, hwid, feature = ENV["LS_PRODUCT"], ENV["LS_KEY"], ENV["LS_HWID"], ENV["LS_FEATURE"]
    api = client()
    ident = dict(product=product, hardware_id=hwid, license_key=key)

    activated = api.activate_license(**ident, os_ver="Linux", hostname="build-1", is_vm=False, variables={"seat": "a"})
    out["activate"] = {k: activated.get(k) for k in ("license_key", "hardware_id", "license_type", "times_activated")}
    out["activate"]["short_code"] = activated["product_details"]["short_code"]
    out["activate"]["has_v1_signature"] = bool(activated.get("license_signature"))

    checked = api.check_license(**ident)
    out["check"] = {k: checked.get(k) for k in ("license_active", "license_enabled", "is_expired", "id")}
    out["check"]["features"] = sorted(f["code"] for f in checked["product_features"])

    out["check_feature"] = api.check_license_feature(**ident, feature=feature)["code"]
    out["add_consumption"] = api.add_consumption(**ident, consumptions=2)["total_consumptions"]
    out["add_feature_consumption"] = api.add_feature_consumption(**ident, feature=feature, consumptions=3)[
        "total_consumptions"
    ]

    # Verification is really on: LicenseSpring's own key rejects licensd's signature.
    try:
        client(verifier=SignatureVerifier).check_license(**ident)
        out["stock_verifier"] = "accepted"
    except Exception as error:  # the SDK raises ValueError("Invalid signature") or similar
        out["stock_verifier"] = type(error).__name__

    out["wrong_shared_key"] = client_error(lambda: client(shared_key="not-the-key").check_license(**ident))
    out["unknown_license"] = client_error(lambda: api.check_license(product=product, hardware_id=hwid, license_key="NOPE-NOPE"))
    out["unknown_feature"] = client_error(lambda: api.check_license_feature(**ident, feature="no-such-feature"))

    out["versions"] = [row["version"] for row in api.versions(**ident, env="linux")]
    out["installation_file"] = api.installation_file(**ident, env="linux")["installation_file"]
    out["installation_file_1_0"] = api.installation_file(**ident, env="linux", version="1.0")["version"]

    tracked = api.track_device_variables(**ident, variables={"gpu": "rtx", "cores": 8})
    out["track_variables"] = sorted((row["variable"], row["value"]) for row in tracked)
    fetched = api.get_device_variables(**ident)
    out["get_variables"] = sorted((row["variable"], row["value"]) for row in fetched)

    out["deactivate"] = api.deactivate_license(**ident)
    out["check_after_deactivate"] = client_error(lambda: api.check_license(**ident))

    # The high-level API: activate, local check, reload from the encrypted file, check, features,
    # consumption sync, feature check, deactivate.
    class Hwid(HardwareIdProvider):
        def get_id(self):
            return ENV["LS_HWID2"]

    conf = Configuration(
        product=product,
        api_key=ENV["LS_API_KEY"],
        shared_key=ENV["LS_SHARED_KEY"],
        api_protocol="http",
        api_domain=ENV["LS_DOMAIN"],
        signature_verifier=OurVerifier,
        hardware_id_provider=Hwid,
        file_path=ENV["LS_FILE_PATH"],
    )
    manager = LicenseManager(conf)
    license = manager.activate_license(LicenseID.from_key(key))
    license.local_check()
    reloaded = LicenseManager(conf).load_license()
    reloaded.local_check()
    license.check()
    out["manager"] = {
        "key": license.key(),
        "id_matches": license.id() == out["check"]["id"],
        "license_type": license.license_type(),
        "features": sorted(license.features()),
        "reloaded_key": reloaded.key(),
    }
    license.add_local_consumption(1)
    license.sync_consumption()
    license.add_local_feature_consumption(feature, 1)
    license.sync_feature_consumption(feature)
    license.check_feature(feature)
    out["manager"]["total_consumptions"] = license.total_consumptions()
    out["manager"]["feature_total"] = license.get_feature_data(feature)["total_consumptions"]
    license.deactivate()
    out["manager"]["deactivated"] = True
    return out


def floating():
    out = {}
    product, key = ENV["LS_PRODUCT"], ENV["LS_FLOATING_KEY"]
    api = client()
    first = dict(product=product, hardware_id=ENV["LS_HWID"], license_key=key)
    second = dict(product=product, hardware_id=ENV["LS_HWID2"], license_key=key)
    api.activate_license(**first)
    api.activate_license(**second)
    checked = api.check_license(**first)
    out["check"] = {k: checked[k] for k in ("is_floating_cloud", "floating_users", "floating_in_use_devices")}
    out["second_check"] = client_error(lambda: api.check_license(**second))
    borrowed = api.floating_borrow(**first)
    out["borrowed_until_z"] = borrowed["borrowed_until"].endswith("Z")
    out["release"] = api.floating_release(**first)
    out["second_after_release"] = api.check_license(**second)["floating_in_use_devices"]
    feature = ENV["LS_FLOATING_FEATURE"]
    out["feature_check"] = api.check_license_feature(**first, feature=feature)["floating_in_use_devices"]
    out["feature_busy"] = client_error(lambda: api.check_license_feature(**second, feature=feature))
    out["feature_borrow_z"] = api.borrow_license_feature(**first, feature=feature, borrowed_until=None)[
        "borrowed_until"
    ].endswith("Z")
    out["feature_release"] = api.floating_feature_release(**first, feature=feature)
    out["feature_second"] = api.check_license_feature(**second, feature=feature)["floating_in_use_devices"]
    return out


def trial():
    """A trial through the high-level API, then product details through APIClient."""

    class Hwid(HardwareIdProvider):
        def get_id(self):
            return ENV["LS_HWID"]

    conf = Configuration(
        product=ENV["LS_PRODUCT"],
        api_key=ENV["LS_API_KEY"],
        shared_key=ENV["LS_SHARED_KEY"],
        api_protocol="http",
        api_domain=ENV["LS_DOMAIN"],
        signature_verifier=OurVerifier,
        hardware_id_provider=Hwid,
        file_path=ENV["LS_FILE_PATH"],
    )
    manager = LicenseManager(conf)
    license_id = manager.get_trial_license(Customer(email="trial@example.com"))
    license = manager.activate_license(license_id)
    license.check()
    details = client().product_details(ENV["LS_PRODUCT"], include_latest_version=True, include_custom_fields=True)
    return {
        "trial_key_matches": license.key() == license_id.key,
        "is_trial": license.is_trial(),
        "expires": license.validity_period() is not None,
        "short_code": details["short_code"],
        "allow_trial": details["allow_trial"],
    }


def user():
    """A user-based license: activation with username/password, check, user licenses, password change."""

    class Hwid(HardwareIdProvider):
        def get_id(self):
            return ENV["LS_HWID"]

    conf = Configuration(
        product=ENV["LS_PRODUCT"],
        api_key=ENV["LS_API_KEY"],
        shared_key=ENV["LS_SHARED_KEY"],
        api_protocol="http",
        api_domain=ENV["LS_DOMAIN"],
        signature_verifier=OurVerifier,
        hardware_id_provider=Hwid,
        file_path=ENV["LS_FILE_PATH"],
    )
    manager = LicenseManager(conf)
    credentials = LicenseID.from_user(ENV["LS_USER"], ENV["LS_PASSWORD"])
    out = {"wrong_password": client_error(lambda: manager.activate_license(LicenseID.from_user(ENV["LS_USER"], "wrong-password")))}
    license = manager.activate_license(credentials)
    license.check()
    out["user_email"] = license.license_user()["email"]
    out["user_licenses"] = len(manager.get_user_licenses(credentials))
    out["change_password"] = license.change_password(ENV["LS_PASSWORD"], ENV["LS_PASSWORD"] + "-new")
    license.deactivate()
    out["deactivated"] = True
    return out


def offline():
    """Offline activation: request file → /activate_offline → .lic file → local license → offline deactivation."""
    import base64

    class Hwid(HardwareIdProvider):
        def get_id(self):
            return ENV["LS_HWID"]

    conf = Configuration(
        product=ENV["LS_PRODUCT"],
        api_key=ENV["LS_API_KEY"],
        shared_key=ENV["LS_SHARED_KEY"],
        api_protocol="http",
        api_domain=ENV["LS_DOMAIN"],
        signature_verifier=OurVerifier,
        hardware_id_provider=Hwid,
        file_path=ENV["LS_FILE_PATH"],
    )
    manager = LicenseManager(conf)
    api = client()
    workdir = ENV["LS_FILE_PATH"]
    req_path = manager.create_offline_activation_file(LicenseID.from_key(ENV["LS_KEY"]), workdir)
    with open(req_path) as handle:
        request_file = handle.read()
    response = api.activate_offline(request_file)  # verifies license_signature_v2
    lic_path = os.path.join(workdir, "ls_activation.lic")
    with open(lic_path, "w") as handle:
        handle.write(base64.b64encode(json.dumps(response).encode()).decode())
    license = manager.activate_license_offline(lic_path)
    license.local_check()
    out = {
        "request_id_echoed": bool(response["request_id"]),
        "key": license.key(),
        "offline_activated": license.licensefile_handler._cache.is_offline_activated,
    }
    deactivation_path = license.deactivate_offline(workdir)
    with open(deactivation_path) as handle:
        out["deactivate"] = api.deactivate_offline(handle.read())
    return out


def oauth():
    """OAuth client credentials: token from /oauth_url's endpoint, bearer calls, refresh on expiry."""
    import datetime

    def oauth_client(secret):
        return APIClient(
            client_id=ENV["LS_API_KEY"],
            client_secret=secret,
            api_protocol="http",
            api_domain=ENV["LS_DOMAIN"],
            signature_verifier=OurVerifier,
            verify_license_signature=True,
        )

    api = oauth_client(ENV["LS_SHARED_KEY"])
    ident = dict(product=ENV["LS_PRODUCT"], hardware_id=ENV["LS_HWID"], license_key=ENV["LS_KEY"])
    out = {"activate": api.activate_license(**ident)["license_key"]}
    out["check"] = api.check_license(**ident)["license_active"]
    # Replace the cached token with an expired one of ours: the server answers oauth_token_expired,
    # and the SDK fetches a new token and retries.
    client_id = ENV["LS_API_KEY"]
    expired_at = 1000
    import base64 as b64, hashlib, hmac
    mac = hmac.new(ENV["LS_SHARED_KEY"].encode(), f"licensd-oauth\n{client_id}\n{expired_at}".encode(), hashlib.sha256)
    enc = lambda raw: b64.urlsafe_b64encode(raw).decode().rstrip("=")
    api.token = f"lsat.{enc(client_id.encode())}.{expired_at}.{enc(mac.digest())}"
    api.token_validity = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    out["refreshed_after_expiry"] = api.check_license(**ident)["license_active"] and api.token.split(".")[2] != "1000"
    try:
        oauth_client("wrong-secret").check_license(**ident)
        out["wrong_secret"] = "accepted"
    except Exception as error:
        out["wrong_secret"] = type(error).__name__
    out["deactivate"] = api.deactivate_license(**ident)
    # Offline with OAuth credentials: the request files name client_id; the SDK keys the
    # activation file with the client secret and the deactivation file with the client id.
    import base64

    class Hwid(HardwareIdProvider):
        def get_id(self):
            return ENV["LS_HWID"] + "-offline"

    conf = Configuration(
        product=ENV["LS_PRODUCT"],
        client_id=ENV["LS_API_KEY"],
        client_secret=ENV["LS_SHARED_KEY"],
        api_protocol="http",
        api_domain=ENV["LS_DOMAIN"],
        signature_verifier=OurVerifier,
        hardware_id_provider=Hwid,
        file_path=ENV["LS_FILE_PATH"],
    )
    manager = LicenseManager(conf)
    workdir = ENV["LS_FILE_PATH"]
    req_path = manager.create_offline_activation_file(LicenseID.from_key(ENV["LS_KEY"]), workdir)
    with open(req_path) as handle:
        response = api.activate_offline(handle.read())
    lic_path = os.path.join(workdir, "ls_oauth_activation.lic")
    with open(lic_path, "w") as handle:
        handle.write(base64.b64encode(json.dumps(response).encode()).decode())
    license = manager.activate_license_offline(lic_path)
    license.local_check()
    out["offline_key"] = license.key()
    deactivation_path = license.deactivate_offline(workdir)
    with open(deactivation_path) as handle:
        out["offline_deactivate"] = api.deactivate_offline(handle.read())
    return out


def bundle():
    """A bundle (LS_PRODUCT) with member LS_MEMBER: APIClient activate/check/deactivate_bundle,
    then BundleManager online (activate, local checks, a member's own check through the bundle
    key, check_bundle, reload from the file, deactivate) and offline (request file →
    /activate_bundle_offline → .lic → activate_bundle_offline)."""
    import base64

    product, member, key = ENV["LS_PRODUCT"], ENV["LS_MEMBER"], ENV["LS_KEY"]
    api = client()
    ident = dict(product=product, hardware_id=ENV["LS_HWID"], license_key=key)
    out = {"activate": [row["product_details"]["short_code"] for row in api.activate_bundle(**ident)]}
    out["check"] = [[row["product_details"]["short_code"], row["license_active"]] for row in api.check_bundle(**ident)]
    out["not_bundle"] = client_error(
        lambda: api.activate_bundle(product=member, hardware_id=ENV["LS_HWID"], license_key=key)
    )
    out["deactivate"] = api.deactivate_bundle(**ident)
    out["check_after_deactivate"] = client_error(lambda: api.check_bundle(**ident))

    def conf_for(hwid):
        class Hwid(HardwareIdProvider):
            def get_id(self):
                return hwid

        return Configuration(
            product=product,
            api_key=ENV["LS_API_KEY"],
            shared_key=ENV["LS_SHARED_KEY"],
            api_protocol="http",
            api_domain=ENV["LS_DOMAIN"],
            signature_verifier=OurVerifier,
            hardware_id_provider=Hwid,
            file_path=os.path.join(ENV["LS_FILE_PATH"], hwid),
        )

    manager = BundleManager(conf_for(ENV["LS_HWID2"]))
    licenses = manager.activate_bundle(LicenseID.from_key(key))
    for license in licenses.values():
        license.local_check()
    licenses[member].check()
    checked = manager.check_bundle(LicenseID.from_key(key))
    reloaded = BundleManager(conf_for(ENV["LS_HWID2"])).get_current_bundle()
    out["manager"] = {
        "codes": sorted(licenses),
        "keys": sorted({license.key() for license in licenses.values()}),
        "member_active": licenses[member].license_active(),
        "checked": sorted(checked),
        "reloaded": sorted(reloaded),
    }
    manager.deactivate_bundle(LicenseID.from_key(key))
    out["manager"]["deactivated"] = True

    workdir = os.path.join(ENV["LS_FILE_PATH"], ENV["LS_HWID3"])
    os.makedirs(workdir, exist_ok=True)
    offline_manager = BundleManager(conf_for(ENV["LS_HWID3"]))
    req_path = offline_manager.create_offline_activation_file(LicenseID.from_key(key), workdir)
    with open(req_path) as handle:
        response = api.send_request(method="post", endpoint="/activate_bundle_offline", data=handle.read())
    lic_path = os.path.join(workdir, "ls_bundle_activation.lic")
    with open(lic_path, "w") as handle:
        handle.write(base64.b64encode(response.content).decode())
    offline_licenses = offline_manager.activate_bundle_offline(lic_path)
    for license in offline_licenses.values():
        license.local_check()
    out["offline"] = sorted(offline_licenses)
    return out


def main():
    scenario = sys.argv[1] if len(sys.argv) > 1 else "quickstart"
    try:
        result = {"quickstart": quickstart, "floating": floating, "trial": trial, "user": user, "offline": offline, "oauth": oauth, "bundle": bundle}[scenario]()
    except Exception:
        traceback.print_exc()
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
