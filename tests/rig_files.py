"""A user's custom rig written from the synthetic world (for the inferencer/tool tests):
a rig file, one PNG folder per camera (or one video per camera) and a pseudo-label file
holding the simulated 2D detections, plus the 3D GT of each frame."""
from pathlib import Path

import cv2
import numpy as np
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

from selfpose3d_mm.io import save_pseudo_labels, save_rig

SPACE = dict(space_center=(0.0, 0.0, 800.0), space_size=(6000.0, 6000.0, 2000.0))
IMAGE_SIZE = (480, 270)


def write_rig(root: Path, frames: int = 2, people: int = 2, videos: bool = False) -> dict:
    """Write the files under ``root``; returns their paths, the cameras, the images and
    the GT poses per frame."""
    init_default_scope('mmpose')
    ds = DATASETS.build(dict(
        type='SyntheticMultiViewDataset', split='test', seed=0, num_samples=frames,
        frames_per_sequence=frames, num_people=(people, people), outside_prob=0.0,
        rig=dict(type='ring', num_views=3, image_size=IMAGE_SIZE), with_images=True,
        test_mode=True, pipeline=[], **SPACE))
    cams = ds.cameras
    save_rig(str(root / 'rig.json'), cams)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    folders = {n: root / 'images' / n for n in cams.names}
    for i, info in enumerate(infos):
        for name, img in zip(cams.names, info['img']):
            folders[name].mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folders[name] / f'{i:06d}.png'), img[..., ::-1])
    video_files = {}
    if videos:
        (root / 'videos').mkdir(exist_ok=True)
        for c, name in enumerate(cams.names):
            video_files[name] = str(root / 'videos' / f'{name}.mp4')
            w = cv2.VideoWriter(video_files[name], cv2.VideoWriter_fourcc(*'mp4v'), 5,
                                IMAGE_SIZE)
            for info in infos:
                w.write(np.ascontiguousarray(info['img'][c][..., ::-1]))
            w.release()
    labels = {}
    for i, info in enumerate(infos):
        labels[f'{i:08d}'] = [
            dict(keypoints=np.concatenate([k, s[..., None]], -1).tolist(),
                 bboxes=np.concatenate([k.min(1), k.max(1)], -1).reshape(-1, 4).tolist(),
                 bbox_scores=b.tolist())
            for k, s, b in zip(info['pseudo_keypoints'], info['pseudo_keypoint_scores'],
                               info['pseudo_bbox_scores'])]
    save_pseudo_labels(str(root / 'pseudo.json'), dict(
        skeleton='panoptic15', views=list(cams.names), frames=labels))
    return dict(root=root, rig=str(root / 'rig.json'), pseudo=str(root / 'pseudo.json'),
                folders={k: str(v) for k, v in folders.items()}, videos=video_files,
                cams=cams, images=[i['img'] for i in infos],
                gt=[i['gt_keypoints_3d'] for i in infos])
