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


def run_ray(spec: WorkerSpec, actors: int, gpus_per_actor: int, cpus_per_actor: int, address: str | None,
            todo: list[int], on_done: Report, log: Callable[[str], None], in_flight: int = 2,
            actor_timeout_s: float = 600) -> dict:
    """Feeds shards to Ray actors (`in_flight` tasks each, so one decodes while the other is
    scored). `actors` 0: one per GPU of the cluster (or one per `cpus_per_actor` CPUs on a CPU
    cluster); `cpus_per_actor` 0: the cluster's CPUs per GPU (decode threads), or 4 on a CPU
    cluster. Returns {"retries": n, "actors": [...], "actors_started": n}."""
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
    if not cpus_per_actor:
        cpus_per_actor = max(1, cluster_cpus // cluster_gpus) if gpus_per_actor else min(4, cluster_cpus)
    if not actors:
        actors = cluster_gpus if gpus_per_actor else max(1, cluster_cpus // cpus_per_actor)
    spec.decode_threads = cpus_per_actor
    if spec.device is None and not spec.session_threads:
        spec.session_threads = cpus_per_actor
    log(f"ray cluster: {cluster_cpus} CPUs, {cluster_gpus} GPUs; {actors} actors of {gpus_per_actor} GPU, {cpus_per_actor} CPUs")
    Actor = ray.remote(_RayShardActor).options(num_gpus=gpus_per_actor, num_cpus=cpus_per_actor,
                                                max_concurrency=in_flight)
    stats = {"retries": 0, "actors": [], "actors_started": 0}

    def start_actors(n: int, first: int) -> list:
        made = []
        for i in range(first, first + n):
            s = WorkerSpec(**{**spec.__dict__, "name": f"actor-{i}"})
            made.append(Actor.remote(s))
        stats["actors_started"] += n
        ready_refs = {a.ready.remote(): a for a in made}
        live = []
        done, _ = ray.wait(list(ready_refs), num_returns=len(ready_refs), timeout=actor_timeout_s)
        for ref in done:
            try:
                error, where = ray.get(ref)
            except RayActorError as e:
                log(f"an actor died while starting: {e}")
                continue
            if error:
                raise Rocov2Error(error)
            stats["actors"].append(where)
            live.append(ready_refs[ref])
        if not live:
            raise Rocov2Error(f"no Ray actor could start within {actor_timeout_s:.0f} s "
                              f"(each asks for {gpus_per_actor} GPU, {cpus_per_actor} CPU): is the cluster big enough?")
        log(f"{len(live)} Ray actors ready: " + "; ".join(stats["actors"][-len(live):]))
        return live

    try:
        startup = time.perf_counter()
        live = start_actors(actors, 0)
        stats["startup_s"] = round(time.perf_counter() - startup, 3)
        dispatch = time.perf_counter()
        waiting = deque(todo)
        pending: dict = {}  # ref → (actor, shard)
        load = {a: 0 for a in live}

        def feed() -> None:
            for a in list(load):
                while waiting and load[a] < in_flight:
                    k = waiting.popleft()
                    pending[a.process.remote(k)] = (a, k)
                    load[a] += 1

        feed()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in done:
                actor, k = pending.pop(ref)
                try:
                    summary = ray.get(ref)
                except RayActorError as e:
                    stats["retries"] += 1
                    log(f"shard {k}: its actor died ({type(e).__name__}); retrying it on another actor")
                    waiting.appendleft(k)
                    load.pop(actor, None)
                    continue
                except RayTaskError as e:
                    raise Rocov2Error(f"shard {k} failed inside its actor: {e.cause if hasattr(e, 'cause') else e}") from e
                if actor in load:
                    load[actor] -= 1
                on_done(summary)
            if not load and waiting:
                log("every actor is gone; starting new ones")
                live = start_actors(actors, stats["actors_started"])
                load = {a: 0 for a in live}
            feed()
        stats["dispatch_s"] = round(time.perf_counter() - dispatch, 3)
    finally:
        if started_here:
            ray.shutdown()
    return stats
