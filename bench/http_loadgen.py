"""The load generator of bench/online_serve.py: wrk when installed, else raw asyncio sockets.

Why wrk first: on two cores the load generator shares the CPU with the server under test
and with Redis, so its own cost shows in the server's numbers. wrk (C, epoll) drives the
same keep-alive connections for a fraction of the CPU of the Python client. Both servers
of a comparison (specops and Feast) get the same generator, and every result says which
one ran (`load_generator`), so a ratio never mixes them.

What each run reports, besides `rps`, `p50_ms`, `p99_ms` and `errors` (non-200 answers and
socket errors): `server_cpu_us_per_request`, the server process's CPU time (utime + stime
of every thread, from /proc/PID/stat) over the run divided by the requests answered, the
measure of server cost that does not depend on how busy the machine is; and
`loadgen_cpu_us_per_request`, the generator's own CPU per request.

wrk: one Lua script per run cycles through the same request bodies (`bodies`, in order,
each connection starting at its own offset as the Python clients do) and prints its
counts and latency percentiles as one JSON line from its `done` hook.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load", "proc_cpu_s"]

LOOPBACK = "127.0.0.1"
_TICK = os.sysconf("SC_CLK_TCK")

_LUA = """
local bodies = {%(bodies)s}
local path = %(path)s
local headers = {["Content-Type"] = "application/json"}
local reqs = {}
local n = #bodies
local i = 0
local threads = {}
local counter = 0

function setup(thread)
  thread:set("offset", counter * 7)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  for k = 1, n do
    reqs[k] = wrk.format("POST", path, headers, bodies[k])
  end
  i = offset or 0
end

function request()
  i = i + 1
  return reqs[(i %% n) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"status":%%d,"connect":%%d,"read":%%d,' ..
    '"write":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) of process `pid` and of its live
    descendants so far (`specops serve --workers N` serves from child processes)."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue      # the process ended while we looked
        p = int(stat_file.parent.name)
        children.setdefault(int(fields[1]), []).append(p)
        cpu[p] = (int(fields[11]) + int(fields[12])) / _TICK
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu.get(p, 0.0)
        todo.extend(children.get(p, []))
    return total


def _lua_string(s: str) -> str:
    level = 1      # a body ending in "]" would close a level-0 "]]" early
    while f"]{'=' * level}]" in s or s.endswith("]" + "=" * level):
        level += 1
    eq = "=" * level
    return f"[{eq}[{s}]{eq}]"


def _wrk(port: int, path: str, bodies: list[bytes], clients: int, seconds: float,
         threads: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="wrk-") as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(_LUA % {"bodies": ",".join(_lua_string(b.decode()) for b in bodies),
                                  "path": _lua_string(path)})
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = subprocess.run(["wrk", "-t", str(threads), "-c", str(clients),
                              "-d", f"{max(1, round(seconds))}s", "--timeout", "10s",
                              "-s", str(script),
                              f"http://{LOOPBACK}:{port}"],
                             capture_output=True, text=True, timeout=seconds + 60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {run.stdout[-500:]} {run.stderr[-500:]}")
    got = json.loads(line[len("WRKJSON "):])
    errors = sum(got[k] for k in ("status", "connect", "read", "write", "timeout"))
    ok = got["requests"] - got["status"]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"ok": ok, "answered": got["requests"], "elapsed": got["duration_us"] / 1e6,
            "p50_ms": got["p50_us"] / 1000, "p99_ms": got["p99_us"] / 1000,
            "errors": errors, "loadgen_cpu_s": cpu, "load_generator": f"wrk -t{threads}"}


def _http(path: str, body: bytes, port: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nContent-Type: "
            f"application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def _python(port: int, path: str, bodies: list[bytes], clients: int,
                  seconds: float) -> dict[str, Any]:
    reqs = [_http(path, b, port) for b in bodies]
    lat: list[float] = []
    errors = [0]
    answered = [0]

    async def client(offset: int, stop_at: float) -> None:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        i = offset
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            writer.write(reqs[i % len(reqs)])
            i += 1
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                errors[0] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(LOOPBACK, port)
                continue
            answered[0] += 1
            if status != 200:
                errors[0] += 1
            else:
                lat.append(time.perf_counter() - t0)
        writer.close()

    cpu0 = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*[client(k * 7, start + seconds) for k in range(clients)])
    elapsed = time.perf_counter() - start
    ms = np.asarray(lat) * 1000 if lat else np.asarray([np.nan])
    return {"ok": len(lat), "answered": answered[0], "elapsed": elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "errors": errors[0], "loadgen_cpu_s": time.process_time() - cpu0,
            "load_generator": "python-asyncio"}


def load(port: int, path: str, bodies: list[bytes], clients: int, seconds: float,
         server_pid: int | None = None, generator: str = "auto",
         wrk_threads: int = 1) -> dict[str, Any]:
    """`clients` keep-alive connections POSTing `bodies` in turn to `path` for `seconds`;
    `generator`: "auto" (wrk when on PATH), "wrk" or "python"."""
    use_wrk = generator == "wrk" or (generator == "auto" and shutil.which("wrk") is not None)
    cpu0 = proc_cpu_s(server_pid) if server_pid else None
    if use_wrk:
        res = _wrk(port, path, bodies, clients, seconds, wrk_threads)
    else:
        res = asyncio.run(_python(port, path, bodies, clients, seconds))
    cpu = proc_cpu_s(server_pid) - cpu0 if server_pid and cpu0 is not None else None
    done = max(res["answered"], 1)
    out = {"rps": round(res["ok"] / res["elapsed"], 1), "p50_ms": round(res["p50_ms"], 3),
           "p99_ms": round(res["p99_ms"], 3), "errors": res["errors"],
           "load_generator": res["load_generator"],
           "loadgen_cpu_us_per_request": round(res["loadgen_cpu_s"] / done * 1e6, 1)}
    if cpu is not None:
        out["server_cpu_us_per_request"] = round(cpu / done * 1e6, 1)
        out["server_cores"] = round(cpu / res["elapsed"], 2)
    return out
