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

    def __init__(self, audio: AudioBank, model, text_encoder, tokenizer, show_progress: bool = True):
        self.clips = audio.clips
        codec = model.codec.eval()
        self.tokens = []
        with torch.inference_mode():
            for wave in tqdm(audio.audio, desc="encoding latents", disable=not show_progress, leave=False):
                self.tokens.append(model.tokens_from_latents(codec.encode(torch.from_numpy(wave)[None]))[0].clone())
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
        self.max_tokens = model.cfg.max_tokens
        # A model with MAR's inputs reads a caption prefix of any length (its null caption is one
        # position), so batches carry only as many caption positions as their longest caption.
        self.trim_text = model.cfg.backbone.mar_inputs
        lengths = np.array([min(len(t), self.max_tokens) for t in self.tokens])
        self.by_length = np.argsort(lengths, kind="stable")  # clip indices, shortest first
        self.length_rank = np.argsort(self.by_length, kind="stable")

    def batch(self, rng: np.random.Generator, batch: int, min_tokens: int = 4, category_share: float = 0.0,
              buckets: bool = False) -> dict:
        """Random clips cropped or silence-padded to one length N, with one random caption each.

        Without `buckets` N is the length of the batch's first clip (capped at the model maximum) and
        the others are drawn from the whole corpus; with them, the others are drawn among the 4 x batch
        clips nearest the first in length and N is the longest of them, so little of a batch is padding.
        With `category_share` > 0, that share of clips takes a caption of any clip of its category:
        the model cannot tie a caption to its own few clips, only to the category's sound.
        """
        if buckets:
            first = int(rng.integers(0, len(self.tokens)))
            window = min(len(self.tokens), 4 * batch)
            low = int(np.clip(self.length_rank[first] - window // 2, 0, len(self.tokens) - window))
            indices = np.concatenate([[first], self.by_length[low + rng.integers(0, window, size=batch - 1)]])
            n = max(len(self.tokens[i]) for i in indices)
        else:
            indices = rng.integers(0, len(self.tokens), size=batch)
            n = len(self.tokens[indices[0]])
        n = int(np.clip(n, min(min_tokens, self.max_tokens), self.max_tokens))
        tokens = self.silence.expand(batch, n, -1).clone()
        valid = torch.zeros(batch, n)  # 1 where a token is the clip's own, 0 on silence padding
        caption_rows = []
        for row, index in enumerate(indices):
            clip_tokens = self.tokens[index]
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
        rows = torch.tensor(caption_rows)
        text, text_mask = self.text[rows].float(), self.text_mask[rows]
        if self.trim_text:
            length = max(1, int(text_mask.sum(1).max()))
            text, text_mask = text[:, :length], text_mask[:, :length]
        return {"tokens": tokens, "valid": valid, "text": text, "text_mask": text_mask}
