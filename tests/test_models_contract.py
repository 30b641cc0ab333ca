"""The contract every registered model meets, parametrised over `list_models()` (tiny configurations)."""

import pytest
import torch

import relightcli
from relightcli import RelightError, list_models, model_info
from relightcli.hardware import cpu_capabilities
from relightcli.inference.engine import Relighter
from relightcli.losses import RelightLoss
from relightcli.models.summary import count_flops, count_parameters

from .conftest import TINY_ARGS, tiny_model

MODELS = list_models()


def _final(y):
    return y[0] if isinstance(y, (list, tuple)) else y


def test_every_model_has_a_tiny_test_configuration() -> None:
    assert set(MODELS) <= set(TINY_ARGS), set(MODELS) - set(TINY_ARGS)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("size", [(33, 47), (64, 64), (160, 96), (1, 1)])
def test_any_size_returns_the_source_size_in_range(name: str, size: tuple[int, int]) -> None:
    model = tiny_model(name)
    x = torch.rand(1, 8, *size)
    side = 2 * max(model_info(name).size_multiple, 8)  # the raw forward needs an aligned size for some models
    with torch.inference_mode():
        raw = _final(model(torch.rand(1, 8, side, side)))
    lo, hi = model_info(name).output_range
    assert torch.isfinite(raw).all() and raw.min() >= lo and raw.max() <= hi
    out = Relighter(model, device="cpu").run(x)
    assert out.shape == (1, 3, *size) and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("name", MODELS)
def test_multi_output_models_return_the_final_image_first(name: str) -> None:
    model = tiny_model(name)
    m = max(model_info(name).size_multiple, 4)
    with torch.inference_mode():
        y = model(torch.rand(2, 8, 4 * m, 4 * m))
    if model_info(name).multi_output:
        assert isinstance(y, list) and len(y) >= 2 and y[0].shape == (2, 3, 4 * m, 4 * m)
    else:
        assert isinstance(y, torch.Tensor) and y.shape == (2, 3, 4 * m, 4 * m)


@pytest.mark.parametrize("name", MODELS)
def test_bf16_autocast_agrees_with_fp32_after_a_few_training_steps(name: str) -> None:
    torch.manual_seed(0)
    model = tiny_model(name).train()
    m = max(model_info(name).size_multiple, 8)
    x = torch.rand(2, 8, 2 * m, 2 * m)
    y = x[:, 3:6] * 0.5 + x[:, :3] * 0.5
    loss = RelightLoss("l1")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        opt.zero_grad()
        loss(model(x), y)[0].backward()
        opt.step()
    fp32 = Relighter(model, device="cpu", precision="fp32").run(x)
    if not cpu_capabilities().bf16_ok():  # an AVX2-only CPU refuses bf16 inference (tests/test_hardware.py)
        with pytest.raises(RelightError, match="use --precision fp32"):
            Relighter(model, device="cpu", precision="bf16")
        return
    bf16 = Relighter(model, device="cpu", precision="bf16").run(x)
    assert (fp32 - bf16).abs().max() < 0.06, float((fp32 - bf16).abs().max())  # bf16 keeps 8 mantissa bits


@pytest.mark.parametrize("name", MODELS)
def test_checkpoint_round_trip_is_exact_and_foreign_weights_are_refused(name: str, tmp_path) -> None:
    model = tiny_model(name, seed=3)
    path = relightcli.save_checkpoint(model, tmp_path / "m.safetensors")
    loaded = relightcli.load_model(path)
    m = max(model_info(name).size_multiple, 8)
    x = torch.rand(1, 8, 2 * m, 2 * m)
    with torch.inference_mode():
        assert torch.equal(_final(model(x)), _final(loaded(x)))
    other = next(n for n in MODELS if n.split("_")[0] != name.split("_")[0])
    foreign = tiny_model(other).state_dict()
    from relightcli.checkpoint import load_state_dict_strict

    with pytest.raises(RelightError, match=f"weights do not fit model '{name}'"):
        load_state_dict_strict(tiny_model(name), foreign, "foreign.safetensors")


@pytest.mark.parametrize("name", MODELS)
def test_parameters_and_flops_are_counted(name: str) -> None:
    assert count_parameters(name) > 0
    assert count_flops(name, size=64) > 0


def test_published_sizes() -> None:
    assert count_parameters("srn") == pytest.approx(8.1e6, rel=0.02)
    assert count_parameters("srn_nolstm") == pytest.approx(6.9e6, rel=0.02)
    assert count_parameters("mprnet_deblur", in_chans=3) == 20_127_073  # the release's unique parameters
    assert count_flops("mprnet_deblur", size=256, in_chans=3) / 2 == pytest.approx(759e9, rel=0.02)
    assert count_flops("s3net", size=1024) == pytest.approx(634e9, rel=0.01)


def test_mprnet_residuals_are_on_the_source_rgb() -> None:
    model = tiny_model("mprnet")
    for p in model.tail.parameters():
        torch.nn.init.zeros_(p)
    x = torch.rand(1, 8, 32, 40)
    with torch.inference_mode():
        final = model(x)[0]
    assert torch.allclose(final, x[:, :3], atol=1e-6)  # a zero tail leaves exactly the source
