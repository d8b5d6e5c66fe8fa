"""eddsa-jcs-2022 proof creation and verification against raw Ed25519, in one run.

Run: ``.venv/bin/python bench/crypto.py`` (or ``make bench``). Targets: creating a
proof runs at >= 50 % of the raw signing rate, verifying at >= 70 % of the raw
verification rate. The raw baseline signs the same 64 bytes a proof signs (the
two SHA-256 hashes), with the same library (``cryptography``), so the ratio is
exactly the cost of the Data Integrity work around the signature: building the
proof options, JCS of document and options, hashing, multibase.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import cryptography

from registry.credentials import new_credential
from registry.crypto.eddsa_jcs_2022 import add_proof, verify_proof
from registry.crypto.jcs import canonical_bytes
from registry.crypto.keys import Ed25519Signer
from registry.ids import IdentifierCommitment, parse_resident_id

TARGET_SIGN = 0.50
TARGET_VERIFY = 0.70


def sample_credential() -> dict[str, Any]:
    """A qualification credential of realistic size and shape."""
    holder = IdentifierCommitment.of(parse_resident_id("11010519491231002X"))
    return new_credential(
        type_="SafetyEngineerQualification",
        issuer_code="CN-JS",
        valid_from=datetime(2026, 6, 1, tzinfo=UTC),
        subject={
            "holder": {
                "name": "王小明",
                "identifier": {
                    "masked": holder.masked,
                    "salt": holder.salt,
                    "digest": holder.digest,
                },
            },
            "certificateNumber": "JS-2026-ZA-000123",
            "level": "junior",
            "category": "chemical",
            "issued": "2026-06-01",
        },
    )


def rate(func: Callable[[], object], *, number: int, repeat: int) -> float:
    """Operations per second: the best of ``repeat`` runs of ``number`` calls."""
    best = min(timeit.repeat(func, number=number, repeat=repeat))
    return number / best


def main() -> None:
    """Measure and print the four rates, the two ratios, and their targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per timing run")
    parser.add_argument("--repeat", type=int, default=7, help="timing runs; the best counts")
    args = parser.parse_args()

    signer = Ed25519Signer.generate()
    document = sample_credential()
    signed = add_proof(document, signer)
    verify_proof(signed)  # it must verify before it is timed
    size = len(canonical_bytes(signed))

    message = hashlib.sha256(b"config").digest() + hashlib.sha256(b"document").digest()
    signature = signer.private_key.sign(message)
    public_key = signer.public_key

    n, r = args.number, args.repeat
    raw_sign = rate(lambda: signer.private_key.sign(message), number=n, repeat=r)
    raw_verify = rate(lambda: public_key.verify(signature, message), number=n, repeat=r)
    proof_sign = rate(lambda: add_proof(document, signer), number=n, repeat=r)
    proof_verify = rate(lambda: verify_proof(signed), number=n, repeat=r)

    sign_ratio = proof_sign / raw_sign
    verify_ratio = proof_verify / raw_verify
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, cryptography {cryptography.__version__}"
    )
    print(f"document: {size} bytes of JCS (signed credential); best of {r} x {n} calls\n")
    print(f"{'operation':<34}{'ops/s':>10}{'us/op':>10}")
    for name, value in (
        ("raw Ed25519 sign (64 bytes)", raw_sign),
        ("eddsa-jcs-2022 create proof", proof_sign),
        ("raw Ed25519 verify (64 bytes)", raw_verify),
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
