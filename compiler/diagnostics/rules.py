"""Every diagnostic code specops can emit, in one table.

Why a table: `specops rules`, the docs page, SARIF's `rules` array and suppression checks
all read from here, so a code cannot exist without an explanation. Codes are stable;
retired codes are never reused.

Ranges: SPEC0xx files, SPEC1xx YAML, SPEC15x templates, SPEC2xx schema, SPEC3xx references,
SPEC4xx expressions and types, SPEC5xx governance and policy, SPEC6xx graph, SPEC7xx
operations (SPEC70x schedules, SPEC71x rollouts), SPEC9xx suppressions.
"""

from __future__ import annotations

from dataclasses import dataclass

from specops.compiler.diagnostics.diagnostic import Severity

__all__ = ["RULES", "Rule", "rule"]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    slug: str
    severity: Severity
    summary: str
    explanation: str


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

_TABLE: tuple[Rule, ...] = (
    # files
    Rule("SPEC001", "unreadable-file", _E, "The file cannot be read.",
         "specops could not open the file: permission denied, a link to a missing file, or "
         "not a regular file (a FIFO, socket or device, which lint never opens)."),
    Rule("SPEC002", "binary-file", _E, "The file is binary, not YAML text.",
         "The file contains NUL bytes or invalid UTF-8. Spec files must be UTF-8 YAML."),
    Rule("SPEC003", "file-too-large", _E, "The file exceeds the size limit.",
         "Spec files are bounded (default 8 MiB) so a runaway or hostile file cannot exhaust "
         "memory. Split large spec sets into several files."),
    Rule("SPEC004", "empty-file", _W, "The file holds no YAML document.",
         "An empty spec file is almost always a mistake (a file saved before it was written)."),
    Rule("SPEC005", "no-project", _E, "No specops.yaml was found.",
         "A project is a folder with specops.yaml at its root. Pass the folder, or a spec file "
         "inside it."),
    Rule("SPEC006", "no-specs", _W, "The project has no spec files.",
         "The `specs` globs in specops.yaml matched no files."),
    Rule("SPEC007", "outside-project", _E, "A glob or link leads outside the project root.",
         "Lint runs on pull requests, so it reads nothing outside the project: an absolute "
         "or `..` glob in specops.yaml (`specs`, `prepare[].creates`) is refused without a "
         "walk, and a file or folder link whose target lies outside the root is reported, "
         "never followed. Links that stay inside the project work."),
    # YAML
    Rule("SPEC101", "yaml-syntax", _E, "The YAML does not parse.",
         "The file is not well-formed YAML. The location is where the parser noticed the "
         "problem; the cause is often on the line above (indentation, an unclosed quote)."),
    Rule("SPEC102", "duplicate-key", _E, "A mapping has the same key twice.",
         "YAML parsers silently keep the last of duplicate keys, so the first value is lost "
         "without warning. specops refuses them at the second key."),
    Rule("SPEC103", "implicit-boolean", _E, "A YAML 1.1 word was read as a boolean.",
         "PyYAML follows YAML 1.1, where yes/no/on/off/y/n become booleans (the Norway "
         "problem: country code `no` becomes false). Write true/false, or quote the string."),
    Rule("SPEC104", "unsafe-tag", _E, "A YAML tag that specops does not accept.",
         "Only plain YAML (mappings, sequences, strings, numbers, booleans, null) is allowed. "
         "Tags such as !!python/object are refused; specops never constructs objects from "
         "specs."),
    Rule("SPEC105", "too-complex", _E, "The document expands beyond the node budget.",
         "Aliases can expand exponentially (the 'billion laughs' attack). specops stops "
         "expanding after a fixed number of nodes and refuses the document."),
    Rule("SPEC106", "too-deep", _E, "The document nests too deeply.",
         "Nesting is limited (64 levels) to bound recursion; recursive aliases also hit this."),
    Rule("SPEC107", "invalid-key", _E, "A mapping key is not a plain string.",
         "Keys must be strings. Numbers, booleans, null, sequences and mappings as keys are "
         "refused (an unquoted `on:` key becomes the boolean true in YAML 1.1)."),
    Rule("SPEC108", "not-a-mapping", _E, "A document is not a mapping.",
         "Every spec document is a mapping with at least `kind` and `name`."),
    # templates
    Rule("SPEC151", "template-syntax", _E, "A templated value does not parse as Jinja.",
         "String values containing {{ }} or {% %} are rendered with Jinja after parsing. This "
         "one has a syntax error."),
    Rule("SPEC152", "undefined-variable", _E, "A template uses an undefined variable.",
         "Templates render with StrictUndefined: every variable must be defined in "
         "specops.yaml `vars` or with `--var name=value`."),
    Rule("SPEC153", "template-security", _E, "A template tried something unsafe.",
         "Templates render in Jinja's immutable sandbox: attribute tricks such as "
         "''.__class__ and mutation of values are refused."),
    Rule("SPEC154", "template-error", _E, "A template failed while rendering.",
         "Rendering raised an error (a filter received the wrong type, division by zero, ...)."),
    # schema
    Rule("SPEC201", "unknown-key", _E, "A key that this kind does not define.",
         "Unknown keys are errors, never silently ignored: a typo would otherwise turn off "
         "the setting you meant."),
    Rule("SPEC202", "missing-field", _E, "A required field is missing.",
         "The kind requires this field. The location is the mapping that lacks it."),
    Rule("SPEC203", "wrong-type", _E, "A value has the wrong type.",
         "Values are checked strictly: a quoted number is not a number, and only true/false "
         "are booleans."),
    Rule("SPEC204", "invalid-value", _E, "A value is outside what the field accepts.",
         "The value has the right type but is not allowed (an unknown choice, a negative "
         "count, a malformed duration or name)."),
    Rule("SPEC205", "unknown-kind", _E, "The document's kind is not a spec kind.",
         "kind must be one of: source, feature, model, gate, approval, policy (and project "
         "in specops.yaml)."),
    Rule("SPEC206", "missing-kind", _E, "The document has no kind.",
         "Every spec document starts with `kind:` and `name:`."),
    Rule("SPEC207", "duplicate-name", _E, "Two specs of the same kind share a name.",
         "Names are unique per kind (per name and version for features), across all files."),
    # references
    Rule("SPEC301", "unknown-source", _E, "A reference to a source that does not exist.",
         "The named source is not defined in any spec file of the project."),
    Rule("SPEC302", "unknown-feature", _E, "A reference to a feature view or feature that "
         "does not exist.", "The named feature view (or feature inside it) is not defined."),
    Rule("SPEC303", "unknown-version", _E, "A feature view version that does not exist.",
         "The view exists, but not at this version. Versions are integers declared with "
         "`version:`."),
    Rule("SPEC304", "unknown-gate", _E, "A reference to a gate that does not exist.",
         "The model lists a gate that no gate spec defines."),
    Rule("SPEC305", "unknown-approval", _E, "A reference to approval rules that do not exist.",
         "The model names an approval spec that is not defined."),
    Rule("SPEC306", "unknown-column", _E, "A column the source does not declare.",
         "Columns must be declared in the source's `columns` to be used anywhere."),
    Rule("SPEC307", "unknown-role", _E, "A role or person not defined in specops.yaml.",
         "Roles and people are declared under `people` in specops.yaml."),
    Rule("SPEC308", "deprecated-version", _W, "A deprecated feature view version is used.",
         "The feature view version is marked deprecated; move to the version it names."),
    Rule("SPEC309", "unknown-policy", _E, "A reference to a policy or pack that does not exist.",
         "specops.yaml `packs` lists built-in packs by name; see `specops rules --packs`."),
    Rule("SPEC310", "ambiguous-reference", _E, "A feature reference needs a version.",
         "Several versions of the view exist; write name@version."),
    # expressions and types
    Rule("SPEC401", "expr-syntax", _E, "An expression does not parse.",
         "Expressions use a small Python-like syntax (literals, arithmetic, comparisons, "
         "and/or/not, function calls)."),
    Rule("SPEC402", "expr-forbidden", _E, "An expression uses a construct that is not allowed.",
         "Attribute access (except documented ones), subscripts, lambdas, comprehensions, "
         "dunder names and the like are refused: expressions are data, not code."),
    Rule("SPEC403", "unknown-name", _E, "An expression uses a name that is not in scope.",
         "Feature expressions see the source's declared columns; gate checks see the task's "
         "metrics; policies see the spec graph."),
    Rule("SPEC404", "type-mismatch", _E, "An expression combines incompatible types.",
         "Types are inferred from the declared column types and checked before anything runs."),
    Rule("SPEC405", "unknown-function", _E, "An expression calls an unknown function.",
         "Only the documented functions exist; see docs/expressions.md."),
    Rule("SPEC406", "wrong-arity", _E, "A function got the wrong number of arguments.",
         "See docs/expressions.md for each function's signature."),
    Rule("SPEC407", "expr-too-deep", _E, "An expression nests too deeply or is too long.",
         "Expressions are bounded in length and depth."),
    Rule("SPEC408", "not-boolean", _E, "A check or condition is not a boolean expression.",
         "Gate checks, approval conditions and policy rules must evaluate to true/false."),
    Rule("SPEC410", "window-needs-timestamp", _E, "A windowed aggregate without a timestamp.",
         "`agg` over `window` needs an event timestamp on the view (or its source) to be "
         "point-in-time correct."),
    Rule("SPEC411", "metric-not-for-task", _E, "A metric that does not fit the model's task.",
         "roc_auc needs a classifier; rmse needs a regressor."),
    Rule("SPEC412", "invalid-aggregate", _E, "An aggregate that does not fit its input.",
         "sum/mean need numeric input; windows need an aggregate."),
    Rule("SPEC413", "label-invalid", _E, "The label column does not fit the task.",
         "Classification needs an integer, boolean or string label; regression a numeric one."),
    Rule("SPEC414", "entity-mismatch", _E, "Joined specs disagree on the entity key.",
         "A feature view, label source or protected attribute joins to the training spine "
         "on the entity; its type must match. A type mismatch is reported at the joined "
         "source's column type (the field to change), with the spine's column and the use "
         "as related locations; a missing key at the use."),
    Rule("SPEC415", "estimator-not-allowed", _E, "The estimator class is not on the allowlist.",
         "Only listed scikit-learn estimators can be trained; YAML never names an import path."),
    Rule("SPEC416", "invalid-param", _E, "An estimator parameter the class does not accept.",
         "Parameters and search spaces are checked against the estimator's signature."),
    Rule("SPEC420", "needs-timestamp", _E, "Something needs an event time the data lacks.",
         "A spine without a timestamp is valid with `split: {by: random}` and views joined on "
         "the key alone. A time split (the default), `cv_strategy: time_series`, "
         "`created_time_cutoff`, a `ttl`, and a point-in-time join of a view or source that "
         "has event times all need the spine's (or the view's) timestamp."),
    # ahead of time: leakage and event times (located at the field to change)
    Rule("SPEC430", "target-leakage", _E, "The label, or a feature computed from it, is a "
         "model input.", "A model trained on its own answer scores perfectly on every split "
         "and gate and fails on new rows, which arrive without a label. Lint follows each "
         "input in `training.features` back to the source columns it reads (through derived "
         "views) and refuses the entry that reads the label column of the label source."),
    Rule("SPEC431", "timestamp-not-datetime", _E, "An event-time column is not a datetime.",
         "`timestamp` and `created_timestamp` (of a source or a feature view) are compared "
         "with event times in point-in-time joins, splits and TTLs; they must name a "
         "`datetime` or `date` column. Reported at `timestamp:`, with the column's declared "
         "type related."),
    Rule("SPEC432", "restricted-without-ttl", _W, "A restricted feature view has no `ttl`.",
         "Restricted data joined without an age limit serves sensitive rows of any age. Set "
         "`ttl` on the view (it needs a timestamp), or suppress with a reason when the data "
         "never goes stale."),
    # governance
    Rule("SPEC501", "protected-as-input", _E, "A protected attribute is a model input.",
         "Protected attributes are for fairness checks only; using one as an input is refused."),
    Rule("SPEC502", "restricted-without-grant", _E, "A restricted feature view used without "
         "a grant.", "The view is `access: restricted`; its grants must name the model's "
         "owner."),
    Rule("SPEC503", "unsatisfiable-approval", _E, "No set of people can satisfy the approval.",
         "Under separation of duties every required role needs enough people who are not the "
         "model's owner."),
    Rule("SPEC504", "no-blocking-gate", _E, "A deploy path without a blocking gate.",
         "Every model that can be deployed needs at least one blocking gate before register."),
    Rule("SPEC505", "policy-violation", _E, "A policy rule is violated.",
         "A built-in pack or a user policy rule does not hold; the message names the rule id."),
    Rule("SPEC506", "policy-invalid", _E, "A policy rule cannot be evaluated.",
         "The policy's condition uses names or functions that are not defined for policies."),
    Rule("SPEC507", "missing-fairness", _W, "Protected attributes without a fairness check.",
         "A model that declares protected attributes should gate on a fairness metric."),
    Rule("SPEC508", "trust-root-not-accepted", _W, "People, keys, roles or permissions are "
         "not in force.", "specops.yaml's people, their keys, roles and permissions take "
         "effect only after `specops policy accept` signed by people allowed to change "
         "policy; until then the runtime acts on the last accepted trust root. Lint compares "
         "with trust.lock.json, written by `policy accept`; commit it with the change."),
    Rule("SPEC509", "duties-unsatisfiable", _E, "Approvers and a deployer cannot be distinct "
         "people.", "Under `separation_of_duties` across actions (the deployer is not an "
         "approver; authors never approve) the people listed cannot fill every required "
         "approval and still leave someone to deploy, so every deploy would be refused."),
    Rule("SPEC510", "fairness-unevaluable", _E, "A fairness check cannot be evaluated as "
         "written.", "A numeric protected attribute needs bands (`fairness.bands`: edges or "
         "quantiles) unless its values are listed with `in:`; bands name protected numeric "
         "attributes; a favourable outcome is a label value (a direction for a regression); "
         "a regression's fairness checks need `fairness.favorable` and `threshold`."),
    # governance: approvals and names (located at the field to change; related: the other)
    Rule("SPEC521", "approver-without-permission", _E, "A required approver role may not "
         "approve.", "An approval rule requires a role that `permissions.approve` in "
         "specops.yaml (or its default: model_risk_officer, validator, business_owner) does "
         "not list, so the runtime refuses every approval from that role and the model can "
         "never be approved. Reported at the rule's `require:`, with `permissions.approve` as "
         "the related location."),
    Rule("SPEC522", "policy-shadows-pack", _E, "A user policy is named like a built-in pack.",
         "A `policy` spec with the name of a built-in pack (`sr11-7`, `eu-ai-act-high-risk`) "
         "would be read as that pack: results, waivers and reports would mix the two rule "
         "sets under one name. Rename the policy."),
    Rule("SPEC523", "deprecation-to-itself", _E, "A deprecation's replacement is itself.",
         "`deprecated.use` names the same view and version it deprecates, so following the "
         "advice changes nothing. Point it at the newer version."),
    Rule("SPEC524", "duplicate-input-name", _E, "Two model inputs have the same name.",
         "The serving signature names each input by its feature or column name (see "
         "`specops explain`). Two inputs with one name would have to be renamed silently, "
         "changing the request schema clients send; select only one, or derive a view that "
         "renames one. Reported at the later reference, with the earlier one related."),
    Rule("SPEC525", "unsigned-governance", _W, "A high-risk model in a project whose "
         "governed actions are not signed.",
         "Without `keys` for people (and a referenced registry key), specops runs in "
         "claimed-identity mode: who approved or deployed is the name typed after `--as`. "
         "That holds against honest mistakes, not against a dishonest insider, which is what "
         "a high-risk model's approvals exist to guard against. Give each person an SSH "
         "ed25519 public key (`specops keys new NAME`), reference the registry key, and "
         "accept the trust root (`specops policy accept`). Reported at `people` in "
         "specops.yaml, with each high-risk model related."),
    # graph
    Rule("SPEC601", "cycle", _E, "The specs form a cycle.",
         "A feature view depends (through other views) on itself. The message prints the cycle."),
    # operations: schedules (located at the `cron`, `timezone` or `schedule` field)
    Rule("SPEC701", "invalid-cron", _E, "A schedule's cron expression is not portable cron "
         "or never fires.", "`specops export` hands the cron to Airflow, Dagster, GitHub "
         "Actions or a crontab, which agree only on five POSIX fields (minute hour "
         "day-of-month month day-of-week) of numbers, JAN-DEC / SUN-SAT names, `*`, lists, "
         "ranges and steps, and on the @hourly/@daily/@weekly/@monthly/@yearly macros. "
         "Seconds fields, `L`, `W`, `#`, `?`, `H`, @reboot, values out of range and dates "
         "that never come (30 February) are refused where they are written."),
    Rule("SPEC702", "unknown-timezone", _E, "A schedule's timezone is not an IANA name.",
         "`timezone` names the zone the cron is read in (UTC, Europe/Berlin, "
         "America/New_York), checked against the tz database (zoneinfo). Offsets such as "
         "+02:00 do not follow daylight saving and are refused."),
    Rule("SPEC703", "schedule-too-frequent", _W, "A schedule fires more often than its job's "
         "floor.", "A retrain more often than hourly registers versions faster than anyone "
         "can review them; a monitor more often than every 15 minutes reads windows with "
         "hardly any new predictions; GitHub Actions runs nothing more often than every 5 "
         "minutes (the floor for `materialize`). Suppress with a reason when it is meant."),
    Rule("SPEC704", "schedule-in-dst-change", _W, "A schedule fires inside a daylight-saving "
         "change of its timezone.", "Local times such as 02:30 in Europe/Berlin do not "
         "exist on the spring change and happen twice on the autumn one; orchestrators "
         "differ in whether that run is skipped, moved or doubled. Move the time out of "
         "the change, or read the cron in UTC."),
    Rule("SPEC705", "monitor-schedule-without-log", _E, "A scheduled monitor has no "
         "prediction log to read.", "A monitoring `schedule` runs `specops monitor MODEL "
         "--from-log`, which compares the logged predictions with the reference profile; "
         "a model without `serving:` or with `log_predictions: false` logs nothing, so "
         "every scheduled run would fail. Reported at `monitoring.schedule`, with "
         "`log_predictions` related when it is written."),
    # operations: rollout rules (located at the rule or field)
    Rule("SPEC711", "malformed-rollout-rule", _E, "A rollout rule does not say exactly one "
         "thing.", "Each rule of `promote_when` / `rollback_when` is either a metric with "
         "exactly one bound (`above`, `below`, `above_champion_by`, `below_champion_by`) or "
         "a declared test (`ks` on the score distributions, `errors`: Fisher's exact test "
         "on the error rates) with exactly one of `p_below` / `p_above`. A rule with two "
         "bounds, or a test with a bound, would be read one way by its author and another "
         "by `specops rollout evaluate`."),
    Rule("SPEC712", "unknown-rollout-metric", _E, "A rollout rule names a metric the "
         "runtime does not measure.", "The arms are compared on requests, error_rate, "
         "p50_latency_ms, p99_latency_ms and mean_score (from the prediction and outcome "
         "logs) and, once labels arrive, on the realised metrics of evaluation (roc_auc, "
         "brier, rmse, ...). A misspelt metric would never hold, so a rollback it guards "
         "would never fire."),
    Rule("SPEC713", "rollout-without-rules", _W, "A `rollout:` block has no rules.",
         "Without `promote_when` or `rollback_when` the rules can never decide; a canary "
         "then stays until someone promotes or aborts it by hand."),
    Rule("SPEC714", "rollout-without-log", _E, "Rollout rules on a model whose predictions "
         "are not logged.", "`specops rollout status/evaluate` compares champion and "
         "challenger from the prediction log; with `serving.log_predictions: false` there "
         "is nothing to compare. Reported at `rollout`, with `log_predictions` related."),
    # suppressions
    Rule("SPEC901", "unused-suppression", _W, "A suppression comment matched nothing.",
         "Remove stale `# specops: ignore[...]` comments so they cannot hide future findings."),
    Rule("SPEC902", "suppression-without-reason", _E, "A suppression comment has no reason.",
         "Write why: `# specops: ignore[SPEC308] migrating in Q3`."),
    Rule("SPEC903", "unknown-code", _E, "A suppression names an unknown code.",
         "See `specops rules` for the list of codes."),
)

RULES: dict[str, Rule] = {r.code: r for r in _TABLE}


def rule(code: str) -> Rule:
    return RULES[code]
