"""Image-wide colour statistics (relightcli.models.colour) and the s3net_lite_lightcolour model that reads them."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from relightcli.models import colour
from relightcli.models.s3net import widen_input

from .conftest import tiny_model


def test_a_uniform_colour_gives_its_log_chromaticity_and_level_at_every_norm() -> None:
    rgb = torch.tensor([0.6, 0.3, 0.15]).view(1, 3, 1, 1).expand(2, 3, 16, 16)
    stats = colour.colour_statistics(rgb)
    assert stats.shape == (2, colour.PER_IMAGE) and stats.dtype == torch.float32
    logs = torch.tensor([0.6, 0.3, 0.15]).add(1e-4).log()
    expected = torch.cat([logs - logs.mean(), logs.mean()[None]]).repeat(len(colour.NORMS))
    torch.testing.assert_close(stats[0], expected, atol=1e-5, rtol=0)


def test_a_light_colour_change_shifts_the_statistics_and_the_resolution_does_not() -> None:
    """In the log domain a per-channel gain of the light adds log(gain) at every norm; bf16 input changes nothing."""
    torch.manual_seed(0)
    rgb = torch.rand(1, 3, 32, 32) * 0.4 + 0.1
    gain = torch.tensor([1.5, 1.0, 0.5])
    base, lit = colour.colour_statistics(rgb), colour.colour_statistics(rgb * gain.view(1, 3, 1, 1))
    shift = (lit - base).view(len(colour.NORMS), 4)
    log_gain = gain.log()
    for row in shift:
        torch.testing.assert_close(row[:3], log_gain - log_gain.mean(), atol=2e-3, rtol=0)
        torch.testing.assert_close(row[3], log_gain.mean(), atol=2e-3, rtol=0)
    bigger = F.interpolate(rgb, scale_factor=4, mode="nearest")
    torch.testing.assert_close(colour.colour_statistics(bigger), base, atol=1e-5, rtol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.testing.assert_close(colour.colour_statistics(rgb), base)  # autocast does not reach the sums
    x = torch.cat([rgb, rgb * gain.view(1, 3, 1, 1), torch.rand(1, 2, 32, 32)], dim=1)
    assert torch.equal(colour.colour_code(x), torch.cat([base, lit], dim=1))


def test_black_and_near_black_images_give_finite_statistics_and_gradients() -> None:
    """x^16 of a black channel underflows fp32: a whole black frame (a VIDIT-look scene lit from behind) once gave
    -inf statistics and NaN weights in training."""
    rgb = torch.zeros(3, 3, 32, 32)
    rgb[1, 2] = 0.003  # a dim blue channel
    rgb[2] = torch.rand(3, 32, 32) * 0.01
    rgb.requires_grad_(True)
    stats = colour.colour_statistics(rgb)
    stats.sum().backward()
    assert torch.isfinite(stats).all() and torch.isfinite(rgb.grad).all()
    x = rgb.detach().double().clamp(0, 1) + 1e-4  # the definition, in float64 where nothing underflows
    for i, p in enumerate(colour.NORMS):
        log_norm = x.pow(p).mean(dim=(2, 3)).log() / p
        level = log_norm.mean(dim=1, keepdim=True)
        torch.testing.assert_close(
            stats[:, 4 * i : 4 * i + 4].double(), torch.cat([log_norm - level, level], 1), atol=1e-4, rtol=1e-4
        )
    model = tiny_model("s3net_lite_lightcolour").eval()
    with torch.no_grad():
        assert torch.isfinite(model(torch.zeros(1, 8, 64, 64))).all()


def test_the_colour_model_starts_as_the_light_code_model_and_reads_the_statistics() -> None:
    coded = tiny_model("s3net_lite_lightcode")
    with torch.no_grad():
        coded.tail[1].weight.normal_(0, 0.05)
        coded.light_film[2].weight.normal_(0, 0.05)
    both = tiny_model("s3net_lite_lightcolour", seed=1)
    both.load_state_dict(widen_input(coded.state_dict(), both.state_dict()))
    x = torch.rand(2, 8, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(both(x), coded(x))
        both.colour_mlp[2].bias[:3] = torch.tensor([0.3, 0.0, -0.3])  # a warmer gain at every pixel
        warmer, before = both(x), coded(x)
        assert (warmer[:, 0] > before[:, 0]).all() and (warmer[:, 2] < before[:, 2]).all()
        torch.testing.assert_close(warmer[:, 1], before[:, 1])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert torch.isfinite(both(x)).all()
