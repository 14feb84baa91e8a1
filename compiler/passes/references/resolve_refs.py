"""Resolve every name that points at another spec; unknown names get 'did you mean'.

Feature references in `training.features`:
- `view@2` (all features of version 2), `view@2.feature` (one feature),
- `view` / `view.feature` when the view has a single version,
- `source.column` (a raw column of a source).
"""

from __future__ import annotations

import re

from specops.compiler.diagnostics.diagnostic import Diagnostic, Severity
from specops.compiler.diagnostics.suggest import did_you_mean
from specops.compiler.frontend.validate_specs import LoadedSpec
from specops.compiler.kinds import FeatureSpec, ModelSpec, ProjectSpec, SourceSpec
from specops.compiler.passes.context import Context, InputRef

__all__ = ["parse_feature_ref", "resolve_refs"]

_REF = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?:@(?P<version>\w+))?(?:\.(?P<col>[A-Za-z_]\w*))?$")


def parse_feature_ref(text: str) -> tuple[str, str | None, str | None] | None:
    m = _REF.match(text.strip())
    if not m:
        return None
    return m.group("name"), m.group("version"), m.group("col")


def _broken(ctx: Context, kind: str, name: str) -> bool:
    """A spec of this kind and name exists but failed validation (already reported)."""
    return (kind, name) in ctx.project.broken or ("*", name) in ctx.project.broken


def _check_source_columns(ctx: Context, loaded: LoadedSpec) -> None:
    src: SourceSpec = loaded.spec
    for key in ("entity", "timestamp", "created_timestamp"):
        col = getattr(src, key)
        if col is not None and col not in src.columns and \
                not loaded.was_pruned("columns", col):
            ctx.error("SPEC306", f"{key} column `{col}` is not declared in `columns`", loaded,
                      key, help=did_you_mean(col, src.columns))


def _check_feature_view(ctx: Context, loaded: LoadedSpec) -> None:
    view: FeatureSpec = loaded.spec
    if "@" in view.source:
        name, _, version = view.source.partition("@")
        versions = ctx.index.features.get(name)
        if versions is None:
            ctx.error("SPEC302", f"unknown feature view `{name}`", loaded, "source",
                      help=did_you_mean(name, [*ctx.index.features, *ctx.index.sources]))
        elif int(version) not in versions:
            listed = ", ".join(f"{name}@{v}" for v in sorted(versions))
            ctx.error("SPEC303", f"feature view `{name}` has no version `{version}`", loaded,
                      "source", help=f"defined versions: {listed}")
        else:
            ctx.view_sources[(view.name, view.version)] = ("view", name, int(version))
        return
    src_loaded = ctx.index.sources.get(view.source)
    if src_loaded is None:
        if _broken(ctx, "source", view.source):
            return
        ctx.error("SPEC301", f"unknown source `{view.source}`", loaded, "source",
                  help=did_you_mean(view.source, ctx.index.sources))
        return
    ctx.view_sources[(view.name, view.version)] = ("source", view.source, None)
    src: SourceSpec = src_loaded.spec
    for key in ("entity", "timestamp"):
        col = getattr(view, key)
        if col is not None and col not in src.columns and \
                not src_loaded.was_pruned("columns", col):
            ctx.error("SPEC306", f"{key} `{col}` is not a column of source `{src.name}`",
                      loaded, key, help=did_you_mean(col, src.columns))


def resolve_input(ctx: Context, text: str) -> tuple[InputRef | None, str, str | None, str]:
    """Resolve one reference; on failure return (None, code, help, message).

    The code is "" when the reference points at something that failed validation and was
    already reported: the caller says nothing more.
    """
    parsed = parse_feature_ref(text)
    if parsed is None:
        return None, "SPEC204", "write view@version, view@version.feature or source.column", \
            f"`{text}` is not a feature reference"
    name, version_text, col = parsed
    views = ctx.index.features
    if name in views and (version_text is not None or name not in ctx.index.sources):
        versions = views[name]
        if version_text is None:
            if len(versions) > 1:
                listed = ", ".join(f"{name}@{v}" for v in sorted(versions))
                return None, "SPEC310", f"write one of: {listed}", \
                    f"`{name}` has several versions"
            version = next(iter(versions))
        else:
            if not version_text.isdigit() or int(version_text) not in versions:
                listed = ", ".join(f"{name}@{v}" for v in sorted(versions))
                return None, "SPEC303", f"defined versions: {listed}", \
                    f"feature view `{name}` has no version `{version_text}`"
            version = int(version_text)
        view: FeatureSpec = versions[version].spec
        if col is not None:
            if versions[version].was_pruned("features", col):
                return None, "", None, ""  # the feature's own error was reported
            if col not in view.features:
                return None, "SPEC302", did_you_mean(col, view.features), \
                    f"feature view `{name}@{version}` has no feature `{col}`"
            columns: tuple[str, ...] = (col,)
        else:
            columns = tuple(view.features)
        return InputRef(text, "view", name, version, columns, 0), "", None, ""
    if name in ctx.index.sources and version_text is None:
        src: SourceSpec = ctx.index.sources[name].spec
        if col is None:
            return None, "SPEC302", f"name a column: {name}.<column>", \
                f"`{name}` is a source; name one of its columns"
        if ctx.index.sources[name].was_pruned("columns", col):
            return None, "", None, ""  # the column's own error was reported
        if col not in src.columns:
            return None, "SPEC306", did_you_mean(col, src.columns), \
                f"source `{name}` has no column `{col}`"
        return InputRef(text, "column", name, None, (col,), 0), "", None, ""
    return None, "SPEC302", did_you_mean(name, [*views, *ctx.index.sources]), \
        f"unknown feature view or source `{name}`"


def _broken_ref(ctx: Context, text: str) -> bool:
    """A feature reference whose view or source failed validation (already reported)."""
    parsed = parse_feature_ref(text)
    return parsed is not None and (_broken(ctx, "feature", parsed[0]) or
                                   _broken(ctx, "source", parsed[0]))


def _check_model(ctx: Context, loaded: LoadedSpec) -> None:
    model: ModelSpec = loaded.spec
    tr = model.training
    idx = ctx.index
    spine = idx.sources.get(tr.spine)
    if spine is None and not _broken(ctx, "source", tr.spine):
        ctx.error("SPEC301", f"unknown source `{tr.spine}`", loaded, "training", "spine",
                  help=did_you_mean(tr.spine, idx.sources))
    label_src = idx.sources.get(tr.label.source)
    if label_src is None:
        if not _broken(ctx, "source", tr.label.source):
            ctx.error("SPEC301", f"unknown source `{tr.label.source}`", loaded, "training",
                      "label", "source", help=did_you_mean(tr.label.source, idx.sources))
    elif tr.label.column not in label_src.spec.columns and \
            not label_src.was_pruned("columns", tr.label.column):
        ctx.error("SPEC306", f"source `{tr.label.source}` has no column `{tr.label.column}`",
                  loaded, "training", "label", "column",
                  help=did_you_mean(tr.label.column, label_src.spec.columns))
    resolved: list[InputRef] = []
    for i, text in enumerate(tr.features):
        ref, code, help_text, message = resolve_input(ctx, text)
        if ref is None:
            if code and not _broken_ref(ctx, text):
                ctx.error(code, message, loaded, "training", "features", i, help=help_text)
            continue
        ref = InputRef(ref.text, ref.kind, ref.name, ref.version, ref.columns, i)
        resolved.append(ref)
        if ref.kind == "view" and ref.version is not None:
            view: FeatureSpec = idx.features[ref.name][ref.version].spec
            if view.deprecated:
                note = view.deprecated.message if not isinstance(view.deprecated, bool) else None
                use = view.deprecated.use if not isinstance(view.deprecated, bool) else None
                ctx.error("SPEC308", f"feature view `{ref.name}@{ref.version}` is deprecated"
                          + (f": {note}" if note else ""), loaded, "training", "features", i,
                          severity=Severity.WARNING, help=f"use `{use}`" if use else None,
                          suggestion=use)
    ctx.inputs[model.name] = resolved
    protected: list[InputRef] = []
    for i, text in enumerate(tr.protected):
        ref, code, help_text, message = resolve_input(ctx, text)
        if ref is None:
            if code and not _broken_ref(ctx, text):
                ctx.error(code, message, loaded, "training", "protected", i, help=help_text)
            continue
        protected.append(InputRef(ref.text, ref.kind, ref.name, ref.version, ref.columns, i))
    ctx.protected[model.name] = protected
    if spine is not None:
        for i, col in enumerate(model.slices):
            if col not in spine.spec.columns and not spine.was_pruned("columns", col):
                ctx.error("SPEC306", f"slice column `{col}` is not a column of the spine "
                          f"`{tr.spine}`", loaded, "slices", i,
                          help=did_you_mean(col, spine.spec.columns))
    for i, gate in enumerate(model.gates):
        if gate not in idx.gates and not _broken(ctx, "gate", gate):
            ctx.error("SPEC304", f"unknown gate `{gate}`", loaded, "gates", i,
                      help=did_you_mean(gate, idx.gates))
    if model.approval is not None and model.approval not in idx.approvals and \
            not _broken(ctx, "approval", model.approval):
        ctx.error("SPEC305", f"unknown approval `{model.approval}`", loaded, "approval",
                  help=did_you_mean(model.approval, idx.approvals))


def _check_roles(ctx: Context) -> None:
    if ctx.config is None:
        return
    run_as = ctx.config.run_as
    cfg = ctx.project.config_file
    if run_as is not None and run_as not in ctx.config.people and cfg is not None \
            and cfg.documents:
        doc = cfg.documents[0]
        ctx.diagnostics.append(Diagnostic(
            "SPEC307", f"run_as `{run_as}` is not a person under `people`", doc.file,
            doc.value_span(("run_as",)), help=did_you_mean(run_as, ctx.config.people)))
    roles = {r for person in ctx.config.people.values() for r in person.roles}
    for loaded, approval in ctx.approvals():
        for i, rule in enumerate(approval.rules):
            for role in rule.require:
                if role not in roles:
                    ctx.error("SPEC307", f"role `{role}` is held by nobody in specops.yaml",
                              loaded, "rules", i, "require", role, key=True,
                              help=did_you_mean(role, roles) or
                              "add people with this role under `people:` in specops.yaml")


def _principal_problem(principal: str, config: ProjectSpec) -> str | None:
    """Why a principal names nobody in specops.yaml, or None when it names someone."""
    people = config.people
    if principal.startswith("team:"):
        team = principal[5:]
        if any(team in p.teams for p in people.values()):
            return None
        return f"team `{team}` has no member under `people` in specops.yaml"
    if principal.startswith("role:"):
        role = principal[5:]
        if any(role in p.roles for p in people.values()):
            return None
        return f"role `{role}` is held by nobody in specops.yaml"
    name = principal.removeprefix("person:")
    return None if name in people else f"`{name}` is not a person under `people`"


def _principal_help(principal: str, config: ProjectSpec) -> str | None:
    if principal.startswith("team:"):
        teams = {t for p in config.people.values() for t in p.teams}
        return did_you_mean(principal[5:], teams)
    if principal.startswith("role:"):
        roles = {r for p in config.people.values() for r in p.roles}
        return did_you_mean(principal[5:], roles)
    return did_you_mean(principal.removeprefix("person:"), config.people)


def _check_principals(ctx: Context) -> None:
    """Owners, validators and authors must name people, teams or roles of specops.yaml:
    an unknown validator would satisfy the independent-validator rule on paper, and an
    unknown owner or author takes no part in separation of duties (SPEC307, at the name).
    Owners of sources and views may be data teams outside the project: not checked. A
    project that declares no people at all is not checked (nothing to compare with)."""
    config = ctx.config
    if config is None or not config.people:
        return
    fields: list[tuple[LoadedSpec, tuple[str | int, ...], str]] = []
    for loaded, model in ctx.models():
        fields.append((loaded, ("owner",), model.owner))
        if model.validator is not None:
            fields.append((loaded, ("validator",), model.validator))
        fields.extend((loaded, ("authors", i), a) for i, a in enumerate(model.authors))
    for loaded, path, principal in fields:
        if loaded.was_pruned(*path):
            continue
        problem = _principal_problem(principal, config)
        if problem is not None:
            ctx.error("SPEC307", f"`{path[0]}`: {problem}", loaded, *path,
                      help=_principal_help(principal, config))
    cfg = ctx.project.config_file
    if cfg is None or not cfg.documents:
        return
    doc = cfg.documents[0]
    roles = {r for person in config.people.values() for r in person.roles}
    for action, allowed in config.permissions.items():
        for i, role in enumerate(allowed):
            if role not in roles:
                ctx.diagnostics.append(Diagnostic(
                    "SPEC307", f"`permissions.{action}`: role `{role}` is held by nobody in "
                    "specops.yaml", doc.file, doc.value_span(("permissions", action, i)),
                    help=did_you_mean(role, roles)))


def _check_replacement(ctx: Context, loaded: LoadedSpec) -> None:
    """`deprecated: {use: view@3}` must name something that exists: SPEC308 suggests it."""
    view: FeatureSpec = loaded.spec
    use = view.deprecated.use if not isinstance(view.deprecated, bool) else None
    if use is None or loaded.reported("deprecated", "use"):
        return
    ref, code, help_text, message = resolve_input(ctx, use)
    if ref is None and code:
        ctx.error(code, f"replacement `{use}`: {message}", loaded,
                  "deprecated", "use", help=help_text)


def resolve_refs(ctx: Context) -> None:
    for loaded in ctx.index.sources.values():
        _check_source_columns(ctx, loaded)
    for versions in ctx.index.features.values():
        for loaded in versions.values():
            _check_feature_view(ctx, loaded)
            _check_replacement(ctx, loaded)
    for loaded in ctx.index.models.values():
        _check_model(ctx, loaded)
    _check_roles(ctx)
    _check_principals(ctx)
