"""eddsa-jcs-2022 proof creation and verification against raw Ed25519, in one run.

Run: ``.venv/bin/python bench/crypto.py`` (or ``make bench``). Targets: creating a
proof runs at >= 50 % of the raw signing rate, verifying at >= 70 % of the raw
verification rate. The raw baseline signs the same 64 bytes a proof signs (the
two SHA-256 hashes), with the same library (``cryptography`` signs, libsodium
verifies: ``registry.crypto.ed25519``), so the ratio is exactly the cost of the Data
Integrity work around the signature: building the proof options, JCS of document and
options, hashing, multibase. OpenSSL's raw verification rate is printed beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cryptography

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench._harness.machine import machine
from registry.credentials import new_credential
from registry.crypto.ed25519 import verify_signature
from registry.crypto.eddsa_jcs_2022 import add_proof, verify_proof
from registry.crypto.jcs import canonical_bytes
from registry.crypto.keys import Ed25519Signer
from registry.ids import LookupSecrets, PersonIdentifier, parse_resident_id

TARGET_SIGN = 0.50
TARGET_VERIFY = 0.70


def sample_credential() -> dict[str, Any]:
    """A qualification credential of realistic size and shape."""
    holder, _disclosure = PersonIdentifier.of(
        parse_resident_id("11010519491231002X"), LookupSecrets.generate()
    )
    return new_credential(
        type_="SafetyEngineerQualification",
        issuer_code="CN-JS",
        valid_from=datetime(2026, 6, 1, tzinfo=UTC),
        subject={
            "holder": {
                "name": "王小明",
                "identifier": holder.json(),
            },
            "certificateNumber": "JS-2026-ZA-000123",
            "level": "junior",
            "category": "chemical",
            "issued": "2026-06-01",
        },
    )


def rates(
    operations: dict[str, Callable[[], object]], *, number: int, repeat: int
) -> dict[str, float]:
    """Operations per second of each operation: the best of ``repeat`` rounds.

    Each round times every operation once, one after the other, so that a burst
    of load from elsewhere on the machine hits the raw and the proof timings alike.
    """
    best = dict.fromkeys(operations, float("inf"))
    for _ in range(repeat):
        for name, func in operations.items():
            best[name] = min(best[name], timeit.timeit(func, number=number))
    return {name: number / seconds for name, seconds in best.items()}


def main() -> None:
    """Measure and print the four rates, the two ratios, and their targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=1000, help="calls per timing run")
    parser.add_argument("--repeat", type=int, default=15, help="rounds; the best run counts")
    args = parser.parse_args()

    signer = Ed25519Signer.generate()
    document = sample_credential()
    signed = add_proof(document, signer)
    # Verifiers look keys up in what they trust (the trust list): a dict lookup here.
    trusted = {signer.verification_method: signer.public_key}
    verify_proof(signed, resolve_key=trusted.__getitem__)  # it must verify before it is timed
    size = len(canonical_bytes(signed))

    message = hashlib.sha256(b"config").digest() + hashlib.sha256(b"document").digest()
    signature = signer.private_key.sign(message)
    public_key = signer.public_key

    n, r = args.number, args.repeat
    measured = rates(
        {
            "raw_sign": lambda: signer.private_key.sign(message),
            "proof_sign": lambda: add_proof(document, signer),
            "raw_verify": lambda: verify_signature(public_key, signature, message),
            "openssl_verify": lambda: public_key.verify(signature, message),
            "proof_verify": lambda: verify_proof(signed, resolve_key=trusted.__getitem__),
        },
        number=n,
        repeat=r,
    )
    raw_sign, proof_sign = measured["raw_sign"], measured["proof_sign"]
    raw_verify, proof_verify = measured["raw_verify"], measured["proof_verify"]

    sign_ratio = proof_sign / raw_sign
    verify_ratio = proof_verify / raw_verify
    print(machine())
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, cryptography {cryptography.__version__}"
    )
    print(f"document: {size} bytes of JCS (signed credential); best of {r} rounds x {n} calls\n")
    print(f"{'operation':<34}{'ops/s':>10}{'us/op':>10}")
    for name, value in (
        ("raw Ed25519 sign (64 bytes)", raw_sign),
        ("eddsa-jcs-2022 create proof", proof_sign),
        ("raw Ed25519 verify (64 bytes)", raw_verify),
        ("  the same by OpenSSL", measured["openssl_verify"]),
        ("eddsa-jcs-2022 verify proof", proof_verify),
    ):
        print(f"{name:<34}{value:>10.0f}{1e6 / value:>10.1f}")
    print()
    for name, ratio, target in (
        ("create proof / raw sign", sign_ratio, TARGET_SIGN),
        ("verify proof / raw verify", verify_ratio, TARGET_VERIFY),
    ):
        verdict = "meets target" if ratio >= target else "BELOW TARGET"
        print(f"{name:<28}{ratio:>7.1%}   target >= {target:.0%}   {verdict}")


if __name__ == "__main__":
    main()
