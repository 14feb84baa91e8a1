"""The pure scheduler state machine (no Ray, no I/O)."""

from __future__ import annotations

import pytest

from specops.runtime.engine.scheduler import InvalidTransition, NodeState, Scheduler

#   a -> b -> d
#   a -> c -> d ;  e independent ;  b -> f
GRAPH = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": [], "f": ["b"]}


def test_initial_states():
    s = Scheduler(GRAPH)
    assert s.ready() == ["a", "e"]
    assert s.state["d"] is NodeState.PENDING
    assert not s.finished


def test_happy_path_releases_children_when_all_inputs_done():
    s = Scheduler(GRAPH)
    s.start("a")
    assert s.state["a"] is NodeState.RUNNING and s.running() == ["a"]
    assert s.finish("a") == ["b", "c"]
    s.start("b")
    assert s.finish("b") == ["f"]          # d still waits for c
    assert s.state["d"] is NodeState.PENDING
    s.start("c")
    assert s.finish("c") == ["d"]
    for n in ("d", "e", "f"):
        s.start(n)
        s.finish(n)
    assert s.finished and s.counts()["done"] == 6


def test_cache_hit_goes_straight_to_done():
    s = Scheduler(GRAPH)
    assert s.hit("a") == ["b", "c"]
    assert s.state["a"] is NodeState.DONE


def test_failure_skips_only_descendants():
    s = Scheduler(GRAPH)
    s.start("a")
    s.finish("a")
    s.start("b")
    s.start("c")
    assert s.fail("b") == ["d", "f"]
    assert s.skipped_because == {"d": "b", "f": "b"}
    assert s.state["c"] is NodeState.RUNNING      # a sibling keeps running
    assert s.state["e"] is NodeState.READY        # an unrelated node still runs
    s.finish("c")
    assert s.state["d"] is NodeState.SKIPPED      # never released after a skip
    s.start("e")
    s.finish("e")
    assert s.finished
    assert s.counts() == {"pending": 0, "ready": 0, "running": 0, "done": 3, "failed": 1,
                          "skipped": 2}


@pytest.mark.parametrize("action, node", [("finish", "a"), ("start", "b"), ("hit", "b"),
                                          ("fail", "d"), ("start", "zz")])
def test_invalid_transitions(action, node):
    s = Scheduler(GRAPH)
    with pytest.raises(InvalidTransition):
        getattr(s, action)(node)


def test_done_node_cannot_restart():
    s = Scheduler({"a": []})
    s.start("a")
    s.finish("a")
    with pytest.raises(InvalidTransition, match="cannot go from done to running"):
        s.start("a")


def test_inputs_outside_the_graph_count_as_done():
    s = Scheduler({"b": ["a"]})
    assert s.ready() == ["b"]
