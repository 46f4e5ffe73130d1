r"""The runtime under a fair cost model and over a link with a bandwidth: where coding wins, measured.

Four sections of ``benchmarks/RESULTS.md``, each measured against its prediction in one run:

1. ``runtime`` — **the fair comparison** (loopback, digits, MLP 64-128-10, d = 9610; n = 8,
   s = 2, ℓ = 2). Compute is charged per chunk held (``chunk`` = c = 20 ms), so a coded worker
   holding s + ℓ = 4 chunks pays 4c. Every strategy of :func:`agc.runtime.experiment.strategies`
   under the multiplicative model (×5 with probability 0.2) and the additive one (+D = 10c with
   probability 0.2), and the first runtime's load-free model for comparison. Predictions:
   :func:`agc.runtime.expected_wait` (order statistics) with each run's measured real computation.
2. ``runtime-regime`` — **the regime map**: predicted ratio of coded (polynomial, load 4, first
   6 of 8) to wait-for-all (load 1, all 8) time per iteration under the additive model over p
   and D/c, with measured points.
3. ``runtime-bandwidth`` — **the communication experiment**: 784-128-10 (d = 101 770) on
   Fashion-MNIST when installed (else random data of that shape), 800 training images, n = 8,
   the cyclic assignment of load 6, s = 2 stragglers (additive, chunk 2 ms, +0.3 s with
   probability 0.1), the exact polynomial code with ℓ ∈ {1, 2, 4} (messages of ⌈d/ℓ⌉ floats) and
   uncoded wait-for-all, over links shaped with tbf (``agc run --bandwidth``): 100 Mbit/s both
   ways, 50 Mbit/s both ways, and 100 Mbit/s up with 1 Gbit/s down. Broadcast, gather and
   iteration times measured and predicted (:mod:`agc.runtime.predict`, with the broadcast's
   shares fair and random), bytes checked against the tbf counters, time to a target loss. Needs
   root and iproute2 (the section says so otherwise).
4. ``runtime-float32`` — the decoding error float32 messages cause, against n
   (:func:`agc.runtime.float32_error`).

Run: ``.venv/bin/python benchmarks/runtime.py`` (about five minutes on 2 cores), or name sections:
``.venv/bin/python benchmarks/runtime.py runtime-bandwidth``.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np
import pandas as pd
from _results import machine, record

import agc
from agc.runtime import expected_wait, float32_error, parse_delay, run
from agc.runtime.experiment import measured_and_predicted, strategies
from agc.runtime.netns import available
from agc.runtime.predict import link_seconds, receipt_times
from agc.runtime.protocol import CONTROL_BYTES
from agc.runtime.wire import FLOAT32_LIMIT, FLOAT32_WARN

N, S, ELL, SEED = 8, 2, 2, 0
CHUNK = 0.02
MODELS = {
    "multiplicative": f"multiplicative:chunk={CHUNK},p=0.2,factor=5",
    "additive": f"additive:chunk={CHUNK},p=0.2,extra={10 * CHUNK}",
}
LOAD_FREE = "bernoulli_ignoring_load:base=0.05,p=0.2,factor=5"
FAIR_ITERS, TARGET_DIGITS = 20, 0.5
REGIME_POINTS = [(0.1, 2), (0.1, 10), (0.2, 5), (0.2, 20), (0.4, 10)]
REGIME_CHUNK, REGIME_ITERS = 0.01, 15
P_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
D_GRID = (0, 2, 5, 10, 20, 50)
LINKS = [("100mbit", "100mbit"), ("50mbit", "50mbit"), ("100mbit", "1gbit")]
LINK_LOAD, LINK_ITERS, LINK_TRAIN = 6, 10, 800
LINK_DELAY = "additive:chunk=0.002,p=0.1,extra=0.3"
TARGET_FASHION = 1.6
#: Headers tbf counts in every packet beyond its TCP payload (Ethernet 14, IPv4 20, TCP 20, timestamps 12).
PACKET_HEADERS = 66


def _table(frame, columns, formats):
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    rows = ["| " + " | ".join(format(row[c], formats.get(c, "")) if not isinstance(row[c], str) else row[c]
                              for c in columns) + " |" for _, row in frame.iterrows()]
    return head + "\n".join(rows)


def fair_comparison():
    rows = []
    for model, spec in MODELS.items():
        for name, strategy in strategies(N, S, ELL, seed=SEED).items():
            result = run(strategy.scheme, iters=FAIR_ITERS, s=strategy.s, delay=spec, seed=SEED)
            rows.append({"model": model, **measured_and_predicted(result, name, target=TARGET_DIGITS)})
            print(f"{model:15s} {name:20s} {1e3 * rows[-1]['seconds']:7.1f} ms (predicted "
                  f"{1e3 * rows[-1]['predicted_seconds']:.1f})")
    for name in ("wait-for-all", "polynomial"):
        strategy = strategies(N, S, ELL, names=[name])[name]
        result = run(strategy.scheme, iters=FAIR_ITERS, s=strategy.s, delay=LOAD_FREE, seed=SEED)
        rows.append({"model": "ignoring load (old)", **measured_and_predicted(result, name, target=TARGET_DIGITS)})
    frame = pd.DataFrame(rows)
    frame["error %"] = 100 * (frame["seconds"] / frame["predicted_seconds"] - 1)
    frame["ms"] = [f"{1e3 * m:.1f} ± {1e3 * se:.1f}" for m, se in zip(frame["seconds"], frame["seconds_se"])]
    frame["predicted ms"] = 1e3 * frame["predicted_seconds"]
    frame["s to loss"] = frame["seconds_to_target"]
    wait = frame[frame.strategy == "wait-for-all"].set_index("model")["seconds"]
    frame["vs wait-for-all"] = [row.seconds / wait[row.model] for row in frame.itertuples()]
    text = _table(frame, ["model", "strategy", "load", "s", "message_bytes", "ms", "predicted ms", "error %",
                          "vs wait-for-all", "s to loss", "final_loss"],
                  {"predicted ms": ".1f", "error %": "+.1f", "vs wait-for-all": ".2f", "s to loss": ".2f",
                   "final_loss": ".4f"})
    ratio = {model: frame[(frame.model == model) & (frame.strategy == "polynomial")]["vs wait-for-all"].iloc[0]
             for model in [*MODELS, "ignoring load (old)"]}
    worst = frame["error %"].abs().max()
    predicted_ratio = {model: (frame[(frame.model == model) & (frame.strategy == "polynomial")]["predicted_seconds"].iloc[0]
                               / frame[(frame.model == model) & (frame.strategy == "wait-for-all")]["predicted_seconds"]
                               .iloc[0]) for model in MODELS}
    record("runtime", f"""## Distributed runtime: the fair comparison (`benchmarks/runtime.py`)

{N} workers + PS as processes (gloo, loopback), digits, MLP 64-128-10 (d = 9610), {FAIR_ITERS} iterations per
run, seed {SEED}, SGD lr 0.5. Compute is charged **per chunk held**: c = {1e3 * CHUNK:g} ms of sleep per chunk, so
wait-for-all and ignore (1 chunk) pay c and the coded workers (load s + ℓ = {S + ELL}; polynomial with ℓ = 1:
load {S + 1}) pay 4c. Models: `{MODELS["multiplicative"]}` (a slower machine: the whole time ×5 w.p. 0.2) and
`{MODELS["additive"]}` (a pre-empted machine: +D = 10c w.p. 0.2, whatever the load); for comparison the first
runtime's `{LOAD_FREE}`, which charges every worker 50 ms whatever it holds. Workers preempt, so delays are fresh
every iteration. Machine: {machine()}. Command: `.venv/bin/python benchmarks/runtime.py`.

Prediction: the PS keeping the first r of n waits for the r-th order statistic of the workers' times
(`agc.runtime.expected_wait`, exact), each time being the run's measured real computation (a few ms, from the
workers' headers) plus the charged delay; plus the run's measured decoding and step (about 1 ms).
"s to loss" is the wall-clock time of the iterations until the training loss first reaches {TARGET_DIGITS}
(empty: never).

{text}

**Where coding loses.** Under the multiplicative model the coded PS (polynomial, ℓ = 2) takes
**{ratio["multiplicative"]:.2f}x** the time of wait-for-all per iteration: a coded worker holds 4 chunks, and waiting for
the 6th of 8 at 4c·1.81 costs more than waiting for all 8 at c·4.33 (the order statistics predict
{expected_wait(parse_delay(MODELS["multiplicative"]), 8, 6, load=4) / expected_wait(parse_delay(MODELS["multiplicative"]), 8, 8):.2f}x
with the real computation taken as 0, {predicted_ratio["multiplicative"]:.2f}x with the runs' real computation, which the
slow-down multiplies too and which weighs more in the uncoded workers' short times).
Under the additive model a straggler costs D = 10c whatever its load, and coding wins:
**{ratio["additive"]:.2f}x**. The first runtime's load-free model gave the coded PS its extra computation for free:
{ratio["ignoring load (old)"]:.2f}x (its old headline, "2.45x faster", was this ratio inverted). Ignoring stragglers is
fastest per iteration under both models but follows a rescaled partial gradient; the approximate codes (rdm,
stacking) are as slow as the exact one and reach a worse loss. Largest deviation of a measured mean from its
prediction: {worst:.1f} %.
""")
    return frame


def regime_map():
    exact = {}
    for p in P_GRID:
        for ratio in D_GRID:
            delay = parse_delay(f"additive:chunk=1,p={p},extra={ratio}")
            exact[p, ratio] = expected_wait(delay, N, N - S, load=S + ELL) / expected_wait(delay, N, N, load=1)
    grid = "| p \\ D/c | " + " | ".join(map(str, D_GRID)) + " |\n|" + "---|" * (len(D_GRID) + 1) + "\n" + "\n".join(
        f"| {p} | " + " | ".join(f"{exact[p, r]:.2f}" for r in D_GRID) + " |" for p in P_GRID)
    chosen = strategies(N, S, ELL, names=["wait-for-all", "polynomial"])
    rows = []
    for p, ratio in REGIME_POINTS:
        spec = f"additive:chunk={REGIME_CHUNK},p={p},extra={ratio * REGIME_CHUNK}"
        measured = {}
        for name, strategy in chosen.items():
            result = run(strategy.scheme, iters=REGIME_ITERS, s=strategy.s, delay=spec, seed=SEED, hidden=32)
            measured[name] = measured_and_predicted(result, name)
        coded, wait = measured["polynomial"], measured["wait-for-all"]
        value = coded["seconds"] / wait["seconds"]
        se = value * math.hypot(coded["seconds_se"] / coded["seconds"], wait["seconds_se"] / wait["seconds"])
        predicted = coded["predicted_seconds"] / wait["predicted_seconds"]
        delay = parse_delay(f"additive:chunk=1,p={p},extra={ratio}")
        bare = expected_wait(delay, N, N - S, load=S + ELL) / expected_wait(delay, N, N, load=1)
        rows.append({"p": p, "D/c": ratio, "measured": value, "se": se, "predicted": predicted, "map": bare})
        print(f"regime p={p} D/c={ratio}: measured {value:.2f} ± {se:.2f}, predicted {predicted:.2f} (map {bare:.2f})")
    frame = pd.DataFrame(rows)
    points = "\n".join(f"| {r.p} | {r._2} | {r.measured:.2f} ± {r.se:.2f} | {r.predicted:.2f} | {r.map:.2f} |"
                       for r in frame.itertuples())
    crossover = 3 / ((1 - 0.8**8) - sum(math.comb(8, m) * 0.2**m * 0.8 ** (8 - m) for m in range(3, 9)))
    within = np.abs(frame["measured"] - frame["predicted"]) <= 2 * frame["se"] + 0.1 * frame["predicted"]
    record("runtime-regime", f"""## Distributed runtime: the regime map (`benchmarks/runtime.py`)

Predicted ratio of the coded PS (polynomial code, ℓ = 2, load 4, keeps the first 6 of 8) to wait-for-all
(uncoded, load 1, all 8) in time per iteration, under the additive model (per-chunk compute c, +D w.p. p),
from the order statistics with the real computation taken as 0 (below 1: coding is faster):

{grid}

At p = 0.2 coding pays once D/c > 3 / (P[Bin(8,0.2) ≥ 1] − P[Bin(8,0.2) ≥ 3]) = {crossover:.2f}. Under the
multiplicative model the ratio does not depend on c at all: it is 4 (1 + 4 P[Bin(8,p) > 2]) / (1 + 4 P[Bin(8,p) ≥ 1]),
between {min(expected_wait(parse_delay(f"multiplicative:chunk=1,p={p},factor=5"), 8, 6, load=4) / expected_wait(parse_delay(f"multiplicative:chunk=1,p={p},factor=5"), 8, 8) for p in np.linspace(0.01, 0.99, 99)):.2f} and 4 for every p: with ×5 slow-downs the coded PS never wins.

Measured points (c = {1e3 * REGIME_CHUNK:g} ms, MLP 64-32-10, {REGIME_ITERS} iterations per run; the prediction
adds each run's measured real computation and step to the order statistics; ± is one s.e. of the ratio):

| p | D/c | measured | predicted (with compute) | map (compute 0) |
|---|---|---|---|---|
{points}

{int(within.sum())} of {len(frame)} measured ratios lie within 2 s.e. + 10 % of their prediction.
""")
    return exact, frame


def _load():
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _bytes_check(result):
    up = result.network["iterations"]["up"]
    counted = (sum(r["bytes_received"] + r["header_bytes"] for r in result.iterations)
               + result.shutdown["bytes_received"] + 24 * (result.shutdown["messages"] + result.config["n"]))
    carried = up["bytes"] - PACKET_HEADERS * up["packets"]
    exact = all(r["used_bytes"] == result.message_bytes * len(r["used"]) for r in result.iterations)
    return exact, carried / counted, up["drops"]


def _first_receipt(result):
    """Median over the iterations of the first receipt of θ_t, in units of the fair fluid's B."""
    B = link_seconds(result.config["n"] * (4 * result.d + CONTROL_BYTES), result.network["downlink"])
    return float(np.median([min(got for _, got, _, _ in r["answers"]) for r in result.iterations if r["answers"]])) / B


def _first_receipt_random(n, d, draws=20_000):
    """The first receipt in units of B when the broadcast's shares are uniform on the simplex (expected)."""
    rng = np.random.default_rng(SEED)
    B = link_seconds(n * (4 * d + CONTROL_BYTES), 10**8)
    return float(np.mean([receipt_times(rng.exponential(1.0, n), 4 * d + CONTROL_BYTES, 10**8).min()
                          for _ in range(draws)])) / B


def bandwidth_experiment():
    ok, reason = available()
    if not ok:
        record("runtime-bandwidth", f"""## Distributed runtime over a shaped link (`benchmarks/runtime.py`)

Not measured on this machine: {reason}.
""")
        return None
    load_before = _load()
    installed = agc.data.fashion_mnist_installed()
    dataset = "fashion-mnist" if installed else "digits"
    options = {"train_size": LINK_TRAIN} if installed else {}
    A = agc.assignments.cyclic(N, N, LINK_LOAD)
    chosen = {f"polynomial ℓ = {ell}": (agc.encodings.polynomial(A, ell), S) for ell in (1, 2, 4)}
    chosen["wait-for-all"] = (agc.encodings.stacking(agc.assignments.cyclic(N, N, 1), 1), 0)
    rows = []
    for up, down in LINKS:
        for name, (code, s) in chosen.items():
            began = time.perf_counter()
            result = run(code, iters=LINK_ITERS, s=s, delay=LINK_DELAY, seed=SEED, dataset=dataset,
                         dataset_options=options, bandwidth=up, downlink=down)
            row = measured_and_predicted(result, name, target=TARGET_FASHION, shares="random")
            fair = measured_and_predicted(result, name, shares="fair")
            row.update({f"fair_{kind}": fair[f"predicted_{kind}"] for kind in ("broadcast", "gather", "seconds")})
            exact, ratio, drops = _bytes_check(result)
            row.update(link=f"{up} up / {down} down", exact_bytes=exact, carried_over_counted=ratio, drops=drops,
                       d=result.d, first_receipt=_first_receipt(result), wall=time.perf_counter() - began)
            rows.append(row)
            print(f"{row['link']:26s} {name:18s} iteration {1e3 * row['seconds']:6.1f} ms (predicted "
                  f"{1e3 * row['predicted_seconds']:6.1f}, fair {1e3 * row['fair_seconds']:6.1f}), broadcast "
                  f"{1e3 * row['broadcast']:6.1f} ({1e3 * row['predicted_broadcast']:6.1f}), gather "
                  f"{1e3 * row['gather']:6.1f} ({1e3 * row['predicted_gather']:6.1f}), {row['wall']:.0f} s")
    frame = pd.DataFrame(rows)
    frame["predicted_given"] = frame["gather_given_sends"]
    for kind in ("seconds", "broadcast", "gather"):
        frame[f"{kind} err %"] = 100 * (frame[kind] / frame[f"predicted_{kind}"] - 1)
        frame[f"fair {kind} err %"] = 100 * (frame[kind] / frame[f"fair_{kind}"] - 1)
    frame["given err %"] = 100 * (frame["gather"] / frame["predicted_given"] - 1)
    for column in ("seconds", "predicted_seconds", "fair_seconds", "broadcast", "predicted_broadcast",
                   "fair_broadcast", "gather", "predicted_gather", "fair_gather", "predicted_given"):
        frame[column + " ms"] = 1e3 * frame[column]
    columns = ["link", "strategy", "message_bytes", "broadcast ms", "predicted_broadcast ms", "broadcast err %",
               "fair_broadcast ms", "gather ms", "predicted_gather ms", "gather err %", "fair_gather ms",
               "predicted_given ms", "seconds ms", "predicted_seconds ms", "seconds err %", "fair_seconds ms",
               "fair seconds err %", "seconds_to_target", "carried_over_counted"]
    table = _table(frame, columns, {**{c: ".1f" for c in columns if c.endswith(" ms")},
                                    **{c: "+.1f" for c in columns if c.endswith(" err %")},
                                    "seconds_to_target": ".2f", "carried_over_counted": ".4f"})
    at = frame.set_index(["link", "strategy"])
    main_link = f"{LINKS[0][0]} up / {LINKS[0][1]} down"
    gather_ratio = at.loc[(main_link, "polynomial ℓ = 2"), "gather"] / at.loc[(main_link, "polynomial ℓ = 1"), "gather"]
    iteration_ratio = (at.loc[(main_link, "polynomial ℓ = 2"), "seconds"]
                       / at.loc[(main_link, "polynomial ℓ = 1"), "seconds"])
    broadcast = at.loc[(main_link, "polynomial ℓ = 4"), "broadcast"]
    share = broadcast / at.loc[(main_link, "polynomial ℓ = 4"), "seconds"]
    ratios = "\n".join(
        f"| {link} | {at.loc[(link, 'polynomial ℓ = 2'), 'gather'] / at.loc[(link, 'polynomial ℓ = 1'), 'gather']:.2f} | "
        f"{at.loc[(link, 'polynomial ℓ = 4'), 'gather'] / at.loc[(link, 'polynomial ℓ = 1'), 'gather']:.2f} | "
        f"{at.loc[(link, 'polynomial ℓ = 2'), 'seconds'] / at.loc[(link, 'polynomial ℓ = 1'), 'seconds']:.2f} | "
        f"{at.loc[(link, 'polynomial ℓ = 4'), 'seconds'] / at.loc[(link, 'polynomial ℓ = 1'), 'seconds']:.2f} | "
        f"{at.loc[(link, 'polynomial ℓ = 1'), 'seconds'] / at.loc[(link, 'wait-for-all'), 'seconds']:.2f} |"
        for link in dict.fromkeys(frame["link"]))
    errors = {kind: frame[f"{kind} err %"] for kind in ("seconds", "broadcast", "gather", "given")}
    errors.update({f"fair {kind}": frame[f"fair {kind} err %"] for kind in ("seconds", "broadcast", "gather")})
    inside = {kind: int((values.abs() <= 15).sum()) for kind, values in errors.items()}
    worst = {kind: float(values.abs().max()) for kind, values in errors.items()}
    symmetric = frame[[not link.endswith("1gbit down") for link in frame["link"]]]
    first = {"measured": float(symmetric["first_receipt"].median()), "fair": 1.0,
             "random": _first_receipt_random(N, int(frame["d"].iloc[0]))}
    failing = []
    for _, row in frame.iterrows():
        off = [f"{kind} {1e3 * row[kind]:.1f} ms against {1e3 * row['predicted_' + kind]:.1f} ms "
               f"({row[kind + ' err %']:+.0f} %)" for kind in ("broadcast", "gather", "seconds")
               if abs(row[kind + " err %"]) > 15]
        if off:
            failing.append(f"- {row['link']}, {row['strategy']}: " + ", ".join(off))
    # is each measured time between the two models' predictions?
    between = {kind: int(((frame[kind] >= np.minimum(frame[f"predicted_{kind}"], frame[f"fair_{kind}"]))
                          & (frame[kind] <= np.maximum(frame[f"predicted_{kind}"], frame[f"fair_{kind}"]))).sum())
               for kind in ("gather", "seconds")}
    sym_between = {kind: int(((symmetric[kind] >= symmetric[f"predicted_{kind}"])
                              & (symmetric[kind] <= symmetric[f"fair_{kind}"])).sum()) for kind in ("gather", "seconds")}
    late = frame["broadcast"] / frame["fair_broadcast"]  # the last used receipt over the link's B
    d = int(frame["d"].iloc[0])
    record("runtime-bandwidth", f"""## Distributed runtime over a shaped link (`benchmarks/runtime.py`)

PS and workers in two network namespaces joined by a veth pair shaped with tbf (`agc run --bandwidth RATE
--downlink RATE`): the workers' messages share the PS's incoming link, the broadcast of θ_t its outgoing
link. MLP 784-128-10 (d = {d}; {4 * d} bytes per float32 message at ℓ = 1) on {dataset}
({LINK_TRAIN if installed else "all"} training images, lr {agc.training.default_lr("sgd", dataset)}), n = {N}, the
cyclic assignment of load {LINK_LOAD} for every coded strategy (same compute), s = {S} (the PS keeps the first
{N - S}), delay `{LINK_DELAY}`; the polynomial code is exact for ℓ ∈ {{1, 2, 4}} at this load. Wait-for-all is
uncoded (load 1, waits for all {N}). {LINK_ITERS} iterations per run, seed {SEED}. Machine: {machine()}.
Command: `.venv/bin/python benchmarks/runtime.py`.

Times per iteration, means: *broadcast* until the last used worker has θ_t, *gather* from then to the last used
message, *seconds* the whole iteration (to the end of the optimiser step). Prediction (`agc.runtime.predict`,
`shares="random"`): the PS's n messages of 4d + 16 bytes share the downlink's TCP payload rate (1448/1514 of the
configured rate) in shares drawn uniformly on the simplex every iteration, each worker receiving θ_t when its
message is through (generalised processor sharing, `receipt_times`; the last at B = n·(4d + 16)·8/R↓ whatever the
shares); each worker then starts its upload after its real computation (measured from the run) and its delay;
gather the r-th completion of the workers' messages in a fluid (fair-share) queue on the uplink, broadcast and
gather counted as the PS counts them (to the last used worker's receipt), expectation over the straggler
patterns and the shares; plus the run's measured decoding and step. "fair_": the same with the fair fluid
(`shares="fair"`: every worker receives θ_t at B). "predicted_given": the uplink model fed with the times the
workers really sent (`agc.runtime.experiment.gather_given_sends`): the link's part of the model alone.
"carried_over_counted": the tbf counter of the uplink less 66 header bytes per packet, over the payload and
header bytes the PS counted (1 = exact). "seconds_to_target": wall-clock time of the iterations until the training
loss first reaches {TARGET_FASHION} (the codes are exact, so every strategy follows the same loss per iteration).
Load average of the machine (shared with other jobs) before and after: {load_before} / {_load()}.

{table}

Ratios of means:

| link | gather ℓ=2 / ℓ=1 | gather ℓ=4 / ℓ=1 | iteration ℓ=2 / ℓ=1 | iteration ℓ=4 / ℓ=1 | iteration ℓ=1 / wait-for-all |
|---|---|---|---|---|---|
{ratios}

**At 100 Mbit/s the ℓ = 2 gather takes {gather_ratio:.2f}x the ℓ = 1 gather** (target ≤ 0.6:
{"met" if gather_ratio <= 0.6 else "NOT met"}); the whole iteration {iteration_ratio:.2f}x. The broadcast of d numbers
does not shrink with ℓ: on the symmetric 100 Mbit/s link it costs {1e3 * broadcast:.0f} ms, {100 * share:.0f} % of the
ℓ = 4 iteration, which bounds what a smaller message can save; with a 1 Gbit/s downlink the iteration ratios
approach the gather ratios. Every used message carried exactly 4·⌈d/ℓ⌉ payload bytes: {bool(frame["exact_bytes"].all())};
tbf drops: {int(frame["drops"].sum())}; the bytes the links carried match the PS's count within
{100 * (frame["carried_over_counted"].max() - 1):.2f} % (gloo's framing).

**Predictions.** Measured within 15 % of the prediction with random shares: iterations {inside["seconds"]} of
{len(frame)}, broadcasts {inside["broadcast"]} of {len(frame)}, a-priori gathers {inside["gather"]} of {len(frame)}
(largest deviations {worst["seconds"]:.0f} %, {worst["broadcast"]:.0f} %, {worst["gather"]:.0f} %); with the fair
fluid: iterations {inside["fair seconds"]}, broadcasts {inside["fair broadcast"]}, a-priori gathers
{inside["fair gather"]} of {len(frame)} (largest deviations {worst["fair seconds"]:.0f} %, {worst["fair broadcast"]:.0f} %,
{worst["fair gather"]:.0f} %); gathers given the send times {inside["given"]} of {len(frame)} (largest deviation
{worst["given"]:.0f} %). The uplink model (bytes over the payload rate, fair sharing) predicts the gather once it
knows when each worker sent; what the a-priori models must guess is when each worker receives θ_t. TCP does not
share the PS's outgoing link equally: on the symmetric links the first receipt came at {first["measured"]:.2f} B
(median over the iterations of every run), so the first workers compute and upload while the broadcast still runs.
The fair fluid puts every receipt at B and misses that overlap; shares uniform on the simplex put the first
receipt at {first["random"]:.2f} B, more spread than the link shows. Neither is a model of TCP's windows. On the
symmetric links the measured time lies between the two predictions (random shares below, fair fluid above) for
{sym_between["gather"]} of {len(symmetric)} gathers and {sym_between["seconds"]} of {len(symmetric)} iterations (on all
links: {between["gather"]} and {between["seconds"]} of {len(frame)}). The broadcast, counted to the last used worker's
receipt, took {late.min():.2f}–{late.max():.2f} × B, the time the link needs for all n messages; no model of the
link can put a receipt after B, so what exceeds it (the host: {N + 1} processes on {os.cpu_count()} cores, a worker that
does not get a core reads θ_t late) is outside this model. The target of the issue (every measured time within
15 % of its prediction) is {"met" if not failing else "not met"} with random shares{":" if failing else "."}

{chr(10).join(failing)}
""")
    return frame


def float32_table():
    rows = []
    for n in (8, 12, 16, 24, 32, 40, 48):
        A = agc.assignments.cyclic(n, n, S + ELL)
        codes = {"polynomial ℓ=2": agc.encodings.polynomial(A, ELL),
                 "polynomial ℓ=1": agc.encodings.polynomial(agc.assignments.cyclic(n, n, S + 1), 1),
                 "rdm ℓ=2": agc.encodings.rdm(A, ELL, seed=SEED), "block_split ℓ=2": agc.encodings.block_split(A, ELL)}
        row = {"n": n, **{name: float32_error(code, S, seed=SEED).max for name, code in codes.items()}}
        for s in (4, 6):  # the polynomial code's loss grows with the stragglers it tolerates
            if s + ELL <= n:
                row[f"polynomial ℓ=2, s={s}"] = float32_error(
                    agc.encodings.polynomial(agc.assignments.cyclic(n, n, s + ELL), ELL), s, seed=SEED).max
        row["largest coefficient (polynomial ℓ=2)"] = float(np.abs(codes["polynomial ℓ=2"].B).max())
        rows.append(row)
    frame = pd.DataFrame(rows)
    names = [c for c in frame.columns if c != "n"]
    table = f"| n | {' | '.join(names)} |\n|---|" + "---|" * len(names) + "\n" + "\n".join(
        f"| {int(r['n'])} | " + " | ".join("" if pd.isna(r[c]) else f"{r[c]:.2g}" for c in names) + " |"
        for _, r in frame.iterrows())
    approximate = float(frame[["rdm ℓ=2", "block_split ℓ=2"]].max().max())
    growth = {s: float(frame[f"polynomial ℓ=2, s={s}"].max()) for s in (4, 6)}
    growth[S] = float(frame["polynomial ℓ=2"].max())
    over_n = float(frame["polynomial ℓ=2"].iloc[-1] / frame["polynomial ℓ=2"].iloc[0])
    flagged = {}
    for column in [c for c in names if c.startswith("polynomial ℓ=2")]:
        for n, e in zip(frame["n"], frame[column]):
            if not pd.isna(e) and e > FLOAT32_WARN:
                flagged.setdefault("refused" if e > FLOAT32_LIMIT else "warned", []).append(f"{column}, n = {int(n)}")
    record("runtime-float32", f"""## Distributed runtime: float32 on the wire (`benchmarks/runtime.py`)

Largest relative error of the decoded gradient caused by float32 messages (workers encode in float64 and round
the message to float32; the PS decodes in float64), `agc.runtime.float32_error(code, s)`: Gaussian chunk
gradients, over the full set, the s adjacent stragglers at every position and 20 random sets of s, against
the float64 decoding of the same messages. Cyclic assignment, load s + ℓ, s = {S} unless the column says
otherwise; the polynomial code with its nodes spread by a stride (`agc.encodings.polynomial`).
Machine: {machine()}. Command: `.venv/bin/python benchmarks/runtime.py`.

{table}

The approximate codes lose nothing beyond float32's own rounding (at most {approximate:.1g}). The polynomial
code's loss grows with the number of stragglers it tolerates (largest over n: {growth[S]:.1g} at s = {S},
{growth[4]:.1g} at s = 4, {growth[6]:.1g} at s = 6) and hardly with n (n = {int(frame['n'].iloc[-1])} against
n = {int(frame['n'].iloc[0])} at s = {S}: {over_n:.2g}x). The runtime warns above {FLOAT32_WARN:g} and refuses above
{FLOAT32_LIMIT:g} unless `--float32-limit` is raised; here it would warn for {flagged.get('warned', 'none')} and
refuse {flagged.get('refused', 'none')}.
""")
    return frame


SECTIONS = {"runtime": fair_comparison, "runtime-regime": regime_map, "runtime-bandwidth": bandwidth_experiment,
            "runtime-float32": float32_table}


def main(names):
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"benchmarks/runtime.py: unknown sections {unknown}; valid: {list(SECTIONS)}")
    start = time.perf_counter()
    for name, section in SECTIONS.items():
        if not names or name in names:
            section()
    print(f"benchmarks/runtime.py: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
