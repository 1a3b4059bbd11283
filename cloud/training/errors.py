"""Errors of the training package.

TrainingError
├── DataError         session shards that cannot become a training set
├── CheckpointError   a checkpoint that is missing, corrupt or of another format version
└── DeviceError       the configured device (a GPU) is not on this machine
"""


class TrainingError(Exception):
    """Training cannot go on; the message says what to do next."""


class DataError(TrainingError):
    """The session's frames cannot be turned into training data."""


class NoDancerError(DataError):
    """Nobody was found in (enough of) the capture's frames: there is no dancer to learn.
    Retrying cannot help; the operator retakes the capture."""


class CheckpointError(TrainingError):
    """A checkpoint file cannot be used."""


class DeviceError(TrainingError):
    """The configured device is not on this machine."""
