"""Physically guided inputs from depth: surface normals, a least-squares light estimate, Lambertian shading.

Classical shape-from-shading light estimation (Pentland 1982; Horn & Brooks, *Shape from Shading*, 1989): on a
Lambertian surface lit by a distant light plus ambient fill, luminance is ``albedo * (n . l) + ambient``; fitting
``luminance ~ c0 + c . n`` over the pixels with geometry gives ``c``, whose direction estimates ``l``. Albedo
variation and cast shadows make the fit noisy, but it reads the light's direction from an image with its depth,
which is what an any-to-any relighting network finds hardest to learn from the guide (issue 18: a linear probe
of S3Net's encoder features tells the guide's direction at chance level). This fit, with nearest-centroid
classification, tells it 65 % exactly and 92 % within one of the 8 directions on path-traced scenes other than
the centroids', and 55 % / 97 % on the numpy renderer's with the same centroids (`benchmarks/light_estimate.py`;
chance: 12.5 % / 37.5 %).

Conventions: depth in [0, 1] with the far plane (sky, background) at 1; image x to the right, y down; slopes are
measured per image height, so the normals do not depend on the resolution.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

SLOPE_SCALE = 20.0
"""Depth units per image height are scaled by this before normals are taken (normalised depth flattens the
scene). Of 1 and 20, 20 fits the light better: `benchmarks/light_estimate.py --slope-scale 1` on the same scenes
gives 62.5 % / 92.6 % (path-traced) and 45 % / 87 % (numpy) against 65 % / 92 % and 55 % / 97 % at 20."""
FAR = 0.99
"""Depth at or beyond this is background (no geometry): left out of the fit."""
CHANNELS = 8
"""Source normals (3), guide normals (3), source shading under the guide's light (1) and under its own (1)."""
SHADING_MAPS = 2
"""The last two of the `CHANNELS` are the shading maps."""
CODE = 7
"""`light_code`'s length: the source's light estimate (3), the guide's (3) and their cosine (1)."""

_SOBEL_SMOOTH = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
_SOBEL_DERIV = torch.tensor([-1.0, -2.0, 0.0, 2.0, 1.0]) / 128.0  # unit response to a slope of 1 per pixel


def normals_from_depth(depth: torch.Tensor) -> torch.Tensor:
    """Unit normals ``(B, 3, H, W)`` from depth ``(B, 1, H, W)`` by 5x5 Sobel slopes (x right, y down, z out)."""
    kx = torch.outer(_SOBEL_SMOOTH, _SOBEL_DERIV).to(depth)
    kernels = torch.stack([kx, kx.t()])[:, None]
    padded = F.pad(depth, (2, 2, 2, 2), mode="replicate")
    slopes = F.conv2d(padded, kernels) * (SLOPE_SCALE * depth.shape[-2])
    n = torch.cat([-slopes, torch.ones_like(depth)], dim=1)
    sx, sy = slopes[:, :1], slopes[:, 1:]
    return n / (sx * sx + sy * sy + 1.0).sqrt()  # elementwise: a norm over dim 1 took 80 ms at 1024x1024 on a CPU


def _geometry_mask(depth: torch.Tensor) -> torch.Tensor:
    """Pixels with geometry, 2 pixels clear of the background, so that slopes across silhouettes stay out.

    The 5x5 dilation of the background as a box filter (any background pixel in the window makes the mean
    positive): the same mask as a 5x5 max pool, which took 2.3x as long for one 1024x1024 channel on a CPU."""
    background = (depth >= FAR).to(depth.dtype)
    return (F.avg_pool2d(background, 5, stride=1, padding=2) <= 0).to(depth.dtype)


def estimate_light(
    rgb: torch.Tensor, depth: torch.Tensor, normals: torch.Tensor | None = None, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Light direction ``(B, 3)`` fitted by weighted least squares ``luminance ~ c0 + c . n``: ``c / (|c| + 1e-3)``.

    Unit length where the shading has contrast, shorter where it has next to none (the fit then means little).

    Solved centred (covariance of the normals against luminance), which keeps the fit well conditioned where
    the normals vary little. A constant image or flat depth gives a zero vector, not NaN: no light to find.
    ``normals`` and ``mask`` (the pixels with geometry), when the caller has them, are not computed again.
    """
    n = normals_from_depth(depth) if normals is None else normals
    w = (_geometry_mask(depth) if mask is None else mask).flatten(1)  # (B, P)
    w = w / w.sum(dim=1, keepdim=True).clamp(min=1.0)
    n = n.flatten(2)  # (B, 3, P)
    lum = rgb.mean(dim=1).flatten(1)
    n = n - torch.einsum("bip,bp->bi", n, w)[:, :, None]
    lum = lum - torch.einsum("bp,bp->b", lum, w)[:, None]
    cov = torch.einsum("bip,bjp,bp->bij", n, n, w)
    ridge = 1e-6 * cov.diagonal(dim1=1, dim2=2).mean(dim=1) + 1e-12  # flat depth leaves cov zero
    cov = cov + ridge[:, None, None] * torch.eye(3, dtype=n.dtype, device=n.device)
    c = torch.linalg.solve(cov, torch.einsum("bip,bp,bp->bi", n, lum, w))
    return c / (c.norm(dim=1, keepdim=True) + 1e-3)


def full_precision(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """Autocast off on ``x``'s device (the meta device, used to count FLOPs, has no autocast to leave)."""
    return torch.autocast(x.device.type, enabled=False) if x.device.type != "meta" else contextlib.nullcontext()


def _lights(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Source normals, guide normals, the source's geometry mask and both light estimates, for a model input."""
    x = x.contiguous()  # on channels_last slices (the engine's input) one-channel pools ran ~5x slower
    src, guide, d_src, d_guide = x[:, :3], x[:, 3:6], x[:, 6:7], x[:, 7:8]
    n_src, n_guide = normals_from_depth(d_src), normals_from_depth(d_guide)
    geometry = _geometry_mask(d_src)
    return (
        n_src,
        n_guide,
        geometry,
        estimate_light(src, d_src, n_src, geometry),
        estimate_light(guide, d_guide, n_guide),
    )


def shading_inputs(x: torch.Tensor) -> torch.Tensor:
    """The `CHANNELS` physical channels for a model input ``(B, 8, H, W)`` (source, guide, their depths).

    Computed in fp32 whatever the autocast state: the fit's sums over all pixels would lose too much in fp16/bf16.
    """
    with full_precision(x):
        n_src, n_guide, geometry, l_src, l_guide = _lights(x.float())
        shade_guide = torch.einsum("bchw,bc->bhw", n_src, l_guide).clamp(min=0)[:, None] * geometry
        shade_src = torch.einsum("bchw,bc->bhw", n_src, l_src).clamp(min=0)[:, None] * geometry
        return torch.cat([n_src, n_guide, shade_guide, shade_src], dim=1)


def light_code(x: torch.Tensor) -> torch.Tensor:
    """The `CODE` numbers that describe the light change of a model input ``(B, 8, H, W)``, in fp32.

    The source's and the guide's light estimates and their cosine: near 1 when the guide's light comes from the
    source's own direction (on path-traced training scenes of different scenes, the cosine tells same-direction
    pairs from the others with an ROC AUC of 0.79).
    """
    with full_precision(x):
        _, _, _, l_src, l_guide = _lights(x.float())
        return torch.cat([l_src, l_guide, (l_src * l_guide).sum(dim=1, keepdim=True)], dim=1)
