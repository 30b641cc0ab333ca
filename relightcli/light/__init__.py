"""Reading the light of a photo: which of VIDIT's 8 directions it comes from and which of its 5 colour
temperatures it has (``relight light``, ``relight eval --light``, ``relight train --model light_net``).

`estimator` runs a trained `light_net` (`relightcli.models.lightnet`); `training` trains one from scratch on
VIDIT-format folders with the label-keeping augmentations of `augment`; `evaluation` scores one on a folder
whose file names carry the settings (accuracy, within one step, confusion matrices).
"""

from .estimator import LightEstimate, LightEstimator, estimate_light

__all__ = ["LightEstimate", "LightEstimator", "estimate_light"]
