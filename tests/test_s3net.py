"""S3Net against the released model's facts (../shared/spec/models.md, s3net_official_keys.tsv)."""

import ast

import pytest
import torch

from relightcli import RelightError, create_model
from relightcli.inference.engine import Relighter
from relightcli.models.s3net import S3Net

from .conftest import SHARED_SPEC, tiny_model

OFFICIAL_PARAMS = 49_353_370  # counted from the release's state dict (BN buffers excluded)
UNUSED_NORM = 200  # enhancer.batch1, an InstanceNorm2d(100, affine) that the release holds but never calls


@pytest.fixture(scope="module")
def full_s3net() -> S3Net:
    torch.manual_seed(0)
    return create_model("s3net").eval()


def test_parameter_count_is_the_released_models(full_s3net: S3Net) -> None:
    n = sum(p.numel() for p in full_s3net.parameters())
    assert n == OFFICIAL_PARAMS - UNUSED_NORM  # 49.35 M; the unused norm is dropped


def test_state_dict_names_and_shapes_match_the_release(full_s3net: S3Net) -> None:
    tsv = SHARED_SPEC / "s3net_official_keys.tsv"
    if not tsv.exists():
        pytest.skip("../shared/spec is not beside this checkout")
    official = {}
    for line in tsv.read_text().splitlines():
        if line and not line.startswith("#"):
            key, shape = line.split("\t")
            official[key] = tuple(ast.literal_eval(shape))
    ours = {k: tuple(v.shape) for k, v in full_s3net.state_dict().items()}
    dropped = {k for k in official if k.startswith("enhancer.batch1.")}
    assert len(dropped) == 2
    assert {k: s for k, s in official.items() if k not in dropped} == ours


def test_full_model_relights_an_odd_sized_input(full_s3net: S3Net) -> None:
    x = torch.rand(1, 8, 136, 200)
    y = Relighter(full_s3net, device="cpu").run(x)
    assert y.shape == (1, 3, 136, 200)
    assert torch.isfinite(y).all() and y.min() >= 0.0 and y.max() <= 1.0


def test_forward_refuses_sides_that_are_not_multiples_of_32() -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        tiny_model()(torch.rand(1, 8, 64, 80))


def test_decoder_shapes_follow_the_paper() -> None:
    model = tiny_model()
    seen = {}
    for name in ("mid_conv", "attention1", "attention2", "enhancer", "tail"):
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.shape))
    model(torch.rand(1, 8, 64, 96))
    assert seen["mid_conv"][-2:] == (4, 6)  # 1/16
    assert seen["attention1"][-2:] == (8, 12)  # 1/8 after PixelShuffle(2)
    assert seen["attention2"][-2:] == (16, 24)  # 1/4
    assert seen["enhancer"][-2:] == (64, 96)  # full resolution after two more shuffles
    assert seen["tail"] == (1, 3, 64, 96)


def test_ratio_head_starts_at_the_identity_and_stays_in_range() -> None:
    model = tiny_model("s3net_lite_ratio")
    x = torch.rand(2, 8, 64, 64)
    assert torch.equal(model(x), x[:, :3])  # zero-initialised tail: gain 1, offset 0
    with torch.no_grad():
        model.tail[1].bias.copy_(torch.tensor([100.0, -100.0, 0.0, 100.0, -100.0, 0.0]))
    out = model(x)
    lo, hi = model.relight_info.output_range
    assert lo <= out.min() and out.max() <= hi
    # saturated gain e^2 and offset +0.5 on red, e^-2 and -0.5 on green, untouched blue
    torch.testing.assert_close(out[:, 0], x[:, 0] * torch.e**2 + 0.5)
    torch.testing.assert_close(out[:, 1], x[:, 1] * torch.e**-2 - 0.5)
    torch.testing.assert_close(out[:, 2], x[:, 2])
    with torch.no_grad():  # the image-wide part reaches every pixel alike
        model.tail[1].bias.zero_()
        model.global_head[3].bias.copy_(torch.tensor([0.0, 0.0, 0.5, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(model(x)[:, 2], x[:, 2] * torch.exp(2 * torch.tanh(torch.tensor(0.5))))


def test_ratio_head_relights_by_a_gain_on_the_source() -> None:
    """A non-zero tail moves the output off the source; a black source leaves only the bounded offset."""
    model = tiny_model("s3net_lite_ratio")
    with torch.no_grad():
        model.tail[1].weight.normal_(0, 0.05)
    x = torch.rand(1, 8, 64, 64)
    out = model(x)
    assert not torch.allclose(out, x[:, :3])
    y = x.clone()
    y[:, :3] = 0
    offset = model(y)
    assert offset.abs().max() <= 0.5


def test_unknown_head_is_refused() -> None:
    with pytest.raises(RelightError, match="unknown S3Net head"):
        S3Net(encoder="res2net50d", encoder_args={"layers": [1, 1, 1, 1]}, head="residual")


def test_encoder_must_be_a_res2net() -> None:
    with pytest.raises(RelightError, match="must be a timm Res2Net"):
        create_model("s3net", encoder="resnet50")


def test_pretrained_backbone_offline_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(RelightError, match="cannot load ImageNet weights for encoder 'res2net50d'"):
        create_model("s3net_res2net50d", pretrained_backbone=True)


def test_pretrained_backbone_from_a_local_file(tmp_path) -> None:
    import timm
    from safetensors.torch import save_file

    from .conftest import TINY_ENCODER

    torch.manual_seed(1)
    imagenet_like = timm.create_model("res2net50d", **TINY_ENCODER)  # 3-channel classifier, as ImageNet files are
    save_file(imagenet_like.state_dict(), str(tmp_path / "backbone.safetensors"))
    model = create_model(
        "s3net_res2net50d", pretrained_backbone=str(tmp_path / "backbone.safetensors"), encoder_args=TINY_ENCODER
    )
    got = model.encoder.state_dict()
    want = imagenet_like.state_dict()
    assert torch.equal(got["layer2.0.conv1.weight"], want["layer2.0.conv1.weight"])
    assert got["conv1.0.weight"].shape[1] == 8  # the stem was adapted from 3 to 8 input channels
