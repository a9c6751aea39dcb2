default_scope = 'mmpose'
custom_imports = dict(imports=['selfpose3d_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # mmengine's LoggerHook, the test-metrics JSON written by rank 0 only (atomically)
    logger=dict(type='MainProcessLoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # written atomically (temp file + fsync + rename, then `last_checkpoint`)
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, save_best='mAP',
                    rule='greater', max_keep_ckpts=2),
    rng_state=dict(type='RandomStateHook'),  # global RNG states saved + restored
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # a step with a non-finite loss or gradient is skipped (GuardedOptimWrapper); five in
    # a row stop the run with an error; no checkpoint is written with non-finite weights
    non_finite=dict(type='NonFiniteGuardHook', max_consecutive=5),
)
optim_wrapper = dict(type='GuardedOptimWrapper')
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True, num_digits=4)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
