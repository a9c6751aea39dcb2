"""Take the backbone out of a pretext checkpoint (SyncFlipNet, or any model whose ResNet
sits under ``backbone.``) as a small weights-only file the 2D networks start from.

    python tools/extract_backbone.py PRETEXT_CKPT OUT [--prefix backbone.]
        [--strip | --into PREFIX [PREFIX ...]]

What OUT holds (``state_dict``, tensors only: torch's weights-only loader reads it):

* default: the backbone's weights under ``backbone.`` — for mmengine's ``Pretrained``
  init: ``backbone=dict(type='ResNet', depth=18, init_cfg=dict(type='Pretrained',
  checkpoint=OUT, prefix='backbone.'))``, and ``SoftAttentionNet(...,
  init_cfg=dict(type='Pretrained', checkpoint=OUT))`` (its own ResNet is ``backbone``);
* ``--strip``: the bare ResNet keys (``conv1.weight``, ...): ``Pretrained`` without
  ``prefix`` on the ResNet itself;
* ``--into P1 P2 ...``: the backbone copied under each prefix, a partial checkpoint of a
  whole model for ``load_from`` (mmengine loads it non-strictly): for the image-path
  SelfPose3D, ``--into backbone. objective.attention_net.backbone.`` (the 2D heatmap
  net's and the attention net's ResNets).

configs/pretext/selfpose3d_images_from_sync.py shows the init_cfg way; docs/pretext.md.
"""
import argparse

import torch

from selfpose3d_mm.utils.io import atomic_path
from selfpose3d_mm.utils.safe_load import load_checkpoint_file


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Extract the backbone of a pretext checkpoint')
    p.add_argument('checkpoint', help='pretext checkpoint (tools/train.py output)')
    p.add_argument('out', help='backbone checkpoint to write')
    p.add_argument('--prefix', default='backbone.',
                   help='prefix of the backbone in the pretext model (default backbone.)')
    mode = p.add_mutually_exclusive_group()
    mode.add_argument('--strip', action='store_true',
                      help='write bare backbone keys (no prefix)')
    mode.add_argument('--into', nargs='+', metavar='PREFIX',
                      help='write the backbone under each of these prefixes (load_from)')
    return p.parse_args(argv)


def extract(state: dict, prefix: str = 'backbone.') -> dict:
    """The entries of ``state`` under ``prefix``, with the prefix removed."""
    out = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not out:
        heads = sorted({k.split('.', 1)[0] for k in state})
        raise SystemExit(f'tools/extract_backbone.py: no weight under {prefix!r} (the '
                         f'checkpoint has {heads}): set --prefix')
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    ckpt = load_checkpoint_file(args.checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    bare = {k: v.detach().clone() for k, v in extract(state, args.prefix).items()
            if torch.is_tensor(v)}
    if args.strip:
        targets = ['']
    elif args.into:
        targets = [p if p.endswith('.') else p + '.' for p in args.into]
    else:
        targets = ['backbone.']
    out = {f'{t}{k}': v for t in targets for k, v in bare.items()}
    meta = dict(source=args.checkpoint, source_prefix=args.prefix, prefixes=targets,
                iter=(ckpt.get('meta') or {}).get('iter') if isinstance(ckpt, dict) else None)
    with atomic_path(args.out) as tmp:
        torch.save(dict(state_dict=out, meta=meta), tmp)
    n = sum(v.numel() for v in bare.values())
    print(f'{args.out}: {len(bare)} tensors ({n} values) of {args.prefix!r} under '
          f'{targets}')
    return dict(out=args.out, keys=sorted(out), prefixes=targets)


if __name__ == '__main__':
    main()
