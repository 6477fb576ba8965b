"""The ``flockrl`` command line: ``flockrl bench envs|replay|params`` (training arrives with the trainer)."""

from __future__ import annotations

import argparse
import math
import sys


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

    replay = targets.add_parser("replay", help="replay add/sample/update rates: flockrl vs cpprb and TorchRL")
    replay.add_argument("--quick", action="store_true", help="small buffers and short windows (a smoke test)")
    replay.add_argument("--no-peers", action="store_true", help="measure flockrl only")
    replay.add_argument("--no-concurrency", action="store_true", help="skip the writers + learner scenario")

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


def _bench_replay(args: argparse.Namespace) -> int:
    from flockrl import bench_replay

    rows = bench_replay.run(peers=not args.no_peers, concurrency=not args.no_concurrency, quick=args.quick)
    print(bench_replay.format_table(rows))
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
    args = _build_parser().parse_args(argv)
    if args.command == "bench" and args.target == "envs":
        return _bench_envs(args)
    if args.command == "bench" and args.target == "replay":
        return _bench_replay(args)
    if args.command == "bench" and args.target == "params":
        return _bench_params(args)
    raise AssertionError(f"unhandled command {args}")  # argparse rejects anything else


if __name__ == "__main__":
    sys.exit(main())
