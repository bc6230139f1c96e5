"""A converted dataset trains LeRobot's ACT: 20 CPU steps, finite and decreasing loss."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from convert_data import write_mujoco_recording  # noqa: E402

from armtwin.convert.lerobot_v3 import LeRobotExportConfig, export_lerobot  # noqa: E402

# Every test here reads or drives LeRobot: skipped with a reason where it is not installed (conftest).
pytestmark = pytest.mark.lerobot

CHUNK = 8


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("act")
    src = write_mujoco_recording(d / "rec.h5", lengths=(24, 20), image_size=(96, 96), seed=7)
    return export_lerobot(LeRobotExportConfig(inputs=[src], repo_id="u/act", root=d / "ds", vcodec="h264",
                                              progress=False))


def test_act_trains_on_converted_dataset(dataset):
    import torch

    torch.manual_seed(0)
    # One intra-op thread: on a busy 2-core machine OpenMP spin-waiting made each step ~10x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _train(dataset, torch)
    finally:
        torch.set_num_threads(threads)


def _train(dataset, torch):
    from lerobot.configs.types import FeatureType
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.datasets.utils import dataset_to_policy_features
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    meta_ds = LeRobotDataset("u/act", root=dataset.root)
    features = dataset_to_policy_features(meta_ds.meta.features)
    outputs = {k: f for k, f in features.items() if f.type is FeatureType.ACTION}
    inputs = {k: f for k, f in features.items() if k not in outputs}
    assert set(inputs) == {"observation.state", "observation.images.wrist", "observation.images.front"}
    cfg = ACTConfig(
        input_features=inputs, output_features=outputs, chunk_size=CHUNK, n_action_steps=CHUNK,
        dim_model=64, n_heads=2, dim_feedforward=128, n_encoder_layers=1, n_decoder_layers=1,
        n_vae_encoder_layers=1, latent_dim=8, pretrained_backbone_weights=None, device="cpu",
    )
    fps = meta_ds.fps
    ds = LeRobotDataset("u/act", root=dataset.root,
                        delta_timestamps={"action": [i / fps for i in range(CHUNK)]})
    pre, _post = make_pre_post_processors(cfg, dataset_stats=ds.meta.stats)
    policy = ACTPolicy(cfg)
    policy.train()
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=True, num_workers=0,
                                         generator=torch.Generator().manual_seed(0))
    losses = []
    while len(losses) < 20:
        for batch in loader:
            loss, _ = policy.forward(pre(batch))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if len(losses) == 20:
                break
    assert all(math.isfinite(v) for v in losses), losses
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first, f"loss did not decrease: first 5 mean {first:.3f}, last 5 mean {last:.3f}: {losses}"
