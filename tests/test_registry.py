import pytest
import torch

import relightcli
from relightcli import RelightError, create_model, list_models, model_info, register_model
from relightcli.models.summary import count_parameters

from .conftest import TINY_ARGS, tiny_model


def test_registry_lists_s3net_variants() -> None:
    names = list_models()
    assert {"s3net", "s3net_lite", "s3net_res2net50d"} <= set(names)
    assert list_models("s3net_*") == [
        "s3net_lite",
        "s3net_lite_lightaware",
        "s3net_lite_lightcode",
        "s3net_lite_lightcolour",
        "s3net_lite_ratio",
        "s3net_lite_shading",
        "s3net_res2net50d",
    ]


@pytest.mark.parametrize("name", list_models())
def test_every_model_round_trips_through_a_checkpoint(name: str, tmp_path) -> None:
    model = tiny_model(name)
    info = model_info(name)
    assert model.relight_info == info and info.size_multiple >= 1
    x = torch.rand(1, 8, 2 * info.size_multiple, 3 * info.size_multiple)
    with torch.inference_mode():
        y = model(x)
    y = y[0] if info.multi_output else y
    assert y.shape == (1, 3, *x.shape[-2:])
    lo, hi = info.output_range
    assert torch.isfinite(y).all() and y.min() >= lo and y.max() <= hi

    path = relightcli.save_checkpoint(model, tmp_path / f"{name}.safetensors")
    loaded = relightcli.load_model(path)  # rebuilt from metadata alone
    assert type(loaded) is type(model) and loaded.relight_args == model.relight_args
    assert TINY_ARGS.get(name, {}).items() <= loaded.relight_args.items()  # plus any option the model settled
    with torch.inference_mode():
        y2 = loaded(x)
    y2 = y2[0] if info.multi_output else y2
    assert torch.equal(y, y2)


def test_unknown_model_and_option_are_user_errors() -> None:
    with pytest.raises(RelightError, match="unknown model 'nope'.*s3net"):
        create_model("nope")
    with pytest.raises(RelightError, match="has no option colour"):
        create_model("s3net", colour=3)


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):

        @register_model(size_multiple=1)
        def s3net() -> torch.nn.Module:  # same name as the real one
            return torch.nn.Identity()


def test_build_only_options_are_not_recorded() -> None:
    model = create_model("s3net_res2net50d", pretrained_backbone=False, **TINY_ARGS["s3net_res2net50d"])
    assert "pretrained_backbone" not in model.relight_args


def test_parameter_count_on_meta_device_matches_real_model() -> None:
    real = sum(p.numel() for p in tiny_model().parameters())
    assert count_parameters("s3net_res2net50d", **TINY_ARGS["s3net_res2net50d"]) == real
