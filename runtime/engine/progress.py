"""Progress reporting for `specops run`: rich live display, quiet, or JSON lines.

Why an event interface: the run loop reports what happened (node started, finished from
cache, failed) and knows nothing of terminals; people get a live view with cache hits and
durations, CI gets either silence plus failures (`--quiet`) or one JSON object per event
(`--json`) it can parse.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from specops.runtime.engine.run_loop import NodeOutcome, RunResult

__all__ = ["JsonProgress", "NullProgress", "PlainProgress", "Progress", "QuietProgress",
           "RichProgress", "make_progress"]


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


class Progress:
    """Receives run events; the base class ignores them all."""

    def start(self, run_id: str, node_ids: Sequence[str], executor: str) -> None:
        pass

    def node_started(self, node_id: str) -> None:
        pass

    def node_finished(self, outcome: NodeOutcome) -> None:
        pass

    def notice(self, message: str) -> None:
        pass

    def finish(self, result: RunResult) -> None:
        pass


NullProgress = Progress


def summary_line(result: RunResult) -> str:
    c = result.counts()
    parts = [f"{c['done']} done", f"{c['cached']} cached"]
    if c["failed"]:
        parts.append(f"{c['failed']} failed")
    if c["skipped"]:
        parts.append(f"{c['skipped']} skipped")
    return (f"run {result.run_id} {result.status}: {', '.join(parts)} "
            f"in {_fmt_s(result.duration_s)}")


def failure_lines(result: RunResult) -> list[str]:
    lines = []
    for o in result.nodes.values():
        if o.status == "failed":
            lines.append(f"FAILED {o.node_id}: {o.cause}")
    return lines


class QuietProgress(Progress):
    """CI: nothing but notices, failures and the final summary, on stderr."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr

    def notice(self, message: str) -> None:
        print(message, file=self.stream)

    def finish(self, result: RunResult) -> None:
        for line in failure_lines(result):
            print(line, file=self.stream)
        print(summary_line(result), file=self.stream)


class PlainProgress(QuietProgress):
    """Not a terminal (logs, pipes): one plain line per finished node, then the summary."""

    def node_finished(self, outcome: NodeOutcome) -> None:
        label = "cached" if outcome.cache_hit else outcome.status
        cause = f"  {outcome.cause}" if outcome.cause else ""
        print(f"{label:>7} {outcome.node_id} {_fmt_s(outcome.duration_s)}{cause}",
              file=self.stream)

    def finish(self, result: RunResult) -> None:
        print(summary_line(result), file=self.stream)


class JsonProgress(Progress):
    """One JSON object per line: {"event": ..., ...}."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def _emit(self, event: str, **data: Any) -> None:
        self.stream.write(json.dumps({"event": event, "t": round(time.time(), 3), **data},
                                     sort_keys=True, default=str) + "\n")
        self.stream.flush()

    def start(self, run_id: str, node_ids: Sequence[str], executor: str) -> None:
        self._emit("run_started", run_id=run_id, nodes=list(node_ids), executor=executor)

    def node_started(self, node_id: str) -> None:
        self._emit("node_started", node=node_id)

    def node_finished(self, outcome: NodeOutcome) -> None:
        self._emit("node_finished", **outcome.to_json())

    def notice(self, message: str) -> None:
        self._emit("notice", message=message)

    def finish(self, result: RunResult) -> None:
        self._emit("run_finished", run_id=result.run_id, status=result.status,
                   duration_s=round(result.duration_s, 3), counts=result.counts())


class RichProgress(Progress):
    """A live bar with the running nodes, one line per finished node, a summary table."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.console = console or Console(stderr=True)
        self.bar = Bar(TextColumn("[bold]{task.description}"), BarColumn(),
                       MofNCompleteColumn(), TimeElapsedColumn(), console=self.console,
                       transient=True)
        self.task: Any = None
        self.running: set[str] = set()

    def _describe(self) -> str:
        names = sorted(self.running)
        shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        return f"running {shown}" if shown else "scheduling"

    def start(self, run_id: str, node_ids: Sequence[str], executor: str) -> None:
        self.console.print(f"[bold]specops run[/] {run_id} · {len(node_ids)} nodes · "
                           f"{executor}")
        self.bar.start()
        self.task = self.bar.add_task("scheduling", total=len(node_ids))

    def node_started(self, node_id: str) -> None:
        self.running.add(node_id)
        self.bar.update(self.task, description=self._describe())

    def node_finished(self, outcome: NodeOutcome) -> None:
        self.running.discard(outcome.node_id)
        style = {"done": "green", "failed": "red", "skipped": "yellow"}[outcome.status]
        label = "cached" if outcome.cache_hit else outcome.status
        extra = f" [dim]{outcome.cause}[/]" if outcome.cause else ""
        retries = f" [dim]({outcome.attempts} attempts)[/]" if outcome.attempts > 1 else ""
        self.bar.console.print(f"  [{style}]{label:>7}[/] {outcome.node_id} "
                               f"[dim]{_fmt_s(outcome.duration_s)}[/]{retries}{extra}",
                               highlight=False)
        self.bar.update(self.task, advance=1, description=self._describe())

    def notice(self, message: str) -> None:
        self.bar.console.print(f"[yellow]![/] {message}", highlight=False)

    def finish(self, result: RunResult) -> None:
        from rich.table import Table

        self.bar.stop()
        table = Table(title=None, show_edge=False, pad_edge=False)
        for col in ("node", "status", "time", "attempts"):
            table.add_column(col, justify="right" if col in ("time", "attempts") else "left")
        for o in result.nodes.values():
            status = "cached" if o.cache_hit else o.status
            table.add_row(o.node_id, status, _fmt_s(o.duration_s), str(o.attempts or "-"))
        self.console.print(table)
        for line in failure_lines(result):
            self.console.print(f"[red]{line}[/]", highlight=False)
        color = "green" if result.status == "succeeded" else "red"
        self.console.print(f"[{color}]{summary_line(result)}[/]", highlight=False)


def make_progress(mode: str = "rich") -> Progress:
    """`rich` (plain lines when stderr is not a terminal), `quiet`, `json`, `none`."""
    if mode == "json":
        return JsonProgress()
    if mode == "none":
        return Progress()
    if mode == "quiet":
        return QuietProgress()
    if not sys.stderr.isatty():
        return PlainProgress()
    return RichProgress()
