"""Errors of the rendering package.

RenderError
├── VideoError           a rendition that cannot be encoded (bad frame, size, music file)
├── GeneratorError       a generator that returns the wrong thing or cannot be loaded
└── CompositeError       a plate or backdrop that does not fit the session's camera

NormalizationError (cloud.render.normalize) is a ValueError of its own: bad keypoints.
"""


class RenderError(RuntimeError):
    """A rendition could not be made; the message says why and what to do."""


class VideoError(RenderError):
    """The video encoder was given something it cannot encode."""


class GeneratorError(RenderError):
    """A generator broke its contract (shape, dtype) or could not be loaded."""


class CompositeError(RenderError):
    """The backdrop (clean plate) cannot hold the session's frames (size, format)."""
