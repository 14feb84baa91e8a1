"""The scheduler: a pure state machine over node ids (no Ray, no I/O, no clock).

Why pure (Dagster's ActiveExecution, Hamilton's ExecutionState): every rule about what may
run next — a node is ready once all its inputs are done; a failure skips exactly its
descendants and nothing else; a node finishes only from running — is tested in
microseconds without starting anything, and any executor can drive it.

    pending -> ready -> running -> done
                 |         '-----> failed  (descendants: pending/ready -> skipped)
                 '-> done (cache hit: `hit`)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

__all__ = ["InvalidTransition", "NodeState", "Scheduler"]


class NodeState(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def terminal(self) -> bool:
        return self in (NodeState.DONE, NodeState.FAILED, NodeState.SKIPPED)


class InvalidTransition(RuntimeError):
    """A caller tried a move the state machine forbids (a bug in the caller)."""


class Scheduler:
    """Tracks the state of each node of a DAG given as `node -> its inputs`.

    Inputs outside the mapping count as already done (they were not selected and their
    outputs exist), which lets a caller schedule a sub-graph.
    """

    def __init__(self, graph: Mapping[str, Sequence[str]]) -> None:
        self._order = list(graph)
        self._inputs = {n: [i for i in dict.fromkeys(ins) if i in graph]
                        for n, ins in graph.items()}
        self._children: dict[str, list[str]] = {n: [] for n in graph}
        for n, ins in self._inputs.items():
            for i in ins:
                self._children[i].append(n)
        self.state: dict[str, NodeState] = {n: NodeState.PENDING for n in graph}
        self.skipped_because: dict[str, str] = {}
        for n in self._order:
            if not self._inputs[n]:
                self.state[n] = NodeState.READY

    # -- queries ---------------------------------------------------------------------
    def ready(self) -> list[str]:
        """Ready nodes, in the graph's order (deterministic)."""
        return [n for n in self._order if self.state[n] is NodeState.READY]

    def running(self) -> list[str]:
        return [n for n in self._order if self.state[n] is NodeState.RUNNING]

    def in_state(self, state: NodeState) -> list[str]:
        return [n for n in self._order if self.state[n] is state]

    @property
    def finished(self) -> bool:
        return all(s.terminal for s in self.state.values())

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in NodeState}
        for s in self.state.values():
            out[s.value] += 1
        return out

    # -- transitions -----------------------------------------------------------------
    def _move(self, node: str, frm: tuple[NodeState, ...], to: NodeState) -> None:
        cur = self.state.get(node)
        if cur is None:
            raise InvalidTransition(f"unknown node {node}")
        if cur not in frm:
            raise InvalidTransition(f"{node}: cannot go from {cur.value} to {to.value}")
        self.state[node] = to

    def _release_children(self, node: str) -> list[str]:
        released = []
        for c in self._children[node]:
            if self.state[c] is NodeState.PENDING and all(
                    self.state[i] is NodeState.DONE for i in self._inputs[c]):
                self.state[c] = NodeState.READY
                released.append(c)
        return released

    def start(self, node: str) -> None:
        """ready -> running (handed to an executor)."""
        self._move(node, (NodeState.READY,), NodeState.RUNNING)

    def finish(self, node: str) -> list[str]:
        """running -> done; returns the nodes that became ready."""
        self._move(node, (NodeState.RUNNING,), NodeState.DONE)
        return self._release_children(node)

    def hit(self, node: str) -> list[str]:
        """ready -> done without running (a verified cache hit)."""
        self._move(node, (NodeState.READY,), NodeState.DONE)
        return self._release_children(node)

    def fail(self, node: str) -> list[str]:
        """running (or ready, if it could not even start) -> failed; every descendant that
        has not run is skipped. Returns the skipped nodes. Siblings keep running."""
        self._move(node, (NodeState.RUNNING, NodeState.READY), NodeState.FAILED)
        skipped, stack = [], list(self._children[node])
        while stack:
            c = stack.pop()
            if self.state[c] in (NodeState.PENDING, NodeState.READY):
                self.state[c] = NodeState.SKIPPED
                self.skipped_because[c] = node
                skipped.append(c)
                stack.extend(self._children[c])
        return [n for n in self._order if n in set(skipped)]
