"""The compiler side of the plan records: one params builder per catalog op, and params
that do not fit their op's record stop the compile with the node named."""

from __future__ import annotations

import pytest
from compile_helpers import REPO

from specops.compiler.plan import build
from specops.compiler.plan.compile import compile_project
from specops.compiler.plan.params import ParamBuilder
from specops.contract.op_catalog import OPS

MINIMAL = REPO / "tests" / "fixtures" / "projects" / "minimal"


def test_every_catalog_op_has_a_params_builder() -> None:
    builder = ParamBuilder(compile_project(MINIMAL, with_plan=False).lint.context, MINIMAL)
    assert set(builder._builders) == set(OPS)


def test_params_that_do_not_fit_their_record_stop_the_compile(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = ParamBuilder.benchmark

    def broken(self: ParamBuilder, node_id: str, loaded: object) -> object:
        params, deps = real(self, node_id, loaded)  # type: ignore[arg-type]
        return {**params, "rows": "many"}, deps

    monkeypatch.setattr(ParamBuilder, "benchmark", broken)
    with pytest.raises(RuntimeError, match=r"params of plan node benchmark:\w+ do not fit "
                                           r"the benchmark record"):
        compile_project(MINIMAL)


def test_written_params_are_what_the_record_holds() -> None:
    plan = compile_project(MINIMAL).plan
    assert plan is not None
    for node in plan.data["nodes"]:
        record = OPS[node["op"]].params.model_validate(node["params"])
        assert record.model_dump(mode="json", by_alias=True) == node["params"], node["id"]
    assert plan.data["format_version"] == build.FORMAT_VERSION
