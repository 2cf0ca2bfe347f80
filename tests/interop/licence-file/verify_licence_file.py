#!/usr/bin/env python3
"""An independent verifier of licensd licence files (docs/licence-file.md), written from the
document alone with Python `cryptography`.

usage: verify_licence_file.py CASES.json TRUSTED.pem [TRUSTED.pem ...]

CASES.json is a list of {"name", "file", "fingerprint", "now", "last_seen", "licence_key",
"expect"}; "file" is relative to the directory of CASES.json and "expect" is "ok" or the name
of the refusal. Prints one line per mismatch and "checked N cases, M mismatches"; exits 1 on
any mismatch.
"""

import base64
import binascii
import hashlib
import json
import os
import sys

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = "LICENSD-LICENCE-FILE v1"
LABELS = ["alg", "kid", "enc", "salt", "iv", "payload", "signature"]
SKEW_MS = 5 * 60 * 1000


class Refused(Exception):
    def __init__(self, name):
        super().__init__(name)
        self.name = name


def kid_of(key):
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()[:16]


def strict_b64(text):
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("malformed")
    if base64.b64encode(raw).decode("ascii") != text:
        raise Refused("malformed")
    return raw


def verify(data, trusted, fingerprint, now, last_seen, licence_key):
    if len(data) > 256 * 1024:
        raise Refused("malformed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("malformed")
    if not text.endswith("\n"):
        raise Refused("malformed")
    lines = text[:-1].split("\n")
    if len(lines) != 8 or lines[0] != MAGIC:
        raise Refused("malformed")
    fields = {}
    for label, line in zip(LABELS, lines[1:]):
        prefix = label + ": "
        if not line.startswith(prefix):
            raise Refused("malformed")
        fields[label] = line[len(prefix):]
    if fields["alg"] != "Ed25519":
        raise Refused("unsupported_algorithm")
    key = trusted.get(fields["kid"])
    if key is None:
        raise Refused("untrusted_key")
    signed = "\n".join(lines[:7]) + "\n"
    try:
        key.verify(strict_b64(fields["signature"]), signed.encode("utf-8"))
    except InvalidSignature:
        raise Refused("bad_signature")
    body = strict_b64(fields["payload"])
    if fields["enc"] == "none":
        if fields["salt"] != "-" or fields["iv"] != "-":
            raise Refused("malformed")
        plaintext = body
    elif fields["enc"] == "A256GCM":
        salt, iv = strict_b64(fields["salt"]), strict_b64(fields["iv"])
        if len(salt) != 16 or len(iv) != 12:
            raise Refused("malformed")
        if licence_key is None:
            raise Refused("key_required")
        aes_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                       info=b"licensd-licence-file v1 A256GCM").derive(licence_key.encode("utf-8"))
        try:
            plaintext = AESGCM(aes_key).decrypt(iv, body, MAGIC.encode("ascii"))
        except InvalidTag:
            raise Refused("decrypt")
    else:
        raise Refused("malformed")
    try:
        payload = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused("malformed")
    bound, issued_at, expires_at = payload.get("fingerprint"), payload.get("issued_at"), payload.get("expires_at")
    if not isinstance(bound, str) or not isinstance(issued_at, int) or not isinstance(expires_at, int):
        raise Refused("malformed")
    if bound != fingerprint:
        raise Refused("fingerprint_mismatch")
    if (last_seen is not None and now < last_seen) or now + SKEW_MS < issued_at:
        raise Refused("clock_rolled_back")
    if now >= expires_at:
        raise Refused("expired")
    return payload


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    cases_path = sys.argv[1]
    trusted = {}
    for pem_path in sys.argv[2:]:
        with open(pem_path, "rb") as f:
            key = serialization.load_pem_public_key(f.read())
        if not isinstance(key, Ed25519PublicKey):
            print(f"{pem_path}: not an Ed25519 key")
            return 2
        trusted[kid_of(key)] = key
    with open(cases_path) as f:
        cases = json.load(f)
    base = os.path.dirname(os.path.abspath(cases_path))
    mismatches = 0
    for case in cases:
        with open(os.path.join(base, case["file"]), "rb") as f:
            data = f.read()
        try:
            verify(data, trusted, case["fingerprint"], case["now"], case.get("last_seen"), case.get("licence_key"))
            got = "ok"
        except Refused as refused:
            got = refused.name
        if got != case["expect"]:
            mismatches += 1
            print(f"MISMATCH {case['name']}: expected {case['expect']}, got {got}")
    print(f"checked {len(cases)} cases, {mismatches} mismatches")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
