"""Mutation testing of the modules that decide (gates, fairness, drift, audit, approvals...).

Why: a test suite that passes tells nothing about whether it would notice a wrong `>=` or a
dropped head-hash check. mutmut (3.x) plants one small bug at a time in a module and runs
that module's own fast tests; a mutant that no test notices ("survived") is either an
equivalent change or a missing test. This prints one JSON object per module:
`{"module", "files", "mutants", "killed", "survived", "timeout", "other", "score",
"survivors"}` (score = killed / (mutants - other), where `other` counts mutants mutmut could
not classify as killed/survived/timeout, e.g. "no tests").

Why a scratch copy per module: `src/specops/` is a folder of symbolic links, which mutmut's
copier does not follow, and mutmut writes its `mutants/` folder in the working directory.
So each module runs in `bench/out/mutation/<module>/` (ignored by git) holding a real copy
of the package under `src/specops/`, the tests, and a pyproject.toml whose `[tool.mutmut]`
names only that module's files and tests. The working tree is never modified.

Usage (one worker by default: the machine is shared):
    uv run --frozen python bench/mutation.py                  # every module
    uv run --frozen python bench/mutation.py --module fairness --module drift
    uv run --frozen python bench/mutation.py --module gate_checks --diffs   # survivor diffs
    uv run --frozen python bench/mutation.py --module gate_checks --survivors  # after new tests
Not in CI: a full run takes tens of minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / "bench" / "out" / "mutation"
PACKAGE_PARTS = ("compiler", "contract", "runtime", "specs", "schemas")

# module -> (files to mutate, relative to the repository; the tests that own them)
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "interpret": (["contract/interpret.py"],
                  # test_one_interpreter.py is left out: it compiles the example project
                  # and fails under mutmut's trampolined copy of the module
                  ["tests/contract/test_interpret.py", "tests/contract/test_interpret_mutants.py",
                   "tests/runtime/evaluation/test_gate_mutants.py"]),
    "gate_checks": (["runtime/evaluation/gate_checks.py"],
                    ["tests/runtime/evaluation/test_gates.py",
                     "tests/runtime/evaluation/test_gate_report_values.py",
                     "tests/runtime/evaluation/test_gate_mutants.py"]),
    "fairness": (["runtime/evaluation/fairness.py"],
                 ["tests/runtime/evaluation/test_fairness_mutants.py",
                  "tests/runtime/evaluation/test_evaluate.py"]),
    "classification": (["runtime/evaluation/classification.py",
                        "runtime/evaluation/regression.py"],
                       ["tests/runtime/evaluation/test_metric_references.py",
                        "tests/runtime/evaluation/test_evaluate.py"]),
    "drift": (["runtime/monitor/drift.py", "runtime/monitor/stats.py"],
              ["tests/runtime/monitor/test_monitor_stats.py",
               "tests/runtime/monitor/test_drift_mutants.py"]),
    "audit": (["runtime/governance/ledger/audit.py"],
              ["tests/runtime/governance/test_gov_audit.py",
               "tests/runtime/governance/test_audit_attacks.py",
               "tests/runtime/governance/test_audit_mutants.py",
               "tests/runtime/governance/test_governance_mutants.py"]),
    "approvals": (["runtime/governance/approvals.py", "runtime/governance/identity.py"],
                  ["tests/runtime/governance/test_gov_approvals.py",
                   "tests/runtime/governance/test_gov_permissions.py",
                   "tests/runtime/governance/test_governance_mutants.py"]),
    "promotion": (["runtime/governance/promotion.py"],
                  ["tests/runtime/governance/test_gov_deploy.py",
                   "tests/runtime/governance/test_governance_mutants.py"]),
    "registry": (["runtime/registry/registry.py"],
                 ["tests/runtime/registry/test_registry_keys.py",
                  "tests/runtime/governance/test_governance_mutants.py"]),
    "pit": (["runtime/data/pit.py"],
            ["tests/runtime/data/test_pit.py"]),
}

# Tests too slow to run once per mutant (a full pipeline each; their behaviour is covered
# by the fast tests of the same module), or that fail on mutmut's rewritten copy.
# Deselected in the mutation run only.
SLOW_TESTS = [
    "tests/runtime/evaluation/test_gates.py::test_gate_op_failure_blocks_and_records_rejection",
    "tests/runtime/evaluation/test_gates.py::test_gate_blocks_on_parity_failure",
    "tests/runtime/evaluation/test_evaluate.py::test_evaluate_op_writes_metrics_slices_fairness_plots",
    "tests/runtime/evaluation/test_evaluate.py::test_evaluate_regression",
    "tests/runtime/data/test_pit.py::test_hypothesis_parity",
    # structural: reads the module's imports, which mutmut's trampoline adds to
    "tests/contract/test_interpret.py::test_evaluate_imports_nothing_from_specops",
]

KILLED = {1, 3}
SURVIVED = {0}
TIMEOUT = {36, -24, 24, 152, 255}


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", ".hypothesis", ".pytest_cache")}


def _mutmut_table(files: list[str], tests: list[str]) -> str:
    def arr(xs: list[str]) -> str:
        return "[" + ", ".join(json.dumps(x) for x in xs) + "]"

    deselect = ", ".join(json.dumps(f"--deselect={t}") for t in SLOW_TESTS)
    return ("\n[tool.mutmut]\n"
            'source_paths = ["src"]\n'
            # forked straight from mutmut's process, a worker inherits the locks of threads
            # the stats run left (thread pools, SQLAlchemy) and can hang: fork from a clean
            # server instead; a hung mutant still ends by the timeout.
            'process_isolation = "forkserver"\n'
            "timeout_multiplier = 5.0\n"
            "timeout_constant = 5.0\n"
            f"only_mutate = {arr(['src/specops/' + f for f in files])}\n"
            f"pytest_add_cli_args_test_selection = {arr(tests)}\n"
            'pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-m", '
            f'"not ray and not slow and not postgres", {deselect}]\n')


def prepare(name: str, files: list[str], tests: list[str], fresh: bool) -> Path:
    """The scratch project of one module (rebuilt when `fresh`)."""
    work = SCRATCH / name
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    pkg = work / "src" / "specops"
    if pkg.exists():
        shutil.rmtree(pkg)
    pkg.mkdir(parents=True)
    for part in PACKAGE_PARTS:
        shutil.copytree(ROOT / part, pkg / part, ignore=_ignore)
    if (work / "tests").exists():
        shutil.rmtree(work / "tests")
    shutil.copytree(ROOT / "tests", work / "tests", ignore=_ignore)
    for extra in ("examples",):
        link = work / extra
        if not link.exists():
            link.symlink_to(ROOT / extra)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r"\n\[tool\.mutmut\][^\[]*", "\n", text)
    (work / "pyproject.toml").write_text(text + _mutmut_table(files, tests), encoding="utf-8")
    return work


def _codes(work: Path, files: list[str]) -> dict[str, Any]:
    """Mutant name -> mutmut's exit code, as its .meta files hold them."""
    out: dict[str, Any] = {}
    for f in files:
        meta = work / "mutants" / "src" / "specops" / (f + ".meta")
        if meta.is_file():
            out.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    return out


def collect(work: Path, files: list[str], previous: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    """Counts per outcome. `previous`: the codes before a `--survivors` run, which mutmut
    leaves unset for the mutants it did not re-run (they keep their earlier outcome)."""
    counts = {"mutants": 0, "killed": 0, "survived": 0, "timeout": 0, "other": 0}
    survivors: list[str] = []
    untested: list[str] = []
    other: dict[str, int] = {}
    previous = previous or {}
    for key, code in sorted(_codes(work, files).items()):
        if code is None:
            code = previous.get(key)
        counts["mutants"] += 1
        if code in KILLED:
            counts["killed"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
            survivors.append(key)
        elif code in TIMEOUT:
            counts["timeout"] += 1
        else:
            if code == 33:
                untested.append(key)
            counts["other"] += 1
            other[str(code)] = other.get(str(code), 0) + 1
    decided = counts["mutants"] - counts["other"]
    score = round(counts["killed"] / decided, 4) if decided else None
    return {**counts, "other_exit_codes": other, "score": score, "survivors": survivors,
            "untested": untested}


def run_module(name: str, *, children: int, fresh: bool, diffs: bool,
               timeout: int, survivors: bool = False) -> dict[str, Any]:
    files, tests = MODULES[name]
    tests = [t for t in tests if (ROOT / t).exists()]
    again: list[str] = []
    previous: dict[str, Any] = {}
    if survivors and not fresh:   # survivors, and mutants that no test reached last time
        previous = _codes(SCRATCH / name, files)
        before = collect(SCRATCH / name, files)
        again = before["survivors"] + before["untested"]
    work = prepare(name, files, tests, fresh)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    mutmut = Path(sys.executable).with_name("mutmut")
    start = time.monotonic()
    log = work / "mutmut.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.run([str(mutmut), "run", "--max-children", str(children), *again],
                              cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                              timeout=timeout, check=False)
    result: dict[str, Any] = {"module": name, "files": files, "tests": tests,
                              **collect(work, files, previous),
                              "seconds": round(time.monotonic() - start, 1),
                              "mutmut_exit": proc.returncode}
    if proc.returncode != 0:
        result["log_tail"] = log.read_text(encoding="utf-8")[-1500:]
    if diffs and result["survivors"]:
        result["diffs"] = {
            key: subprocess.run([str(mutmut), "show", key], cwd=work, env=env,
                                capture_output=True, text=True, check=False).stdout
            for key in result["survivors"]}
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", action="append", choices=sorted(MODULES),
                    help="run only this module (repeatable); default: all")
    ap.add_argument("--children", type=int, default=1, help="mutmut worker processes")
    ap.add_argument("--fresh", action="store_true",
                    help="drop the previous results of the module (otherwise mutmut resumes)")
    ap.add_argument("--diffs", action="store_true", help="include each survivor's diff")
    ap.add_argument("--survivors", action="store_true",
                    help="re-test only the previous run's survivors (after adding tests)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per module")
    args = ap.parse_args(argv)
    for name in args.module or list(MODULES):
        try:
            res = run_module(name, children=args.children, fresh=args.fresh,
                             diffs=args.diffs, timeout=args.timeout,
                             survivors=args.survivors)
        except subprocess.TimeoutExpired:
            res = {"module": name, "error": f"timed out after {args.timeout}s"}
        print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
