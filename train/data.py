"""In-memory training data: audio crops for the codec, latent tokens and text states for the MAR stages.

Every batch is a pure function of (seed, step, rank), so resuming at step s replays exactly the
batches an uninterrupted run would have seen: the data position is the step number.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from t2a_edge.core.audio import load_audio
from t2a_edge.core.errors import T2AError
from t2a_edge.core.model import lead_with_summary
from t2a_edge.train.manifest import Clip, read_manifest


def batch_rng(seed: int, step: int, rank: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, rank])


def batch_generator(seed: int, step: int, rank: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 1009 + rank) % (2**63))


def dropout_seed(seed: int, step: int, rank: int) -> int:
    """The global torch seed of a step, for what draws from it in the forward pass (dropout), so
    --resume continues exactly; a stream of its own, apart from the batch's."""
    return int(np.random.default_rng([seed, step, rank, 1]).integers(2**62))


class AudioBank:
    """All training clips decoded once into memory (16 kHz mono float32)."""

    def __init__(self, manifest: str, split: str = "train", show_progress: bool = True):
        self.clips: list[Clip] = read_manifest(manifest, split)
        self.audio = [load_audio(c.audio) for c in tqdm(self.clips, desc="loading audio", disable=not show_progress,
                                                         leave=False)]
        lengths = np.array([len(a) for a in self.audio], dtype=np.float64)
        if lengths.sum() == 0:
            raise T2AError(f"{manifest}: every clip in split '{split}' is empty")
        self.weights = lengths / lengths.sum()  # longer clips are drawn more often

    def crops(self, rng: np.random.Generator, batch: int, samples: int) -> torch.Tensor:
        """(batch, samples) random crops, zero-padded where a clip is shorter."""
        out = np.zeros((batch, samples), np.float32)
        for row, index in enumerate(rng.choice(len(self.audio), size=batch, p=self.weights)):
            audio = self.audio[index]
            if len(audio) > samples:
                start = rng.integers(0, len(audio) - samples + 1)
                out[row] = audio[start:start + samples]
            else:
                out[row, : len(audio)] = audio
        return torch.from_numpy(out)


class TokenBank:
    """Latent tokens of every clip (from the frozen codec) and text states of every caption."""

    summary = False  # whether batches lead with a summary position (the model's, set in __init__)

    def __init__(self, audio: AudioBank, model, text_encoder, tokenizer, show_progress: bool = True,
                 shift_views: int = 1):
        """`shift_views` > 1 also encodes every clip that many times less one, each starting a further
        1/shift_views of a token later: the codec's frames fall on other samples, so the same sound gives
        other token sequences (a half-token shift moves tokens by ~0.7 of their spread)."""
        self.clips = audio.clips
        codec = model.codec.eval()
        self.tokens, self.shifted = [], []  # shifted[i]: clip i's other views (none by default)
        offsets = [view * model.cfg.token_samples // shift_views for view in range(1, shift_views)]
        with torch.inference_mode():
            for wave in tqdm(audio.audio, desc="encoding latents", disable=not show_progress, leave=False):
                views = [model.tokens_from_latents(codec.encode(torch.from_numpy(wave[offset:])[None]))[0].clone()
                         for offset in [0] + offsets]
                self.tokens.append(views[0])
                self.shifted.append(views[1:])
            # Clips shorter than a batch's length are padded with the tokens of silence.
            silence = codec.encode(torch.zeros(1, model.cfg.token_samples * 2))
            self.silence = model.tokens_from_latents(silence)[0, 0].clone()
            captions = sorted({c for clip in self.clips for c in clip.captions})
            self.caption_index = {c: i for i, c in enumerate(captions)}
            states, masks = [], []
            for start in tqdm(range(0, len(captions), 64), desc="encoding captions", disable=not show_progress,
                              leave=False):
                ids, mask = tokenizer(captions[start:start + 64])
                states.append(text_encoder(torch.from_numpy(ids), torch.from_numpy(mask)).half())
                masks.append(torch.from_numpy(mask).float())
            self.text = torch.cat(states)
            self.text_mask = torch.cat(masks)
        # Every caption of each category, for --category-captions.
        by_category: dict[str, set[str]] = {}
        for clip in self.clips:
            by_category.setdefault(clip.category, set()).update(clip.captions)
        self.category_captions = {k: sorted(v) for k, v in by_category.items()}
        self.summary = model.cfg.summary_token
        self.max_tokens = model.cfg.max_tokens - self.summary  # latent tokens, without the summary position

    draws = None  # (captions, draws, max_tokens, token_dim): a teacher's draws per caption (train.teacher_draws)

    def batch(self, rng: np.random.Generator, batch: int, min_tokens: int = 4, category_share: float = 0.0,
              draw_share: float = 0.0) -> dict:
        """Random clips cropped or silence-padded to one length N, with one random caption each.

        N is the length of the batch's first clip (capped at the model maximum), so lengths follow
        the corpus: short sounds train at short lengths and no compute goes to needless padding.
        With `category_share` > 0, that share of clips takes a caption of any clip of its category:
        the model cannot tie a caption to its own few clips, only to the category's sound. A model
        with a summary position gets it first (core.model.lead_with_summary): N + 1 positions.
        With `draw_share` > 0, that share of examples targets one of the teacher's draws for its
        caption (its first N tokens) instead of the clip's tokens.
        """
        indices = rng.integers(0, len(self.tokens), size=batch)
        n = int(np.clip(len(self.tokens[indices[0]]), min(min_tokens, self.max_tokens), self.max_tokens))
        tokens = self.silence.expand(batch, n, -1).clone()
        valid = torch.zeros(batch, n)  # 1 where a token is the clip's own, 0 on silence padding
        caption_rows = []
        for row, index in enumerate(indices):
            clip_tokens = self.tokens[index]
            if self.shifted[index]:  # no draw with one view: the old stream stays
                view = int(rng.integers(0, 1 + len(self.shifted[index])))
                clip_tokens = self.shifted[index][view - 1] if view else clip_tokens
            if len(clip_tokens) > n:
                start = int(rng.integers(0, len(clip_tokens) - n + 1))
                tokens[row] = clip_tokens[start:start + n]
                valid[row] = 1.0
            else:
                tokens[row, : len(clip_tokens)] = clip_tokens
                valid[row, : len(clip_tokens)] = 1.0
            captions = self.clips[index].captions
            if category_share and rng.random() < category_share:  # no draw at 0: the old stream stays
                captions = self.category_captions[self.clips[index].category]
            caption_rows.append(self.caption_index[captions[int(rng.integers(0, len(captions)))]])
            if draw_share and rng.random() < draw_share:  # no draw at 0: the old stream stays
                draws = self.draws[caption_rows[-1]]
                tokens[row] = draws[int(rng.integers(0, len(draws)))][:n].float()
                valid[row] = 1.0
        rows = torch.tensor(caption_rows)
        if self.summary:
            tokens, valid = lead_with_summary(tokens, valid)
        return {"tokens": tokens, "valid": valid, "text": self.text[rows].float(), "text_mask": self.text_mask[rows]}
