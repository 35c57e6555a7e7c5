"""Lab probe: how loud a model's clips come out, before the audio writer clips them to full scale.

    t2a-edge lab loudness [--model default] [--prompts 16] [--seconds 5] [--seed 0] [--spread F]
        [--smooth MS]

Generates one paraphrased prompt for each of the first N categories (in name order; prompts written
from the category names, apps/evaluation/paraphrases.py) as one batch on the torch backend at the
model's defaults, and prints the share of raw samples below -60 dBFS, the median clip's peak
relative to full scale, and the share of samples the 16-bit writer clips (|x| > 1).
"""

from __future__ import annotations

import argparse

import numpy as np

from t2a_edge.apps.evaluation.paraphrases import PARAPHRASES, paraphrase


def loudness(clips: list[np.ndarray]) -> dict[str, float]:
    """Quiet share, median peak (dB re full scale) and clipped share of raw float clips."""
    samples = np.concatenate(clips)
    peaks_db = [20 * np.log10(max(float(np.abs(c).max()), 1e-9)) for c in clips]
    return {"quiet_share": float(np.mean(np.abs(samples) < 1e-3)),  # -60 dBFS
            "median_peak_db": float(np.median(peaks_db)),
            "clipped_share": float(np.mean(np.abs(samples) > 1.0))}


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    from t2a_edge import TextToAudio

    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spread", type=float, default=None, help="latent spread [model default]")
    parser.add_argument("--smooth", type=float, default=None, help="loudness smoothing, ms [model default]")
    args = parser.parse_args(argv)
    prompts = [paraphrase(category, 0) for category in sorted(PARAPHRASES)[:args.prompts]]
    tta = TextToAudio.load(args.model, backend="torch")
    audios = tta.generate(prompts, seconds=args.seconds, seed=args.seed, spread=args.spread, smooth=args.smooth)
    clips = [audio.samples for audio in audios]
    figures = loudness(clips)
    print(f"{args.model}: {len(clips)} clips of {args.seconds:g} s, seed {args.seed}, spread "
          f"{audios[0].info['spread']:g}, smooth {audios[0].info['smooth']:g} ms: "
          f"{100 * figures['quiet_share']:.0f}% of samples below -60 dBFS, median peak "
          f"{figures['median_peak_db']:+.1f} dB re full scale, {100 * figures['clipped_share']:.1f}% clipped")


if __name__ == "__main__":
    main()
