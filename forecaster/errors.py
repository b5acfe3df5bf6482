"""The one family of errors a user sees: each message says what is wrong and what to fix."""


class ForecasterError(Exception):
    """Base for every error meant for a person, not a developer (pages and the CLI catch only this)."""


class DataError(ForecasterError):
    """The uploaded data cannot be turned into a daily panel, or is too short for the chosen settings."""


class TrainingError(ForecasterError):
    """Training could not produce a usable model (for example the loss became NaN)."""


class WorkerError(TrainingError):
    """A training worker process ended without an answer (killed, perhaps for lack of memory)."""


OUT_OF_MEMORY = ("Training ran out of memory on this machine. Lower the batch size, the sequence length, the "
                 "convolution channels or LSTM units, or the ensemble size, or train fewer products; the server's "
                 "memory budget (FORECASTER_MEMORY_GIB) may also be set above what the machine has free.")


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says an allocation failed: Python's and numpy's MemoryError, torch's OutOfMemoryError
    (a GPU) or its CPU allocator's RuntimeError (which torch raises instead of MemoryError)."""
    text = str(exc)
    return (isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"
            or "can't allocate memory" in text or "CUDA out of memory" in text)
