"""The ``flockrl`` command line: ``train dqn|apex|ppo|a3c|impala``, ``eval``, ``plot`` and ``bench envs|atari|replay|params``."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from flockrl.algos.registry import ALGORITHMS


def _positive_int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints like 1,64,4096, got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected ints >= 1, got {text!r}")
    return values


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flockrl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train an agent (defaults solve the classic-control envs)")
    train.add_argument("algo", choices=ALGORITHMS, help="algorithm")
    train.add_argument("--env", help="env id (default: the config's, CartPole-v1)")
    train.add_argument("--seed", type=int, help="the run's seed (the config key seed)")
    train.add_argument("--total-steps", type=int, metavar="N", help="env steps to train for (the config key total_steps)")
    train.add_argument("--config", metavar="FILE", help="JSON or YAML file of config overrides")
    train.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                       help="override one config value (repeatable); --list-config shows them all")
    train.add_argument("--run-dir", help="where logs and checkpoints go (default runs/<algo>-<env>-<time>)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint "
                                                          "(its config, then --config/--set on top)")
    train.add_argument("--learners", type=int, default=1, metavar="N",
                       help="ppo only: N data-parallel learner processes (DPPO), each with its own actors, "
                            "gradients averaged with torch.distributed (as under torchrun)")
    train.add_argument("--backend", choices=("threads", "ray"),
                       help="where actors run: threads of this process (default) or Ray actors "
                            "(pip install \"flockrl[ray]\"); the config key backend")
    train.add_argument("--address", help="--backend ray: the Ray cluster to join (default: $RAY_ADDRESS, "
                                         "else a local one); the config key ray_address")
    train.add_argument("--list-config", action="store_true", help="print every config key, default and meaning")

    evaluate = commands.add_parser("eval", help="greedy evaluation of a checkpoint")
    evaluate.add_argument("checkpoint", help="best.pt or checkpoint.pt written by flockrl train, or its run "
                                             "directory (then best.pt, else checkpoint.pt)")
    evaluate.add_argument("--episodes", type=int, default=20, help="episodes to run (default 20)")
    evaluate.add_argument("--seed", type=int, default=20_000, help="seed of the first env (default 20000)")
    evaluate.add_argument("--video", metavar="DIR", help="record the episodes as MP4 files in DIR, with gymnasium's "
                                                         "renderer (pip install \"flockrl[video]\")")

    plot = commands.add_parser("plot", help="learning curves of runs as a PNG (needs matplotlib)")
    plot.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories written by flockrl train; "
                                                                    "several share one figure")
    plot.add_argument("--out", help="PNG path (default RUN_DIR/learning_curve.png; several runs: "
                                    "learning_curves.png here)")

    bench = commands.add_parser("bench", help="microbenchmarks, with peers measured in the same run")
    targets = bench.add_subparsers(dest="target", required=True, metavar="TARGET")
    envs = targets.add_parser("envs", help="env steps/s: flockrl vs gymnasium (and EnvPool when installed)")
    envs.add_argument("--env", dest="env_ids", action="append", metavar="ID",
                      help="env id (repeatable); default CartPole-v1, Pendulum-v1, Acrobot-v1")
    envs.add_argument("--num-envs", type=_positive_int_list, default=(1, 8, 64, 512, 4096), metavar="N,N,...",
                      help="batch sizes (default 1,8,64,512,4096)")
    envs.add_argument("--seconds", type=float, default=0.5, help="minimum time per measurement (default 0.5)")
    envs.add_argument("--quick", action="store_true", help="CartPole-v1 only, n=1,512,4096, 0.2 s each")
    envs.add_argument("--no-peers", action="store_true", help="measure flockrl only")

    atari_bench = targets.add_parser("atari", help="Atari agent steps/s: flockrl vs ale-py's vector env, EnvPool "
                                                   "and gymnasium's Python route (pip install \"flockrl[atari]\")")
    atari_bench.add_argument("--game", default="ALE/Breakout-v5", help="ALE id (default ALE/Breakout-v5)")
    atari_bench.add_argument("--num-envs", type=_positive_int_list, default=(8, 32), metavar="N,N,...",
                             help="batch sizes (default 8,32)")
    atari_bench.add_argument("--seconds", type=float, default=3.0, help="time per measurement (default 3)")
    atari_bench.add_argument("--rounds", type=int, default=3, help="interleaved repeats, median kept (default 3)")
    atari_bench.add_argument("--quick", action="store_true", help="8 envs, 0.5 s, one round (a smoke test)")
    atari_bench.add_argument("--no-peers", action="store_true", help="flockrl and ale-py only")

    replay = targets.add_parser("replay", help="replay add/sample/update rates: flockrl vs cpprb and TorchRL")
    replay.add_argument("--quick", action="store_true", help="small buffers and short windows (a smoke test)")
    replay.add_argument("--no-peers", action="store_true", help="measure flockrl only")
    replay.add_argument("--no-concurrency", action="store_true", help="skip the writers + learner scenario")
    replay.add_argument("--frames", action="store_true", help="Atari frame stacks instead: memory per transition and "
                                                             "sample+update rate against cpprb's stack_compress")

    params = targets.add_parser("params", help="parameter-store publish/pull GB/s vs memcpy, load_state_dict, "
                                               "multiprocessing.shared_memory")
    params.add_argument("--sizes", type=_positive_int_list, default=(100_000, 1_000_000, 10_000_000, 100_000_000),
                        metavar="N,N,...", help="parameter counts (default 100000,1000000,10000000,100000000)")
    params.add_argument("--seconds", type=float, default=0.5, help="minimum time per measurement (default 0.5)")
    params.add_argument("--quick", action="store_true", help="100k, 1M and 10M parameters, 0.2 s each")
    return parser


def _bench_envs(args: argparse.Namespace) -> int:
    from flockrl import bench_envs

    env_ids = tuple(args.env_ids or ("CartPole-v1", "Pendulum-v1", "Acrobot-v1"))
    num_envs, seconds = args.num_envs, args.seconds
    if args.quick:
        env_ids, num_envs, seconds = ("CartPole-v1",), (1, 512, 4096), 0.2
    if not math.isfinite(seconds) or seconds <= 0:
        print(f"flockrl bench envs: --seconds must be a number > 0, got {seconds}", file=sys.stderr)
        return 2
    try:
        rows = bench_envs.run(env_ids=env_ids, num_envs=num_envs, min_seconds=seconds, peers=not args.no_peers)
    except ValueError as e:  # an unknown env id
        print(f"flockrl bench envs: {e}", file=sys.stderr)
        return 2
    print(bench_envs.format_table(rows))
    return 0


def _bench_atari(args: argparse.Namespace) -> int:
    from flockrl import bench_atari

    num_envs, seconds, rounds = args.num_envs, args.seconds, args.rounds
    if args.quick:
        num_envs, seconds, rounds = (8,), 0.5, 1
    if not math.isfinite(seconds) or seconds <= 0 or rounds < 1:
        print(f"flockrl bench atari: --seconds must be > 0 and --rounds >= 1, got {seconds} and {rounds}",
              file=sys.stderr)
        return 2
    try:
        rows = bench_atari.run(args.game, num_envs, seconds, peers=not args.no_peers, rounds=rounds)
    except (ValueError, ImportError) as e:  # an unknown game, no ale-py
        print(f"flockrl bench atari: {e}", file=sys.stderr)
        return 2
    print(bench_atari.format_table(rows))
    return 0


def _bench_replay(args: argparse.Namespace) -> int:
    from flockrl import bench_replay

    if args.frames:
        from flockrl import bench_frame_replay

        steps, seconds = (2_000, 0.5) if args.quick else (20_000, 3.0)
        try:
            results = bench_frame_replay.run(steps, 32, seconds, peers=not args.no_peers)
        except ImportError as e:  # no ale-py
            print(f"flockrl bench replay: {e}", file=sys.stderr)
            return 2
        print(bench_frame_replay.format_table(results, steps, 32))
        return 0
    rows = bench_replay.run(peers=not args.no_peers, concurrency=not args.no_concurrency, quick=args.quick)
    print(bench_replay.format_table(rows))
    return 0


def _spawn_learners(args: argparse.Namespace, argv: list[str], run_dir: str) -> int:
    """`train ppo --learners N`: this same command, without --learners, in N
    processes that form a torch.distributed group, as torchrun would start."""
    from flockrl.runtime.learner_group import spawn_learners

    if args.algo != "ppo" or args.learners < 1:
        print(f"flockrl train: --learners: expected 1, or N >= 2 with ppo, got {args.learners} with {args.algo}",
              file=sys.stderr)
        return 2
    child = [a for i, a in enumerate(argv)
             if a != "--learners" and not a.startswith("--learners=") and (i == 0 or argv[i - 1] != "--learners")]
    if not args.resume:
        child += ["--run-dir", run_dir]  # one directory for all, not one timestamp each
    return spawn_learners(args.learners, child)


def _train(args: argparse.Namespace, argv: list[str]) -> int:
    import json
    import os
    import time

    from flockrl.algos.registry import config_class, trainer_class

    config_cls = config_class(args.algo)
    if args.list_config:
        defaults, docs = config_cls.for_env(args.env) if args.env else config_cls(), config_cls.help()
        for key, value in defaults.to_dict().items():
            print(f"{key} = {value!r}\n    {docs.get(key, '')}")
        return 0
    try:
        overrides = config_cls.from_file(args.config) if args.config else {}
        overrides.update(config_cls.parse_sets(args.sets))
        for key in ("env", "seed", "total_steps"):  # the flags SB3 zoo's and CleanRL's users type
            if getattr(args, key) is not None:
                overrides[key] = getattr(args, key)
        if args.backend:
            overrides["backend"] = args.backend
        if args.address is not None:
            overrides["ray_address"] = args.address
        # The env's preset under the user's values (unless resuming: the run's config is the base).
        base = config_cls.for_env(overrides.get("env", config_cls().env))
        if args.resume:
            saved = json.loads((Path(args.resume) / "config.json").read_text())
            saved_algo = saved.pop("algo", None)
            if saved_algo != args.algo:
                raise ValueError(f"{args.resume} holds a {saved_algo} run, not {args.algo}")
            base = config_cls().replace(saved)
        config = base.replace(overrides)
    except (ValueError, OSError) as e:
        print(f"flockrl train: {e}", file=sys.stderr)
        return 2
    run_dir = args.resume or args.run_dir or (
        f"runs/{args.algo}-{config.env.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}")
    if config.backend == "ray" and (args.learners != 1 or config.learner_gpus > 0):
        return _train_learners_on_ray(args, config, run_dir)
    if args.learners != 1 and "WORLD_SIZE" not in os.environ:  # under torchrun, this is already one learner
        return _spawn_learners(args, argv, run_dir)
    try:
        trainer = trainer_class(args.algo)(config, run_dir=run_dir, resume=bool(args.resume))
    # An unknown env, continuous actions for DQN, no such device, a bad checkpoint, no Ray.
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"flockrl train: {e}", file=sys.stderr)
        return 2
    if trainer.is_chief:
        learners = f" with {trainer.world_size} learners" if trainer.world_size > 1 else ""
        print(f"training {args.algo} on {config.env} for {config.total_steps} env steps{learners}; run dir {run_dir}",
              file=sys.stderr)
    try:
        result = trainer.train()
    except KeyboardInterrupt:  # before the training loop began (it handles its own)
        print("flockrl train: interrupted before training started", file=sys.stderr)
        return 130
    if trainer.is_chief:
        _print_summary(result, run_dir)
    return 130 if result.interrupted else 0


def _train_learners_on_ray(args: argparse.Namespace, config: Any, run_dir: str) -> int:
    """--backend ray with learners as Ray actors: --learners N (DPPO), or a
    learner placed on a node with learner_gpus."""
    from flockrl.distributed.learners import train_learners
    from flockrl.runtime.training_run import TrainResult

    if args.learners < 1 or (args.learners > 1 and args.algo != "ppo"):
        print(f"flockrl train: --learners: expected 1, or N >= 2 with ppo, got {args.learners} with {args.algo}",
              file=sys.stderr)
        return 2
    print(f"training {args.algo} on {config.env} for {config.total_steps} env steps with {args.learners} "
          f"learner(s) as Ray actors; run dir {run_dir}", file=sys.stderr)
    try:
        result = TrainResult(**train_learners(args.algo, config, run_dir, bool(args.resume), args.learners))
    except (ValueError, ImportError) as e:
        print(f"flockrl train: {e}", file=sys.stderr)
        return 2
    _print_summary(result, run_dir)
    return 130 if result.interrupted else 0


def _print_summary(result: Any, run_dir: str) -> None:
    final = result.final_eval
    summary = f"{result.env_steps} env steps, {result.updates} updates in {result.seconds:.0f} s"
    if final is not None:
        summary += f"; final evaluation {final['mean']:.1f} +- {final['std']:.1f}"
    print(summary + f"; resume point {run_dir}/checkpoint.pt")
    if result.evaluations:
        best = max(result.evaluations, key=lambda e: e["mean"])  # the first of equals, as best.pt keeps it
        print(f"best model {run_dir}/best.pt (evaluation {best['mean']:.1f} +- {best['std']:.1f} "
              f"at {best['env_steps']:.0f} env steps)")


def _eval(args: argparse.Namespace) -> int:
    from flockrl.algos.registry import policy_from_checkpoint
    from flockrl.envs import is_atari_id, task_names
    from flockrl.runtime.evaluate import evaluate

    if args.episodes < 1:
        print(f"flockrl eval: --episodes must be >= 1, got {args.episodes}", file=sys.stderr)
        return 2
    path = Path(args.checkpoint)
    if path.is_dir():
        path = next((path / name for name in ("best.pt", "checkpoint.pt") if (path / name).exists()), path / "best.pt")
        print(f"evaluating {path}", file=sys.stderr)
    try:
        config, act = policy_from_checkpoint(path)
    except (ValueError, OSError) as e:
        print(f"flockrl eval: {e}", file=sys.stderr)
        return 2
    tasks = task_names(config.env)
    if args.episodes < len(tasks):
        print(f"flockrl eval: --episodes must be at least the {len(tasks)} tasks of {config.env}, got {args.episodes}",
              file=sys.stderr)
        return 2
    try:
        if args.video:
            from flockrl.runtime.video import record_video

            files, returns = record_video(act, config.env, args.video, args.episodes, seed=args.seed,
                                          env_kwargs=config.env_kwarg_values(), epsilon=config.eval_epsilon)
            print(f"videos: {', '.join(map(str, files))}", file=sys.stderr)
        else:
            returns = evaluate(act, config.env, args.episodes, seed=args.seed, env_kwargs=config.env_kwarg_values(),
                               epsilon=config.eval_epsilon)
    except (ImportError, ValueError) as e:  # a missing optional dependency; --video of a multi-task run
        print(f"flockrl eval: {e}", file=sys.stderr)
        return 2
    what = "game score (unclipped, whole games)" if is_atari_id(config.env) else "return"
    print(f"{config.env}: {what} {returns.mean():.2f} +- {returns.std():.2f} over {args.episodes} episodes "
          f"(min {returns.min():.1f}, max {returns.max():.1f})")
    if len(tasks) > 1:  # evaluation env i runs task i % tasks
        for t, name in enumerate(tasks):
            mine = returns[t::len(tasks)]
            print(f"  {name}: {mine.mean():.2f} +- {mine.std():.2f} over {len(mine)} episodes")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from flockrl.plot import plot_runs

    try:
        path = plot_runs(args.run_dirs, args.out)
    except (ValueError, OSError, ImportError) as e:
        print(f"flockrl plot: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _bench_params(args: argparse.Namespace) -> int:
    from flockrl import bench_params

    sizes, seconds = args.sizes, args.seconds
    if args.quick:
        sizes, seconds = bench_params.QUICK_SIZES, 0.2
    if not math.isfinite(seconds) or seconds <= 0:
        print(f"flockrl bench params: --seconds must be a number > 0, got {seconds}", file=sys.stderr)
        return 2
    result = bench_params.run(sizes=sizes, seconds=seconds, contention_size=min(max(sizes), 10_000_000))
    print(bench_params.format_table(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _build_parser().parse_args(argv)
    if args.command == "train":
        return _train(args, argv)
    if args.command == "eval":
        return _eval(args)
    if args.command == "plot":
        return _plot(args)
    if args.command == "bench" and args.target == "envs":
        return _bench_envs(args)
    if args.command == "bench" and args.target == "atari":
        return _bench_atari(args)
    if args.command == "bench" and args.target == "replay":
        return _bench_replay(args)
    if args.command == "bench" and args.target == "params":
        return _bench_params(args)
    raise AssertionError(f"unhandled command {args}")  # argparse rejects anything else


if __name__ == "__main__":
    sys.exit(main())
