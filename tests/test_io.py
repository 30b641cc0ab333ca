"""Image and depth I/O: formats, bit depths, VIDIT's dict .npy, the restricted unpickler, non-ASCII paths."""

import os
import pickle
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from relightcli import RelightError
from relightcli.io import normalize_depth, read_depth, read_image, read_image_with_depth, write_image

from .conftest import write_png

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("shape", "dtype", "ext"),
    [
        ((20, 30, 3), np.uint8, ".png"),
        ((20, 30, 4), np.uint8, ".png"),
        ((20, 30), np.uint8, ".png"),
        ((20, 30, 3), np.uint16, ".png"),
        ((20, 30), np.uint16, ".png"),
        ((20, 30, 3), np.uint8, ".jpg"),
    ],
)
def test_read_image_formats(tmp_path: Path, shape, dtype, ext) -> None:
    top = np.iinfo(dtype).max
    arr = RNG.integers(0, top + 1, shape, dtype=dtype)
    img = read_image(write_png(tmp_path / f"x{ext}", arr))
    assert img.rgb.shape == (20, 30, 3) and img.rgb.dtype == np.float32
    assert img.bit_depth == (16 if dtype == np.uint16 else 8)
    assert img.rgb.min() >= 0.0 and img.rgb.max() <= 1.0
    if ext == ".png":  # lossless: exact values, BGR(A) turned into RGB, gray replicated
        expect = arr[:, :, None].repeat(3, 2) if arr.ndim == 2 else arr[:, :, 2::-1]
        np.testing.assert_allclose(img.rgb, expect / top, atol=1e-6)


def test_image_write_read_round_trip_8_and_16_bit(tmp_path: Path) -> None:
    rgb = RNG.random((9, 11, 3)).astype(np.float32)
    for bits, tol in ((8, 0.5 / 255), (16, 0.5 / 65535)):
        path = write_image(tmp_path / f"o{bits}.png", rgb, bit_depth=bits)
        back = read_image(path)
        assert back.bit_depth == bits
        np.testing.assert_allclose(back.rgb, rgb, atol=tol + 1e-7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o16.png", "o8.png"]  # no temp files left


def test_non_ascii_paths(tmp_path: Path) -> None:
    folder = tmp_path / "重光照 ñ"
    folder.mkdir()
    rgb = RNG.random((8, 8, 3)).astype(np.float32)
    path = write_image(folder / "图像.png", rgb)
    assert read_image(path).rgb.shape == (8, 8, 3)
    depth = folder / "深度.npy"
    np.save(depth, RNG.random((8, 8)))
    assert read_depth(depth).shape == (8, 8)


def test_depth_png_8_and_16_bit_are_normalised(tmp_path: Path) -> None:
    for dtype in (np.uint8, np.uint16):
        arr = RNG.integers(10, 200, (12, 14), dtype=dtype)
        d = read_depth(write_png(tmp_path / f"d{dtype.__name__}.png", arr))
        assert d.shape == (12, 14) and d.dtype == np.float32
        assert d.min() == 0.0 and d.max() == 1.0
        np.testing.assert_allclose(d, (arr - arr.min()) / (arr.max() - arr.min()), atol=1e-6)


def test_plain_npy_and_raw_depth(tmp_path: Path) -> None:
    arr = RNG.random((6, 5)).astype(np.float64) * 0.5 + 0.25
    np.save(tmp_path / "d.npy", arr)
    np.testing.assert_allclose(read_depth(tmp_path / "d.npy", raw=True), arr, atol=1e-7)
    assert read_depth(tmp_path / "d.npy").max() == pytest.approx(1.0)
    np.save(tmp_path / "big.npy", arr * 10)  # VIDIT's normalized_depth exceeds 1 in places (VIDIT issue #11)
    np.testing.assert_allclose(read_depth(tmp_path / "big.npy", raw=True), arr * 10, rtol=1e-6)  # as it is
    np.save(tmp_path / "neg.npy", arr - 1)
    with pytest.raises(RelightError, match=r"negative depth .*drop --raw-depth"):
        read_depth(tmp_path / "neg.npy", raw=True)


def test_vidit_dict_npy_as_numpy_saves_it(tmp_path: Path) -> None:
    depth = RNG.random((16, 16)).astype(np.float32)
    np.save(tmp_path / "Image000.npy", {"normalized_depth": depth, "ref_center_dis": np.float64(2.5)})
    np.testing.assert_array_equal(read_depth(tmp_path / "Image000.npy", raw=True), depth)


def test_vidit_dict_as_a_bare_pickle(tmp_path: Path) -> None:
    depth = RNG.random((4, 7)).astype(np.float32)
    for protocol in (2, 4, 5):
        path = tmp_path / f"p{protocol}.npy"
        path.write_bytes(pickle.dumps({"normalized_depth": depth, "ref_center_dis": 1.0}, protocol=protocol))
        np.testing.assert_array_equal(read_depth(path, raw=True), depth)


class _Exploit:
    """Unpickling this would create a marker file (a stand-in for running arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = {"normalized_depth": _Exploit(marker)}
    (tmp_path / "bare.npy").write_bytes(pickle.dumps(payload))
    np.save(tmp_path / "wrapped.npy", np.array(payload, dtype=object), allow_pickle=True)
    for name in ("bare.npy", "wrapped.npy"):
        with pytest.raises(RelightError, match=r"unsafe or invalid pickle.*pathlib.*refusing"):
            read_depth(tmp_path / name)
    assert not marker.exists()
    # the same payload through a plain unpickler would have run: proves the test can fail
    pickle.loads((tmp_path / "bare.npy").read_bytes())
    assert marker.exists()


def test_object_array_and_dict_without_depth_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array(["a", 1], dtype=object), allow_pickle=True)
    with pytest.raises(RelightError, match="numeric array"):
        read_depth(tmp_path / "obj.npy")
    np.save(tmp_path / "nokey.npy", {"depth": np.zeros((2, 2))}, allow_pickle=True)
    with pytest.raises(RelightError, match="no 'normalized_depth'"):
        read_depth(tmp_path / "nokey.npy")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_depth_is_refused(tmp_path: Path, bad: float) -> None:
    arr = RNG.random((5, 5))
    arr[2, 3] = bad
    np.save(tmp_path / "d.npy", arr)
    with pytest.raises(RelightError, match="d.npy: depth has 1 NaN or infinite"):
        read_depth(tmp_path / "d.npy")


def test_constant_depth_and_colour_depth(tmp_path: Path) -> None:
    assert not normalize_depth(np.full((3, 3), 7.0)).any()
    grey3 = np.repeat(RNG.integers(0, 255, (6, 6, 1), dtype=np.uint8), 3, axis=2)
    assert read_depth(write_png(tmp_path / "g3.png", grey3)).shape == (6, 6)
    with pytest.raises(RelightError, match="colour image"):
        read_depth(write_png(tmp_path / "c.png", RNG.integers(0, 255, (6, 6, 3), dtype=np.uint8)))


def test_wrong_shapes(tmp_path: Path) -> None:
    np.save(tmp_path / "d3.npy", np.zeros((2, 3, 4, 5)))
    with pytest.raises(RelightError, match="2-D map"):
        read_depth(tmp_path / "d3.npy")
    img = write_png(tmp_path / "i.png", np.zeros((10, 12, 3), np.uint8))
    np.save(tmp_path / "d.npy", np.zeros((10, 13)))
    with pytest.raises(RelightError, match="depth is 13x10 but its image i.png is 12x10"):
        read_image_with_depth(img, tmp_path / "d.npy")


def test_broken_image_files(tmp_path: Path) -> None:
    good = cv2.imencode(".png", RNG.integers(0, 255, (32, 32, 3), dtype=np.uint8))[1].tobytes()
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "trunc.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.png").write_text("not an image")
    cases = {"empty.png": "empty", "trunc.png": "not a readable image", "text.png": "not a readable image"}
    for name, msg in cases.items():
        with pytest.raises(RelightError, match=msg):
            read_image(tmp_path / name)
    with pytest.raises(RelightError, match="image file not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(RelightError, match="is a folder"):
        read_image(tmp_path)


def test_huge_header_is_refused_before_decoding(tmp_path: Path) -> None:
    data = bytearray(cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))[1].tobytes())
    data[16:24] = (100000).to_bytes(4, "big") * 2  # IHDR claims 100000x100000, with a valid checksum
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    (tmp_path / "huge.png").write_bytes(bytes(data))
    with pytest.raises(RelightError, match="claims 100000x100000 pixels"):
        read_image(tmp_path / "huge.png")
    jpg = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1].tobytes()
    (tmp_path / "small.jpg").write_bytes(jpg)
    with pytest.raises(RelightError, match="claims 64x48 pixels"):
        read_image(tmp_path / "small.jpg", max_pixels=1000)


def test_write_refuses_unknown_extension_and_unwritable_folder(tmp_path: Path) -> None:
    with pytest.raises(RelightError, match="cannot write '.bmpx' images"):
        write_image(tmp_path / "x.bmpx", np.zeros((2, 2, 3)))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user that ignores folder permissions")
        with pytest.raises(RelightError, match="cannot write here"):
            write_image(ro / "x.png", np.zeros((2, 2, 3)))
    finally:
        ro.chmod(0o700)


def test_write_into_a_path_under_a_file_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(RelightError, match="cannot write here"):
        write_image(tmp_path / "afile" / "x.png", np.zeros((2, 2, 3)))
