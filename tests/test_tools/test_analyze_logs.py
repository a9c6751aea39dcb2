"""tools/analyze_logs.py: series, stages and the picture from a hand-made scalars.json."""
import json

import cv2
import numpy as np
import pytest

from tests.conftest import load_tool

analyze = load_tool('analyze_logs')


def _train(it, epoch, lr, **losses):
    return dict(lr=lr, data_time=0.01, time=0.5, loss=sum(losses.values()), **losses,
                epoch=epoch, iter=it, step=it)


def _val(epoch, mAP, mpjpe):
    return dict(AP25=mAP / 2, AP50=mAP, mAP=mAP, MPJPE=mpjpe, data_time=0.01, time=0.2,
                step=epoch)


# 2 iterations per epoch, logged every iteration; stage 1 (epochs 1-2): loss_a + loss_b;
# stage 2 (epochs 3-4, starts after 4 iterations): loss_b + loss_c; validation each 2 epochs
RECORDS = [
    dict(stage=1, step=0),
    _train(1, 1, 1e-3, loss_a=2.0, loss_b=1.0), _train(2, 1, 1e-3, loss_a=1.5, loss_b=0.9),
    _train(3, 2, 1e-3, loss_a=1.2, loss_b=0.8), _train(4, 2, 1e-3, loss_a=1.0, loss_b=0.7),
    _val(2, 10.0, 150.0),
    dict(stage=2, step=4),
    _train(5, 3, 1e-4, loss_b=0.6, loss_c=0.3), _train(6, 3, 1e-4, loss_b=0.5, loss_c=0.2),
    _train(7, 4, 1e-4, loss_b=0.5, loss_c=0.1), _train(8, 4, 1e-4, loss_b=0.4, loss_c=0.1),
    _val(4, 30.0, 90.0),
]


def _write_run(tmp_path, records=RECORDS):
    run = tmp_path / 'work' / '20260101_000000' / 'vis_data'
    run.mkdir(parents=True)
    (run / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in records))
    return tmp_path / 'work'


def test_stages_and_series_of_a_two_stage_run():
    curves = analyze.parse_curves(RECORDS)
    assert curves.boundaries == [4]
    assert [(s.number, s.start_iter, s.start_epoch) for s in curves.stages] == \
        [(1, 0, 0), (2, 4, 2)]
    assert sorted(curves.losses) == ['loss', 'loss_a', 'loss_b', 'loss_c']
    # a loss exists only over the iterations its stage has it on, in one unbroken run
    (a,), (b,), (c,) = curves.losses['loss_a'], curves.losses['loss_b'], curves.losses['loss_c']
    np.testing.assert_array_equal(a.x, [1, 2, 3, 4])
    np.testing.assert_array_equal(a.y, [2.0, 1.5, 1.2, 1.0])
    np.testing.assert_array_equal(b.x, [1, 2, 3, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(c.x, [5, 6, 7, 8])
    assert curves.metric_axis == 'epoch'
    np.testing.assert_array_equal(curves.metrics['mAP'].x, [2, 4])
    np.testing.assert_array_equal(curves.metrics['MPJPE'].y, [150.0, 90.0])
    assert 'time' not in curves.metrics and 'step' not in curves.metrics


def test_a_loss_switched_off_and_on_again_is_two_runs():
    recs = [dict(stage=1, step=0), _train(1, 1, 1e-3, loss_a=1.0),
            dict(stage=2, step=1), _train(2, 2, 1e-3, loss_b=1.0),
            dict(stage=3, step=2), _train(3, 3, 1e-3, loss_a=0.5)]
    curves = analyze.parse_curves(recs)
    assert curves.boundaries == [1, 2]
    assert [r.x.tolist() for r in curves.losses['loss_a']] == [[1.0], [3.0]]


def test_stages_placed_from_the_config_epochs_when_the_log_has_no_stage_lines():
    recs = [r for r in RECORDS if 'stage' not in r]
    assert analyze.parse_curves(recs).stages == []
    # last logged iteration of the epochs before stage 2 = iteration 4
    assert analyze.parse_curves(recs, schedule=[2, 2]).boundaries == [4]


def test_cli_writes_the_picture_and_plots_only_active_losses(tmp_path, capsys):
    work = _write_run(tmp_path)
    out = analyze.main([str(work)])
    assert out == str(work / '20260101_000000' / 'curves.png')
    img = cv2.imread(out)
    assert img is not None and img.shape[0] > 400 and img.shape[1] > 600
    printed = capsys.readouterr().out
    assert 'stage 1: iterations 1-4: loss 1.7, loss_a 1, loss_b 0.7' in printed
    assert 'stage 2: iterations 5-8: loss 0.5, loss_b 0.4, loss_c 0.1' in printed
    assert 'validation at epoch 4: MPJPE 90, mAP 30' in printed

    # the drawn lines themselves: each loss only over its stage's iterations
    curves = analyze.parse_curves(analyze.load_records(analyze.find_scalars(str(work))))
    fig = analyze.plot_curves(curves, str(tmp_path / 'c.png'))
    lines = {}
    for line in fig.axes[0].get_lines():
        if line.get_gid():
            lines.setdefault(line.get_gid(), []).extend(line.get_xdata())
    assert sorted(lines['loss_a']) == [1, 2, 3, 4] and sorted(lines['loss_c']) == [5, 6, 7, 8]
    # dashed stage start at iteration 4 (besides the data lines)
    dashed = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == '--']
    assert [ln.get_xdata()[0] for ln in dashed] == [4]
    # metric panels: summary metrics by default, not the per-threshold AP25/AP50
    assert sorted(ax.get_title() for ax in fig.axes[2:]) == ['MPJPE', 'mAP']


def test_bad_inputs_are_errors_naming_the_file(tmp_path):
    with pytest.raises(SystemExit, match='no such file'):
        analyze.main([str(tmp_path / 'missing')])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='no scalars.json'):
        analyze.main([str(tmp_path / 'empty')])
    bad = tmp_path / 'bad.json'
    bad.write_text('{"loss": 1, "iter": 1}\n{not json\n')
    with pytest.raises(SystemExit, match=r'bad.json, line 2: not JSON'):
        analyze.main([str(bad)])
    val_only = tmp_path / 'val.json'
    val_only.write_text('{"mAP": 1, "step": 1}\n')
    with pytest.raises(SystemExit, match='no training lines'):
        analyze.main([str(val_only)])
    work = _write_run(tmp_path / 'w')
    with pytest.raises(SystemExit, match=r"no loss named \['loss_z'\]"):
        analyze.main([str(work), '--losses', 'loss_z'])
