"""The report tests reuse the governance tests' registered-version fixture
(tests/runtime/governance/report_fixture.py): put its folder on the import path."""

from __future__ import annotations

import sys
from pathlib import Path

_GOVERNANCE = str(Path(__file__).resolve().parents[1] / "governance")
if _GOVERNANCE not in sys.path:
    sys.path.insert(0, _GOVERNANCE)
