"""S3Net against the released model's facts (../shared/spec/models.md, s3net_official_keys.tsv)."""

import ast

import pytest
import torch

from relightcli import RelightError, create_model
from relightcli.engine import Relighter
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
