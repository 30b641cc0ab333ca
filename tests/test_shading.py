"""Physically guided inputs (relightcli.models.shading) and the s3net_lite_shading model built on them."""

from __future__ import annotations

import numpy as np
import torch

from relightcli.data.vidit import DIRECTIONS, Setting
from relightcli.models import shading
from relightcli.models.s3net import widen_input
from relightcli.synth import random_scene
from relightcli.synth.render import render_scene

from .conftest import tiny_model


def _bump(size: int) -> torch.Tensor:
    """A shallow Gaussian bump on a tilted plane: no background, normals within 17 degrees of the camera axis."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    depth = 0.5 + 0.002 * x - 0.006 * torch.exp(-(x**2 + y**2) / 0.3)  # slopes x SLOPE_SCALE stay below 0.3
    return depth[None, None]


def test_normals_of_a_plane_follow_its_slope_at_any_resolution() -> None:
    for size in (32, 96):
        x = torch.arange(float(size)).expand(size, size)
        depth = (0.2 + 0.01 * x * 64 / size)[None, None]  # slope 0.64 depth units per image height, any size
        n = shading.normals_from_depth(depth)[0, :, 8:-8, 8:-8]
        expected = torch.tensor([-0.64 * shading.SLOPE_SCALE, 0.0, 1.0])
        torch.testing.assert_close(n.mean(dim=(1, 2)), expected / expected.norm(), atol=1e-4, rtol=0)
    flat = shading.normals_from_depth(torch.full((1, 1, 16, 16), 0.5))
    assert torch.equal(flat, torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1).expand(1, 3, 16, 16))


def test_the_geometry_mask_keeps_pixels_two_clear_of_the_background_in_any_memory_layout() -> None:
    depth = torch.rand(2, 1, 40, 56, generator=torch.Generator().manual_seed(0))
    depth[depth > 0.9] = 1.0  # scattered background pixels
    mask = shading._geometry_mask(depth)
    background = (depth >= shading.FAR).float()
    dilated = torch.zeros_like(background)
    padded = torch.nn.functional.pad(background, (2, 2, 2, 2))
    for dy in range(5):  # the 5x5 dilation written out
        for dx in range(5):
            dilated = torch.maximum(dilated, padded[..., dy : dy + 40, dx : dx + 56])
    assert torch.equal(mask, 1.0 - dilated) and 0 < mask.mean() < 1
    x = torch.cat([torch.rand(2, 6, 40, 56), depth, depth.flip(-1)], dim=1)
    assert torch.equal(shading.light_code(x), shading.light_code(x.contiguous(memory_format=torch.channels_last)))


def test_the_light_of_an_exactly_lambertian_image_is_recovered() -> None:
    depth = _bump(64)
    n = shading.normals_from_depth(depth)
    for light in ([0.3, -0.4, 0.866], [-0.5, 0.2, 0.84], [0.0, 0.6, 0.8]):
        to_light = torch.tensor(light) / torch.tensor(light).norm()
        lum = 0.2 + 0.6 * torch.einsum("bchw,c->bhw", n, to_light)[:, None]
        assert lum.min() > 0.2  # lit everywhere: the linear model holds exactly
        albedo = torch.tensor([0.9, 0.7, 0.5]).view(1, 3, 1, 1)  # a colour cast does not move the direction
        estimate = shading.estimate_light(lum * albedo / albedo.mean(), depth)[0]
        assert torch.nn.functional.cosine_similarity(estimate, to_light, dim=0) > 0.9999


def test_the_light_estimate_tells_opposite_directions_apart_on_rendered_scenes() -> None:
    """Scenes of the numpy renderer (cast shadows, textures, background): noisy per scene, right on average."""
    opposite, neighbour = [], []
    for seed in range(4):
        scene = render_scene(random_scene(np.random.default_rng(seed)), 64, supersample=1)
        depth = torch.from_numpy(scene.depth)[None, None]
        lights = torch.stack(
            [
                shading.estimate_light(
                    torch.from_numpy(scene.images[Setting(4500, d)]).float().permute(2, 0, 1)[None] / 255, depth
                )[0]
                for d in DIRECTIONS
            ]
        )
        cos = lights @ lights.T
        opposite += [cos[i, (i + 4) % 8].item() for i in range(8)]
        neighbour += [cos[i, (i + 1) % 8].item() for i in range(8)]
    assert np.mean(neighbour) > 0.7 and np.mean(opposite) < np.mean(neighbour) - 0.5


def test_degenerate_inputs_give_zero_shading_not_nan() -> None:
    x = torch.rand(3, 8, 32, 32)
    x[0, :3] = 0.5  # a constant source: no light to find
    x[1, 6:] = 1.0  # all background (sky) in both depths
    x[2, 6:] = 0.3  # flat depth: every normal faces the camera
    channels = shading.shading_inputs(x)
    assert channels.shape == (3, shading.CHANNELS, 32, 32) and torch.isfinite(channels).all()
    assert channels[1, 6:].abs().max() == 0  # no geometry, no shading


def test_the_channels_are_computed_in_fp32_under_autocast() -> None:
    x = torch.rand(1, 8, 64, 64)
    x[:, 6:] = _bump(64)
    reference = shading.shading_inputs(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = shading.shading_inputs(x)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, reference)


def test_the_shading_model_widened_from_ratio_weights_computes_the_same() -> None:
    ratio = tiny_model("s3net_lite_ratio")
    with torch.no_grad():  # move off the identity so that the comparison means something
        ratio.tail[1].weight.normal_(0, 0.05)
    wide = tiny_model("s3net_lite_shading", seed=1)
    first = wide.encoder.conv1[0].weight
    assert first.shape[1] == 8 + shading.CHANNELS
    wide.load_state_dict(widen_input(ratio.state_dict(), wide.state_dict()))
    x = torch.rand(2, 8, 64, 64)
    x[:, 6:] = _bump(64)
    with torch.no_grad():
        torch.testing.assert_close(wide(x), ratio(x))
        wide.encoder.conv1[0].weight[:, 8:].normal_(0, 0.1)  # once it uses the new channels, it differs
        assert not torch.allclose(wide(x), ratio(x))


def test_the_light_code_model_starts_as_the_ratio_model_and_reads_the_estimates() -> None:
    ratio = tiny_model("s3net_lite_ratio")
    with torch.no_grad():
        ratio.tail[1].weight.normal_(0, 0.05)
    coded = tiny_model("s3net_lite_lightcode", seed=1)
    coded.load_state_dict(widen_input(ratio.state_dict(), coded.state_dict()))
    x = torch.rand(2, 8, 64, 64)
    x[:, 6:] = _bump(64)
    code = shading.light_code(x)
    assert code.shape == (2, shading.CODE) and code.dtype == torch.float32
    torch.testing.assert_close(code[:, 6], (code[:, :3] * code[:, 3:6]).sum(dim=1))
    with torch.no_grad():
        torch.testing.assert_close(coded(x), ratio(x))
        coded.light_film[2].weight.normal_(0, 0.5)  # once the code scales the features, it differs
        assert not torch.allclose(coded(x), ratio(x))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert torch.isfinite(coded(x)).all()
