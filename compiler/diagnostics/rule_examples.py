"""One small example per diagnostic code, shown in docs/rules.md and `specops rules CODE`.

Why a separate table: rules.py stays the short list of codes, and the examples are long
text. Each example is a spec file laid over the minimal project of
tests/fixtures/projects/minimal/ (source `loans`, view `loan_features@1`, gate `quality`,
approval `standard`, model `default_risk`, people alice the ml_engineer and bob the
model_risk_officer); tests/compiler/diagnostics/test_rules_doc.py lints every example that `verify`
marks and checks that its code is reported, so the docs cannot show an example that does
not trigger its rule.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXAMPLES", "Example"]


@dataclass(frozen=True, slots=True)
class Example:
    text: str                      # the file content (or prose, when verify is False)
    file: str = "specs/example.yaml"
    verify: bool = True            # False: not a spec file (unreadable, missing, huge)
    language: str = "yaml"


def _model(name: str, features: str = "[loan_features@1, loans.region]", task: str =
           "binary_classification", extra: str = "", estimator: str =
           "HistGradientBoostingClassifier", label: str = "defaulted",
           gates: str = "[quality]") -> str:
    return f"""\
kind: model
name: {name}
owner: team:risk
task: {task}
training:
  spine: loans
  label: {{source: loans, column: {label}}}
  features: {features}
estimator:
  class: {estimator}
gates: {gates}
approval: standard
{extra}"""


_LAUGHS = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)])

EXAMPLES: dict[str, Example] = {
    "SPEC001": Example("A spec path that is a dangling symlink or unreadable for the user "
                       "running lint.", verify=False, language="text"),
    "SPEC002": Example("A spec file saved as UTF-16, or a parquet file matched by the "
                       "`specs` globs.", verify=False, language="text"),
    "SPEC003": Example("A generated spec file of 20 MB. Split it, or generate fewer, "
                       "larger specs.", verify=False, language="text"),
    "SPEC004": Example("# TODO: write the churn model\n"),
    "SPEC005": Example("$ specops lint /tmp/specs   # no specops.yaml here or above",
                       verify=False, language="console"),
    "SPEC006": Example('name: credit\nspecs: ["pipelines/**/*.yaml"]   # matches nothing\n',
                       file="specops.yaml", verify=False),
    "SPEC007": Example('name: credit\nspecs: ["specs/**/*.yaml", "../shared/*.yaml"]\n',
                       file="specops.yaml"),
    "SPEC101": Example('kind: gate\nname: strict\nchecks: ["roc_auc >= 0.8"\n'),
    "SPEC102": Example('kind: gate\nname: strict\nchecks: ["roc_auc >= 0.8"]\n'
                       'checks: ["brier <= 0.2"]   # SPEC102: the first list would be lost\n'),
    "SPEC103": Example("kind: source\nname: countries\npath: data/countries.csv\n"
                       "columns:\n  code: {type: string, in: [se, no, dk]}   "
                       "# `no` is false in YAML 1.1\n"),
    "SPEC104": Example("kind: source\nname: evil\npath: !!python/object/apply:os.system "
                       '["id"]\ncolumns: {id: {type: int64}}\n'),
    "SPEC105": Example(_LAUGHS + "\n"),
    "SPEC106": Example("kind: gate\nname: deep\nchecks: " + "[" * 70 + "]" * 70 + "\n"),
    "SPEC107": Example("kind: source\nname: switches\npath: data/switches.csv\ncolumns:\n"
                       "  on: {type: bool}   # the key is the boolean true\n"),
    "SPEC108": Example('- kind: gate\n  name: strict\n  checks: ["roc_auc >= 0.8"]\n'),
    "SPEC151": Example('kind: gate\nname: strict\nchecks: ["roc_auc >= {{ min_auc }"]\n'),
    "SPEC152": Example('kind: gate\nname: strict\nchecks: ["roc_auc >= {{ min_acu }}"]\n'),
    "SPEC153": Example("kind: gate\nname: strict\ndescription: \"{{ ''.__class__.__mro__ }}\""
                       '\nchecks: ["roc_auc >= 0.8"]\n'),
    "SPEC154": Example('kind: gate\nname: strict\ndescription: "{{ data_dir | round }}"\n'
                       'checks: ["roc_auc >= 0.8"]\n'),
    "SPEC201": Example('kind: gate\nname: strict\nblockng: true   # did you mean `blocking`?\n'
                       'checks: ["roc_auc >= 0.8"]\n'),
    "SPEC202": Example("kind: gate\nname: strict\n"),
    "SPEC203": Example('kind: gate\nname: strict\nmin_group_size: "50"   # a string\n'
                       'checks: ["roc_auc >= 0.8"]\n'),
    "SPEC204": Example('kind: gate\nname: strict\nmin_group_size: 0\n'
                       'checks: ["roc_auc >= 0.8"]\n'),
    "SPEC205": Example('kind: gates\nname: strict\nchecks: ["roc_auc >= 0.8"]\n'),
    "SPEC206": Example('name: strict\nchecks: ["roc_auc >= 0.8"]\n'),
    "SPEC207": Example('kind: gate\nname: quality   # already defined in gate.yaml\n'
                       'checks: ["roc_auc >= 0.8"]\n'),
    "SPEC301": Example('kind: feature\nname: more_features\nsource: loan   # loans?\n'
                       'features:\n  income_k: "income / 1000"\n'),
    "SPEC302": Example(_model("m", "[loan_features@1.log_incme]")),
    "SPEC303": Example(_model("m", "[loan_features@3]")),
    "SPEC304": Example(_model("m", gates="[qualty]")),
    "SPEC305": Example(_model("m").replace("approval: standard", "approval: standrd")),
    "SPEC306": Example("kind: source\nname: payments\npath: data/payments.parquet\n"
                       "entity: loan_id\ntimestamp: paid\ncolumns:\n"
                       "  loan_id: {type: int64}\n  paid_at: {type: datetime}\n"),
    "SPEC307": Example("kind: approval\nname: four_eyes\nrules:\n"
                       "  - require: {model_risk_oficer: 1}\n"),
    "SPEC308": Example("kind: feature\nname: old_features\nversion: 1\nsource: loans\n"
                       "deprecated: {message: unscaled income, use: loan_features@1}\n"
                       "features:\n  income: income\n---\n"
                       + _model("m", "[old_features@1]")),
    "SPEC309": Example("name: credit\npacks: [sr11_7]   # the pack is sr11-7\n",
                       file="specops.yaml", verify=False),
    "SPEC310": Example("kind: feature\nname: loan_features\nversion: 2\nsource: loans\n"
                       "features:\n  log_income: \"log1p(income + 1)\"\n---\n"
                       + _model("m", "[loan_features]")),
    "SPEC401": Example('kind: gate\nname: strict\nchecks: ["roc_auc >="]\n---\n'
                       + _model("m", gates="[quality, strict]")),
    "SPEC402": Example('kind: feature\nname: f\nsource: loans\nfeatures:\n'
                       '  x: "income.__class__"\n'),
    "SPEC403": Example('kind: feature\nname: f\nsource: loans\nfeatures:\n'
                       '  x: "incom * 2"   # income?\n'),
    "SPEC404": Example('kind: feature\nname: f\nsource: loans\nfeatures:\n'
                       '  x: "region + 1"   # string + int\n'),
    "SPEC405": Example('kind: feature\nname: f\nsource: loans\nfeatures:\n'
                       '  x: "sqroot(income)"\n'),
    "SPEC406": Example('kind: feature\nname: f\nsource: loans\nfeatures:\n'
                       '  x: "log1p(income, 2)"\n'),
    "SPEC407": Example('kind: feature\nname: f\nsource: loans\nfeatures:\n'
                       '  x: "' + " + ".join(["income"] * 400) + '"\n'),
    "SPEC408": Example('kind: gate\nname: strict\nchecks: ["roc_auc + 1"]\n---\n'
                       + _model("m", gates="[quality, strict]")),
    "SPEC410": Example("kind: source\nname: events\npath: data/events.parquet\n"
                       "entity: loan_id   # no timestamp\ncolumns:\n"
                       "  loan_id: {type: int64}\n  amount: {type: float64}\n---\n"
                       "kind: feature\nname: f\nsource: events\nfeatures:\n"
                       '  spend_30d: {expr: "amount", agg: sum, window: 30d}\n'),
    "SPEC411": Example('kind: gate\nname: regression_quality\nchecks: ["rmse <= 1.5"]\n---\n'
                       + _model("m", gates="[quality, regression_quality]")),
    "SPEC412": Example('kind: feature\nname: f\nsource: loans\nfeatures:\n'
                       '  regions: {expr: "region", agg: sum, window: 30d}\n'),
    "SPEC413": Example('kind: gate\nname: error_budget\nchecks: ["rmse <= 2"]\n---\n'
                       + _model("m", task="regression", label="region",
                                estimator="HistGradientBoostingRegressor",
                                gates="[error_budget]")),
    "SPEC414": Example("kind: source\nname: bureau\npath: data/bureau.parquet\n"
                       "entity: person_id\ntimestamp: reported_at\ncolumns:\n"
                       "  person_id: {type: string}\n  reported_at: {type: datetime}\n"
                       "  balance: {type: float64}\n---\n"
                       "kind: feature\nname: bureau_features\nsource: bureau\nfeatures:\n"
                       "  balance: balance\n---\n"
                       + _model("m", "[bureau_features@1]")),
    "SPEC415": Example(_model("m", estimator="XGBClassifier")),
    "SPEC416": Example(_model("m").replace("  class: HistGradientBoostingClassifier",
                                           "  class: HistGradientBoostingClassifier\n"
                                           "  params: {max_iterations: 50}")),
    "SPEC420": Example("kind: source\nname: census\npath: data/census.csv\nformat: csv\n"
                       "entity: row_id   # no timestamp\ncolumns:\n"
                       "  row_id: {type: int64}\n  age: {type: int64}\n"
                       "  income_gt_50k: {type: int64}\n---\n"
                       + _model("m", features="[census.age]", label="income_gt_50k")
                       .replace("spine: loans", "spine: census")
                       .replace("{source: loans", "{source: census")),
    "SPEC430": Example(_model("m", "[loan_features@1, loans.defaulted]")),
    "SPEC431": Example("kind: source\nname: events\npath: data/events.parquet\n"
                       "entity: loan_id\ntimestamp: event_day   # an integer\ncolumns:\n"
                       "  loan_id: {type: int64}\n  event_day: {type: int64}\n"),
    "SPEC432": Example("kind: feature\nname: bureau_view\nsource: loans\naccess: restricted"
                       "   # no ttl\ngrants: [team:risk]\nfeatures:\n  income: income\n"),
    "SPEC501": Example("kind: source\nname: applicants\npath: data/applicants.parquet\n"
                       "entity: loan_id\ncolumns:\n  loan_id: {type: int64}\n"
                       "  sex: {type: string, in: [F, M], protected: true}\n---\n"
                       + _model("m", "[loan_features@1, applicants.sex]")),
    "SPEC502": Example("kind: feature\nname: bureau_view\nsource: loans\naccess: restricted\n"
                       "grants: [team:underwriting]\nfeatures:\n  income: income\n---\n"
                       + _model("m", "[bureau_view@1]")),
    "SPEC503": Example("kind: approval\nname: two_validators\nrules:\n"
                       "  - require: {model_risk_officer: 2}   # only bob holds the role\n"
                       "    separation_of_duties: true\n---\n"
                       + _model("m").replace("approval: standard", "approval: two_validators")),
    "SPEC504": Example(_model("m", gates="[]")),
    "SPEC505": Example("kind: policy\nname: house_rules\nrules:\n  - id: high-risk-monitored\n"
                       "    when: \"model.risk_tier == 'high'\"\n"
                       "    require: \"model.has_monitoring\"\n"
                       "    message: high-risk models are monitored for drift\n---\n"
                       + _model("m", extra="risk_tier: high\n")),
    "SPEC506": Example("A policy rule that type-checks but reads a fact that some subject "
                       "does not supply, so evaluating it fails for that model.",
                       verify=False, language="text"),
    "SPEC507": Example("kind: source\nname: applicants\npath: data/applicants.parquet\n"
                       "entity: loan_id\ncolumns:\n  loan_id: {type: int64}\n"
                       "  sex: {type: string, in: [F, M], protected: true}\n---\n"
                       + _model("m").replace("  features:", "  protected: [applicants.sex]\n"
                                             "  features:")),
    "SPEC508": Example('name: minimal\nspecs: ["specs/**/*.yaml"]\nvars: {data_dir: data, '
                       'min_auc: 0.7}\npeople:\n  alice: {roles: [ml_engineer], teams: [risk]}\n'
                       '  bob: {roles: [model_risk_officer], teams: [validation], keys: '
                       '["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMyMhCUtyAzUZfUidG68l4sLVH4uM6Y9'
                       'rihQ6dlLUEyx bob"]}   # no trust.lock.json: never accepted\n',
                       file="specops.yaml"),
    "SPEC509": Example('name: minimal\nspecs: ["specs/**/*.yaml"]\nvars: {data_dir: data, '
                       'min_auc: 0.7}\npeople:\n  alice: {roles: [ml_engineer], teams: [risk]}\n'
                       '  bob: {roles: [model_risk_officer, platform_engineer]}\n'
                       'permissions: {deploy: [platform_engineer]}   # bob approves: who '
                       'deploys?\n', file="specops.yaml"),
    "SPEC510": Example("kind: source\nname: applicants\npath: data/applicants.parquet\n"
                       "entity: loan_id\ncolumns:\n  loan_id: {type: int64}\n"
                       "  age: {type: int64, protected: true}   # no bands\n---\n"
                       + _model("m").replace("  features:", "  protected: [applicants.age]\n"
                                             "  features:")),
    "SPEC521": Example("kind: approval\nname: engineers\nrules:\n"
                       "  - require: {ml_engineer: 1}   # may register, not approve\n---\n"
                       + _model("m").replace("approval: standard", "approval: engineers")),
    "SPEC522": Example("kind: policy\nname: sr11-7   # the built-in pack's name\nrules:\n"
                       "  - id: owned\n    applies_to: source\n"
                       "    require: \"source.has_owner\"\n    message: sources are owned\n"),
    "SPEC523": Example("kind: feature\nname: old_view\nversion: 2\nsource: loans\n"
                       "deprecated: {use: old_view@2}\nfeatures:\n  income: income\n"),
    "SPEC524": Example("kind: feature\nname: region_view\nsource: loans\nfeatures:\n"
                       "  region: upper(region)\n---\n"
                       + _model("m", "[loans.region, region_view@1]")),
    "SPEC525": Example(_model("m", extra="risk_tier: high   # people have no keys\n")),
    "SPEC601": Example("kind: feature\nname: a\nsource: b@1\nfeatures:\n  x: x\n---\n"
                       "kind: feature\nname: b\nsource: a@1\nfeatures:\n  x: x\n"),
    "SPEC701": Example(_model("m", extra='schedule: "0 3 * *"   # four fields\n')),
    "SPEC702": Example(_model("m", extra="schedule: {cron: \"0 3 * * *\", timezone: "
                                         "Europe/Berlln}   # typo\n")),
    "SPEC703": Example(_model("m", extra='schedule: "*/10 * * * *"   # a retrain every '
                                         '10 minutes\n')),
    "SPEC704": Example(_model("m", extra="schedule: {cron: \"30 2 * * *\", timezone: "
                                         "Europe/Berlin}   # 02:30 is skipped in March\n")),
    "SPEC705": Example(_model("m", extra="monitoring:\n  schedule: \"0 6 * * *\"   # no "
                                         "serving: nothing is logged\n")),
    "SPEC711": Example(_model("m", extra="rollout:\n  rollback_when:\n    - {metric: "
                                         "p99_latency_ms, above: 50, below: 10}   # which?\n")),
    "SPEC712": Example(_model("m", extra="rollout:\n  rollback_when:\n    - {metric: "
                                         "p99_latncy_ms, above: 50}   # typo\n")),
    "SPEC713": Example(_model("m", extra="rollout: {min_requests: 500}   # and then?\n")),
    "SPEC714": Example(_model("m", extra="serving: {log_predictions: false}\nrollout:\n"
                                         "  rollback_when: [{metric: error_rate, "
                                         "above_champion_by: 0.01}]\n")),
    "SPEC901": Example('kind: gate\nname: strict\n'
                       'checks: ["roc_auc >= 0.8"]  # specops: ignore[SPEC308] old view\n'),
    "SPEC902": Example('kind: gate\nname: strict\n'
                       'checks: ["roc_auc >= 0.8"]  # specops: ignore[SPEC308]\n'),
    "SPEC903": Example('kind: gate\nname: strict\n'
                       'checks: ["roc_auc >= 0.8"]  # specops: ignore[SPEC999] typo\n'),
}
