"""Turn a training checkpoint into a named model of the package (selfpose3d_mm/model_zoo).

    python tools/publish_model.py CHECKPOINT --name generalist
        [--command "python tools/train.py ..."] [--seed 0] [--train-s 1234]
        [--train-log work_dirs/x/train_stdout.log] [--out-dir selfpose3d_mm/model_zoo]

Keeps the network's weights only: the training objective's modules (the attention net,
which no prediction reads), the optimizer and the message hub are dropped, so the file is
small and loads with torch's weights-only unpickler. Writes ``<weights>`` and its JSON
card (how it was made, file size, SHA-256) atomically; the names come from
``selfpose3d_mm.model_zoo.PRETRAINED_MODELS``.
"""
import argparse
import datetime
import json
import os.path as osp
import platform

import torch

from selfpose3d_mm.model_zoo import PRETRAINED_MODELS, sha256_of
from selfpose3d_mm.utils.io import atomic_open, atomic_path
from selfpose3d_mm.utils.safe_load import load_checkpoint_file

TRAINING_ONLY = ('objective.', )  # state-dict prefixes no prediction reads


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Publish a checkpoint as a named model')
    p.add_argument('checkpoint')
    p.add_argument('--name', required=True, choices=sorted(PRETRAINED_MODELS))
    p.add_argument('--out-dir', default=osp.join(osp.dirname(osp.dirname(
        osp.abspath(__file__))), 'selfpose3d_mm', 'model_zoo'))
    p.add_argument('--command', default=None, help='the training command, for the card')
    p.add_argument('--seed', type=int, default=None)
    p.add_argument('--train-s', type=float, default=None, help='training wall time (s)')
    p.add_argument('--train-log', default=None, help='training log (path, for the card)')
    p.add_argument('--note', default=None, help='free text for the card')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    ckpt = load_checkpoint_file(args.checkpoint, map_location="cpu")
    state = ckpt.get('state_dict', ckpt)
    kept = {k: v for k, v in state.items() if not k.startswith(TRAINING_ONLY)}
    if not kept:
        raise SystemExit(f'tools/publish_model.py: {args.checkpoint} has no network weights')
    entry = PRETRAINED_MODELS[args.name]
    weights = osp.join(args.out_dir, entry['weights'])
    with atomic_path(weights) as tmp:
        torch.save(dict(state_dict=kept, meta=dict(name=args.name)), tmp)
    card = dict(
        name=args.name, config=f"configs/{entry['config']}", weights=entry['weights'],
        source_checkpoint=args.checkpoint, training_command=args.command, seed=args.seed,
        train_s=args.train_s, train_log=args.train_log, note=args.note,
        epoch=(ckpt.get('meta') or {}).get('epoch'),
        dropped_prefixes=list(TRAINING_ONLY),
        parameters=int(sum(v.numel() for v in kept.values())),
        size_bytes=osp.getsize(weights), sha256=sha256_of(weights),
        machine=dict(platform=platform.platform(), python=platform.python_version(),
                     torch=torch.__version__),
        published=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'))
    with atomic_open(osp.join(args.out_dir, entry['card'])) as f:
        json.dump(card, f, indent=2)
        f.write('\n')
    print(f'{weights}: {card["size_bytes"] / 1e6:.1f} MB, {card["parameters"]} parameters, '
          f'sha256 {card["sha256"][:12]}…')
    return card


if __name__ == '__main__':
    main()
