"""Independent check of licensd's SLASCONE signatures, the way SLASCONE's clients check them:
RSA PKCS#1 v1.5 with SHA-256 over the exact bytes (response body, or the decoded X-Nonce).

usage: verify_signatures.py <public key PEM> <cases.json>
cases.json: [{"name": str, "data": base64, "signature": base64, "expect": bool}, ...]
Exits 0 when every case verifies exactly as expected; prints one line per case."""

import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def main() -> int:
    with open(sys.argv[1], "rb") as handle:
        key = serialization.load_pem_public_key(handle.read())
    with open(sys.argv[2], "r", encoding="utf-8") as handle:
        cases = json.load(handle)
    failures = 0
    for case in cases:
        data = base64.b64decode(case["data"])
        signature = base64.b64decode(case["signature"])
        try:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            verified = True
        except InvalidSignature:
            verified = False
        status = "ok" if verified == case["expect"] else "MISMATCH"
        if verified != case["expect"]:
            failures += 1
        print(f"{status} {case['name']}: verified={verified} expected={case['expect']}")
    print(f"checked {len(cases)} signatures, {failures} mismatches")
    return 1 if failures or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
