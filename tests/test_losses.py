"""Losses and metrics against independent computations (numpy, scipy, scikit-image), and their gradients."""

import numpy as np
import pytest
import torch
from scipy import ndimage
from skimage.metrics import structural_similarity

from relightcli import RelightError
from relightcli.losses import (
    W_SSIM_WEIGHTS,
    CharbonnierLoss,
    EdgeLoss,
    PerceptualLoss,
    RelightLoss,
    SobelLoss,
    SSIMLoss,
    WaveletSSIMLoss,
    parse_loss_spec,
)
from relightcli.metrics import psnr, ssim
from relightcli.ops import haar_dwt, haar_idwt, laplacian_detail

GEN = torch.Generator().manual_seed(0)


def _pair(shape=(2, 3, 40, 36)) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(shape, generator=GEN, dtype=torch.float64)
    y = (x + 0.1 * torch.randn(shape, generator=GEN, dtype=torch.float64)).clamp(0, 1)
    return x, y


def test_ssim_matches_scikit_image() -> None:
    x, y = _pair()
    ours = ssim(x, y)
    for b in range(2):
        ref = structural_similarity(
            x[b].permute(1, 2, 0).numpy(),
            y[b].permute(1, 2, 0).numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=-1,
        )
        assert abs(float(ours[b]) - ref) < 1e-4
    assert torch.allclose(ssim(x, x), torch.ones(2, dtype=x.dtype))


def test_psnr_of_known_mse() -> None:
    x = torch.zeros(1, 3, 8, 8)
    y = torch.full_like(x, 0.1)  # MSE 0.01 -> 20 dB
    assert float(psnr(x, y)[0]) == pytest.approx(20.0, abs=1e-4)


def test_charbonnier_matches_numpy() -> None:
    x, y = _pair()
    ref = np.mean(np.sqrt((x.numpy() - y.numpy()) ** 2 + 1e-3**2))
    assert float(CharbonnierLoss()(x, y)) == pytest.approx(ref, rel=1e-12)
    assert float(CharbonnierLoss(eps=0.5)(x, x)) == pytest.approx(0.5)


def test_sobel_matches_scipy() -> None:
    x, y = _pair((1, 3, 20, 24))
    kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    diffs = []
    for k in (kx, kx.T):
        gx = np.stack([ndimage.correlate(x[0, c].numpy(), k, mode="nearest") for c in range(3)])
        gy = np.stack([ndimage.correlate(y[0, c].numpy(), k, mode="nearest") for c in range(3)])
        diffs.append(np.abs(gx - gy).mean())
    assert float(SobelLoss()(x, y)) == pytest.approx(np.mean(diffs), rel=1e-10)


def test_haar_dwt_is_perfect_reconstruction_and_orthonormal() -> None:
    x = torch.rand(2, 3, 16, 12, generator=GEN, dtype=torch.float64)
    bands = haar_dwt(x)
    assert all(b.shape == (2, 3, 8, 6) for b in bands)
    assert torch.allclose(haar_idwt(*bands), x, atol=1e-12)
    energy = sum(float((b**2).sum()) for b in bands)
    assert energy == pytest.approx(float((x**2).sum()), rel=1e-12)
    const = torch.ones(1, 1, 4, 4)
    ll, lh, hl, hh = haar_dwt(const)
    assert torch.allclose(ll, torch.full_like(ll, 2.0)) and not lh.any() and not hl.any() and not hh.any()


def test_wavelet_ssim_weights_and_zero_for_identical() -> None:
    assert sum(W_SSIM_WEIGHTS.values()) == pytest.approx(2.0)
    x, y = _pair((1, 3, 64, 64))
    assert float(WaveletSSIMLoss()(x, x)) == pytest.approx(0.0, abs=1e-9)
    assert float(WaveletSSIMLoss()(x, y)) > float(WaveletSSIMLoss({"image": 1.0})(x, y)) > 0


def test_edge_loss() -> None:
    x, y = _pair((1, 3, 32, 32))
    eps = 1e-3
    assert float(EdgeLoss(eps)(x, x)) == pytest.approx(eps)  # Charbonnier of zero difference is eps
    assert float(EdgeLoss(eps)(x, y)) > 10 * eps
    flat = torch.full((1, 1, 16, 16), 0.3, dtype=torch.float64)
    detail = laplacian_detail(flat)  # interior of a flat image has no detail; the borders do, as in MPRNet's code
    assert torch.allclose(detail[..., 2:-2, 2:-2], torch.zeros(1, 1, 12, 12, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("term", [CharbonnierLoss(), SSIMLoss(), WaveletSSIMLoss(), EdgeLoss(), SobelLoss()])
def test_gradients_are_finite_and_correct(term: torch.nn.Module) -> None:
    x, y = _pair((1, 2, 24, 24))
    x.requires_grad_(True)
    term(x, y).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    small = torch.rand(1, 1, 12, 12, generator=GEN, dtype=torch.float64, requires_grad=True)
    target = torch.rand(1, 1, 12, 12, generator=GEN, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: term(a, target), (small,))


def test_loss_spec_parsing() -> None:
    assert parse_loss_spec("charbonnier=1, wssim=1.1,edge") == {"charbonnier": 1.0, "wssim": 1.1, "edge": 1.0}
    bad = {
        "nope=1": "unknown term 'nope'",
        "l1=x": "must be a number",
        "l1=-1": "positive",
        "l1=1,l1=2": "twice",
        "": "no terms",
        "l1=nan": "positive",
    }
    for spec, msg in bad.items():
        with pytest.raises(RelightError, match=msg):
            parse_loss_spec(spec)


def test_multi_output_is_supervised_on_each_output_at_its_size() -> None:
    loss = RelightLoss("l1=1")
    target = torch.rand(1, 3, 32, 32, generator=GEN)
    half = torch.nn.functional.interpolate(target, size=(16, 16), mode="area")
    total, _terms = loss([target.clone(), half.clone()], target)
    assert float(total) == pytest.approx(0.0, abs=1e-7)
    total, _ = loss([target, torch.zeros(1, 3, 16, 16)], target)
    assert float(total) == pytest.approx(float(half.abs().mean()), rel=1e-6)


def _tiny_vgg_file(path) -> None:
    """VGG19 features[0:12] weights with the names timm/torchvision use, randomly filled."""
    from safetensors.torch import save_file

    shapes = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128)}
    tensors = {}
    for i, (o, c) in shapes.items():
        tensors[f"features.{i}.weight"] = torch.randn(o, c, 3, 3, generator=GEN) * 0.1
        tensors[f"features.{i}.bias"] = torch.zeros(o)
    save_file(tensors, str(path))


def test_perceptual_loss_from_a_local_file(tmp_path) -> None:
    _tiny_vgg_file(tmp_path / "vgg.safetensors")
    loss = PerceptualLoss(tmp_path / "vgg.safetensors")
    x, y = (t.float() for t in _pair((1, 3, 32, 32)))
    assert float(loss(x, x)) == 0.0 and float(loss(x, y)) > 0
    assert not any(p.requires_grad for p in loss.parameters())
    loss.train()
    assert not loss.blocks.training


def test_perceptual_loss_without_weights_says_what_to_do(monkeypatch, tmp_path) -> None:
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(RelightError, match="perceptual loss needs VGG19 ImageNet weights.*drop the term"):
        RelightLoss("charbonnier=1,perceptual=0.1")
    (tmp_path / "bad.safetensors").write_bytes(b"nope")
    with pytest.raises(RelightError, match="not a readable safetensors file of VGG19 weights"):
        PerceptualLoss(tmp_path / "bad.safetensors")
