"""mmengine's logger hook, with the test-metrics file written once, atomically."""
from __future__ import annotations

import os.path as osp
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.fileio import dump
from mmengine.hooks import LoggerHook
from mmpose.registry import HOOKS

from ...utils.io import atomic_path

__all__ = ['MainProcessLoggerHook']


@HOOKS.register_module()
class MainProcessLoggerHook(LoggerHook):
    """``LoggerHook`` whose ``after_test_epoch`` writes the metrics JSON on rank 0 only.

    mmengine 0.10's ``LoggerHook.after_test_epoch`` dumps the metrics on every rank into
    the same ``<log_dir>/<timestamp>.json``: in a distributed test the ranks race and the
    file can end up with two interleaved documents (seen on a 2-process gloo run). Every
    rank has the same (collected) metrics, so the main process writes them, through a
    temporary file renamed into place.
    """

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        tag, log_str = runner.log_processor.get_log_after_epoch(
            runner, len(runner.test_dataloader), 'test', with_non_scalar=True)
        runner.logger.info(log_str)
        if is_main_process():
            path = osp.join(runner.log_dir, self.json_log_path)
            with atomic_path(path) as tmp:
                dump(self._process_tags(tag), tmp, file_format='json')
