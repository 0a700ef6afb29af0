"""Options shared by the verbs that fit models (fit, compare, decode): one name, one help."""

from __future__ import annotations


def add_subject_options(parser) -> None:
    """Add ``--dataset --root --subject --model --layer`` (one subject, one model).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The verb's parser.
    """
    parser.add_argument("--dataset", required=True, help="dataset name (e.g. nsd)")
    parser.add_argument("--root", required=True, metavar="DIR", help="dataset folder")
    parser.add_argument("--subject", type=int, required=True, help="subject number")
    parser.add_argument("--model", required=True, metavar="SPEC", help="model spec")
    parser.add_argument("--layer", default="embedding", help="layer (default: embedding)")


def add_model_options(parser, permutations: int | None = None) -> None:
    """Add ``--pooling --cv [--permutations] --device --backend --seed`` to a verb.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The verb's parser.
    permutations : int, optional
        Default number of permutations; ``None``: the verb has no permutation test.
    """
    parser.add_argument(
        "--pooling",
        default="auto",
        help="token/spatial pooling of layer outputs: auto, cls, mean, spatial, flatten, "
        "pca:<k>, srp:<k> (default: auto)",
    )
    parser.add_argument("--cv", type=int, default=5, help="folds for alpha selection (default: 5)")
    if permutations is not None:
        parser.add_argument(
            "--permutations",
            type=int,
            default=permutations,
            help=f"permutations of the test set per target for p values (default: {permutations})",
        )
    parser.add_argument(
        "--device", default="auto", help="torch device for features: auto, cpu, cuda, cuda:1, mps"
    )
    parser.add_argument(
        "--backend",
        default="numpy",
        choices=["numpy", "torch", "torch_cuda"],
        help="where the ridge runs (torch_cuda: on the GPU; default: numpy)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of random weights, reductions and permutations"
    )
