"""Lab probe: what the Griffin-Lim phase costs per clip, plain and fast, at a few iteration counts.

    t2a-edge lab phase-speed [--model default] [--backend torch] [--precision fp32]
        [--seconds 10] [--variants 4:0,2:0.99] [--rounds 30] [--smooth MS]

Generates one clip of the model on the backend (its default settings), keeps the tokens, then in
interleaved rounds runs the backend's decoder on them and times core/phase.py on its magnitudes
right after, for each ITERATIONS:MOMENTUM variant, so the phase is timed where a generation runs it
(a runtime's process, its heap and threads) and a drifting machine slows every variant alike.
Prints the median and interquartile range in ms, and each variant's time as a share of the first;
then the loudness smoothing that runs before the phase (core/envelope.py) at --smooth ms, timed the
same way (default: the model's own setting; 0 skips it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def parse_variants(text: str) -> list[tuple[int, float]]:
    """'4:0,2:0.99' -> [(4, 0.0), (2, 0.99)]."""
    variants = []
    for part in text.split(","):
        iterations, _, momentum = part.partition(":")
        variants.append((int(iterations), float(momentum or 0)))
    return variants


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    from t2a_edge import TextToAudio
    from t2a_edge.core.envelope import smooth_loudness, window_frames
    from t2a_edge.core.phase import PhaseRecovery

    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--precision", default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--variants", default="4:0,2:0.99,3:0.99")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--prompt", default="dog barking")
    parser.add_argument("--smooth", type=float, default=None, help="ms [default: the model's]")
    args = parser.parse_args(argv)
    tta = TextToAudio.load(args.model, backend=args.backend, precision=args.precision)
    smooth = tta.defaults["smooth"] if args.smooth is None else args.smooth
    tokens = []
    decode = tta.backend.decode
    tta.backend.decode = lambda batch: tokens.append(batch) or decode(batch)
    tta.generate(args.prompt, seconds=args.seconds, seed=0)
    codec = tta.backend.config.codec
    recoveries = {v: PhaseRecovery(codec.n_fft, codec.hop, *v) for v in parse_variants(args.variants)}
    times = {v: [] for v in recoveries}
    frames = window_frames(smooth, codec.hop / codec.sample_rate)
    smoothing = []
    for recovery in recoveries.values():
        recovery(decode(tokens[-1]))  # warm-up: start phase, window envelope, buffers
    for _ in range(args.rounds):
        for variant, recovery in recoveries.items():
            magnitude = decode(tokens[-1])
            start = time.perf_counter()
            recovery(magnitude)
            times[variant].append(time.perf_counter() - start)
        if frames > 1:
            magnitude = decode(tokens[-1])
            start = time.perf_counter()
            smooth_loudness(magnitude, frames)
            smoothing.append(time.perf_counter() - start)
    first = np.median(next(iter(times.values())))
    print(f"Griffin-Lim after the {tta.backend.name} decoder, {args.seconds:g} s, {args.rounds} interleaved rounds")
    print("iterations | momentum | median ms | IQR ms | share of the first")
    for (iterations, momentum), values in times.items():
        q1, median, q3 = np.percentile(np.array(values) * 1e3, [25, 50, 75])
        print(f"{iterations} | {momentum:g} | {median:.2f} | {q1:.2f}-{q3:.2f} | {median / 1e3 / first:.2f}")
    if smoothing:
        q1, median, q3 = np.percentile(np.array(smoothing) * 1e3, [25, 50, 75])
        print(f"loudness smoothing before the phase, {smooth:g} ms ({frames} frames): median {median:.2f} ms, "
              f"IQR {q1:.2f}-{q3:.2f}, {median / 1e3 / first:.2f} of the first variant")


if __name__ == "__main__":
    main()
