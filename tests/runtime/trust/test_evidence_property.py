"""Every byte of an evidence bundle matters: flipping any bit pattern of any one byte
makes `verify_bundle` fail (property test over the whole file)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from evidence_helpers import export, governed_version
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trust_helpers import make_project

from specops.runtime.trust.evidence_verify import Pins, load_pins, verify_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[bytes, Pins]]:
    saved = {k: os.environ.pop(k) for k in ("SPECOPS_REGISTRY_KEY",
                                            "SPECOPS_REGISTRY_PUBKEYS") if k in os.environ}
    try:
        p = make_project(tmp_path_factory.mktemp("evidence"))
        reg = governed_version(p)
        try:
            data = export(p, reg)
        finally:
            reg.close()
        pins = load_pins([str(Path(p.root) / ".keys" / "pipeline.pub")])
        assert verify_bundle(data, pins).ok
        yield data, pins
    finally:
        os.environ.update(saved)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
       mask=st.integers(min_value=1, max_value=255))
def test_flipping_any_byte_fails_verification(bundle: tuple[bytes, Pins], position: float,
                                              mask: int) -> None:
    data, pins = bundle
    i = int(position * len(data))
    flipped = bytearray(data)
    flipped[i] ^= mask
    result = verify_bundle(bytes(flipped), pins)
    assert not result.ok, (i, mask, data[max(0, i - 40):i + 40])
    # unpinned, the check of internal consistency alone must catch it too
    assert not verify_bundle(bytes(flipped), Pins()).ok, (i, mask)


@pytest.mark.slow
def test_every_position_with_one_mask(bundle: tuple[bytes, Pins]) -> None:
    """Exhaustively: each byte with its low bit flipped (the smallest change)."""
    data, pins = bundle
    survivors = []
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 1
        if verify_bundle(bytes(flipped), pins).ok:
            survivors.append(i)
    assert not survivors, [data[max(0, i - 30):i + 30] for i in survivors[:3]]
