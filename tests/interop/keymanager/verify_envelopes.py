"""Independent verifier for Key Manager signed envelopes, using Python `cryptography`.

Reads JSON lines on stdin, each {"pem": <SubjectPublicKeyInfo PEM>, "envelope": <the HTTP body text>},
and prints one line per input: "ok <code>" when the envelope is well formed, its signature is
RSA PKCS#1 v1.5 / SHA-256 over the ASCII text of `response_base64`, and `response` equals the decoded
`response_base64` (a 429 may add the signed `retry_after` at the top level); otherwise
"fail <reason>". Exits 1 if any line failed.
"""

import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def check(line):
    item = json.loads(line)
    key = serialization.load_pem_public_key(item["pem"].encode("ascii"))
    envelope = json.loads(item["envelope"])
    fields = {"response", "response_base64", "private_key_used", "signature"}
    # A rate-limit answer (429) also carries the `retry_after` the SDKs read at the top level.
    if "retry_after" in envelope:
        fields.add("retry_after")
    if set(envelope) != fields:
        return "fail fields " + ",".join(sorted(envelope))
    if envelope["private_key_used"] not in ("global", "product"):
        return "fail private_key_used " + str(envelope["private_key_used"])
    text = envelope["response_base64"]
    try:
        key.verify(base64.b64decode(envelope["signature"], validate=True), text.encode("ascii"),
                   padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return "fail signature"
    decoded = json.loads(base64.b64decode(text, validate=True))
    if decoded != envelope["response"]:
        return "fail response differs from response_base64"
    if "retry_after" in envelope and (decoded["code"] != 429 or decoded.get("retry_after") != envelope["retry_after"]):
        return "fail retry_after outside a signed 429"
    return "ok %s" % decoded["code"]


def main():
    failed = False
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result = check(line)
        except Exception as error:  # any malformed input is a failure to report, not a crash
            result = "fail %s: %s" % (type(error).__name__, error)
        failed |= result.startswith("fail")
        print(result, flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
