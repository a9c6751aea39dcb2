"""A hook for tests/test_engine/test_distributed.py: each rank of a distributed run writes
what it saw and what it ended with to ``out_dir/rank<r>.json``: the sample indices of its
training batches, the number of training iterations, a hash of every parameter after the
run and a hash of the initial parameters."""
import hashlib
import json
import os.path as osp

import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS


def _param_hash(model) -> str:
    h = hashlib.sha1()
    for name, p in sorted(model.named_parameters()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@HOOKS.register_module()
class RankStateProbe(Hook):
    priority = 'LOWEST'

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.indices, self.iters, self.initial = [], 0, None

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner):
        self.initial = _param_hash(self._model(runner))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iters += 1
        self.indices += [int(s.metainfo['sample_idx']) for s in data_batch['data_samples']]

    def after_run(self, runner):
        rank, world = get_dist_info()
        model = self._model(runner)
        doc = dict(rank=rank, world_size=world, iters=self.iters, indices=self.indices,
                   initial=self.initial, final=_param_hash(model),
                   ddp=is_model_wrapper(runner.model),
                   backend=torch.distributed.get_backend() if world > 1 else None)
        with open(osp.join(self.out_dir, f'rank{rank}.json'), 'w') as f:
            json.dump(doc, f)
