"""The test-metrics JSON is written by the main process only, as one whole document."""
import json
from types import SimpleNamespace

import selfpose3d_mm.engine.hooks.logger as logger_mod
from selfpose3d_mm.engine.hooks import MainProcessLoggerHook


def _runner(tmp_path, lines):
    processor = SimpleNamespace(
        get_log_after_epoch=lambda runner, n, mode, with_non_scalar: (
            {'MPJPE': 12.5, 'AP50': 90.0}, 'Epoch(test) MPJPE 12.5'))
    logger = SimpleNamespace(info=lines.append)
    return SimpleNamespace(log_processor=processor, logger=logger, log_dir=str(tmp_path),
                           test_dataloader=[0, 1, 2])


def test_only_the_main_process_writes_the_metrics(tmp_path, monkeypatch):
    hook = MainProcessLoggerHook()
    hook.json_log_path = 'run.json'
    lines = []
    monkeypatch.setattr(logger_mod, 'is_main_process', lambda: False)
    hook.after_test_epoch(_runner(tmp_path, lines))
    assert lines == ['Epoch(test) MPJPE 12.5']  # every rank still logs
    assert not (tmp_path / 'run.json').exists()
    monkeypatch.setattr(logger_mod, 'is_main_process', lambda: True)
    hook.after_test_epoch(_runner(tmp_path, lines))
    assert json.loads((tmp_path / 'run.json').read_text()) == {'MPJPE': 12.5, 'AP50': 90.0}
    assert [p.name for p in tmp_path.iterdir()] == ['run.json']  # no temporary left
