r"""Decode brain responses into a model's embedding space and identify the seen images.

dataset -> one ridge decoder per ROI (and one on all loaded voxels) from responses
to the model embedding of each image (--target image) or to the text embedding of
its captions (--target caption, e.g. a sentence model) -> on the held-out images:
Pearson r per embedding dimension, top-1/top-5 identification among the test
images, 2-way identification, each with its chance level. EEG datasets are decoded
over time (every time point, and the whole epoch; decoding.parquet gains `time`).
When a caption bank in the same space exists (an open_clip model's "embedding",
or --target caption), the nearest captions of each decoded embedding are retrieved
and scored against the images' own captions. Writes RUN/decoding.parquet,
RUN/retrieved_captions.parquet, RUN/decoded_embeddings.npz and RUN/run.json.

example:
  brainalign decode --dataset nsd --root sample_nsd --subject 1 \
      --model torch:brainalign.data.sample:SampleNet@0 --layer layer6 \
      --rois FFA-1,PPA,V1v --out run_decode
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    """Add this verb's arguments (those of :class:`brainalign.runs.DecodeSpec`)."""
    from brainalign.runs import DecodeSpec

    DecodeSpec.add_arguments(parser)
    from brainalign.cli import add_out_argument

    add_out_argument(parser)


def run(args) -> int:
    """Decode, write the run directory and print the metrics per ROI."""
    from brainalign.runs import DecodeSpec, run_decode

    result = run_decode(
        DecodeSpec.from_args(args), args.out, progress=not args.quiet, overwrite=args.overwrite
    )
    table = result["decoding"]
    if "time" in table:  # EEG: the peak of each metric over time, and the whole epoch
        _print_time_resolved(table)
        print(f"run directory: {args.out}")
        return 0
    print(_with_chance(table).to_string(float_format=lambda v: f"{v:.3f}", na_rep=""))
    captions = result["captions"]
    if captions is not None:
        first = captions[captions["rank"] == 1].head(3)
        for row in first.itertuples():
            print(f"image {row.stimulus_id}: decoded {row.caption!r} (seen: {row.true_caption!r})")
    print(f"run directory: {args.out}")
    return 0


def _with_chance(table):
    """Metrics per ROI, with a ``(chance)`` row, or a chance column per ROI where it varies.

    The caption-retrieval chance comes from each decoder's own predictions (a null
    of mismatched pairs), so it differs between ROIs.
    """
    wide = table.pivot(index="roi", columns="metric", values="value")
    chance = table.pivot(index="roi", columns="metric", values="chance")
    varies = [m for m in chance.columns if chance[m].nunique() > 1]
    wide.loc["(chance)"] = chance.iloc[0].where(~chance.columns.isin(varies))
    for metric in varies:
        wide.insert(wide.columns.get_loc(metric) + 1, f"{metric} (chance)", chance[metric])
    return wide


def _print_time_resolved(table) -> None:
    """Print each metric's decoding peak above its chance band (one rule with the report)."""
    import math

    from brainalign.encoding import decoding_peaks

    timed = table[table["scope"] == "time"]
    epoch = table[table["scope"] == "epoch"].set_index("metric")["value"]
    several = "roi" in timed and timed["roi"].nunique() > 1
    for row in decoding_peaks(timed, ["roi", "metric"] if several else ["metric"]).itertuples():
        name = f"{row.roi} {row.metric}" if several else row.metric
        band = "" if math.isnan(row.band) else f", 95 % family-wise band {row.band:.3f}"
        if math.isnan(row.time):
            peak = "no time window above the chance band"
        else:
            peak = f"peak {row.value:.3f} at {row.time * 1000:.0f} ms"
        whole = f"whole epoch {epoch.get(row.metric, float('nan')):.3f}"
        print(f"{name:>9}: {peak} (chance {row.chance:.3f}{band}); {whole}")
