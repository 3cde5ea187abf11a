"""Executors: who runs the shard workers. Every executor hands out shard ids dynamically (a fast
worker takes more), and nothing but shard ids and small summaries crosses a process boundary:
decode and inference stay inside the worker.

- `run_in_process`: one worker in this process (the default on a CPU machine).
- `run_processes`: one process per worker on this node (`--gpus N`, `--shard-workers N`); a
  worker process that dies has its shards handed to the others.
- `run_ray`: one Ray actor per GPU (or per CPU slice) on a Ray cluster (`--executor ray`); a
  shard whose actor died is retried on another.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
import traceback
from collections import deque
from collections.abc import Callable

from ..errors import Rocov2Error
from .worker import ShardWorker, WorkerSpec, iterate

Report = Callable[[dict], None]


def run_in_process(spec: WorkerSpec, todo: list[int], on_done: Report, log: Callable[[str], None]) -> dict:
    started = time.perf_counter()
    worker = ShardWorker(spec)
    ready = time.perf_counter()
    worker.run_stream(iterate(todo), on_done)
    return {"startup_s": round(ready - started, 3), "dispatch_s": round(time.perf_counter() - ready, 3)}


def _process_main(spec: WorkerSpec, tasks, results) -> None:
    """A worker process: claims shards from `tasks` until it is empty."""
    from .. import runlog

    runlog.quiet_child()
    try:
        worker = ShardWorker(spec)
    except BaseException as e:
        results.put(("error", spec.name, None, one_line(e)))
        return
    results.put(("ready", spec.name, None, None))

    def claim() -> int | None:
        try:
            k = tasks.get_nowait()
        except queue.Empty:
            return None
        results.put(("claimed", spec.name, k, None))
        return k

    try:
        worker.run_stream(claim, lambda summary: results.put(("done", spec.name, summary["shard"], summary)))
    except BaseException as e:
        results.put(("error", spec.name, None, one_line(e) + "\n" + traceback.format_exc()))


def one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if not isinstance(e, Rocov2Error) else str(e)


def run_processes(specs: list[WorkerSpec], todo: list[int], on_done: Report, log: Callable[[str], None],
                  max_rounds: int = 3) -> dict:
    """One spawned process per spec. A process that dies (killed, out of memory) loses only the
    shards it held; they go back to the queue, and a later round starts fresh processes for what
    is left. An exception inside a worker fails the run with its message."""
    ctx = mp.get_context("spawn")  # onnxruntime and the core hold threads: never fork them
    remaining = set(todo)
    stats: dict = {"startup_s": None, "dispatch_s": None}
    started = time.perf_counter()
    for round_ in range(1, max_rounds + 1):
        tasks, results = ctx.Queue(), ctx.Queue()
        for k in sorted(remaining):
            tasks.put(k)
        procs = {s.name: ctx.Process(target=_process_main, args=(s, tasks, results), name=f"rocov2-fast {s.name}", daemon=True)
                 for s in specs}
        for p in procs.values():
            p.start()
        held: dict[str, set[int]] = {name: set() for name in procs}
        errors: list[str] = []
        while any(p.is_alive() for p in procs.values()) or not results.empty():
            try:
                kind, name, k, payload = results.get(timeout=0.5)
            except queue.Empty:
                for name, p in procs.items():
                    if not p.is_alive() and p.exitcode not in (0, None) and held[name]:
                        log(f"{name} died (exit code {p.exitcode}) holding shards {sorted(held[name])}: they go to the others")
                        for lost in held[name]:
                            tasks.put(lost)
                        held[name].clear()
                continue
            if kind == "ready":
                if stats["startup_s"] is None:  # the first worker can take shards from here on
                    stats["startup_s"] = round(time.perf_counter() - started, 3)
            elif kind == "claimed":
                held[name].add(k)
            elif kind == "done":
                held[name].discard(k)
                remaining.discard(k)
                on_done(payload)
            elif kind == "error":
                errors.append(f"{name}: {payload}")
                for p in procs.values():
                    p.terminate()
        for p in procs.values():
            p.join()
        if errors:
            raise Rocov2Error(errors[0].splitlines()[0] if len(errors[0].splitlines()) == 1 else errors[0])
        if not remaining:
            stats["dispatch_s"] = round(time.perf_counter() - started - (stats["startup_s"] or 0), 3)
            return stats
        log(f"round {round_}: {len(remaining)} shards left after worker deaths; starting fresh workers")
    raise Rocov2Error(f"{len(remaining)} shards could not be processed after {max_rounds} rounds of workers "
                      f"(first: {min(remaining)}); see the log in RUN_DIR/logs")


class _RayShardActor:
    """A Ray actor wrapping one ShardWorker; created with num_gpus=1 (or CPUs)."""

    def __init__(self, spec: WorkerSpec):
        import os

        self.error = None
        try:
            # spec.device is 0 or None: Ray sets CUDA_VISIBLE_DEVICES to this actor's GPU
            self.worker = ShardWorker(spec)
            self.where = f"{spec.name} on {os.uname().nodename} ({self.worker.compound.device})"
        except BaseException as e:  # reported by ready(), so the driver can fail with the message
            self.error = one_line(e)

    def ready(self) -> tuple[str | None, str]:
        return self.error, getattr(self, "where", "")

    def process(self, k: int) -> dict:
        return self.worker.process(k)


def run_ray(spec: WorkerSpec, actors: int, gpus_per_actor: int, decode_threads: int, address: str | None,
            todo: list[int], on_done: Report, log: Callable[[str], None], in_flight: int = 2,
            actor_timeout_s: float = 600) -> dict:
    """Feeds shards to Ray actors (`in_flight` tasks each, so one decodes while the other is
    scored). `actors` 0: one per GPU of the cluster (on a CPU cluster, one per 4 CPUs).
    `decode_threads` (the CPUs each actor reserves, in total over the actors) 0: the cluster's
    CPUs shared out. Actors join as they become ready; a shard whose actor died goes to another
    and a replacement actor is asked for. Returns {"retries", "actors", "actors_started",
    "startup_s", "dispatch_s"}."""
    try:
        import ray
    except ImportError as e:
        raise Rocov2Error("--executor ray needs Ray: pip install 'rocov2-fast[ray]'") from e
    from ray.exceptions import RayActorError, RayTaskError

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR", configure_logging=True)
    resources = ray.cluster_resources()
    cluster_gpus, cluster_cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    if gpus_per_actor and cluster_gpus == 0:
        raise Rocov2Error(f"the Ray cluster at {address or 'localhost'} has no GPUs: use --gpus 0 for CPU actors")
    if not actors:
        actors = cluster_gpus if gpus_per_actor else max(1, cluster_cpus // 4)
    cpus_per_actor = max(1, (decode_threads or cluster_cpus) // actors)
    spec.decode_threads = cpus_per_actor
    if spec.device is None and not spec.session_threads:
        spec.session_threads = cpus_per_actor
    log(f"ray cluster: {cluster_cpus} CPUs, {cluster_gpus} GPUs; {actors} actors of {gpus_per_actor} GPU, {cpus_per_actor} CPUs")
    Actor = ray.remote(_RayShardActor).options(num_gpus=gpus_per_actor, num_cpus=cpus_per_actor,
                                                max_concurrency=in_flight)
    stats: dict = {"retries": 0, "actors": [], "actors_started": 0}
    starting: dict = {}  # ready() ref → actor not yet ready
    load: dict = {}  # ready actor → its shards in flight

    def start(n: int) -> None:
        for _ in range(n):
            name = f"actor-{stats['actors_started']}"
            stats["actors_started"] += 1
            actor = Actor.remote(WorkerSpec(**{**spec.__dict__, "name": name}))
            starting[actor.ready.remote()] = actor

    def admit(block: bool) -> None:
        """Actors that became ready start taking shards; with `block`, wait for at least one."""
        deadline = time.monotonic() + actor_timeout_s
        while starting:
            done, _ = ray.wait(list(starting), num_returns=len(starting), timeout=1.0 if block else 0)
            for ref in done:
                actor = starting.pop(ref)
                try:
                    error, where = ray.get(ref)
                except RayActorError as e:
                    log(f"an actor died while starting: {type(e).__name__}")
                    continue
                if error:
                    raise Rocov2Error(error)
                stats["actors"].append(where)
                load[actor] = 0
                log(f"Ray actor ready: {where}")
            if not block or load:
                return
            if time.monotonic() > deadline:
                raise Rocov2Error(f"no Ray actor could start within {actor_timeout_s:.0f} s (each asks for "
                                  f"{gpus_per_actor} GPU, {cpus_per_actor} CPU): is the cluster big enough?")

    try:
        startup = time.perf_counter()
        start(actors)
        admit(block=True)
        stats["startup_s"] = round(time.perf_counter() - startup, 3)
        dispatch = time.perf_counter()
        waiting = deque(todo)
        pending: dict = {}  # task ref → (actor, shard)
        while pending or waiting:
            admit(block=not load)
            for actor in list(load):
                while waiting and load[actor] < in_flight:
                    k = waiting.popleft()
                    pending[actor.process.remote(k)] = (actor, k)
                    load[actor] += 1
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                actor, k = pending.pop(ref)
                try:
                    summary = ray.get(ref)
                except RayActorError as e:
                    stats["retries"] += 1
                    log(f"shard {k}: its actor died ({type(e).__name__}); retrying it on another actor")
                    waiting.appendleft(k)
                    if load.pop(actor, None) is not None:
                        start(1)  # a replacement, placed when the cluster has room again
                    continue
                except RayTaskError as e:
                    raise Rocov2Error(f"shard {k} failed inside its actor: {getattr(e, 'cause', None) or e}") from e
                load[actor] -= 1
                on_done(summary)
        stats["dispatch_s"] = round(time.perf_counter() - dispatch, 3)
    finally:
        if started_here:
            ray.shutdown()
    return stats
