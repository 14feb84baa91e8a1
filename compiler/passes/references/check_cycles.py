"""Feature views derived from other views must not form a cycle; print the whole cycle.

A separate pass over what resolve_refs recorded (`ctx.view_sources`). A small DFS instead
of networkx: this runs in every lint, and only the graph module imports networkx.
"""

from __future__ import annotations

from specops.compiler.passes.context import Context

__all__ = ["check_cycles"]

Key = tuple[str, int]


def check_cycles(ctx: Context) -> None:
    edges: dict[Key, Key] = {}
    for key, (kind, name, version) in ctx.view_sources.items():
        if kind == "view" and version is not None:
            edges[key] = (name, version)
    reported: set[frozenset[Key]] = set()
    state: dict[Key, int] = {}   # 1 visiting, 2 done
    for start in sorted(edges):
        path: list[Key] = []
        node: Key | None = start
        while node is not None and state.get(node) != 2:
            if state.get(node) == 1:
                cycle = path[path.index(node):]
                members = frozenset(cycle)
                if members not in reported:
                    reported.add(members)
                    first = min(cycle)
                    i = cycle.index(first)
                    ordered = [*cycle[i:], *cycle[:i], first]
                    text = " -> ".join(f"{n}@{v}" for n, v in ordered)
                    loaded = ctx.index.features[first[0]][first[1]]
                    ctx.error("SPEC601", f"feature views form a cycle: {text}", loaded,
                              "source", help="a view cannot depend on itself; derive one of "
                                             "them from a source instead")
                break
            state[node] = 1
            path.append(node)
            node = edges.get(node)
        for n in path:
            state[n] = 2
