"""The one family of errors a user sees: each message says what is wrong and what to fix."""


class ForecasterError(Exception):
    """Base for every error meant for a person, not a developer (pages and the CLI catch only this)."""


class DataError(ForecasterError):
    """The uploaded data cannot be turned into a daily panel, or is too short for the chosen settings."""


class TrainingError(ForecasterError):
    """Training could not produce a usable model (for example the loss became NaN)."""


class WorkerError(TrainingError):
    """A training worker process ended without an answer (killed, perhaps for lack of memory)."""
