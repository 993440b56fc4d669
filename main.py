"""Train a teacher, distil a student, evaluate: python main.py --cfg_file CONFIG [options]."""
import argparse
import contextlib
import json
import os
import sys
import time

from datasets import build_dataset
from mpscd.engine.config import load_config
from mpscd.engine.data import make_test_loader
from mpscd.engine.evaluation import evaluate
from mpscd.engine.runner import Run, load_network
from mpscd.engine.stopping import Interrupted, StopSignals
from utils import UserError
from utils.checkpoint import remove_partial_saves
from utils.distributed import init_from_environment, is_main_process, rank, world_size
from utils.logger import format_duration, get_logger
from utils.metrics import PROTOCOLS
from utils.provenance import RunCode, code_version, describe
from utils.run_lock import BUSY_EXIT_CODE, RunFolderBusy, RunLock
from utils.seed import seed_everything


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cfg_file", required=True, help="config file, e.g. configs/demo/resnet34_to_resnet18_mpscd.py")
    parser.add_argument("--data_root", help="folder holding the dataset (see README.md)")
    parser.add_argument("--work_dir", help="run folder (default: work_dirs/<config name>)")
    parser.add_argument("--evaluate", metavar="CHECKPOINT", help="only evaluate this checkpoint on the test split")
    parser.add_argument("--resume", action="store_true", help="continue the run in --work_dir from its last checkpoint")
    parser.add_argument("--opts", nargs="+", default=[], metavar="KEY=VALUE", help="override config keys")
    parser.add_argument("--max_iters", type=int, help="stop each training stage after N iterations (quick checks)")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    parser.add_argument("--seed", type=int, help="overrides the config's seed")
    args = parser.parse_args(argv)
    if args.max_iters is not None and args.max_iters < 1:
        parser.error("--max_iters must be at least 1")
    return args


def evaluation_report(metrics, classes):
    lines = [f"{'class':<16}{'AP':>8}"] + [f"{c:<16}{ap:>8.2f}" for c, ap in zip(classes, metrics["AP"])]
    lines.append(f"{'mAP':<16}{metrics['mAP']:>8.2f}")
    for protocol in PROTOCOLS:
        lines.append(f"{protocol:<10}" + "  ".join(f"{k} {metrics[f'{k}_{protocol}']:.2f}"
                                                  for k in ("CP", "CR", "CF1", "OP", "OR", "OF1")))
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    overrides = list(args.opts)
    if args.data_root:
        overrides.append(f"data_root={os.path.abspath(args.data_root)!r}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    cfg = load_config(args.cfg_file, overrides)
    name = os.path.splitext(os.path.basename(args.cfg_file))[0]
    work_dir = args.work_dir or os.path.join("work_dirs", name)
    os.makedirs(work_dir, exist_ok=True)
    device = init_from_environment(args.device)  # joins torchrun's process group, if any
    with RunLock(work_dir) if is_main_process() else contextlib.nullcontext():
        return run(args, cfg, work_dir, device)


def run(args, cfg, work_dir, device):
    log = get_logger(work_dir).info if is_main_process() else (lambda message: None)
    seed_everything(cfg["seed"], cfg["deterministic"])

    if args.evaluate:
        dataset = build_dataset(cfg, "test", log)
        model = load_network(args.evaluate, num_classes=len(dataset.classes)).to(device)
        loader = make_test_loader(dataset, cfg["batch_size"], cfg["num_workers"], rank(), world_size())
        metrics = evaluate(model, loader, device, cfg)
        log(f"{args.evaluate} on {cfg['dataset']} test:\n" + evaluation_report(metrics, dataset.classes))
        if is_main_process():
            with open(os.path.join(work_dir, "evaluation.json"), "w") as f:
                json.dump({"checkpoint": args.evaluate, "classes": dataset.classes, **metrics}, f, indent=1)
        return metrics

    if is_main_process():
        cfg.dump(os.path.join(work_dir, "config.py"))
    version = code_version(device)
    log(f"config {args.cfg_file} -> run folder {work_dir}; {describe(version)}")
    tic = time.time()
    if is_main_process():
        for path in remove_partial_saves(work_dir):
            log(f"removed {path}, a checkpoint save that a kill interrupted (the previous checkpoint is intact)")
    with StopSignals(cfg["preempt_signal"], cfg["preempt_action"]) as signals:
        results = Run(cfg, work_dir, device, log, signals, RunCode(version), args.max_iters, args.resume).run()
    log(f"done in {format_duration(time.time() - tic)}: student mAP {results['student_metrics']['mAP']:.2f}"
        + (f", teacher mAP {results['teacher_metrics']['mAP']:.2f}" if results["teacher_metrics"] else ""))
    return results


def user_message(error):
    """The one-line message of a UserError, also when a DataLoader worker raised it (the
    loader re-raises it with the worker's traceback as its text; the last line is ours)."""
    return str(error).strip().splitlines()[-1].removeprefix("utils.UserError: ")


def cli(argv=None):
    """main() for a shell: a user's mistake is one line on stderr and an exit status, not a traceback."""
    try:
        return main(argv)
    except RunFolderBusy as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(BUSY_EXIT_CODE)
    except UserError as e:
        print(f"error: {user_message(e)}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as e:  # saved; the conventional status of a process ended by the signal
        if is_main_process():
            print(e, file=sys.stderr)
        sys.exit(128 + e.signum)


if __name__ == "__main__":
    cli()
