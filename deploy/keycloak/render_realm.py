"""Render the realm Keycloak imports: deploy/keycloak/painflow-realm.json plus the public keys of
the private_key_jwt clients (SMART Backend Services).

Every client whose clientAuthenticatorType is `client-jwt` gets an RSA key pair in KEYS_DIR
(`<client id>.pem`, made with openssl on first use, mode 0600, never committed) and its public
key as a JWKS (`<client id>.jwks.json`) registered on the client (`jwks.string`). The key id is
the key's RFC 7638 thumbprint, which painflow_shared.auth.client computes the same way.
Standard library only: keycloak.sh runs this before the project's virtualenv may exist.

Usage: python3 render_realm.py REALM_JSON KEYS_DIR OUT_JSON
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ensure_key(pem: Path) -> None:
    if pem.exists():
        return
    tmp = pem.with_suffix(".tmp")
    old = os.umask(0o077)  # the private key is readable by its owner only
    try:
        subprocess.run(
            [
                "openssl",
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                str(tmp),
            ],
            check=True,
            capture_output=True,
        )
    finally:
        os.umask(old)
    tmp.replace(pem)


def public_jwk(pem: Path) -> dict[str, str]:
    text = subprocess.run(
        ["openssl", "rsa", "-in", str(pem), "-noout", "-text"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    exponent = int(text.split("publicExponent:")[1].split()[0])
    modulus_hex = (
        subprocess.run(
            ["openssl", "rsa", "-in", str(pem), "-noout", "-modulus"],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .split("=", 1)[1]
    )
    n = b64url(bytes.fromhex(modulus_hex))
    e = b64url(exponent.to_bytes((exponent.bit_length() + 7) // 8, "big"))
    canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"))  # RFC 7638
    kid = b64url(hashlib.sha256(canonical.encode()).digest())
    return {"kty": "RSA", "use": "sig", "alg": "RS384", "kid": kid, "n": n, "e": e}


def register_keys(realm: dict, keys_dir: Path) -> None:
    for client in realm.get("clients", []):
        if client.get("clientAuthenticatorType") != "client-jwt":
            continue
        pem = keys_dir / f"{client['clientId']}.pem"
        ensure_key(pem)
        jwks = json.dumps({"keys": [public_jwk(pem)]}, separators=(",", ":"))
        (keys_dir / f"{client['clientId']}.jwks.json").write_text(jwks + "\n")
        client.setdefault("attributes", {}).update({"use.jwks.string": "true", "jwks.string": jwks})


def main(source: str, keys: str, out: str) -> None:
    keys_dir = Path(keys)
    keys_dir.mkdir(parents=True, exist_ok=True)
    realm = json.loads(Path(source).read_text())
    register_keys(realm, keys_dir)
    Path(out).write_text(json.dumps(realm, indent=1) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
