"""The MPSCD loss terms' cost: python -m mpscd.benchmark_terms [--device cuda] [--steps N].

Prints, for each formulation of the structure terms (PCRD; S2S "all", "class_residual",
"supcon"; S2P "prototypes", "images", "contrast_mse"; the defaults' three terms together),
forward + backward through the distiller (prototype update and projection heads included)
at COCO scale (B 64, C 80, D 768, about 2.9 labels per image):
- on all B x C pairs (k = C: the terms as they were before they took max_positives) and on
  each image's k highest-labelled pairs (k = the most positives an image has), timed in turn;
- at B 256, four ranks' batches gathered (gather_across_ranks), on k pairs only (all pairs
  would be a 20,480^2 S2S matrix), with its peak memory above the inputs', measured in a
  fresh process (CPU: peak resident memory, /proc/self/status VmHWM; CUDA: max allocated).

Also the timing helpers of mpscd.benchmark, and the loop reference it compares the terms with.
"""
import argparse
import concurrent.futures
import multiprocessing
import time

import torch
import torch.nn.functional as F

from mpscd.methods.mpscd import MPSCD

ONLY = {"pcrd": dict(lambda_s2s=0.0, lambda_s2p=0.0), "s2s": dict(lambda_pcrd=0.0, lambda_s2p=0.0),
        "s2p": dict(lambda_pcrd=0.0, lambda_s2s=0.0)}
FORMULATIONS = {
    "PCRD": ONLY["pcrd"],
    **{f"S2S {r}": dict(ONLY["s2s"], s2s_relations=r) for r in ("all", "class_residual", "supcon")},
    **{f"S2P {r}": dict(ONLY["s2p"], s2p_relations=r) for r in ("prototypes", "images", "contrast_mse")},
    "all three (defaults)": {},
}


def timed(fn, steps, warmup=2, device=None):
    """Median seconds of one call of fn over `steps` calls after `warmup` calls."""
    return timed_alternately([fn], steps, warmup, device)[0]


def timed_alternately(fns, steps, warmup=2, device=None):
    """Median seconds of one call of each of fns, called in turn `steps` times after `warmup`
    turns: a drift in the machine's speed (a neighbour, the clock) hits all of them alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(steps):
        for fn, fn_times in zip(fns, times):
            if device is not None and device.type == "cuda":
                torch.cuda.synchronize()
            tic = time.perf_counter()
            fn()
            if device is not None and device.type == "cuda":
                torch.cuda.synchronize()
            fn_times.append(time.perf_counter() - tic)
    return [sorted(fn_times)[len(fn_times) // 2] for fn_times in times]


def coco_scale_inputs(B, C, D, device):
    """Labels (about 2.9 positives per image; the first 64 rows are those of B = 64) and the
    student's (requiring gradient) and the teacher's label-wise embeddings."""
    torch.manual_seed(0)
    labels = (torch.rand(B, C, device=device) < 2.9 / C).float()
    return labels, torch.randn(B, C, D, device=device, requires_grad=True), torch.randn(B, C, D, device=device)


class FixedOutputs(torch.nn.Module):
    """Stands in for a network: the distiller reads head.queries for its sizes, and the
    benchmark hands `embeddings` to its terms."""

    def __init__(self, embeddings):
        super().__init__()
        self.embeddings = embeddings
        self.head = torch.nn.Module()
        self.head.queries = torch.nn.Parameter(torch.zeros(embeddings.shape[1:]))


def fixed_distiller(s, t, labels, **options):
    """MPSCD on fixed embeddings, k set from `labels` as a run sets it from the training
    labels, both prototype banks initialised on every class. No logit term, no gradient cap
    (no BCE gradient here for it to compare with)."""
    torch.manual_seed(0)
    distiller = MPSCD(FixedOutputs(s), FixedOutputs(t), prototype_init="first_batch", lambda_mld=0.0,
                      structure_grad_cap=0.0, **options).to(s.device)
    distiller.see_training_labels(labels)
    every_class = torch.ones_like(labels)
    distiller.bank_s.update(s.detach(), every_class)
    distiller.bank_t.update(t, every_class)
    return distiller


def term_step(distiller, labels, k):
    """Forward + backward of the distiller's structure terms on each image's k pairs: its
    distillation_terms, without BCE and the prototype correction (which k does not change)."""
    s, t = ({"embeddings": network.embeddings} for network in (distiller.student, distiller.teacher))

    def step():
        distiller.max_positives_per_image = k
        s["embeddings"].grad = None
        sum(distiller.distillation_terms(s, t, labels).values()).backward()
    return step


def prototype_correction(steps, device, B=64, C=80, D=768):
    """Seconds of the correction of both prototype banks on one batch (before the terms)."""
    labels, s, t = coco_scale_inputs(B, C, D, device)
    distiller = fixed_distiller(s, t, labels)
    return timed(lambda: (distiller.bank_s.update(s.detach(), labels), distiller.bank_t.update(t, labels)), steps,
                 device=device)


def formulations(steps, device, B=64, C=80, D=768):
    """Per formulation: (name, seconds on all B x C pairs, seconds on k pairs per image, k)."""
    labels, s, t = coco_scale_inputs(B, C, D, device)
    for name, options in FORMULATIONS.items():
        distiller = fixed_distiller(s, t, labels, **options)
        k = distiller.max_positives_per_image
        yield name, *timed_alternately([term_step(distiller, labels, C), term_step(distiller, labels, k)], steps,
                                       device=device), k


def _resident(field):
    """This process's resident memory, now ("VmRSS") or at its peak ("VmHWM"), in bytes."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field + ":"))


def _memory_now_and_reset(device):
    """Memory in use now (bytes), its peak reset to it."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device)
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # VmHWM back to VmRSS (Linux)
    return _resident("VmRSS")


def _peak_memory(device):
    return torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _resident("VmHWM")


def _gathered(steps, device_name, B, C, D):
    device = torch.device(device_name)
    labels, s, t = coco_scale_inputs(B, C, D, device)
    distillers = {name: fixed_distiller(s, t, labels, **options) for name, options in FORMULATIONS.items()}
    k = next(iter(distillers.values())).max_positives_per_image
    base = _memory_now_and_reset(device)  # inputs, heads and banks; the peak counts from here
    results = []
    for name, distiller in distillers.items():
        seconds = timed(term_step(distiller, labels, k), steps, warmup=1, device=device)
        results.append((name, seconds, _peak_memory(device) - base))  # any memory an earlier one kept counts too
    return k, results


def gathered(steps, device, ranks=4, B=64, C=80, D=768):
    """(k, [(name, seconds, peak bytes above the inputs)]) at ranks * B images on k pairs per
    image, measured in a fresh process: no memory an earlier measurement freed to reuse."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_gathered, steps, str(device), ranks * B, C, D).result()


def loop_reference_terms(s, t, labels, bank_s, bank_t, proj_s, proj_t, tau_r=0.1, tau_s=0.1, m=0.9):
    """MPSCD's three terms (docs/method.md) and the prototype update written plainly, one class and one
    anchor at a time: the straightforward implementation the vectorised one replaces."""
    pos = [(i, c) for c in range(labels.shape[1]) for i in range(labels.shape[0]) if labels[i, c] == 1]
    s_unit, t_unit = F.normalize(s, dim=-1), F.normalize(t, dim=-1)
    with torch.no_grad():
        for c in range(labels.shape[1]):
            members = [i for i, cc in pos if cc == c]
            if members:
                for bank, e in ((bank_s, s_unit), (bank_t, t_unit)):
                    mean = F.normalize(e[members, c].sum(0), dim=0)
                    bank[c] = F.normalize(m * bank[c] + (1 - m) * mean, dim=0)
    u = torch.stack([F.normalize(proj_s(s_unit[i, c] - bank_s[c]), dim=0) for i, c in pos])
    v = torch.stack([F.normalize(proj_t(t_unit[i, c] - bank_t[c]), dim=0) for i, c in pos])
    pcrd = sum(-F.log_softmax(torch.stack([u[a] @ v[b] / tau_r for b in range(len(pos))]), 0)[a]
               for a in range(len(pos))) / len(pos)
    s2s, s2p = 0.0, 0.0
    for a, (i, c) in enumerate(pos):
        others = [(j, d) for j, d in pos if j != i]
        p_t = F.softmax(torch.stack([t_unit[i, c] @ t_unit[j, d] / tau_s for j, d in others]), 0)
        log_p_s = F.log_softmax(torch.stack([s_unit[i, c] @ s_unit[j, d] / tau_s for j, d in others]), 0)
        s2s = s2s + (p_t * (p_t.log() - log_p_s)).sum()
        q_t = F.softmax(torch.stack([t_unit[i, c] @ bank_t[k] / tau_s for k in range(labels.shape[1])]), 0)
        log_q_s = F.log_softmax(torch.stack([s_unit[i, c] @ bank_s[k] / tau_s for k in range(labels.shape[1])]), 0)
        s2p = s2p + (q_t * (q_t.log() - log_q_s)).sum()
    return pcrd + s2s / len(pos) + s2p / len(pos)


def against_loop(steps, device, B=64, C=80, D=768):
    """(seconds of the defaults' three terms on k pairs and the prototype correction, seconds
    of the loop reference, positives)."""
    labels, s, t = coco_scale_inputs(B, C, D, device)
    distiller = fixed_distiller(s, t, labels)
    terms = term_step(distiller, labels, distiller.max_positives_per_image)

    def vectorised():
        distiller.bank_s.update(s.detach(), labels)
        distiller.bank_t.update(t, labels)
        terms()

    def loop():
        loop_reference_terms(s, t, labels, distiller.bank_s.prototypes.clone(), distiller.bank_t.prototypes.clone(),
                             distiller.proj_s, distiller.proj_t).backward()
    return timed(vectorised, steps, device=device), timed(loop, 1, warmup=0, device=device), int(labels.sum())


def report(steps, device):
    """Prints the per-formulation table and the gathered case."""
    print("2. MPSCD loss terms, forward + backward, B 64, C 80, D 768: all B x C pairs / each image's k pairs")
    for name, t_all, t_k, k in formulations(steps, device):
        print(f"2. {name}: {1000 * t_all:.1f} ms / {1000 * t_k:.1f} ms (k = {k}; target < 30 ms)", flush=True)
    print(f"2. (not included: the prototype correction of both banks, before any term but S2S all and supcon, "
          f"{1000 * prototype_correction(steps, device):.1f} ms)")
    k, results = gathered(steps, device)
    for name, seconds, extra in results:
        print(f"2. {name}, B 256 (4 ranks gathered), k = {k}: {1000 * seconds:.0f} ms, peak memory above the inputs "
              f"{extra / 2**20:.0f} MiB (targets < 200 ms, < 2,048 MiB)", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement (median)")
    args = parser.parse_args(argv)
    report(args.steps, torch.device(args.device))


if __name__ == "__main__":
    main()
