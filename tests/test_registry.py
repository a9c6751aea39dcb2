"""The package plugs into mmpose through ``custom_imports`` alone (fresh interpreter)."""
import subprocess
import sys
import textwrap


def test_custom_imports_build_components_by_type(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(textwrap.dedent("""
        custom_imports = dict(imports=['selfpose3d_mm'], allow_failed_imports=False)
        default_scope = 'mmpose'
        dataset = dict(
            type='SyntheticMultiViewDataset', split='val', num_samples=4,
            pipeline=[
                dict(type='MultiViewRandomAffinePair', input_size=(320, 192)),
                dict(type='MultiViewAffine'),
                dict(type='PackMultiViewInputs'),
            ])
        model = dict(
            type='SelfPose3D', num_joints=15, root_index=2, input_size=(320, 192),
            heatmap_size=(80, 48), heatmap_net_2d=None, heatmap_input=dict(sigma=2.0),
            root_head=dict(type='CuboidProposalHead', space_center=(0., 0., 800.),
                           space_size=(6000., 6000., 2000.), cube_shape=(16, 16, 4),
                           mid_channels=8, max_proposals=4),
            pose_head=dict(type='PoseRegressionHead', cube_size=(2000., 2000., 2000.),
                           cube_shape=(8, 8, 8), mid_channels=8),
            objective=dict(type='SelfPose3dObjective',
                           attention_net=dict(type='SoftAttentionNet', depth=18)))
        metric = dict(type='MultiViewPoseAPMetric')
        hook = dict(type='TrainingStageHook', stages=[
            dict(name='root', epochs=1, train=['root_net'], losses=dict(loss_root_syn=1.0))])
        """))
    code = textwrap.dedent(f"""
        import sys
        assert 'selfpose3d_mm' not in sys.modules
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmpose.registry import DATASETS, TRANSFORMS
        cfg = Config.fromfile({str(cfg)!r})   # custom_imports imports the package here
        assert 'selfpose3d_mm' in sys.modules
        init_default_scope(cfg.default_scope)
        ds = DATASETS.build(cfg.dataset)
        out = ds[0]
        assert type(ds).__name__ == 'SyntheticMultiViewDataset'
        assert type(out['data_samples']).__name__ == 'MultiViewPoseDataSample'
        assert out['data_samples'].affines.shape[0] == 3
        for t in ('MultiViewResize', 'MultiViewRandAugment', 'MultiViewCutout',
                  'LoadMultiViewImages'):
            assert TRANSFORMS.get(t) is not None, t
        from mmengine.registry import FUNCTIONS
        assert FUNCTIONS.get('multiview_collate') is not None
        from mmpose.registry import HOOKS, METRICS, MODELS
        model = MODELS.build(cfg.model)
        assert type(model).__name__ == 'SelfPose3D'
        assert type(model.objective.attention_net).__name__ == 'SoftAttentionNet'
        assert MODELS.get('VoxelPoseObjective') is not None
        assert type(METRICS.build(cfg.metric)).__name__ == 'MultiViewPoseAPMetric'
        assert type(HOOKS.build(cfg.hook)).__name__ == 'TrainingStageHook'
        assert MODELS.get('TriangulationBaseline') is not None
        print('OK')
        """)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=str(tmp_path), timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith('OK')
