"""Generative image captioner: open_clip CoCa with a greedy decoder (no transformers needed)."""

from __future__ import annotations

import numpy as np

from brainalign._utils import check_positive_int
from brainalign.exceptions import ParameterError


class CocaCaptioner:
    """Caption images with an open_clip CoCa model (``images -> list of str``).

    open_clip's own ``CoCa.generate`` imports ``BeamSearchScorer`` from
    transformers, which transformers 5 removed; this captioner decodes greedily
    with the model's own text decoder instead, so it runs wherever open_clip does.
    A CoCa decoder cross-attends to image tokens, not to a single pooled
    embedding, so it captions images (LaVCa's top images); BrainSCUBA's captioner
    is any callable ``embeddings -> list of str`` (e.g. a ClipCap-style model).

    Parameters
    ----------
    model_name : str
        open_clip CoCa config (``"coca_ViT-B-32"``, or a registered tiny one).
    pretrained : str, optional
        Weights tag or checkpoint path (None: random weights, seeded).
    seq_len : int
        Maximum generated tokens.
    batch_size : int
        Images per forward pass.
    device : str
        Torch device.
    seed : int
        Seed of random weights.
    """

    def __init__(
        self, model_name, pretrained=None, seq_len=20, batch_size=16, device="cpu", seed=0
    ):
        import open_clip
        import torch

        if not str(model_name).lower().startswith("coca") and "coca" not in str(model_name):
            raise ParameterError(
                f"Invalid value for 'model_name': expected an open_clip CoCa config; "
                f"got {model_name!r}."
            )
        self.seq_len = check_positive_int("seq_len", seq_len)
        self.batch_size = check_positive_int("batch_size", batch_size)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model, _, self.preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained, device=device
            )
        if not hasattr(model, "text_decoder"):
            raise ParameterError(
                f"Invalid value for 'model_name': {model_name!r} has no text decoder (not CoCa)."
            )
        self.model = model.eval()
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.device = device

    def __call__(self, images) -> list[str]:
        """Caption images (uint8 arrays ``(H, W, 3)`` or PIL images)."""
        import torch
        from PIL import Image

        out = []
        for start in range(0, len(images), self.batch_size):
            batch = [
                img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, np.uint8))
                for img in images[start : start + self.batch_size]
            ]
            x = torch.stack([self.preprocess(img) for img in batch]).to(self.device)
            with torch.no_grad():
                out += [self._decode(t) for t in self._greedy(x)]
        return out

    def _greedy(self, x):
        import torch

        sot = self.tokenizer.sot_token_id
        eot = self.tokenizer.eot_token_id
        latent, embs = self.model._encode_image(x)
        tokens = torch.full((len(x), 1), sot, dtype=torch.long, device=x.device)
        done = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for _ in range(self.seq_len):
            logits = self.model(
                x, tokens, image_latent=latent, image_embs=embs, output_labels=False
            )["logits"]
            nxt = logits[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, eot), nxt)
            tokens = torch.cat([tokens, nxt[:, None]], 1)
            done |= nxt == eot
            if done.all():
                break
        return tokens.cpu().numpy()

    def _decode(self, tokens) -> str:
        import open_clip
        import torch

        eot = self.tokenizer.eot_token_id
        keep = [int(t) for t in tokens[1:]]
        keep = keep[: keep.index(eot)] if eot in keep else keep
        return open_clip.decode(torch.tensor(keep, dtype=torch.long)).strip()
