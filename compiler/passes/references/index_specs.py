"""Index specs by kind and name; duplicate names are errors at the second definition."""

from __future__ import annotations

from specops.compiler.passes.context import Context

__all__ = ["index_specs"]


def index_specs(ctx: Context) -> None:
    idx = ctx.index
    tables = {"source": idx.sources, "model": idx.models, "gate": idx.gates,
              "approval": idx.approvals, "policy": idx.policies}
    for loaded in sorted(ctx.project.specs, key=lambda s: (s.file, s.doc.index)):
        if loaded.kind == "feature":
            versions = idx.features.setdefault(loaded.name, {})
            version = loaded.spec.version
            if version in versions:
                first = versions[version]
                ctx.error("SPEC207", f"feature view `{loaded.name}` version {version} is "
                          "defined twice", loaded, "name",
                          help=f"first defined at {first.file}:{first.span('name').line}")
                continue
            versions[version] = loaded
            continue
        table = tables[loaded.kind]
        if loaded.name in table:
            first = table[loaded.name]
            ctx.error("SPEC207", f"{loaded.kind} `{loaded.name}` is defined twice", loaded,
                      "name", help=f"first defined at {first.file}:{first.span('name').line}")
            continue
        table[loaded.name] = loaded
