"""SampleNet, the fixed network whose layers drive the embedded sample, and the plan.

Random-initialised ViTs and ResNets have nearly interchangeable layers on simple
generated images (linear CKA 0.94-1.00), so a planted "ROI -> layer" truth built on
them cannot be recovered. SampleNet's layers are random projections with tanh at
gain 4 over mean-centred pooled images, which decorrelates them (linear CKA on
the sample's images: 0.82 layer2-layer4, 0.75 layer4-layer6, 0.60 layer2-layer6).
"""

from __future__ import annotations

import numpy as np

from brainalign.data.sample._images import GRID, UPSCALE

#: Spec of the model whose layers drive the sample (resolvable by the features layer).
SAMPLE_MODEL_SPEC = "torch:brainalign.data.sample:SampleNet@0"

#: Planted ROI -> (driving SampleNet layer or None, attribute words). ROIs listed in
#: the ctab files but absent here get no voxels; "RSC" has voxels and no signal.
PLANTED = {
    "V1v": ("layer2", ["top"]),
    "V1d": ("layer2", ["bottom"]),
    "V2v": ("layer2", ["left"]),
    "V2d": ("layer2", ["right"]),
    "V3v": ("layer4", ["striped"]),
    "V3d": ("layer4", ["checkered"]),
    "hV4": ("layer4", ["red"]),
    "EBA": ("layer4", ["three"]),
    "OFA": ("layer6", ["face"]),
    "FFA-1": ("layer6", ["face"]),
    "FFA-2": (None, ["face"]),
    "OPA": ("layer6", ["house"]),
    "PPA": ("layer6", ["house"]),
    "RSC": (None, []),
    "OWFA": (None, ["word"]),
    "VWFA-1": ("layer6", ["word"]),
}

#: Side of the pooled input grid (425 = 17 x 25).
INPUT_GRID = GRID // UPSCALE


def SampleNet(seed: int = 0, width: int = 256, depth: int = 6, gain: float = 4.0):  # noqa: N802
    """Build the sample's fixed, seeded network.

    Its ``preprocess`` average-pools uint8 images to 17 x 17, scales them to [0, 1]
    and centres each image on its mean; the network flattens that input and applies ``depth`` layers
    ``h_k = tanh(gain * h_{k-1} W_k)`` with Gaussian ``W_k / sqrt(fan_in)``. Modules
    ``layer1`` ... ``layer<depth>`` are the layers to extract; the output is the
    last layer.

    Parameters
    ----------
    seed : int
        Seed of the weights.
    width : int
        Units per layer.
    depth : int
        Number of layers.
    gain : float
        Gain inside the tanh (2-4 decorrelates the layers).

    Returns
    -------
    torch.nn.Module
        The network in eval mode.
    """
    import torch

    class _TanhProjection(torch.nn.Module):
        def __init__(self, weight, gain):
            super().__init__()
            self.register_buffer("weight", weight)
            self.gain = gain

        def forward(self, x):
            return torch.tanh(self.gain * (x @ self.weight))

    class _SampleNet(torch.nn.Module):
        """Random tanh projections over a 17 x 17 pooled image."""

        def __init__(self):
            super().__init__()
            gen = torch.Generator().manual_seed(int(seed))
            self.flatten = torch.nn.Flatten()
            fan_in = 3 * INPUT_GRID**2
            for k in range(1, depth + 1):
                w = torch.randn(fan_in, width, generator=gen) / fan_in**0.5
                self.add_module(f"layer{k}", _TanhProjection(w, gain))
                fan_in = width
            self.layer_names = [f"layer{k}" for k in range(1, depth + 1)]
            self.eval()

        @staticmethod
        def preprocess(images):
            """Map uint8 images ``(n, H, W, 3)`` to pooled input ``(n, 3, 17, 17)``."""
            return pool_images(np.asarray(images), INPUT_GRID)

        @staticmethod
        def preprocess_tensor(images):
            """Differentiable :meth:`preprocess` of float images ``(n, 3, H, W)`` in [0, 1]."""
            return pool_tensor(images, INPUT_GRID)

        def forward(self, x):
            return self.forward_layers(x)[self.layer_names[-1]]

        def forward_layers(self, x) -> dict:
            """Return every layer's output as a dict of name -> tensor."""
            out = {}
            h = self.flatten(x)
            for name in self.layer_names:
                h = getattr(self, name)(h)
                out[name] = h
            return out

    return _SampleNet()


def pool_images(images: np.ndarray, size: int):
    """Average-pool uint8 images ``(n, H, W, 3)`` to float ``(n, 3, size, size)``.

    A block mean when the image side is a multiple of ``size`` (NSD's 425 pixels
    are 17 x 25), adaptive average pooling otherwise; then scaled to [0, 1] and
    centred on each image's mean (brightness carries no layer structure).

    Parameters
    ----------
    images : ndarray of shape (n, H, W, 3), dtype uint8
        Images.
    size : int
        Side of the output grid.

    Returns
    -------
    torch.Tensor of shape (n, 3, size, size)
        Pooled, scaled images.
    """
    import torch

    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"Invalid shape for 'images': expected (n, height, width, 3); got {images.shape}."
        )
    n, h, w, _ = images.shape
    if h % size == 0 and w % size == 0:
        blocks = images.reshape(n, size, h // size, size, w // size, 3)
        pooled = torch.from_numpy(blocks.mean(axis=(2, 4), dtype=np.float32))
        pooled = pooled.permute(0, 3, 1, 2)
    else:
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
        pooled = torch.nn.functional.adaptive_avg_pool2d(x.to(torch.float32), size)
    pooled = pooled / 255.0
    return (pooled - pooled.mean(dim=(1, 2, 3), keepdim=True)).contiguous()


def pool_tensor(images, size: int):
    """Differentiable :func:`pool_images` of float images ``(n, 3, H, W)`` in [0, 1].

    Parameters
    ----------
    images : torch.Tensor of shape (n, 3, H, W)
        Images in [0, 1].
    size : int
        Side of the output grid.

    Returns
    -------
    torch.Tensor of shape (n, 3, size, size)
        Adaptive-average-pooled images, centred on each image's mean.
    """
    import torch

    pooled = torch.nn.functional.adaptive_avg_pool2d(images, size)
    return pooled - pooled.mean(dim=(1, 2, 3), keepdim=True)


def sample_layer_features(images, layers, seed: int = 0, batch_size: int = 64):
    """Compute SampleNet layer features of uint8 images, batch by batch.

    Parameters
    ----------
    images : sequence of ndarray, each (H, W, 3) uint8
        The images.
    layers : sequence of str
        Layer names (``"layer1"`` ...).
    seed : int
        SampleNet seed.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    dict of str -> ndarray of shape (n_images, width), float32
        Features per layer.
    """
    import torch

    net = SampleNet(seed)
    out = {name: [] for name in layers}
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = np.stack(images[start : start + batch_size])
            feats = net.forward_layers(net.preprocess(batch))
            for name in layers:
                out[name].append(feats[name].numpy())
    return {name: np.concatenate(v).astype(np.float32) for name, v in out.items()}


# -- the spatial variant --------------------------------------------------------------
#: Spec of the patch network whose token map drives the spatial sample.
SPATIAL_MODEL_SPEC = "torch:brainalign.data.sample:SamplePatchNet@0"
#: Layer of SamplePatchNet that drives the spatial sample (a 5 x 5 map of 64 channels).
SPATIAL_LAYER = "block"
#: Side of SamplePatchNet's token grid (each token covers 17 x 17 drawing pixels).
TOKEN_GRID = 5
#: Spatial variant: planted ROI -> (row, column) of the one token that drives it, or
#: None for ROIs driven by the mean over every token (no spatial structure). The
#: four object positions of the images (top, bottom, left, right) and the centre.
SPATIAL_RF = {
    "V1v": (1, 2),
    "V1d": (3, 2),
    "V2v": (2, 1),
    "V2d": (2, 3),
    "V3v": (2, 2),
    "V3d": (2, 2),
    "hV4": (1, 2),
    "EBA": (2, 2),
    "OFA": None,
    "FFA-1": None,
    "OPA": None,
    "PPA": None,
    "VWFA-1": None,
}


def SamplePatchNet(seed: int = 0, width: int = 64, gain: float = 2.0):  # noqa: N802
    """Build the spatial sample's fixed, seeded patch network (a 5 x 5 token map).

    Its ``preprocess`` average-pools uint8 images to 20 x 20 (centred on each
    image's mean, as :func:`SampleNet`); ``patch`` is a 4 x 4 convolution with stride
    4 (one token per 17 x 17 drawing pixels) and ``block`` a 1 x 1 convolution, each
    followed by ``tanh(gain * .)``, with seeded Gaussian weights. Both give maps
    ``(n, width, 5, 5)``; ``pooling="tokens"`` reads them as 25 tokens.

    Parameters
    ----------
    seed : int
        Seed of the weights.
    width : int
        Channels per token.
    gain : float
        Gain inside the tanh.

    Returns
    -------
    torch.nn.Module
        The network in eval mode.
    """
    import torch

    side = 4 * TOKEN_GRID

    class _Conv(torch.nn.Module):
        def __init__(self, weight, stride):
            super().__init__()
            self.register_buffer("weight", weight)
            self.stride = stride

        def forward(self, x):
            conv = torch.nn.functional.conv2d(x, self.weight, stride=self.stride)
            return torch.tanh(gain * conv)

    class _SamplePatchNet(torch.nn.Module):
        """Seeded random patch embedding and one 1 x 1 block over a 20 x 20 image."""

        def __init__(self):
            super().__init__()
            gen = torch.Generator().manual_seed(int(seed))
            w1 = torch.randn(width, 3, 4, 4, generator=gen) / 48**0.5
            w2 = torch.randn(width, width, 1, 1, generator=gen) / width**0.5
            self.patch = _Conv(w1, 4)
            self.block = _Conv(w2, 1)
            self.eval()

        @staticmethod
        def preprocess(images):
            """Map uint8 images ``(n, H, W, 3)`` to pooled input ``(n, 3, 20, 20)``."""
            return pool_images(np.asarray(images), side)

        @staticmethod
        def preprocess_tensor(images):
            """Differentiable :meth:`preprocess` of float images ``(n, 3, H, W)`` in [0, 1]."""
            return pool_tensor(images, side)

        def forward(self, x):
            return self.block(self.patch(x))

    return _SamplePatchNet()


def sample_tokens(images, seed: int = 0, batch_size: int = 64) -> np.ndarray:
    """Compute SamplePatchNet's ``block`` tokens of uint8 images.

    Parameters
    ----------
    images : sequence of ndarray, each (H, W, 3) uint8
        The images.
    seed : int
        SamplePatchNet seed.
    batch_size : int
        Images per forward pass.

    Returns
    -------
    ndarray of shape (n_images, 25, width), float32
        Tokens row by row over the 5 x 5 grid.
    """
    import torch

    net = SamplePatchNet(seed)
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            maps = net(net.preprocess(np.stack(images[start : start + batch_size])))
            out.append(maps.flatten(2).transpose(1, 2).numpy())
    return np.concatenate(out).astype(np.float32)
